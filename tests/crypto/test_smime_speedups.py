"""The hot-path shortcuts of `crypto.smime` give exactly the answers of the slow paths they
replace: the header fast path, the bare-LF search, hand-made PKCS#7 unpadding, the detached
ciphertext, and the caches of certificate paths and signer details.
"""

from __future__ import annotations

import itertools
import os
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms as asn1_cms
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import Encoding
from gatewaytest.corpus import SMIME

from crypto import _cms_envelope, _cms_mime, certs
from crypto._cms_mime import canonical_crlf, decode_body, split_entity
from crypto.smime import SmimeError, SmimeFailure, open_message

Sign = Callable[..., bytes]
Encrypt = Callable[..., bytes]
ENTITY = b"Content-Type: text/plain; charset=utf-8\r\n\r\nP\xc3\xa4\xc3\xa4t\xc3\xb6s.\r\n"

TRICKY_HEADER_BLOCKS = [
    b"",
    b"Subject: no content type",
    b"Content-Type: text/plain",
    b"content-type:TEXT/Plain;charset=utf-8",
    b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\n"
    b"Content-Transfer-Encoding: base64",
    b'Content-Type: multipart/signed; protocol="application/pkcs7-signature";\r\n'
    b' micalg=sha-256; boundary="----B1"',
    b"Content-Type: multipart/signed;\n\tprotocol=application/x-pkcs7-signature;\n\tboundary=abc",
    b'Content-Type:\r\n multipart/signed; boundary="b  "; protocol="application/pkcs7-signature"',
    b"Content-Type: multipart/signed; boundary=a; boundary=b; PROTOCOL=application/pgp-signature",
    b'Content-Type: multipart/signed; boundary="<x>"; protocol="application/pkcs7-signature"',
    b'Content-Type: multipart/signed; boundary="a\\"b"; protocol="application/pkcs7-signature"',
    b"Content-Type: multipart/signed; boundary*=\"us-ascii''b%41\"; protocol=x",
    b"Content-Type: multipart/signed; boundary*0=a; boundary*1=b; protocol=x",
    b"Content-Type: multipart/signed (comment); boundary=a",
    b"Content-Type: multipart / signed; boundary=a",
    b"Content-Type: multipart/signed; boundary=a;",
    b"Content-Type: multipart/signed; boundary=a;; protocol=x",
    b"Content-Type: multipart/signed; boundary",
    b'Content-Type: multipart/signed; boundary=""',
    b"Content-Type: text/plain\r\nContent-Type: application/pkcs7-mime",
    b"X-First: 1\r\n continued\r\nContent-Type: application/pkcs7-mime\r\n folded=1",
    b" leading continuation\r\nContent-Type: application/pkcs7-mime",
    b"From someone Mon Jan  1 00:00:00 2026\r\nContent-Type: application/pkcs7-mime",
    b"Subject: x\r\nFrom nobody\r\nContent-Type: application/pkcs7-mime",
    b"Not a header line\r\nContent-Type: application/pkcs7-mime",
    b"Subject: x\r\nnot a header\r\nContent-Type: application/pkcs7-mime",
    b": no name\r\nContent-Type: application/pkcs7-mime",
    b"Subject: bare\rCR\r\nContent-Type: application/pkcs7-mime",
    b"Subject: P\xc3\xa4\xc3\xa4t\xc3\xb6s\r\nContent-Type: application/pkcs7-mime",
    b'Content-Type: application/pkcs7-mime; name="p\xc3\xa4"',
    b"Content-Transfer-Encoding: base64\r\n \r\nContent-Type: application/pkcs7-mime",
    b"Content-Transfer-Encoding:\r\n\tBase64 \r\nContent-Type: application/pkcs7-mime",
    b"Content-Transfer-Encoding: base\r\n 64\r\nContent-Type: application/pkcs7-mime",
    b"Content-Transfer-Encoding: 8bit\r\nContent-Transfer-Encoding: base64",
    b"Content-Transfer-Encoding: \xc3\xa4",
    b"Content-Type: application/pkcs7-mime\r\n",
    b"Content-Type: application/pkcs7-mime\x0c",
]


