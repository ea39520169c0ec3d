"""Make outgoing S/MIME: detached signatures (RFC 8551 section 3.5.3) and encryption.

The counterpart of `crypto.smime`, which opens what these functions make. Both functions take
and return complete MIME entities with CRLF line ends:

- `sign_detached` wraps an entity in multipart/signed with a detached CMS SignedData made by
  cryptography's PKCS#7 builder (SHA-256, RSA PKCS#1 v1.5, signing time and S/MIME
  capabilities among the signed attributes);
- `encrypt` wraps an entity in application/pkcs7-mime, EnvelopedData (AES-256-CBC) or
  AuthEnvelopedData (AES-256-GCM), built by `crypto._cms_build`.

Errors are `SmimeOutError`; their texts name certificates by subject, never keys or content.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence

import pybase64
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from crypto._cms_build import Recipient, build_enveloped
from crypto._cms_signed import verify_detached_signature

# verify_detached_signature checks what detached_signature made (raises SmimeError).
__all__ = [
    "SmimeOutError",
    "detached_signature",
    "encrypt",
    "sign_detached",
    "verify_detached_signature",
]

# A CR or LF that is not part of a CRLF pair.
_BARE_LINE_END = re.compile(rb"\r(?!\n)|(?<!\r)\n")


class SmimeOutError(Exception):
    """Outgoing S/MIME could not be made; the text never holds key material or content."""


def _base64_body(der: bytes) -> bytes:
    """Base64 in 76-character lines (RFC 2045), each ending in CRLF."""
    return pybase64.encodebytes(der).replace(b"\n", b"\r\n")


def _check_seven_bit_crlf(entity: bytes) -> None:
    # A relay may rewrite 8-bit bytes or bare line ends, and a signature over bytes that
    # change on the way no longer verifies; refuse here rather than fail at the recipient.
    if not entity.isascii():
        raise SmimeOutError("the entity to sign must be 7-bit (use base64 or quoted-printable)")
    if _BARE_LINE_END.search(entity):
        raise SmimeOutError("the entity to sign must end every line with CRLF")


def sign_detached(
    entity: bytes,
    certificate: x509.Certificate,
    key: rsa.RSAPrivateKey,
    chain: Sequence[x509.Certificate] = (),
) -> bytes:
    """Return `entity` signed as multipart/signed (its header, blank line, the two parts).

    The first part is `entity` byte for byte; the second a detached SignedData over exactly
    those bytes, carrying `certificate` and `chain`.
    """
    _check_seven_bit_crlf(entity)
    builder = pkcs7.PKCS7SignatureBuilder().set_data(entity)
    builder = builder.add_signer(certificate, key, hashes.SHA256())
    for extra in chain:
        builder = builder.add_certificate(extra)
    # Binary: sign the bytes as they are (they are CRLF already) instead of re-canonicalising.
    signature = builder.sign(
        Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]
    )
    boundary = f"----=_smime_{secrets.token_hex(16)}".encode("ascii")
    return b"".join(
        (
            b'Content-Type: multipart/signed; protocol="application/pkcs7-signature";\r\n'
            b' micalg=sha-256; boundary="' + boundary + b'"\r\n\r\n',
            b"--" + boundary + b"\r\n",
            entity,
            # The CRLF before a delimiter belongs to the delimiter, not to the signed part.
            b"\r\n--" + boundary + b"\r\n",
            b"Content-Type: application/pkcs7-signature; name=smime.p7s\r\n"
            b"Content-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=smime.p7s\r\n\r\n",
            _base64_body(signature),
            b"--" + boundary + b"--\r\n",
        )
    )


def detached_signature(
    data: bytes, certificate: x509.Certificate, key: rsa.RSAPrivateKey
) -> bytes:
    """A DER CMS SignedData over `data` byte for byte (detached), carrying `certificate`.

    For statements that are not mail (the head of a citizen's event log): `openssl cms
    -verify -inform DER -binary -content FILE` checks it against the gateway's certificate.
    """
    builder = pkcs7.PKCS7SignatureBuilder().set_data(data)
    builder = builder.add_signer(certificate, key, hashes.SHA256())
    return builder.sign(
        Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]
    )


def _recipient(certificate: x509.Certificate) -> Recipient:
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise SmimeOutError(
            f"recipient certificate {certificate.subject.rfc4514_string()} has no RSA key; "
            "only RSA key transport is supported"
        )
    return Recipient(certificate, public_key)


def encrypt(entity: bytes, recipients: Sequence[x509.Certificate], *, aes_gcm: bool) -> bytes:
    """Return `entity` encrypted to every certificate in `recipients` as application/pkcs7-mime.

    AES-256-GCM AuthEnvelopedData when `aes_gcm`, else AES-256-CBC EnvelopedData; a fresh
    content key each call, transported with RSA PKCS#1 v1.5.
    """
    if not recipients:
        raise SmimeOutError("at least one recipient certificate is needed")
    checked = [_recipient(certificate) for certificate in recipients]
    der = build_enveloped(entity, checked, aes_gcm=aes_gcm)
    smime_type = b"authEnveloped-data" if aes_gcm else b"enveloped-data"
    return (
        b"Content-Type: application/pkcs7-mime; smime-type=" + smime_type + b";\r\n"
        b" name=smime.p7m\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b"Content-Disposition: attachment; filename=smime.p7m\r\n\r\n" + _base64_body(der)
    )
