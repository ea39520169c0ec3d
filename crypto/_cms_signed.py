"""Verify CMS SignedData (RFC 5652 section 5) for S/MIME.

cryptography does not verify SignedData, so asn1crypto reads the structure and cryptography
checks the signatures (RSA PKCS#1 v1.5, RSA-PSS, ECDSA). Each SignerInfo must pass: strong
digest and signature algorithms (RFC 8551: no SHA-1, no MD5), the messageDigest and
contentType attributes, the signature itself, a signing time not in the future, a certificate
chain to a trust anchor valid at `now`, and a key usage that allows e-mail signatures.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Sequence
from datetime import datetime, timedelta

from asn1crypto import algos as asn1_algos
from asn1crypto import cms as asn1_cms
from asn1crypto import core as asn1_core
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric import padding as rsa_padding
from cryptography.hazmat.primitives.serialization import Encoding

from crypto._cms_types import Signer, SmimeError, SmimeFailure, same_name
from crypto.certs import certificate_emails, check_for_email, verify_chain

# How far a sender's clock may run ahead of ours before a signing time counts as "future".
_CLOCK_SKEW = timedelta(hours=1)
_WEAK_DIGESTS = frozenset({"md2", "md5", "sha1"})
_DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
    "sha3_256": hashes.SHA3_256,
    "sha3_384": hashes.SHA3_384,
    "sha3_512": hashes.SHA3_512,
}


def _digest_algorithm(name: str) -> hashes.HashAlgorithm:
    if name in _WEAK_DIGESTS:
        raise SmimeError(SmimeFailure.WEAK_ALGORITHM, f"digest {name}")
    if name not in _DIGESTS:
        raise SmimeError(SmimeFailure.MALFORMED, "unsupported digest algorithm")
    return _DIGESTS[name]()


def _digest(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    hasher = hashes.Hash(algorithm)
    hasher.update(data)
    return hasher.finalize()


def _signature_hash(algorithm: asn1_algos.SignedDigestAlgorithm, digest_name: str) -> str:
    """The hash a signature algorithm names; plain rsaEncryption/ecPublicKey use the digest's."""
    name = algorithm["algorithm"].native
    if name in ("rsassa_pkcs1v15", "ecdsa"):
        return digest_name
    try:
        return str(algorithm.hash_algo)
    except ValueError as exc:
        raise SmimeError(SmimeFailure.MALFORMED, "unsupported signature algorithm") from exc


def _verify_signature(
    public_key: object,
    algorithm: asn1_algos.SignedDigestAlgorithm,
    hash_algorithm: hashes.HashAlgorithm,
    signature: bytes,
    data: bytes,
) -> None:
    kind = algorithm.signature_algo
    try:
        if kind == "rsassa_pkcs1v15" and isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, rsa_padding.PKCS1v15(), hash_algorithm)
        elif kind == "rsassa_pss" and isinstance(public_key, rsa.RSAPublicKey):
            parameters = algorithm["parameters"]
            mgf = parameters["mask_gen_algorithm"]["parameters"]["algorithm"].native
            mgf_hash = _digest_algorithm(mgf)
            pss = rsa_padding.PSS(rsa_padding.MGF1(mgf_hash), parameters["salt_length"].native)
            public_key.verify(signature, data, pss, hash_algorithm)
        elif kind == "ecdsa" and isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(hash_algorithm))
        else:
            raise SmimeError(SmimeFailure.MALFORMED, "signature algorithm does not fit the key")
    except InvalidSignature as exc:
        raise SmimeError(SmimeFailure.BAD_SIGNATURE, "signature does not verify") from exc


# The signed attributes this module reads; `_signed_attributes` collects them in one pass.
_READ_ATTRIBUTES = ("message_digest", "content_type", "signing_time")


