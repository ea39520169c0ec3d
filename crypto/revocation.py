"""Certificate revocation lists of the organisations' CAs, re-read when their files change.

Each worker process keeps its own cache; a message costs one `stat` per listed file, so a CRL
a postmaster replaces (a clerk who left) applies to the next message without a restart.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm


def load_crl(data: bytes) -> x509.CertificateRevocationList:
    """A CRL in PEM or DER; ValueError when it is neither."""
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_crl(data)
    return x509.load_der_x509_crl(data)


@dataclass(frozen=True)
class _Loaded:
    stamp: tuple[int, int]  # (mtime_ns, size): a changed file is read again
    crl: x509.CertificateRevocationList | None  # None: unreadable now


_cache: dict[Path, _Loaded] = {}


def _current(path: Path) -> x509.CertificateRevocationList | None:
    try:
        st = os.stat(path)
    except OSError:
        _cache.pop(path, None)
        return None
    stamp = (st.st_mtime_ns, st.st_size)
    loaded = _cache.get(path)
    if loaded is None or loaded.stamp != stamp:
        try:
            crl: x509.CertificateRevocationList | None = load_crl(path.read_bytes())
        except (OSError, ValueError):
            crl = None  # a half-written file: read again at the next change
        loaded = _cache[path] = _Loaded(stamp, crl)
    return loaded.crl


def revoked_by(
    certificate: x509.Certificate,
    crl_files: Sequence[Path],
    issuers: Sequence[x509.Certificate],
) -> Path | None:
    """The CRL file that lists `certificate` as revoked, or None.

    A CRL counts only when it names the certificate's issuer and that issuer (one of `issuers`,
    the organisation's trust anchors and the signer's chain) signed it: a forged list neither
    revokes nor hides anyone.
    """
    for path in crl_files:
        crl = _current(path)
        if crl is None or crl.issuer != certificate.issuer:
            continue
        if crl.get_revoked_certificate_by_serial_number(certificate.serial_number) is None:
            continue
        if signed_by_any(crl, issuers):
            return path
    return None


def signed_by_any(crl: x509.CertificateRevocationList, issuers: Sequence[x509.Certificate]) -> bool:
    """Whether one of `issuers` (by name and key) signed the CRL."""
    for issuer in issuers:
        if issuer.subject != crl.issuer:
            continue
        try:
            if crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
                return True
        except (InvalidSignature, TypeError, UnsupportedAlgorithm):
            continue
    return False
