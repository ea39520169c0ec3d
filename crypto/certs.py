"""Certificate helpers for S/MIME: loading the gateway's keys, signer e-mail addresses, and
validating a signer's certificate chain.

Why a path builder of our own: the certificates clerks really use are X.509 v1 (no extensions at
all), lack key identifiers, or mark basicConstraints non-critical, and cryptography's
`x509.verification` (a web-PKI validator) refuses such chains. The builder here is small on
purpose: issuer name match, issuer signature, validity at `now` for every certificate in the
path (anchor included), basicConstraints cA / keyCertSign / pathLen for v3 intermediates, no
SHA-1 or MD5 certificate signatures, and key usage of the signer for e-mail.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from crypto._cms_types import DecryptionKey, SmimeError, SmimeFailure

# Longest chain (signer + intermediates) followed before giving up; real S/MIME chains are 2-4.
_MAX_PATH = 6
# Entries per cache below (paths per signer, pool and anchors; key usage per certificate);
# a gateway sees a few hundred clerks.
_CACHE_SIZE = 1024
_WEAK_HASHES = (hashes.SHA1, hashes.MD5)
_EMAIL_EKUS = frozenset(
    {ExtendedKeyUsageOID.EMAIL_PROTECTION, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE}
)


def _load_pkcs12(blob: bytes, password: bytes | None) -> tuple[object, x509.Certificate]:
    with warnings.catch_warnings():
        # NSS (Thunderbird, Firefox) writes BER PKCS#12 files; cryptography reads them
        # correctly but warns. That format is what postmasters will hand us, so accept it.
        warnings.filterwarnings(
            "ignore", message=re.escape("PKCS#12 bundle could not be parsed as DER")
        )
        private_key, certificate, _ = pkcs12.load_key_and_certificates(blob, password)
    if certificate is None or private_key is None:
        raise ValueError("PKCS#12 file must hold both a certificate and its private key")
    return private_key, certificate


def load_decryption_key(
    cert_or_p12: bytes, key_pem: bytes | None = None, password: bytes | None = None
) -> DecryptionKey:
    """Load a gateway identity from a PEM certificate plus PEM key, or from a PKCS#12 blob.

    `password` decrypts the PEM key or the PKCS#12 file. Raises ValueError when the input is
    unreadable or the key is not an RSA key matching the certificate.
    """
    private_key: object
    if key_pem is not None:
        certificate = x509.load_pem_x509_certificate(cert_or_p12)
        private_key = serialization.load_pem_private_key(key_pem, password=password)
    else:
        private_key, certificate = _load_pkcs12(cert_or_p12, password)
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise ValueError("the gateway's S/MIME decryption key must be an RSA key")
    if private_key.public_key() != certificate.public_key():
        raise ValueError("private key does not belong to the certificate")
    return DecryptionKey(certificate, private_key)


def certificate_emails(cert: x509.Certificate) -> tuple[str, ...]:
    """E-mail addresses a certificate is bound to, lower-cased.

    subjectAltName rfc822Name entries win; the legacy emailAddress attribute of the subject
    (all that v1 certificates have) is used only when there are none.
    """
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        found = san.value.get_values_for_type(x509.RFC822Name)
    except x509.ExtensionNotFound:
        found = []
    if not found:
        attributes = cert.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)
        found = [value for value in (a.value for a in attributes) if isinstance(value, str)]
    return tuple(dict.fromkeys(address.strip().lower() for address in found))


def _extension(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.ExtensionType | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _valid_at(cert: x509.Certificate, now: datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether `issuer` really signed `cert` (name match and signature) with a strong hash."""
    if isinstance(cert.signature_hash_algorithm, _WEAK_HASHES):
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _may_issue(ca: x509.Certificate, below: int) -> bool:
    """Whether a non-anchor intermediate may sign certificates, `below` intermediates under it."""
    if ca.version == x509.Version.v1:
        return True  # v1 has no extensions to check; it still had to chain to an anchor
    constraints = _extension(ca, x509.BasicConstraints)
    if not isinstance(constraints, x509.BasicConstraints) or not constraints.ca:
        return False
    if constraints.path_length is not None and constraints.path_length < below:
        return False
    usage = _extension(ca, x509.KeyUsage)
    return not isinstance(usage, x509.KeyUsage) or usage.key_cert_sign


def _paths(
    path: list[x509.Certificate],
    pool: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    expanded: set[x509.Certificate],
) -> list[list[x509.Certificate]]:
    """Paths from `path[-1]` up to an anchor (the anchor is the last element).

    `expanded` is shared by the whole search so each pool certificate is tried as an issuer at
    most once: a sender controls the pool, and without it a few cross-signed certificates would
    make the search exponential.
    """
    current = path[-1]
    found = [[*path, anchor] for anchor in anchors if _issued_by(current, anchor)]
    if len(path) >= _MAX_PATH:
        return found
    for candidate in pool:
        if candidate in expanded or candidate in anchors or candidate.subject != current.issuer:
            continue
        expanded.add(candidate)
        if _may_issue(candidate, len(path) - 1) and _issued_by(current, candidate):
            found.extend(_paths([*path, candidate], pool, anchors, expanded))
    return found


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _email_refusal(cert: x509.Certificate) -> str | None:
    """Why `cert` may not sign e-mail, None when it may (cached: extensions are parsed anew
    on every access, and the answer depends on the certificate alone)."""
    usage = _extension(cert, x509.KeyUsage)
    if isinstance(usage, x509.KeyUsage) and not (
        usage.digital_signature or usage.content_commitment
    ):
        return "keyUsage excludes digital signatures"
    extended = _extension(cert, x509.ExtendedKeyUsage)
    if isinstance(extended, x509.ExtendedKeyUsage) and not _EMAIL_EKUS.intersection(extended):
        return "extendedKeyUsage excludes emailProtection"
    return None


def check_for_email(cert: x509.Certificate) -> None:
    """Refuse a signer certificate whose key usage or extended key usage excludes e-mail."""
    refusal = _email_refusal(cert)
    if refusal is not None:
        raise SmimeError(SmimeFailure.NOT_FOR_EMAIL, refusal)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _trusted_paths(
    signer: x509.Certificate,
    pool: tuple[x509.Certificate, ...],
    anchors: tuple[x509.Certificate, ...],
) -> tuple[tuple[x509.Certificate, ...], ...]:
    """Every path from `signer` to an anchor, in the order the search finds them.

    Cached: the same clerks sign with the same chains all day, and the search costs signature
    checks. The key is the complete input (certificates compare and hash by their DER), so a
    different certificate, pool or anchor set is a new search. Validity at `now` is not part
    of what is cached; `verify_chain` checks it on every call.
    """
    if signer in anchors:
        return ((signer,),)  # a directly trusted end-entity certificate
    return tuple(tuple(path) for path in _paths([signer], pool, anchors, {signer}))


def verify_chain(
    signer: x509.Certificate,
    pool: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    now: datetime,
) -> list[x509.Certificate]:
    """Return a path signer -> ... -> anchor where every certificate is valid at `now`.

    Raises UNTRUSTED_SIGNER when no path reaches an anchor, SIGNER_EXPIRED when paths exist but
    each holds a certificate outside its validity period at `now`.
    """
    paths = _trusted_paths(signer, tuple(pool), tuple(anchors))
    if not paths:
        raise SmimeError(SmimeFailure.UNTRUSTED_SIGNER, "no chain to a trust anchor")
    for path in paths:
        if all(_valid_at(cert, now) for cert in path):
            return list(path)
    raise SmimeError(SmimeFailure.SIGNER_EXPIRED, "certificate not valid at this time")
