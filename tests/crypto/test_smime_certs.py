"""The certificate helpers load real key files and read signer addresses the way clients do,
and X.509 v1 certificates (still issued by old PKIs) are accepted as signers.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from gatewaytest.corpus import SMIME

from crypto.certs import certificate_emails, load_decryption_key
from crypto.smime import open_message

CORPUS = SMIME


def test_pem_certificate_and_key_load(pki: Any) -> None:
    key = load_decryption_key(pki.gateway.cert.read_bytes(), pki.gateway.key.read_bytes())
    assert key.certificate == pki.gateway.certificate
    assert pickle.loads(pickle.dumps(key)).certificate == key.certificate


def test_nss_pkcs12_loads_without_warnings_escaping() -> None:
    # NSS writes BER PKCS#12; cryptography warns about it, and warnings are errors in tests.
    key = load_decryption_key((CORPUS / "Bob.p12").read_bytes(), password=b"nss")
    assert certificate_emails(key.certificate) == ("bob@example.com",)


def test_openssl_pkcs12_with_password_loads(
    pki: Any, tmp_path: Path, openssl_cli: Callable[..., bytes]
) -> None:
    p12 = tmp_path / "gateway.p12"
    openssl_cli(
        "pkcs12", "-export", "-in", pki.gateway.cert, "-inkey", pki.gateway.key,
        "-passout", "pass:s3cret", "-out", p12,
    )  # fmt: skip
    key = load_decryption_key(p12.read_bytes(), password=b"s3cret")
    assert key.certificate == pki.gateway.certificate
    with pytest.raises(ValueError):
        load_decryption_key(p12.read_bytes(), password=b"wrong")


def test_key_of_another_certificate_is_refused(pki: Any) -> None:
    with pytest.raises(ValueError, match="does not belong"):
        load_decryption_key(pki.gateway.cert.read_bytes(), pki.stranger.key.read_bytes())


def test_ec_identity_cannot_be_a_decryption_key() -> None:
    with pytest.raises(ValueError, match="RSA"):
        load_decryption_key((CORPUS / "Alice-ec.p12").read_bytes(), password=b"nss")


def test_subject_alt_name_wins_over_subject_email(pki: Any) -> None:
    assert certificate_emails(pki.clerk.certificate) == ("virkailija@kunta.example",)


def test_legacy_subject_email_is_used_without_subject_alt_name(pki: Any) -> None:
    assert pki.legacy_clerk.certificate.version == x509.Version.v1
    assert certificate_emails(pki.legacy_clerk.certificate) == ("vanha@kunta.example",)


def test_x509_v1_signer_is_accepted(
    pki: Any, sign: Callable[..., bytes], encrypt: Callable[..., bytes]
) -> None:
    entity = b"Content-Type: text/plain\r\n\r\nHei.\r\n"
    raw = encrypt(sign(entity, pki.legacy_clerk), pki.gateway.cert)
    opened = open_message(
        raw, [pki.gateway.decryption_key], [pki.ca.certificate], now=datetime.now(UTC)
    )
    assert opened.signers[0].email_addresses == ("vanha@kunta.example",)


def test_ec_signer_from_the_corpus_is_accepted(
    alice_ec: Any, sign: Callable[..., bytes], encrypt: Callable[..., bytes], pki: Any
) -> None:
    ec_ca = x509.load_pem_x509_certificate((CORPUS / "TestCA-ec.pem").read_bytes())
    raw = encrypt(sign(b"Content-Type: text/plain\r\n\r\nHei.\r\n", alice_ec), pki.gateway.cert)
    opened = open_message(
        raw, [pki.gateway.decryption_key], [ec_ca], now=datetime(2027, 1, 1, tzinfo=UTC)
    )
    assert opened.signers[0].email_addresses == ("alice-ec@example.com",)
