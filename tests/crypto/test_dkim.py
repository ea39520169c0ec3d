"""DKIM signing (crypto/dkim.py): dkimpy's canonicalisation with OpenSSL's RSA step.

Three independent checks: dkimpy's own verifier, Debian's Mail::DKIM (Perl; apt package
`libmail-dkim-perl`) through tests/crypto/dkim_verify.pl, and byte-for-byte equality with
stock dkimpy for the same key and timestamp (PKCS#1 v1.5 signatures are deterministic, so
equality proves both the canonicalisation and the RSA result are dkimpy's).
"""

from __future__ import annotations

import base64
import importlib.metadata
import re
import threading
import types
from collections.abc import Callable

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from gatewaytest.dkim_check import mail_dkim

from crypto.dkim import DEFAULT_SIGNED_HEADERS, DkimError, DkimSigner

DOMAIN = "asiointi.example.fi"
SELECTOR = "asiointi1"
DNS_NAME = f"{SELECTOR}._domainkey.{DOMAIN}"
FIXED_TIME = 1_700_000_000

MESSAGE = (
    b"Received: from mta.kunta.example (mta.kunta.example [192.0.2.7])\r\n"
    b"From: Kirjaamo <kirjaamo@asiointi.example.fi>\r\n"
    b"To: 010101-123N@asiointi.example.fi\r\n"
    b"Subject: =?utf-8?q?P=C3=A4=C3=A4t=C3=B6s?= hakemukseen\r\n"
    b"   folded   continuation\r\n"
    b"Date: Mon, 13 May 2024 10:00:00 +0300\r\n"
    b"Message-ID: <abc.123@asiointi.example.fi>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"X-Mailer: not signed\r\n"
    b"\r\n"
    + "Päätös koskee hakemustanne.  \t\r\n\r\nLisätiedot alla.\r\n\r\n\r\n".encode()
)


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    # PKCS#8, as `asiointitili init` writes the DKIM key.
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def key_pem(rsa_key: rsa.RSAPrivateKey) -> bytes:
    return _pem(rsa_key)


@pytest.fixture(scope="module")
def txt_record(rsa_key: rsa.RSAPrivateKey) -> str:
    """The record `asiointitili keys show dkim` prints (same construction)."""
    public = rsa_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"


@pytest.fixture(scope="module")
def signer(key_pem: bytes) -> DkimSigner:
    return DkimSigner(domain=DOMAIN, selector=SELECTOR, private_key_pem=key_pem)


@pytest.fixture
def fixed_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # dkimpy stamps t= from `time.time()` looked up through its own module global `time`.
    monkeypatch.setattr(dkim, "time", types.SimpleNamespace(time=lambda: FIXED_TIME))


def _dnsfunc(record: str) -> Callable[..., bytes]:
    def lookup(name: bytes, timeout: int = 5) -> bytes:
        return record.encode() if name.decode().rstrip(".") == DNS_NAME else b""

    return lookup


def _dkimpy_verifies(signed: bytes, record: str) -> bool:
    return bool(dkim.verify(signed, dnsfunc=_dnsfunc(record)))


def _tags(signature: bytes) -> dict[str, str]:
    value = signature.split(b":", 1)[1].decode()
    value = re.sub(r"\s+", "", value)
    return dict(tag.split("=", 1) for tag in value.split(";") if tag)


# --- dkimpy's verifier ------------------------------------------------------------------------


def test_dkimpy_verifies_our_signature(signer: DkimSigner, txt_record: str) -> None:
    signature = signer.sign(MESSAGE)
    assert _dkimpy_verifies(signature + MESSAGE, txt_record)


def test_signature_is_a_crlf_header_field(signer: DkimSigner) -> None:
    signature = signer.sign(MESSAGE)
    assert signature.startswith(b"DKIM-Signature: ")
    assert signature.endswith(b"\r\n")
    assert b"\n" not in signature.replace(b"\r\n", b"")
    assert all(line.startswith((b" ", b"\t")) for line in signature.split(b"\r\n")[1:-1])


def test_tags(signer: DkimSigner) -> None:
    tags = _tags(signer.sign(MESSAGE))
    assert tags["a"] == "rsa-sha256"
    assert tags["c"] == "relaxed/relaxed"
    assert tags["d"] == DOMAIN
    assert tags["s"] == SELECTOR
    # Only the listed fields that are present, in DEFAULT_SIGNED_HEADERS order.
    assert tags["h"].split(":") == [
        "from", "to", "subject", "date", "message-id", "mime-version", "content-type",
    ]


