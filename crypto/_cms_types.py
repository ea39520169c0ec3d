"""Value types and the error type shared by the S/MIME modules.

They live apart from `crypto.smime` so that the private helpers (`_cms_*`) and `crypto.certs`
can use them without importing the public module (which imports the helpers). Everything a
caller needs is re-exported by `crypto.smime`.

Every value here crosses a process-pool boundary, so each one pickles: `Signer` and
`OpenedMessage` hold only bytes, strings and datetimes; `DecryptionKey` holds cryptography
objects, which do not pickle, and therefore pickles itself as DER.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def _decryption_key_from_der(certificate_der: bytes, private_key_der: bytes) -> DecryptionKey:
    """Rebuild a `DecryptionKey` from its pickled form (see `DecryptionKey.__reduce__`)."""
    key = serialization.load_der_private_key(private_key_der, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("pickled decryption key is not an RSA key")
    return DecryptionKey(x509.load_der_x509_certificate(certificate_der), key)


@dataclass(frozen=True)
class DecryptionKey:
    """One of the gateway's S/MIME identities (the current one or a retired one)."""

    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey

    def __reduce__(self) -> tuple[object, tuple[bytes, bytes]]:
        # cryptography's key and certificate objects refuse to pickle; the process pool
        # needs them, so they travel as DER (within this host only, never to disk).
        key_der = self.private_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        cert_der = self.certificate.public_bytes(serialization.Encoding.DER)
        return (_decryption_key_from_der, (cert_der, key_der))


@dataclass(frozen=True)
class Signer:
    """A signer whose signature, certificate chain and key usage were all verified."""

    certificate_der: bytes
    email_addresses: tuple[str, ...]
    signing_time: datetime | None
    subject: str
    # An OpenPGP signer (crypto.pgp) has no certificate: its primary key's fingerprint instead.
    pgp_fingerprint: str = ""


@dataclass(frozen=True)
class OpenedMessage:
    """The result of removing every S/MIME layer from a message."""

    content: bytes
    signers: tuple[Signer, ...]
    encrypted: bool
    # The outermost signed entity exactly as it stood once the encryption around it was removed
    # (the whole message for encrypt-then-sign): verifiable later with public certificates only.
    evidence: bytes = b""


class SmimeFailure(enum.Enum):
    """Why a message was refused; each member maps to its own SMTP 5.7.x answer.

    The member names are the contract with the SMTP layer; the values are stable short codes.
    """

    NOT_SMIME = "not-smime"
    NOT_ENCRYPTED = "not-encrypted"
    NOT_FOR_GATEWAY = "not-for-gateway"
    DECRYPT_FAILED = "decrypt-failed"
    UNSIGNED = "unsigned"
    BAD_SIGNATURE = "bad-signature"
    CONTENT_MISMATCH = "content-mismatch"
    WEAK_ALGORITHM = "weak-algorithm"
    FUTURE_SIGNING_TIME = "future-signing-time"
    UNTRUSTED_SIGNER = "untrusted-signer"
    SIGNER_EXPIRED = "signer-expired"
    NOT_FOR_EMAIL = "not-for-email"
    MALFORMED = "malformed"


class SmimeError(Exception):
    """An S/MIME message could not be opened; `failure` says why.

    `detail` is a short technical phrase for logs. It never contains message content, key
    material or personal data.
    """

    def __init__(self, failure: SmimeFailure, detail: str = "") -> None:
        super().__init__(failure, detail)
        self.failure = failure
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.failure.name}: {self.detail}" if self.detail else self.failure.name


def same_name(asn1_name: Any, certificate_name: x509.Name) -> bool:
    """Whether an asn1crypto Name from a CMS structure names the same entity as a certificate's.

    Byte-equal DER is the usual case and costs nothing; only otherwise does asn1crypto compare
    after RFC 5280 string preparation, which is slow enough to matter on every message.
    """
    der = certificate_name.public_bytes()
    if asn1_name.dump() == der:
        return True
    return bool(asn1_name == type(asn1_name).load(der))
