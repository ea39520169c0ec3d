"""Build CMS EnvelopedData (RFC 5652) and AuthEnvelopedData (RFC 5083/5084) for outgoing mail.

asn1crypto writes the structure and cryptography does the primitives: a fresh AES-256 key per
message, AES-256-CBC or AES-256-GCM content encryption, and RSA PKCS#1 v1.5 key transport to
each recipient named by issuer and serial number (the form Outlook and Thunderbird both read).
The decrypting side of the same structures is `crypto._cms_envelope`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from asn1crypto import algos as asn1_algos
from asn1crypto import cms as asn1_cms
from asn1crypto import core as asn1_core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import padding as block_padding
from cryptography.hazmat.primitives.asymmetric import padding as rsa_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto._cms_envelope import _GcmParameters

_KEY_BYTES = 32  # AES-256
_CBC_IV_BYTES = 16
_GCM_NONCE_BYTES = 12  # RFC 5084 recommends 12
_GCM_TAG_BYTES = 16


@dataclass(frozen=True)
class Recipient:
    """A recipient certificate whose key was checked to be RSA."""

    certificate: x509.Certificate
    public_key: rsa.RSAPublicKey


@dataclass(frozen=True)
class _Sealed:
    """Encrypted content and how it was encrypted; `tag` only for authenticated encryption."""

    algorithm: asn1_algos.EncryptionAlgorithm
    ciphertext: bytes
    tag: bytes | None


def _seal_cbc(key: bytes, content: bytes) -> _Sealed:
    iv = os.urandom(_CBC_IV_BYTES)
    padder = block_padding.PKCS7(algorithms.AES.block_size).padder()
    padded = padder.update(content) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    algorithm = asn1_algos.EncryptionAlgorithm({"algorithm": "aes256_cbc", "parameters": iv})
    return _Sealed(algorithm, encryptor.update(padded) + encryptor.finalize(), None)


def _seal_gcm(key: bytes, content: bytes) -> _Sealed:
    nonce = os.urandom(_GCM_NONCE_BYTES)
    # No authenticated attributes are sent, so the additional data is empty (RFC 5083).
    sealed = AESGCM(key).encrypt(nonce, content, None)
    parameters = _GcmParameters({"aes_nonce": nonce, "aes_icvlen": _GCM_TAG_BYTES})
    algorithm = asn1_algos.EncryptionAlgorithm(
        {"algorithm": "aes256_gcm", "parameters": parameters}
    )
    ciphertext, tag = sealed[:-_GCM_TAG_BYTES], sealed[-_GCM_TAG_BYTES:]
    return _Sealed(algorithm, ciphertext, tag)


def _recipient_info(recipient: Recipient, key: bytes) -> asn1_cms.RecipientInfo:
    certificate = recipient.certificate
    rid = asn1_cms.RecipientIdentifier(
        name="issuer_and_serial_number",
        value=asn1_cms.IssuerAndSerialNumber(
            {
                # The issuer's DER exactly as in the certificate, so that matching is byte-equal.
                "issuer": asn1_x509.Name.load(certificate.issuer.public_bytes()),
                "serial_number": certificate.serial_number,
            }
        ),
    )
    ktri = asn1_cms.KeyTransRecipientInfo(
        {
            "version": "v0",
            "rid": rid,
            # RFC 3370 section 4.2.1: rsaEncryption with NULL parameters.
            "key_encryption_algorithm": {
                "algorithm": "rsaes_pkcs1v15",
                "parameters": asn1_core.Null(),
            },
            "encrypted_key": recipient.public_key.encrypt(key, rsa_padding.PKCS1v15()),
        }
    )
    return asn1_cms.RecipientInfo(name="ktri", value=ktri)


def build_enveloped(content: bytes, recipients: Sequence[Recipient], *, aes_gcm: bool) -> bytes:
    """The DER ContentInfo holding `content` encrypted to every recipient.

    AuthEnvelopedData with AES-256-GCM when `aes_gcm`, else EnvelopedData with AES-256-CBC.
    Version 0 in both: only issuerAndSerialNumber key transport, no originator info or
    attributes.
    """
    key = os.urandom(_KEY_BYTES)
    sealed = (_seal_gcm if aes_gcm else _seal_cbc)(key, content)
    common = {
        "version": "v0",
        "recipient_infos": [_recipient_info(recipient, key) for recipient in recipients],
    }
    encrypted_info = asn1_cms.EncryptedContentInfo(
        {
            "content_type": "data",
            "content_encryption_algorithm": sealed.algorithm,
            "encrypted_content": sealed.ciphertext,
        }
    )
    if sealed.tag is None:
        kind = "enveloped_data"
        body: asn1_core.Sequence = asn1_cms.EnvelopedData(
            {**common, "encrypted_content_info": encrypted_info}
        )
    else:
        kind = "authenticated_enveloped_data"
        body = asn1_cms.AuthEnvelopedData(
            {**common, "auth_encrypted_content_info": encrypted_info, "mac": sealed.tag}
        )
    return bytes(asn1_cms.ContentInfo({"content_type": kind, "content": body}).dump())