def test_every_instance_of_a_repeated_field_is_signed(
    signer: DkimSigner, txt_record: str
) -> None:
    message = MESSAGE.replace(b"MIME-Version", b"References: <a@x.example>\r\nMIME-Version", 1)
    message = message.replace(b"MIME-Version", b"References: <b@x.example>\r\nMIME-Version", 1)
    signature = signer.sign(message)
    assert _tags(signature)["h"].split(":").count("references") == 2
    assert _dkimpy_verifies(signature + message, txt_record)
    altered = message.replace(b"<a@x.example>", b"<evil@x.example>")
    assert not _dkimpy_verifies(signature + altered, txt_record)


def test_lf_line_ends_are_accepted(signer: DkimSigner, txt_record: str) -> None:
    message = MESSAGE.replace(b"\r\n", b"\n")
    assert _dkimpy_verifies(signer.sign(message) + message, txt_record)


def test_modified_body_fails(signer: DkimSigner, txt_record: str) -> None:
    signed = signer.sign(MESSAGE) + MESSAGE
    assert not _dkimpy_verifies(signed.replace(b"alla.", b"ALLA."), txt_record)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"Subject: =?utf-8?q?P", b"Subject: =?utf-8?q?X"),
        (b"To: 010101-123N@", b"To: 020202-456M@"),
        (b"From: Kirjaamo", b"From: Huijari"),
    ],
)
def test_modified_signed_header_fails(
    signer: DkimSigner, txt_record: str, old: bytes, new: bytes
) -> None:
    signed = signer.sign(MESSAGE) + MESSAGE
    assert old in signed
    assert not _dkimpy_verifies(signed.replace(old, new, 1), txt_record)


def test_relaxed_canonicalisation_tolerates_refolding_and_unsigned_fields(
    signer: DkimSigner, txt_record: str
) -> None:
    signed = signer.sign(MESSAGE) + MESSAGE
    # What relaxed/relaxed is for: whitespace changes and added unsigned fields in transit.
    moved = signed.replace(b"Subject: =?utf-8", b"Subject:    =?utf-8").replace(
        b"X-Mailer", b"X-Spam-Score: 0\r\nX-Mailer"
    )
    assert _dkimpy_verifies(moved, txt_record)


def test_wrong_key_in_dns_fails(signer: DkimSigner) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = other.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"
    assert not _dkimpy_verifies(signer.sign(MESSAGE) + MESSAGE, record)


# --- byte-for-byte equality with stock dkimpy ---------------------------------------------------


MESSAGES = {
    "default": MESSAGE,
    "lf": MESSAGE.replace(b"\r\n", b"\n"),
    "minimal": b"From: a@asiointi.example.fi\r\n\r\nx\r\n",
    "empty-body": b"From: a@asiointi.example.fi\r\nSubject: tyhja\r\n\r\n",
    "reply": MESSAGE.replace(
        b"MIME-Version",
        b"Reply-To: <r@asiointi.example.fi>\r\nIn-Reply-To: <p@x.example>\r\n"
        b"References: <o@x.example>\r\n <p@x.example>\r\nMIME-Version",
    ),
    "10k": MESSAGE + b"Rivi " * 2048 + b"\r\n",
}


@pytest.mark.parametrize("name", sorted(MESSAGES))
@pytest.mark.usefixtures("fixed_time")
def test_equals_stock_dkimpy(signer: DkimSigner, key_pem: bytes, name: str) -> None:
    message = MESSAGES[name]
    ours = signer.sign(message)
    include = _tags(ours)["h"].split(":")
    # Stock path: PEM bytes, so dkimpy parses the key and signs in pure Python itself.
    stock = dkim.sign(
        message,
        SELECTOR.encode(),
        DOMAIN.encode(),
        key_pem,
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=[h.encode() for h in include],
    )
    assert _tags(ours)["t"] == str(FIXED_TIME)
    assert ours == stock


def test_stock_dkimpy_still_signs_in_pure_python(
    signer: DkimSigner, key_pem: bytes, txt_record: str
) -> None:
    # Our hook must leave other dkimpy users (PEM bytes in) untouched.
    assert signer.sign(MESSAGE)
    stock = dkim.sign(MESSAGE, SELECTOR.encode(), DOMAIN.encode(), key_pem)
    assert _dkimpy_verifies(stock + MESSAGE, txt_record)


def test_threads_agree(signer: DkimSigner, fixed_time: None) -> None:
    expected = signer.sign(MESSAGE)
    results: list[bytes] = []

    def work() -> None:
        results.extend(signer.sign(MESSAGE) for _ in range(20))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 80


# --- Mail::DKIM (independent implementation) --------------------------------------------------


