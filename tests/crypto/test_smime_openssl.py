"""Messages signed and encrypted by the openssl CLI with a throw-away PKI: every signer check
(trust, validity, key usage, signing time, chain building) and every decryption failure has
its own answer, and the happy paths open.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pybase64
import pytest
from asn1crypto import cms as asn1_cms

from crypto.smime import DecryptionKey, SmimeError, SmimeFailure, open_message

Encrypt = Callable[..., bytes]
Sign = Callable[..., bytes]

DECISION = (
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Päätös 12/2026: hakemus hyväksytty.\r\n"
).encode()


def now() -> datetime:
    return datetime.now(UTC)


def open_with(raw: bytes, pki: Any, *keys: DecryptionKey, **kw: Any) -> Any:
    chosen = list(keys) or [pki.gateway.decryption_key]
    return open_message(raw, chosen, [pki.ca.certificate], now=kw.pop("at", now()), **kw)


def failure(raw: bytes, pki: Any, *keys: DecryptionKey, **kw: Any) -> SmimeFailure:
    with pytest.raises(SmimeError) as caught:
        open_with(raw, pki, *keys, **kw)
    return caught.value.failure


@pytest.mark.parametrize("shape", [(), ("-nodetach",)], ids=["detached", "opaque"])
def test_openssl_sign_then_encrypt_opens(
    shape: tuple[str, ...], pki: Any, sign: Sign, encrypt: Encrypt
) -> None:
    raw = encrypt(sign(DECISION, pki.clerk, *shape), pki.gateway.cert)
    opened = open_with(raw, pki)

    assert opened.encrypted
    assert opened.content == DECISION
    (signer,) = opened.signers
    assert signer.email_addresses == ("virkailija@kunta.example",)  # SAN, lower-cased
    assert signer.subject == "CN=Clerk,O=Kunta"
    assert abs(signer.signing_time - now()) < timedelta(minutes=5)


def test_rsa_pss_signature_opens(pki: Any, sign: Sign, encrypt: Encrypt) -> None:
    signed = sign(DECISION, pki.clerk, "-keyopt", "rsa_padding_mode:pss")
    assert open_with(encrypt(signed, pki.gateway.cert), pki).signers


def test_sha384_signature_opens(pki: Any, sign: Sign, encrypt: Encrypt) -> None:
    signed = sign(DECISION, pki.clerk, "-md", "sha384")
    assert open_with(encrypt(signed, pki.gateway.cert), pki).signers


def test_sha1_signature_is_weak(pki: Any, sign: Sign, encrypt: Encrypt) -> None:
    raw = encrypt(sign(DECISION, pki.clerk, "-md", "sha1"), pki.gateway.cert)
    assert failure(raw, pki) is SmimeFailure.WEAK_ALGORITHM


def test_retired_and_current_gateway_keys_both_work(
    pki: Any, sign: Sign, encrypt: Encrypt
) -> None:
    keys = [pki.retired_gateway.decryption_key, pki.gateway.decryption_key]
    signed = sign(DECISION, pki.clerk)
    for recipient in (pki.retired_gateway, pki.gateway):
        for options in ((), ("-aes-256-gcm",)):
            raw = encrypt(signed, recipient.cert, *options)
            assert open_with(raw, pki, *keys).content == DECISION


def test_encrypted_to_someone_else_is_not_for_gateway(
    pki: Any, sign: Sign, encrypt: Encrypt
) -> None:
    raw = encrypt(sign(DECISION, pki.clerk), pki.stranger.cert)
    assert failure(raw, pki) is SmimeFailure.NOT_FOR_GATEWAY


def test_signer_from_another_ca_is_untrusted(pki: Any, sign: Sign, encrypt: Encrypt) -> None:
    raw = encrypt(sign(DECISION, pki.foreign_clerk), pki.gateway.cert)
    assert failure(raw, pki) is SmimeFailure.UNTRUSTED_SIGNER


def test_expired_signer_certificate(pki: Any, sign: Sign, encrypt: Encrypt) -> None:
    raw = encrypt(sign(DECISION, pki.expiring_clerk), pki.gateway.cert)
    assert open_with(raw, pki).signers  # valid today ...
    assert failure(raw, pki, at=now() + timedelta(days=3)) is SmimeFailure.SIGNER_EXPIRED


def test_server_auth_only_certificate_is_not_for_email(
    pki: Any, sign: Sign, encrypt: Encrypt
) -> None:
    raw = encrypt(sign(DECISION, pki.server_clerk), pki.gateway.cert)
    assert failure(raw, pki) is SmimeFailure.NOT_FOR_EMAIL


def test_signing_time_far_ahead_of_now_is_refused(
    pki: Any, sign: Sign, encrypt: Encrypt
) -> None:
    raw = encrypt(sign(DECISION, pki.clerk), pki.gateway.cert)
    at = now() - timedelta(hours=2)
    assert failure(raw, pki, at=at) is SmimeFailure.FUTURE_SIGNING_TIME


def test_intermediate_ca_is_used_when_supplied(pki: Any, sign: Sign, encrypt: Encrypt) -> None:
    raw = encrypt(sign(DECISION, pki.clerk_below_intermediate), pki.gateway.cert)
    assert failure(raw, pki) is SmimeFailure.UNTRUSTED_SIGNER
    opened = open_with(raw, pki, intermediates=[pki.intermediate.certificate])
    assert opened.signers[0].email_addresses == ("d@kunta.example",)


def test_intermediate_carried_in_the_signature_is_used(
    pki: Any, sign: Sign, encrypt: Encrypt
) -> None:
    signed = sign(DECISION, pki.clerk_below_intermediate, "-certfile", pki.intermediate.cert)
    assert open_with(encrypt(signed, pki.gateway.cert), pki).signers


def test_end_entity_certificate_cannot_act_as_a_ca(
    pki: Any, sign: Sign, encrypt: Encrypt
) -> None:
    signed = sign(DECISION, pki.clerk_below_not_a_ca, "-certfile", pki.not_a_ca.cert)
    raw = encrypt(signed, pki.gateway.cert)
    assert failure(raw, pki) is SmimeFailure.UNTRUSTED_SIGNER


def test_encrypt_then_sign_opens(pki: Any, sign: Sign, encrypt: Encrypt) -> None:
    inner = encrypt(sign(DECISION, pki.clerk), pki.gateway.cert)
    outer = sign(inner, pki.expiring_clerk, "-nodetach")
    opened = open_with(outer, pki)
    assert [s.email_addresses for s in opened.signers] == [
        ("old@kunta.example",),
        ("virkailija@kunta.example",),
    ]
    assert opened.content == DECISION


def test_garbage_base64_is_malformed(pki: Any) -> None:
    raw = (
        b"From: clerk@kunta.example\r\n"
        b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        b"MIAGCSqGSIb3DQEHA6CAMIACAQAx!!!not base64***\r\n"
    )
    assert failure(raw, pki) is SmimeFailure.MALFORMED


def test_valid_base64_that_is_not_cms_is_malformed(pki: Any) -> None:
    raw = (
        b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + pybase64.b64encode(b"\x30\x82\x01" * 40)
    )
    assert failure(raw, pki) is SmimeFailure.MALFORMED


def test_plain_text_is_not_smime(pki: Any) -> None:
    raw = b"From: clerk@kunta.example\r\nSubject: hei\r\n\r\n" + DECISION
    assert failure(raw, pki) is SmimeFailure.NOT_SMIME


def test_layers_nested_too_deeply_are_malformed(pki: Any, sign: Sign, encrypt: Encrypt) -> None:
    entity = DECISION
    for _ in range(8):
        entity = sign(entity, pki.clerk, "-nodetach")
    with pytest.raises(SmimeError) as caught:
        open_with(encrypt(entity, pki.gateway.cert), pki)
    assert caught.value.failure is SmimeFailure.MALFORMED
    assert "nested" in caught.value.detail


def _flip_in_der(raw: bytes, pick: Callable[[asn1_cms.ContentInfo], bytes]) -> bytes:
    """Re-wrap the CMS of `raw` with one byte of the field chosen by `pick` inverted."""
    head, _, body = raw.partition(b"\r\n\r\n")
    der = pybase64.b64decode(body.translate(None, b"\r\n"))
    field = pick(asn1_cms.ContentInfo.load(der))
    at = der.index(field) + len(field) - 1
    tampered = der[:at] + bytes([der[at] ^ 0xFF]) + der[at + 1 :]
    return head + b"\r\n\r\n" + pybase64.b64encode(tampered) + b"\r\n"


def test_gcm_tag_that_does_not_verify_is_decrypt_failed(
    pki: Any, sign: Sign, encrypt: Encrypt
) -> None:
    raw = encrypt(sign(DECISION, pki.clerk), pki.gateway.cert, "-aes-256-gcm")
    tampered = _flip_in_der(raw, lambda info: info["content"]["mac"].native)
    assert failure(tampered, pki) is SmimeFailure.DECRYPT_FAILED


def test_oaep_key_that_does_not_unwrap_is_decrypt_failed(
    pki: Any, sign: Sign, encrypt: Encrypt
) -> None:
    raw = encrypt(sign(DECISION, pki.clerk), pki.gateway.cert, "-keyopt", "rsa_padding_mode:oaep")
    tampered = _flip_in_der(
        raw, lambda info: info["content"]["recipient_infos"][0].chosen["encrypted_key"].native
    )
    assert failure(tampered, pki) is SmimeFailure.DECRYPT_FAILED


def test_rsa_v15_unwrap_failure_is_not_told_apart(pki: Any, sign: Sign, encrypt: Encrypt) -> None:
    """A broken v1.5 key transport must not answer differently from a broken ciphertext
    (Bleichenbacher): both continue with a random key and fail in the content layer."""
    raw = encrypt(sign(DECISION, pki.clerk), pki.gateway.cert)
    bad_key = _flip_in_der(
        raw, lambda info: info["content"]["recipient_infos"][0].chosen["encrypted_key"].native
    )
    # With a random content key the CBC padding is valid by chance about once in 256 runs;
    # the garbage then has no signature. Either way nothing opens and no padding error leaks.
    assert failure(bad_key, pki) in (SmimeFailure.DECRYPT_FAILED, SmimeFailure.UNSIGNED)


def test_one_megabyte_message_opens(pki: Any, sign: Sign, encrypt: Encrypt) -> None:
    line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit 0123456789.\r\n"
    big = b"Content-Type: text/plain\r\n\r\n" + line * (1_000_000 // len(line))
    opened = open_with(encrypt(sign(big, pki.clerk), pki.gateway.cert), pki)
    assert opened.content == big
