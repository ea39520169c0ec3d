"""Outgoing S/MIME checked by the real openssl CLI and by the gateway's own reader.

Every signature is verified by `openssl cms -verify` against the test CA, every encryption is
opened by `openssl cms -decrypt` with the recipient's key, and `crypto.smime.open_message`
opens what `sign_detached` + `encrypt` make.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pybase64
import pytest
from asn1crypto import cms as asn1_cms
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding
from gatewaytest.smtp_fixtures import openssl_supports_gcm_cms

from crypto.smime import open_message
from crypto.smime_out import SmimeOutError, encrypt, sign_detached

Openssl = Callable[..., bytes]

ENTITY = (
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"P=C3=A4=C3=A4t=C3=B6s 12/2026: hakemus hyv=C3=A4ksytty.\r\n"
    b"From the start of a line, and a trailing space=20\r\n"
)


def write(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.write_bytes(data)
    return path


def split_message(raw: bytes) -> tuple[Any, bytes]:
    """(parsed header block, body bytes) of an entity."""
    head, _, body = raw.partition(b"\r\n\r\n")
    return BytesHeaderParser(policy=default_policy).parsebytes(head + b"\r\n\r\n"), body


def boundary_parts(signed: bytes) -> tuple[bytes, bytes]:
    """The two parts of a multipart/signed, cut at its delimiter lines (RFC 2046)."""
    headers, body = split_message(signed)
    delimiter = b"--" + headers.get_boundary().encode()
    assert body.startswith(delimiter + b"\r\n")
    first, second = body[len(delimiter) + 2 :].split(b"\r\n" + delimiter + b"\r\n")
    assert second.endswith(b"\r\n" + delimiter + b"--\r\n")
    return first, second[: -len(delimiter) - 4]


def verify(openssl: Openssl, tmp_path: Path, signed: bytes, ca: Path) -> tuple[bytes, bytes]:
    """`openssl cms -verify` against `ca`; returns (the content it output, signer cert PEM)."""
    source = write(tmp_path, "signed.eml", signed)
    out, signer = tmp_path / "verified.out", tmp_path / "signer.pem"
    openssl("cms", "-verify", "-CAfile", ca, "-in", source, "-out", out, "-signer", signer)
    return out.read_bytes(), signer.read_bytes()


def openssl_verify_fails(tmp_path: Path, signed: bytes, ca: Path) -> bool:
    source = write(tmp_path, "suspect.eml", signed)
    done = subprocess.run(
        ["openssl", "cms", "-verify", "-CAfile", str(ca), "-in", str(source), "-out", os.devnull],
        capture_output=True,
        check=False,
    )
    return done.returncode != 0


def decrypt(openssl: Openssl, tmp_path: Path, message: bytes, identity: Any) -> bytes:
    source = write(tmp_path, "encrypted.eml", message)
    out = tmp_path / "decrypted.out"
    openssl(
        "cms", "-decrypt", "-binary", "-in", source, "-inkey", identity.key,
        "-recip", identity.cert, "-out", out,
    )  # fmt: skip
    return out.read_bytes()


def require_gcm_cms(recipient: Path) -> None:
    """Skip when this openssl cannot do AES-GCM CMS; in CI that is a failure, not a skip."""
    if openssl_supports_gcm_cms(recipient):
        return
    if os.environ.get("CI") == "true":
        pytest.fail("openssl without AES-GCM CMS (AuthEnvelopedData) support in CI")
    pytest.skip("this openssl cannot do AES-GCM CMS (AuthEnvelopedData)")


def cms_of(entity: bytes) -> asn1_cms.ContentInfo:
    _, body = split_message(entity)
    return asn1_cms.ContentInfo.load(pybase64.b64decode(body, validate=False))


# --- signing -------------------------------------------------------------------------------


def test_openssl_verifies_the_signature_over_exactly_the_entity(
    pki: Any, openssl_cli: Openssl, tmp_path: Path
) -> None:
    gateway = pki.gateway
    signed = sign_detached(ENTITY, gateway.certificate, gateway.decryption_key.private_key)

    content, signer_pem = verify(openssl_cli, tmp_path, signed, pki.ca.cert)
    assert content == ENTITY
    assert x509.load_pem_x509_certificate(signer_pem) == gateway.certificate
    first, _ = boundary_parts(signed)
    assert first == ENTITY


def test_signed_entity_headers_and_signed_attributes(pki: Any) -> None:
    gateway = pki.gateway
    before = datetime.now(UTC).replace(microsecond=0)
    signed = sign_detached(ENTITY, gateway.certificate, gateway.decryption_key.private_key)

    headers, _ = split_message(signed)
    assert headers.get_content_type() == "multipart/signed"
    assert headers.get_param("protocol") == "application/pkcs7-signature"
    assert headers.get_param("micalg") == "sha-256"
    _, signature_part = boundary_parts(signed)
    part_headers, _ = split_message(signature_part)
    assert part_headers.get_content_type() == "application/pkcs7-signature"
    assert part_headers.get_param("name") == "smime.p7s"
    assert part_headers["Content-Transfer-Encoding"] == "base64"

    signed_data = cms_of(signature_part)["content"]
    assert signed_data["encap_content_info"]["content"].native is None  # detached
    (info,) = signed_data["signer_infos"]
    assert info["digest_algorithm"]["algorithm"].native == "sha256"
    assert info["signature_algorithm"].signature_algo == "rsassa_pkcs1v15"
    attributes = {attr["type"].native: attr["values"] for attr in info["signed_attrs"]}
    assert attributes["message_digest"][0].native == hashlib.sha256(ENTITY).digest()
    assert attributes["content_type"][0].native == "data"
    signing_time = attributes["signing_time"][0].native
    assert before <= signing_time <= datetime.now(UTC) + timedelta(seconds=1)
    assert "smime_capabilities" in attributes


def test_a_changed_first_part_no_longer_verifies(
    pki: Any, openssl_cli: Openssl, tmp_path: Path
) -> None:
    gateway = pki.gateway
    signed = sign_detached(ENTITY, gateway.certificate, gateway.decryption_key.private_key)
    assert not openssl_verify_fails(tmp_path, signed, pki.ca.cert)

    tampered = signed.replace(b"12/2026", b"13/2026")
    assert tampered != signed
    assert openssl_verify_fails(tmp_path, tampered, pki.ca.cert)


def test_chain_certificates_are_included(pki: Any, openssl_cli: Openssl, tmp_path: Path) -> None:
    deep = pki.clerk_below_intermediate
    key = deep.decryption_key.private_key
    without_chain = sign_detached(ENTITY, deep.certificate, key)
    with_chain = sign_detached(ENTITY, deep.certificate, key, [pki.intermediate.certificate])

    # Only the root is trusted: the intermediate must come from the signature itself.
    assert openssl_verify_fails(tmp_path, without_chain, pki.ca.cert)
    content, _ = verify(openssl_cli, tmp_path, with_chain, pki.ca.cert)
    assert content == ENTITY
    certificates = cms_of(boundary_parts(with_chain)[1])["content"]["certificates"]
    ders = {choice.chosen.dump() for choice in certificates}
    assert ders == {
        deep.certificate.public_bytes(Encoding.DER),
        pki.intermediate.certificate.public_bytes(Encoding.DER),
    }


@pytest.mark.parametrize(
    "entity",
    [ENTITY.replace(b"\r\n", b"\n"), ENTITY + "ä\r\n".encode(), ENTITY.replace(b"\r\n", b"\r")],
    ids=["bare-lf", "8-bit", "bare-cr"],
)
def test_sign_refuses_entities_that_transport_would_change(entity: bytes, pki: Any) -> None:
    gateway = pki.gateway
    with pytest.raises(SmimeOutError):
        sign_detached(entity, gateway.certificate, gateway.decryption_key.private_key)


# --- encryption ----------------------------------------------------------------------------

MODES = pytest.mark.parametrize("aes_gcm", [False, True], ids=["aes-256-cbc", "aes-256-gcm"])


@MODES
def test_openssl_decrypts_for_every_recipient(
    aes_gcm: bool, pki: Any, openssl_cli: Openssl, tmp_path: Path
) -> None:
    if aes_gcm:
        require_gcm_cms(pki.gateway.cert)
    recipients = (pki.gateway, pki.stranger)
    message = encrypt(ENTITY, [r.certificate for r in recipients], aes_gcm=aes_gcm)

    for recipient in recipients:
        assert decrypt(openssl_cli, tmp_path, message, recipient) == ENTITY
    assert len(cms_of(message)["content"]["recipient_infos"]) == 2


@MODES
def test_encrypted_entity_shape(aes_gcm: bool, pki: Any) -> None:
    message = encrypt(ENTITY, [pki.gateway.certificate], aes_gcm=aes_gcm)

    headers, body = split_message(message)
    assert headers.get_content_type() == "application/pkcs7-mime"
    expected_type = "authEnveloped-data" if aes_gcm else "enveloped-data"
    assert headers.get_param("smime-type") == expected_type
    assert headers.get_param("name") == "smime.p7m"
    assert headers.get_filename() == "smime.p7m"
    assert headers.get_content_disposition() == "attachment"
    lines = body.split(b"\r\n")
    assert lines[-1] == b"" and b"\n" not in b"".join(lines)
    assert {len(line) for line in lines[:-2]} == {76}
    assert 0 < len(lines[-2]) <= 76

    info = cms_of(message)
    if aes_gcm:
        assert info["content_type"].native == "authenticated_enveloped_data"
        data = info["content"]
        encrypted = data["auth_encrypted_content_info"]
        assert encrypted["content_encryption_algorithm"]["algorithm"].native == "aes256_gcm"
        assert len(data["mac"].native) == 16
    else:
        assert info["content_type"].native == "enveloped_data"
        data = info["content"]
        encrypted = data["encrypted_content_info"]
        assert encrypted["content_encryption_algorithm"]["algorithm"].native == "aes256_cbc"
    (recipient,) = data["recipient_infos"]
    ktri = recipient.chosen
    assert ktri["key_encryption_algorithm"]["algorithm"].native == "rsaes_pkcs1v15"
    assert ktri["rid"].name == "issuer_and_serial_number"
    assert ktri["rid"].chosen["serial_number"].native == pki.gateway.certificate.serial_number


@MODES
def test_every_message_gets_a_fresh_key(
    aes_gcm: bool, pki: Any, openssl_cli: Openssl, tmp_path: Path
) -> None:
    if aes_gcm:
        require_gcm_cms(pki.gateway.cert)
    first, second = (encrypt(ENTITY, [pki.gateway.certificate], aes_gcm=aes_gcm) for _ in range(2))

    assert split_message(first)[1] != split_message(second)[1]
    key = pki.gateway.decryption_key.private_key
    wrapped = [
        cms_of(m)["content"]["recipient_infos"][0].chosen["encrypted_key"].native
        for m in (first, second)
    ]
    keys = {key.decrypt(w, padding.PKCS1v15()) for w in wrapped}
    assert len(keys) == 2 and {len(k) for k in keys} == {32}
    assert decrypt(openssl_cli, tmp_path, second, pki.gateway) == ENTITY


def test_non_rsa_recipient_is_refused_by_name(pki: Any, alice_ec: Any) -> None:
    ec_certificate = alice_ec.certificate
    with pytest.raises(SmimeOutError) as caught:
        encrypt(ENTITY, [pki.gateway.certificate, ec_certificate], aes_gcm=False)

    text = str(caught.value)
    assert ec_certificate.subject.rfc4514_string() in text
    assert "RSA" in text
    assert "-----BEGIN" not in text and "P=C3" not in text


def test_no_recipients_is_refused() -> None:
    with pytest.raises(SmimeOutError):
        encrypt(ENTITY, [], aes_gcm=False)


# --- round trip through the gateway's own reader -----------------------------------------


@MODES
def test_open_message_opens_sign_then_encrypt(aes_gcm: bool, pki: Any) -> None:
    clerk = pki.clerk
    signed = sign_detached(ENTITY, clerk.certificate, clerk.decryption_key.private_key)
    raw = b"From: virkailija@kunta.example\r\nSubject: x\r\nMIME-Version: 1.0\r\n" + encrypt(
        signed, [pki.gateway.certificate], aes_gcm=aes_gcm
    )

    opened = open_message(
        raw, [pki.gateway.decryption_key], [pki.ca.certificate], now=datetime.now(UTC)
    )
    assert opened.encrypted
    assert opened.content == ENTITY
    (signer,) = opened.signers
    assert signer.email_addresses == ("virkailija@kunta.example",)
    assert opened.evidence == signed