def _signed_attributes(
    signed_attrs: asn1_cms.CMSAttributes,
) -> dict[str, list[asn1_cms.CMSAttribute]]:
    found: dict[str, list[asn1_cms.CMSAttribute]] = {name: [] for name in _READ_ATTRIBUTES}
    for attr in signed_attrs:
        same_type = found.get(attr["type"].native)
        if same_type is not None:
            same_type.append(attr)
    return found


def _attribute(attributes: dict[str, list[asn1_cms.CMSAttribute]], name: str) -> object | None:
    """The single value of a signed attribute, None when absent (RFC 5652: exactly one)."""
    # Values are parsed only here, attribute by attribute, so a broken one surfaces in the
    # same order of checks as when each attribute was looked up on its own.
    values = [attr["values"] for attr in attributes[name]]
    if not values:
        return None
    if len(values) > 1 or len(values[0]) != 1:
        raise SmimeError(SmimeFailure.MALFORMED, f"attribute {name} must occur once")
    value: object = values[0][0].native
    return value


def _find_certificate(
    sid: asn1_cms.SignerIdentifier, certificates: Sequence[x509.Certificate]
) -> x509.Certificate:
    for cert in certificates:
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if wanted["serial_number"].native != cert.serial_number:
                continue
            if same_name(wanted["issuer"], cert.issuer):
                return cert
        elif sid.name == "subject_key_identifier":
            try:
                ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
            except x509.ExtensionNotFound:
                continue
            if hmac.compare_digest(ski.value.digest, sid.chosen.native):
                return cert
    raise SmimeError(SmimeFailure.UNTRUSTED_SIGNER, "signer certificate not included")


# Entries per cache below (certificate sets, signer details): the same clerks send all day,
# and reading the same certificates again is the same work every time.
_CERTIFICATE_CACHE_SIZE = 1024


@functools.lru_cache(maxsize=_CERTIFICATE_CACHE_SIZE)
def _identity(cert: x509.Certificate) -> tuple[bytes, tuple[str, ...], str]:
    """What a `Signer` says about its certificate: DER, e-mail addresses, subject."""
    return cert.public_bytes(Encoding.DER), certificate_emails(cert), cert.subject.rfc4514_string()


class _ByDer:
    """An asn1crypto value that hashes and compares by its DER: a cache key made of the bytes
    that still hands the function the value parsed already."""

    __slots__ = ("der", "value")

    def __init__(self, value: asn1_core.Asn1Value) -> None:
        self.value = value
        self.der: bytes = value.dump()

    def __hash__(self) -> int:
        return hash(self.der)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ByDer) and self.der == other.der


@functools.lru_cache(maxsize=_CERTIFICATE_CACHE_SIZE)
def _certificate_set(certificates: _ByDer) -> tuple[x509.Certificate, ...]:
    # Cached by the DER of the whole set: a clerk's client sends the same certificates with
    # every message, and walking them in asn1crypto costs more than the rest of the layer.
    found: list[x509.Certificate] = []
    for choice in certificates.value:
        if choice.name == "certificate":  # attribute and v1/v2 attribute certs are not ours
            try:
                found.append(x509.load_der_x509_certificate(choice.chosen.dump()))
            except ValueError as exc:
                raise SmimeError(SmimeFailure.MALFORMED, "unreadable certificate") from exc
    return tuple(found)


def _signed_certificates(data: asn1_cms.SignedData) -> tuple[x509.Certificate, ...]:
    certificates = data["certificates"]
    if isinstance(certificates, asn1_core.Void):
        return ()
    return _certificate_set(_ByDer(certificates))


