"""Decrypt CMS EnvelopedData (RFC 5652) and AuthEnvelopedData (RFC 5083/5084).

cryptography's own PKCS#7 decryption knows only RSA PKCS#1 v1.5, so the structure is read with
asn1crypto and the primitives come from cryptography: RSA v1.5 and RSA-OAEP key transport,
AES-CBC content encryption and AES-GCM authenticated content encryption.

Bleichenbacher: an RSA v1.5 unwrap that fails is replaced by a random key of the right size, so
a bad padding and a bad ciphertext both surface as the same DECRYPT_FAILED from the content
layer. (The OpenSSL inside cryptography also does implicit rejection; this does not rely on it.)
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Sequence

from asn1crypto import cms as asn1_cms
from asn1crypto import core as asn1_core
from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import padding as rsa_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from crypto._cms_types import DecryptionKey, SmimeError, SmimeFailure, same_name

_AES_CBC_KEY_BYTES = {"aes128_cbc": 16, "aes192_cbc": 24, "aes256_cbc": 32}
_AES_GCM_KEY_BYTES = {"aes128_gcm": 16, "aes192_gcm": 24, "aes256_gcm": 32}
_LEGACY_CIPHERS = frozenset({"des", "tripledes_3key", "rc2", "rc4", "rc5"})
_OAEP_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,  # SHA-1 inside OAEP/MGF1 is not a collision use; RFC 8017 default
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class _GcmParameters(asn1_core.Sequence):  # type: ignore[misc]
    """GCMParameters (RFC 5084 section 3.2); asn1crypto leaves them unparsed."""

    _fields = [
        ("aes_nonce", asn1_core.OctetString),
        ("aes_icvlen", asn1_core.Integer, {"default": 12}),
    ]


def _rid_matches(rid: asn1_cms.RecipientIdentifier, certificate: x509.Certificate) -> bool:
    if rid.name == "issuer_and_serial_number":
        issuer_serial = rid.chosen
        if issuer_serial["serial_number"].native != certificate.serial_number:
            return False
        return same_name(issuer_serial["issuer"], certificate.issuer)
    if rid.name == "subject_key_identifier":
        try:
            ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
            expected = ski.value.digest
        except x509.ExtensionNotFound:
            # Senders compute the SHA-1 key identifier when the certificate has none.
            expected = x509.SubjectKeyIdentifier.from_public_key(certificate.public_key()).digest
        return hmac.compare_digest(rid.chosen.native, expected)
    return False


def _oaep_padding(parameters: asn1_cms.RSAESOAEPParams | None) -> rsa_padding.OAEP:
    if parameters is None or parameters.native is None:
        # RFC 3560 / RFC 8017 defaults; SHA-1 in OAEP needs no collision resistance.
        sha1 = _OAEP_HASHES["sha1"]()
        return rsa_padding.OAEP(rsa_padding.MGF1(sha1), sha1, None)
    hash_name = parameters["hash_algorithm"]["algorithm"].native
    mgf = parameters["mask_gen_algorithm"]
    mgf_hash_name = mgf["parameters"]["algorithm"].native
    if mgf["algorithm"].native != "mgf1" or hash_name not in _OAEP_HASHES:
        raise SmimeError(SmimeFailure.DECRYPT_FAILED, "unsupported OAEP parameters")
    if mgf_hash_name not in _OAEP_HASHES:
        raise SmimeError(SmimeFailure.DECRYPT_FAILED, "unsupported OAEP MGF1 hash")
    label = parameters["p_source_algorithm"]["parameters"].native or None
    return rsa_padding.OAEP(
        rsa_padding.MGF1(_OAEP_HASHES[mgf_hash_name]()), _OAEP_HASHES[hash_name](), label
    )


def _unwrap_key(ri: asn1_cms.KeyTransRecipientInfo, key: DecryptionKey, size: int) -> bytes:
    algorithm = ri["key_encryption_algorithm"]
    wrapped = ri["encrypted_key"].native
    if algorithm["algorithm"].native == "rsaes_oaep":
        # OAEP decryption is not a padding oracle in the v1.5 sense; a failure is final.
        try:
            cek = key.private_key.decrypt(wrapped, _oaep_padding(algorithm["parameters"]))
        except ValueError as exc:
            raise SmimeError(SmimeFailure.DECRYPT_FAILED, "key transport failed") from exc
        if len(cek) != size:
            raise SmimeError(SmimeFailure.DECRYPT_FAILED, "content key has the wrong size")
        return cek
    if algorithm["algorithm"].native != "rsaes_pkcs1v15":
        raise SmimeError(SmimeFailure.DECRYPT_FAILED, "unsupported key transport algorithm")
    try:
        cek = key.private_key.decrypt(wrapped, rsa_padding.PKCS1v15())
    except ValueError:
        cek = b""
    # Same path for bad padding and wrong length: carry on with a random key (see docstring).
    return cek if len(cek) == size else os.urandom(size)


def _candidates(
    recipient_infos: asn1_cms.RecipientInfos, keys: Sequence[DecryptionKey]
) -> list[tuple[asn1_cms.KeyTransRecipientInfo, DecryptionKey]]:
    found = []
    for recipient_info in recipient_infos:
        if recipient_info.name != "ktri":
            continue  # key agreement / KEK recipients are for other parties' key types
        ktri = recipient_info.chosen
        for key in keys:
            if _rid_matches(ktri["rid"], key.certificate):
                found.append((ktri, key))
    if not found:
        raise SmimeError(SmimeFailure.NOT_FOR_GATEWAY, "no recipient matches a gateway key")
    return found


def _encrypted_content(info: asn1_cms.EncryptedContentInfo) -> bytes:
    content = info["encrypted_content"]
    # .native joins the chunks of a BER constructed OCTET STRING (NSS writes those).
    data = b"" if isinstance(content, asn1_core.Void) else content.native
    if not data:
        raise SmimeError(SmimeFailure.MALFORMED, "encrypted content is missing")
    return bytes(data)


def _cipher_name(info: asn1_cms.EncryptedContentInfo, allowed: dict[str, int]) -> str:
    name = info["content_encryption_algorithm"]["algorithm"].native
    if name in allowed:
        return str(name)
    if name in _LEGACY_CIPHERS:
        raise SmimeError(SmimeFailure.WEAK_ALGORITHM, f"content cipher {name}")
    raise SmimeError(SmimeFailure.MALFORMED, "unsupported content cipher")


def _cbc_decrypt(cek: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    if len(iv) != 16 or len(ciphertext) % 16:
        raise SmimeError(SmimeFailure.DECRYPT_FAILED, "bad CBC IV or length")
    decryptor = Cipher(algorithms.AES(cek), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:
        raise SmimeError(SmimeFailure.DECRYPT_FAILED, "content decryption failed") from exc


def decrypt_enveloped(data: asn1_cms.EnvelopedData, keys: Sequence[DecryptionKey]) -> bytes:
    """Return the plaintext content of an EnvelopedData addressed to one of `keys`."""
    info = data["encrypted_content_info"]
    name = _cipher_name(info, _AES_CBC_KEY_BYTES)
    iv = info["content_encryption_algorithm"]["parameters"].native
    ciphertext = _encrypted_content(info)
    failure: SmimeError | None = None
    # Several of our keys (current + retired) may be listed; with CBC only the padding tells a
    # right key from a wrong one, so try each until one yields well-padded plaintext.
    for ktri, key in _candidates(data["recipient_infos"], keys):
        try:
            cek = _unwrap_key(ktri, key, _AES_CBC_KEY_BYTES[name])
            return _cbc_decrypt(cek, bytes(iv or b""), ciphertext)
        except SmimeError as exc:
            failure = exc
    raise failure or SmimeError(SmimeFailure.DECRYPT_FAILED)


def decrypt_auth_enveloped(
    data: asn1_cms.AuthEnvelopedData, keys: Sequence[DecryptionKey]
) -> bytes:
    """Return the plaintext of an AuthEnvelopedData (AES-GCM) addressed to one of `keys`."""
    info = data["auth_encrypted_content_info"]
    name = _cipher_name(info, _AES_GCM_KEY_BYTES)
    parameters = _GcmParameters.load(info["content_encryption_algorithm"]["parameters"].dump())
    nonce = bytes(parameters["aes_nonce"].native)
    tag = bytes(data["mac"].native)
    if len(tag) != parameters["aes_icvlen"].native or not 12 <= len(tag) <= 16:
        raise SmimeError(SmimeFailure.MALFORMED, "bad GCM tag length")
    auth_attrs = data["auth_attrs"]
    # RFC 5083: the AAD is the DER of the authenticated attributes with the SET OF tag.
    aad = b"" if isinstance(auth_attrs, asn1_core.Void) else auth_attrs.untag().dump()
    ciphertext = _encrypted_content(info)
    failure: SmimeError | None = None
    for ktri, key in _candidates(data["recipient_infos"], keys):
        try:
            cek = _unwrap_key(ktri, key, _AES_GCM_KEY_BYTES[name])
            decryptor = Cipher(
                algorithms.AES(cek), modes.GCM(nonce, tag, min_tag_length=len(tag))
            ).decryptor()
            decryptor.authenticate_additional_data(aad)
            return decryptor.update(ciphertext) + decryptor.finalize()
        except InvalidTag:
            failure = SmimeError(SmimeFailure.DECRYPT_FAILED, "GCM tag does not verify")
        except SmimeError as exc:
            failure = exc
    raise failure or SmimeError(SmimeFailure.DECRYPT_FAILED)