def _reference(header_block: bytes) -> tuple[object, ...]:
    """What the `email` parser (the behaviour before the fast path) answers."""
    message = BytesHeaderParser(policy=compat32).parsebytes(header_block + b"\r\n\r\n")
    return (
        message.get_content_type(),
        message.get_param("protocol"),
        message.get_boundary(),
        str(message.get("content-transfer-encoding", "")).strip().lower(),
    )


def _fast(header_block: bytes) -> tuple[object, ...]:
    headers = split_entity(header_block + b"\r\n\r\nbody").headers
    return (
        headers.get_content_type(),
        headers.get_param("protocol"),
        headers.get_boundary(),
        str(headers.get("content-transfer-encoding", "")).strip().lower(),
    )


@pytest.mark.parametrize("header_block", TRICKY_HEADER_BLOCKS)
def test_header_fast_path_equals_the_email_parser(header_block: bytes) -> None:
    assert _fast(header_block) == _reference(header_block)


def test_header_fast_path_takes_the_usual_headers() -> None:
    for header_block in TRICKY_HEADER_BLOCKS[:8]:
        assert isinstance(
            split_entity(header_block + b"\r\n\r\n").headers, _cms_mime._SimpleHeaders
        )


def test_header_fast_path_equals_the_email_parser_on_shuffled_pieces() -> None:
    pieces = [
        b"Content-Type: multipart/signed",
        b"Content-Type: application/pkcs7-mime",
        b"Content-Transfer-Encoding: base64",
        b"MIME-Version: 1.0",
        b'; protocol="application/pkcs7-signature"',
        b'; boundary="--b "',
        b"; boundary=x",
        b";\r\n\tmicalg=sha-256",
        b"\r\n ",
        b"\r\n",
        b"\n",
        b"\r",
        b" ",
        b"(c)",
        b"\\",
        b"*",
        b"\xe4",
        b"From ",
        b":",
    ]
    rng = random.Random(2026)
    for _ in range(3000):
        block = b"".join(rng.choice(pieces) for _ in range(rng.randrange(1, 9))).lstrip(b"\r\n")
        if b"\n\n" in block or b"\n\r\n" in block:
            continue  # that would be the end of the header block
        assert _fast(block) == _reference(block), block


def test_entity_body_is_found_without_copying() -> None:
    data = b"Content-Type: text/plain\r\n\r\nbody\r\n"
    entity = split_entity(data)
    assert entity.data is data
    assert entity.body == b"body\r\n"
    assert split_entity(b"\r\nbody").body == b"body"
    assert split_entity(b"\nbody").body == b"body"
    assert split_entity(b"Subject: only headers").body == b""


def test_base64_body_decodes_from_a_view() -> None:
    entity = split_entity(b"Content-Transfer-Encoding: base64\r\n\r\naGVp\r\nIQ==\r\n")
    assert decode_body(entity) == b"hei!"


@pytest.mark.parametrize(
    "data",
    [b"", b"\n", b"\r\n", b"\r", b"a\r\r\n", b"a\n\r", b"\r\n\n", b"a\r\nb\nc", b"a\r\nb\r\n",
     b"\n\r\n", b"x" * 100 + b"\r\n" * 50 + b"\n"],
)  # fmt: skip
def test_canonical_crlf_equals_counting_line_endings(data: bytes) -> None:
    expected = (
        data
        if data.count(b"\n") == data.count(b"\r\n")
        else data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    )
    assert canonical_crlf(data) == expected


