"""What is kept as evidence is the clerk's signed entity, verifiable without the gateway's key."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from gatewaytest.corpus import SMIME

from crypto.smime import DecryptionKey, open_message

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def test_sign_then_encrypt_keeps_the_decrypted_signed_entity(
    bob_key: DecryptionKey, nss_ca: x509.Certificate, openssl_cli, tmp_path: Path
) -> None:
    raw = (SMIME / "alice.dsig.SHA256.multipart.env.eml").read_bytes()
    opened = open_message(raw, [bob_key], [nss_ca], now=NOW)
    assert b"multipart/signed" in opened.evidence.split(b"\n\n", 1)[0].lower()
    assert b"pkcs7-mime" not in opened.evidence.split(b"\n\n", 1)[0].lower()
    evidence = tmp_path / "evidence.eml"
    evidence.write_bytes(opened.evidence)
    # An auditor with only public certificates can check the clerk's signature.
    openssl_cli("cms", "-verify", "-in", evidence, "-CAfile", SMIME / "TestCA.pem",
                "-out", tmp_path / "content.eml")


def test_encrypt_then_sign_keeps_the_whole_signed_message(
    bob_key: DecryptionKey, nss_ca: x509.Certificate
) -> None:
    raw = (SMIME / "alice.env.sig.SHA256.opaque.eml").read_bytes()
    assert open_message(raw, [bob_key], [nss_ca], now=NOW).evidence == raw
