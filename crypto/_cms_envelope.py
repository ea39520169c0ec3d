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
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding as rsa_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from crypto._cms_types import DecryptionKey, SmimeError, SmimeFailure, same_name

_BLOCK_BYTES = 16  # AES
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


# DER of the content types whose (large) encrypted content `detach_encrypted_content` moves out.
_ENVELOPED_TYPES = frozenset(
    {
        bytes.fromhex("06092a864886f70d010703"),  # id-envelopedData
        bytes.fromhex("060b2a864886f70d0109100117"),  # id-ct-authEnvelopedData
    }
)
_SEQUENCE, _SET, _INTEGER, _OID = 0x30, 0x31, 0x02, 0x06
_EXPLICIT_0 = 0xA0  # [0] constructed: ContentInfo content, originatorInfo
_IMPLICIT_0 = 0x80  # [0] primitive: encryptedContent as one OCTET STRING
# (tag, header start, contents start, contents end) of one DER element.
_Element = tuple[int, int, int, int]


def _children(data: bytes, start: int, end: int) -> list[_Element] | None:
    """The elements in data[start:end]; None unless all have a one-byte tag and a definite
    length that fits (BER indefinite lengths are left to asn1crypto)."""
    found: list[_Element] = []
    position = start
    while position < end:
        if position + 2 > end or data[position] & 0x1F == 0x1F:
            return None
        first = data[position + 1]
        contents = position + 2
        if first < 0x80:
            length = first
        else:
            count = first & 0x7F
            if not 0 < count <= 4 or contents + count > end:
                return None
            length = int.from_bytes(data[contents : contents + count], "big")
            contents += count
        if contents + length > end:
            return None
        found.append((data[position], position, contents, contents + length))
        position = contents + length
    return found


def _der_header(tag: int, length: int) -> bytes:
    if length < 0x80:
        return bytes((tag, length))
    size = (length.bit_length() + 7) // 8
    return bytes((tag, 0x80 | size)) + length.to_bytes(size, "big")


def _path_to_content(der: bytes) -> list[_Element] | None:
    """ContentInfo, [0], (Auth)EnvelopedData, EncryptedContentInfo, encryptedContent.

    Only the exact DER shape of RFC 5652/5083 with a primitive content qualifies; anything else
    (BER, chunked content, unexpected fields) returns None and asn1crypto reads it all.
    """
    top = _children(der, 0, len(der))
    if not top or top[0][0] != _SEQUENCE:
        return None
    outer = top[0]
    info = _children(der, outer[2], outer[3])
    if info is None or len(info) != 2 or info[1][0] != _EXPLICIT_0:
        return None
    if der[info[0][1] : info[0][3]] not in _ENVELOPED_TYPES:
        return None
    wrapped = _children(der, info[1][2], info[1][3])
    if wrapped is None or len(wrapped) != 1 or wrapped[0][0] != _SEQUENCE:
        return None
    fields = _children(der, wrapped[0][2], wrapped[0][3])
    if fields is None:
        return None
    tags = [field[0] for field in fields]
    skip = 1 if tags[1:2] == [_EXPLICIT_0] else 0  # optional originatorInfo
    if tags[: 3 + skip] != [_INTEGER, *[_EXPLICIT_0] * skip, _SET, _SEQUENCE]:
        return None
    encrypted_info = fields[2 + skip]
    parts = _children(der, encrypted_info[2], encrypted_info[3])
    if parts is None or [part[0] for part in parts] != [_OID, _SEQUENCE, _IMPLICIT_0]:
        return None
    if parts[2][2] == parts[2][3]:
        return None  # empty content: let the normal path report it
    return [outer, info[1], wrapped[0], encrypted_info, parts[2]]


def detach_encrypted_content(der: bytes) -> tuple[bytes, memoryview | None]:
    """Split a DER (auth-)enveloped ContentInfo into the structure and its encrypted content.

    asn1crypto copies the contents of every nested element it parses, i.e. the whole message
    four times before the ciphertext is reached. Returned here instead: the same ContentInfo
    with an empty encryptedContent (every other byte unchanged, only lengths re-encoded) and a
    view of the ciphertext, or (`der`, None) for any other input.
    """
    path = _path_to_content(der)
    if path is None:
        return der, None
    content = path[-1]
    rebuilt = bytes((_IMPLICIT_0, 0))
    child = content
    for parent in reversed(path[:-1]):
        inner = der[parent[2] : child[1]] + rebuilt + der[child[3] : parent[3]]
        rebuilt = _der_header(parent[0], len(inner)) + inner
        child = parent
    return rebuilt, memoryview(der)[content[2] : content[3]]


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


def _encrypted_content(
    info: asn1_cms.EncryptedContentInfo, detached: memoryview | None
) -> bytes | memoryview:
    if detached is not None:
        return detached
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


def _cbc_decrypt(cek: bytes, iv: bytes, ciphertext: bytes | memoryview) -> bytes:
    if len(iv) != 16 or len(ciphertext) % 16:
        raise SmimeError(SmimeFailure.DECRYPT_FAILED, "bad CBC IV or length")
    decryptor = Cipher(algorithms.AES(cek), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    # PKCS#7 unpadding by hand: cryptography's unpadder copies the plaintext twice, which is
    # milliseconds on a large message. Both outcomes do the same work (an out-of-range pad
    # length still compares a whole block) so the check leaks no more than the unpadder's.
    pad = padded[-1]
    in_range = 0 < pad <= _BLOCK_BYTES
    checked = pad if in_range else _BLOCK_BYTES
    matches = hmac.compare_digest(padded[len(padded) - checked :], bytes((pad,)) * checked)
    if not (matches & in_range):
        raise SmimeError(SmimeFailure.DECRYPT_FAILED, "content decryption failed")
    return padded[: len(padded) - pad]


def decrypt_enveloped(
    data: asn1_cms.EnvelopedData,
    keys: Sequence[DecryptionKey],
    detached: memoryview | None = None,
) -> bytes:
    """Return the plaintext content of an EnvelopedData addressed to one of `keys`.

    `detached` is the encrypted content when `detach_encrypted_content` took it out.
    """
    info = data["encrypted_content_info"]
    name = _cipher_name(info, _AES_CBC_KEY_BYTES)
    iv = info["content_encryption_algorithm"]["parameters"].native
    ciphertext = _encrypted_content(info, detached)
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
    data: asn1_cms.AuthEnvelopedData,
    keys: Sequence[DecryptionKey],
    detached: memoryview | None = None,
) -> bytes:
    """Return the plaintext of an AuthEnvelopedData (AES-GCM) addressed to one of `keys`.

    `detached` is the encrypted content when `detach_encrypted_content` took it out.
    """
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
    ciphertext = _encrypted_content(info, detached)
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