def _cbc(plaintext: bytes, key: bytes, iv: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(plaintext) + encryptor.finalize()


def _unpadder_accepts(padded: bytes) -> bytes | None:
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        return None


@pytest.mark.parametrize(
    "tail",
    [bytes([n]) * n for n in range(1, 17)]
    + [b"\x00", b"\x11" * 16, b"\xff", b"\x01\x02", b"\x03\x02\x02", b"\x10" * 15 + b"\x0f"],
)
def test_cbc_unpadding_accepts_what_the_unpadder_accepts(tail: bytes) -> None:
    key, iv = os.urandom(32), os.urandom(16)
    body = b"x" * (48 - len(tail))
    padded = body + tail
    expected = _unpadder_accepts(padded)
    ciphertext = _cbc(padded, key, iv)
    if expected is None:
        with pytest.raises(SmimeError) as caught:
            _cms_envelope._cbc_decrypt(key, iv, memoryview(ciphertext))
        assert caught.value.failure is SmimeFailure.DECRYPT_FAILED
    else:
        assert _cms_envelope._cbc_decrypt(key, iv, memoryview(ciphertext)) == expected


def _der(raw: bytes) -> bytes:
    return decode_body(split_entity(raw))


@pytest.mark.parametrize("options", [(), ("-aes-256-gcm",)], ids=["cbc", "gcm"])
def test_detached_ciphertext_is_the_encrypted_content(
    options: tuple[str, ...], pki: Any, sign: Sign, encrypt: Encrypt
) -> None:
    der = _der(encrypt(sign(ENTITY, pki.clerk), pki.gateway.cert, *options))
    rebuilt, ciphertext = _cms_envelope.detach_encrypted_content(der)
    assert ciphertext is not None
    original = asn1_cms.ContentInfo.load(der)
    short = asn1_cms.ContentInfo.load(rebuilt)
    key = "encrypted_content_info" if not options else "auth_encrypted_content_info"
    assert bytes(ciphertext) == original["content"][key]["encrypted_content"].native
    assert short["content"][key]["encrypted_content"].native == b""
    for name, _, *_ in original["content"]._fields:
        if name != key:
            assert short["content"][name].dump() == original["content"][name].dump()
    assert short["content"][key]["content_encryption_algorithm"].dump() == (
        original["content"][key]["content_encryption_algorithm"].dump()
    )


def test_detaching_leaves_ber_and_broken_structures_alone(
    pki: Any, sign: Sign, encrypt: Encrypt
) -> None:
    ber = _der((SMIME / "alice.env.eml").read_bytes())  # Thunderbird: indefinite lengths
    assert _cms_envelope.detach_encrypted_content(ber) == (ber, None)
    der = _der(encrypt(sign(ENTITY, pki.clerk), pki.gateway.cert))
    for broken in (der[:-1], der[:40], der[:1] + b"\x84\xff\xff\xff\xff" + der[2:], b"", b"\x30"):
        assert _cms_envelope.detach_encrypted_content(broken) == (broken, None)
    signed_only = _der(sign(ENTITY, pki.clerk, "-nodetach"))
    assert _cms_envelope.detach_encrypted_content(signed_only) == (signed_only, None)


def _open(raw: bytes, pki: Any, at: datetime | None = None, **kw: Any) -> Any:
    return open_message(
        raw, [pki.gateway.decryption_key], [pki.ca.certificate], now=at or datetime.now(UTC), **kw
    )


def _failure(raw: bytes, pki: Any, at: datetime | None = None, **kw: Any) -> SmimeFailure:
    with pytest.raises(SmimeError) as caught:
        _open(raw, pki, at, **kw)
    return caught.value.failure


def test_cached_chain_is_rechecked_against_now(pki: Any, sign: Sign, encrypt: Encrypt) -> None:
    raw = encrypt(sign(ENTITY, pki.expiring_clerk), pki.gateway.cert)
    assert _open(raw, pki).signers
    hits = certs._trusted_paths.cache_info().hits
    assert _failure(raw, pki, datetime.now(UTC) + timedelta(days=3)) is SmimeFailure.SIGNER_EXPIRED
    assert certs._trusted_paths.cache_info().hits > hits  # the refusal came from the cache
    # Before its validity period too (checked directly: the signing time would refuse first).
    clerk, anchors = pki.expiring_clerk.certificate, [pki.ca.certificate]
    certs.verify_chain(clerk, [], anchors, datetime.now(UTC))
    with pytest.raises(SmimeError) as caught:
        certs.verify_chain(clerk, [], anchors, clerk.not_valid_before_utc - timedelta(seconds=1))
    assert caught.value.failure is SmimeFailure.SIGNER_EXPIRED


def _look_alike(pki: Any, root: Path, openssl_cli: Callable[..., bytes]) -> Any:
    """A CA named like the trusted one, and under it a clerk named like `pki.clerk` with the
    same serial number and e-mail address: only the keys differ."""
    ca_cert, ca_key = root / "ca.crt", root / "ca.key"
    openssl_cli(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca_cert,
        "-days", "30", "-subj", "/O=Test/CN=Kunta Test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    cert, key, csr, ext = (root / f"clerk.{e}" for e in ("crt", "key", "csr", "ext"))
    openssl_cli(
        "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
        "-subj", "/O=Kunta/CN=Clerk",
    )  # fmt: skip
    ext.write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=emailProtection\nsubjectAltName=email:Virkailija@Kunta.example\n"
    )
    openssl_cli(
        "x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-days", "30",
        "-set_serial", str(pki.clerk.certificate.serial_number), "-extfile", ext, "-out", cert,
    )  # fmt: skip
    return type(pki.clerk)(cert, key), ca_cert


def test_look_alike_certificate_is_not_accepted_from_the_cache(
    pki: Any, sign: Sign, encrypt: Encrypt, tmp_path: Path, openssl_cli: Callable[..., bytes]
) -> None:
    assert _open(encrypt(sign(ENTITY, pki.clerk), pki.gateway.cert), pki).signers
    fake_clerk, fake_ca = _look_alike(pki, tmp_path, openssl_cli)
    real = pki.clerk.certificate
    fake = fake_clerk.certificate
    assert (fake.subject, fake.issuer, fake.serial_number) == (
        real.subject,
        real.issuer,
        real.serial_number,
    )
    raw = encrypt(sign(ENTITY, fake_clerk), pki.gateway.cert)
    assert _failure(raw, pki) is SmimeFailure.UNTRUSTED_SIGNER
    with_fake_ca = encrypt(sign(ENTITY, fake_clerk, "-certfile", fake_ca), pki.gateway.cert)
    assert _failure(with_fake_ca, pki) is SmimeFailure.UNTRUSTED_SIGNER


def test_cached_path_needs_the_same_intermediates(pki: Any, sign: Sign, encrypt: Encrypt) -> None:
    raw = encrypt(sign(ENTITY, pki.clerk_below_intermediate), pki.gateway.cert)
    assert _open(raw, pki, intermediates=[pki.intermediate.certificate]).signers
    assert _failure(raw, pki) is SmimeFailure.UNTRUSTED_SIGNER


def test_cached_signer_details_belong_to_each_certificate(
    pki: Any, sign: Sign, encrypt: Encrypt
) -> None:
    seen = set()
    for identity, _ in itertools.product((pki.clerk, pki.legacy_clerk), range(2)):
        (signer,) = _open(encrypt(sign(ENTITY, identity), pki.gateway.cert), pki).signers
        assert signer.certificate_der == identity.certificate.public_bytes(Encoding.DER)
        seen.add((signer.subject, signer.email_addresses))
    assert seen == {
        ("CN=Clerk,O=Kunta", ("virkailija@kunta.example",)),
        (pki.legacy_clerk.certificate.subject.rfc4514_string(), ("vanha@kunta.example",)),
    }


def test_key_usage_refusal_is_cached_per_certificate(
    pki: Any, sign: Sign, encrypt: Encrypt
) -> None:
    refused = encrypt(sign(ENTITY, pki.server_clerk), pki.gateway.cert)
    accepted = encrypt(sign(ENTITY, pki.clerk), pki.gateway.cert)
    for _ in range(2):
        assert _failure(refused, pki) is SmimeFailure.NOT_FOR_EMAIL
        assert _open(accepted, pki).signers