def _check_signature(
    info: asn1_cms.SignerInfo,
    content: bytes,
    content_type: str,
    certificates: Sequence[x509.Certificate],
) -> tuple[x509.Certificate, datetime | None]:
    """The SignerInfo's certificate (from `certificates`) and signing time, once its
    algorithms, signed attributes and signature over `content` check out."""
    digest_name = info["digest_algorithm"]["algorithm"].native
    digest_algorithm = _digest_algorithm(digest_name)
    signature_algorithm = info["signature_algorithm"]
    signature_hash = _signature_hash(signature_algorithm, digest_name)
    _digest_algorithm(signature_hash)  # refuses SHA-1/MD5 named by the signature algorithm
    if signature_hash != digest_name:
        raise SmimeError(SmimeFailure.MALFORMED, "signature and digest algorithms differ")
    cert = _find_certificate(info["sid"], certificates)
    signed_attrs = info["signed_attrs"]
    signing_time = None
    if isinstance(signed_attrs, asn1_core.Void):
        signed_data = content
    else:
        attributes = _signed_attributes(signed_attrs)
        message_digest = _attribute(attributes, "message_digest")
        if not isinstance(message_digest, bytes):
            raise SmimeError(SmimeFailure.MALFORMED, "messageDigest attribute missing")
        if not hmac.compare_digest(message_digest, _digest(digest_algorithm, content)):
            raise SmimeError(SmimeFailure.BAD_SIGNATURE, "message digest does not match")
        if _attribute(attributes, "content_type") != content_type:
            raise SmimeError(SmimeFailure.BAD_SIGNATURE, "contentType attribute mismatch")
        time_value = _attribute(attributes, "signing_time")
        signing_time = time_value if isinstance(time_value, datetime) else None
        # The signature covers the DER of the attributes as a SET OF (tag 0x31), not as [0].
        signed_data = signed_attrs.untag().dump()
    _verify_signature(
        cert.public_key(),
        signature_algorithm,
        digest_algorithm,
        info["signature"].native,
        signed_data,
    )
    return cert, signing_time


def _verify_signer_info(
    info: asn1_cms.SignerInfo,
    content: bytes,
    content_type: str,
    certificates: Sequence[x509.Certificate],
    trust_anchors: Sequence[x509.Certificate],
    now: datetime,
) -> Signer:
    cert, signing_time = _check_signature(info, content, content_type, certificates)
    if signing_time is not None and signing_time > now + _CLOCK_SKEW:
        raise SmimeError(SmimeFailure.FUTURE_SIGNING_TIME, "signing time is in the future")
    verify_chain(cert, certificates, trust_anchors, now)
    check_for_email(cert)
    certificate_der, email_addresses, subject = _identity(cert)
    return Signer(
        certificate_der=certificate_der,
        email_addresses=email_addresses,
        signing_time=signing_time,
        subject=subject,
    )


def verify_detached_signature(
    der: bytes, content: bytes, certificates: Sequence[x509.Certificate]
) -> x509.Certificate:
    """Check a detached DER CMS SignedData over `content`, made by one of `certificates`
    themselves (whatever certificates the structure carries); returns the signer's.

    For the gateway's own statements: the key, not a chain to a CA, is what is trusted.
    """
    try:
        info = asn1_cms.ContentInfo.load(der)
        if info["content_type"].native != "signed_data":
            raise SmimeError(SmimeFailure.MALFORMED, "not a CMS SignedData")
        data = info["content"]
        infos = list(data["signer_infos"])
        content_type = data["encap_content_info"]["content_type"].native
    except (ValueError, TypeError, KeyError) as exc:
        raise SmimeError(SmimeFailure.MALFORMED, "unreadable CMS structure") from exc
    if len(infos) != 1:
        raise SmimeError(SmimeFailure.UNSIGNED, "expected exactly one signer")
    cert, _ = _check_signature(infos[0], content, content_type, certificates)
    return cert


def verify_signed_data(
    data: asn1_cms.SignedData,
    content: bytes,
    trust_anchors: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate],
    now: datetime,
) -> tuple[Signer, ...]:
    """Verify every SignerInfo of `data` over `content`; return the signers in order."""
    infos = list(data["signer_infos"])
    if not infos:
        raise SmimeError(SmimeFailure.UNSIGNED, "SignedData without signers")
    content_type = data["encap_content_info"]["content_type"].native
    certificates = [*_signed_certificates(data), *intermediates]
    return tuple(
        _verify_signer_info(info, content, content_type, certificates, trust_anchors, now)
        for info in infos
    )
