"""Real Thunderbird/NSS S/MIME messages open, or fail with the right reason, with Bob as gateway.

The signed-only corpus files are encrypted to Bob with the real `openssl cms -encrypt` first
(AES-256-CBC, RSA-OAEP, AES-256-GCM), because an unencrypted message never gets as far as
showing what is wrong with its signature.
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

from crypto.smime import DecryptionKey, OpenedMessage, SmimeError, SmimeFailure, open_message

CORPUS = SMIME
Encrypt = Callable[..., bytes]
# Alice's and Bob's certificates are valid from 2026-01-26 14:38 to 2031-01-26.
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def failure_of(
    raw: bytes, key: DecryptionKey, anchor: x509.Certificate, now: datetime = NOW
) -> str:
    with pytest.raises(SmimeError) as caught:
        open_message(raw, [key], [anchor], now=now)
    return caught.value.failure.name


@pytest.mark.parametrize(
    "name",
    [
        "alice.dsig.SHA256.multipart.env.eml",  # sign (detached) then encrypt
        "alice.sig.SHA256.opaque.env.eml",  # sign (opaque) then encrypt
        "alice.env.sig.SHA256.opaque.eml",  # encrypt then sign
    ],
)
def test_thunderbird_signed_and_encrypted_messages_open(
    name: str, bob_key: DecryptionKey, nss_ca: x509.Certificate
) -> None:
    opened = open_message(corpus(name), [bob_key], [nss_ca], now=NOW)

    assert opened.encrypted
    assert [s.email_addresses for s in opened.signers] == [("alice@example.com",)]
    signer = opened.signers[0]
    assert signer.signing_time is not None and signer.signing_time.tzinfo is not None
    assert "CN=Alice" in signer.subject
    assert x509.load_der_x509_certificate(signer.certificate_der).serial_number == 30
    assert b"This is a test message from Alice to Bob." in opened.content
    assert opened.content.startswith(b"Content-Type: text/plain")
    assert b"\n" not in opened.content.replace(b"\r\n", b"")


def test_result_survives_pickling_for_the_process_pool(
    bob_key: DecryptionKey, nss_ca: x509.Certificate
) -> None:
    opened = open_message(corpus("alice.sig.SHA256.opaque.env.eml"), [bob_key], [nss_ca], now=NOW)
    assert pickle.loads(pickle.dumps(opened)) == opened
    key_copy = pickle.loads(pickle.dumps(bob_key))
    again = open_message(corpus("alice.sig.SHA256.opaque.env.eml"), [key_copy], [nss_ca], now=NOW)
    assert isinstance(again, OpenedMessage) and again == opened


def test_encrypted_but_unsigned_is_refused(
    bob_key: DecryptionKey, nss_ca: x509.Certificate
) -> None:
    assert failure_of(corpus("alice.env.eml"), bob_key, nss_ca) == "UNSIGNED"


@pytest.mark.parametrize(
    "name", ["alice.dsig.SHA256.multipart.eml", "alice.sig.SHA256.opaque.eml"]
)
def test_signed_but_not_encrypted_is_refused(
    name: str, bob_key: DecryptionKey, nss_ca: x509.Certificate
) -> None:
    assert failure_of(corpus(name), bob_key, nss_ca) == "NOT_ENCRYPTED"


def test_line_endings_of_the_outer_message_do_not_matter(
    bob_key: DecryptionKey, nss_ca: x509.Certificate
) -> None:
    lf_only = corpus("alice.dsig.SHA256.multipart.env.eml").replace(b"\r\n", b"\n")
    assert open_message(lf_only, [bob_key], [nss_ca], now=NOW).signers


def test_not_for_gateway_when_no_recipient_matches(
    bob_key: DecryptionKey, nss_ca: x509.Certificate, pki: Any
) -> None:
    stranger = pki.stranger.decryption_key
    with pytest.raises(SmimeError) as caught:
        open_message(corpus("alice.env.eml"), [stranger], [nss_ca], now=NOW)
    assert caught.value.failure is SmimeFailure.NOT_FOR_GATEWAY


@pytest.mark.parametrize(
    ("options", "label"),
    [
        ((), "aes-256-cbc, rsa v1.5"),
        (("-keyopt", "rsa_padding_mode:oaep"), "rsa-oaep sha-1"),
        (("-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256"), "oaep sha-256"),
        (("-aes-256-gcm",), "authEnveloped aes-256-gcm"),
        (("-aes128",), "aes-128-cbc"),
        (("-aes192",), "aes-192-cbc"),
    ],
)
def test_openssl_encrypted_thunderbird_signature_opens(
    options: tuple[str, ...],
    label: str,
    encrypt: Encrypt,
    bob_cert_pem: Path,
    bob_key: DecryptionKey,
    nss_ca: x509.Certificate,
) -> None:
    raw = encrypt(corpus("alice.dsig.SHA256.multipart.eml"), bob_cert_pem, *options)
    opened = open_message(raw, [bob_key], [nss_ca], now=NOW)
    assert opened.encrypted, label
    assert opened.signers[0].email_addresses == ("alice@example.com",)
    # openssl wrapped the whole signed file; the innermost entity is the signed text part.
    assert opened.content.startswith(b"Content-Type: text/plain; charset=utf-8; format=flowed")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("alice.dsig.SHA1.multipart.eml", "WEAK_ALGORITHM"),
        ("alice.dsig.SHA256.multipart.bad.eml", "BAD_SIGNATURE"),
        # The CMS carries its own (different) eContent next to the MIME first part: refused
        # before any digest is computed, so the attack gets its own answer.
        ("alice.dsig.SHA256.multipart.mismatch-econtent.eml", "CONTENT_MISMATCH"),
    ],
)
def test_bad_thunderbird_signatures_are_refused_after_decryption(
    name: str,
    expected: str,
    encrypt: Encrypt,
    bob_cert_pem: Path,
    bob_key: DecryptionKey,
    nss_ca: x509.Certificate,
) -> None:
    raw = encrypt(corpus(name), bob_cert_pem)
    assert failure_of(raw, bob_key, nss_ca) == expected


def test_signing_time_more_than_an_hour_ahead_is_refused(
    encrypt: Encrypt, bob_cert_pem: Path, bob_key: DecryptionKey, nss_ca: x509.Certificate
) -> None:
    # Despite its name this file's signingTime is 14:40:10 UTC like the others; only its Date
    # header (20:38) is in the future, and the Date header is not ours to judge.
    raw = encrypt(corpus("alice.future.dsig.SHA256.multipart.eml"), bob_cert_pem)
    assert open_message(raw, [bob_key], [nss_ca], now=NOW).signers
    # Less than an hour of clock skew is tolerated (Alice's certificate starts 14:38:35) ...
    skewed = datetime(2026, 1, 26, 14, 39, tzinfo=UTC)
    assert open_message(raw, [bob_key], [nss_ca], now=skewed).signers
    # ... more is not, and that answer comes before the certificate's own validity.
    early = datetime(2026, 1, 26, 13, 30, tzinfo=UTC)
    assert failure_of(raw, bob_key, nss_ca, now=early) == "FUTURE_SIGNING_TIME"


def test_nested_signatures_list_every_signer_outermost_first(
    encrypt: Encrypt, bob_cert_pem: Path, bob_key: DecryptionKey, nss_ca: x509.Certificate
) -> None:
    name = "alice.plain.dsig.SHA256.multipart.dave.dsig.SHA256.multipart.eml"
    opened = open_message(encrypt(corpus(name), bob_cert_pem), [bob_key], [nss_ca], now=NOW)
    assert [s.email_addresses for s in opened.signers] == [
        ("dave@example.com",),
        ("alice@example.com",),
    ]
    expected = b"Content-Type: text/plain\r\n\r\nThis is a test message from Alice to Bob.\r\n"
    assert opened.content == expected


def test_lf_only_multipart_signed_is_canonicalised_before_verifying(
    encrypt: Encrypt, bob_cert_pem: Path, bob_key: DecryptionKey, nss_ca: x509.Certificate
) -> None:
    lf_only = corpus("alice.dsig.SHA256.multipart.eml").replace(b"\r\n", b"\n")
    # -binary keeps openssl from fixing the line endings for us.
    raw = encrypt(lf_only, bob_cert_pem, "-binary")
    assert open_message(raw, [bob_key], [nss_ca], now=NOW).signers


def test_wrong_trust_anchor_is_untrusted(bob_key: DecryptionKey) -> None:
    ec_ca = x509.load_pem_x509_certificate(corpus("TestCA-ec.pem"))
    raw = corpus("alice.dsig.SHA256.multipart.env.eml")
    assert failure_of(raw, bob_key, ec_ca) == "UNTRUSTED_SIGNER"