@pytest.fixture(scope="module")
def perl_verifier() -> Callable[[bytes, str], str]:
    verify = mail_dkim()
    return lambda signed, record: verify(signed, DNS_NAME, record)


def test_mail_dkim_verifies_our_signature(
    signer: DkimSigner, txt_record: str, perl_verifier: Callable[[bytes, str], str]
) -> None:
    for name, message in MESSAGES.items():
        output = perl_verifier(signer.sign(message) + message, txt_record)
        assert output.splitlines()[0].startswith(f"pass {DOMAIN} "), (name, output)
        assert output.splitlines()[-1] == "overall: pass", (name, output)


def test_mail_dkim_rejects_tampering(
    signer: DkimSigner, txt_record: str, perl_verifier: Callable[[bytes, str], str]
) -> None:
    signed = signer.sign(MESSAGE) + MESSAGE
    for old, new in [(b"alla.", b"ALLA."), (b"To: 010101-123N@", b"To: 020202-456M@")]:
        output = perl_verifier(signed.replace(old, new, 1), txt_record)
        assert output.splitlines()[-1] == "overall: fail", (old, output)


def test_mail_dkim_needs_the_right_selector(
    key_pem: bytes, txt_record: str, perl_verifier: Callable[[bytes, str], str]
) -> None:
    # Proves the verifier really looks the key up by s=/d= rather than accepting anything.
    other = DkimSigner(domain=DOMAIN, selector="muu", private_key_pem=key_pem)
    output = perl_verifier(other.sign(MESSAGE) + MESSAGE, txt_record)
    assert output.splitlines()[-1] != "overall: pass", output


# --- errors -----------------------------------------------------------------------------------


def test_bad_pem_is_refused_without_echoing_it() -> None:
    garbage = b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0LXNlY3JldA==\n-----END PRIVATE KEY-----\n"
    with pytest.raises(DkimError) as info:
        DkimSigner(domain=DOMAIN, selector=SELECTOR, private_key_pem=garbage)
    assert "c2VjcmV0" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_non_rsa_key_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(DkimError, match="not an RSA key"):
        DkimSigner(domain=DOMAIN, selector=SELECTOR, private_key_pem=_pem(key))


def test_short_rsa_key_is_refused() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(DkimError, match="1024 bits"):
        DkimSigner(domain=DOMAIN, selector=SELECTOR, private_key_pem=_pem(key))


@pytest.mark.parametrize(
    ("domain", "selector"),
    [("bad domain", SELECTOR), (DOMAIN, "a;b"), ("-x.example", SELECTOR), (DOMAIN, "")],
)
def test_bad_names_are_refused(key_pem: bytes, domain: str, selector: str) -> None:
    with pytest.raises(DkimError, match="not a valid DNS name"):
        DkimSigner(domain=domain, selector=selector, private_key_pem=key_pem)


def test_from_must_be_in_the_header_list(key_pem: bytes) -> None:
    with pytest.raises(DkimError, match="From"):
        DkimSigner(
            domain=DOMAIN, selector=SELECTOR, private_key_pem=key_pem, headers=[b"subject"]
        )


def test_message_without_from_is_refused(signer: DkimSigner) -> None:
    with pytest.raises(DkimError, match="no From"):
        signer.sign(b"Subject: x\r\n\r\nbody\r\n")


def test_custom_header_list(key_pem: bytes, txt_record: str) -> None:
    signer = DkimSigner(
        domain=DOMAIN, selector=SELECTOR, private_key_pem=key_pem, headers=[b"From", b"X-Mailer"]
    )
    signature = signer.sign(MESSAGE)
    assert _tags(signature)["h"] == "from:x-mailer"
    assert _dkimpy_verifies(signature + MESSAGE, txt_record)


def test_default_header_list() -> None:
    assert DEFAULT_SIGNED_HEADERS == (
        b"from", b"to", b"subject", b"date", b"message-id", b"mime-version",
        b"content-type", b"reply-to", b"in-reply-to", b"references",
    )


def test_other_dkimpy_version_is_refused(key_pem: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "1.1.9")
    with pytest.raises(DkimError, match=r"pinned to dkimpy 1\.1\.8 but 1\.1\.9"):
        DkimSigner(domain=DOMAIN, selector=SELECTOR, private_key_pem=key_pem)


def test_moved_seam_is_refused(key_pem: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    def gen_header(*args: object) -> None:  # a future dkimpy that signs some other way
        return None

    monkeypatch.setattr(dkim.DKIM, "gen_header", gen_header)
    with pytest.raises(DkimError, match="RSASSA_PKCS1_v1_5_sign"):
        DkimSigner(domain=DOMAIN, selector=SELECTOR, private_key_pem=key_pem)
