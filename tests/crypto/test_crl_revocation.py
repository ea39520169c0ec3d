"""crypto.revocation with CRLs made by the real `openssl ca`: a listed certificate is revoked
only by a CRL its issuer signed, and a changed file is read again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from gatewaytest.clerk import openssl
from gatewaytest.dated_certs import dated_ca

from crypto.revocation import revoked_by


def _ca(directory: Path) -> tuple[Path, x509.Certificate, x509.Certificate]:
    """A CA (same name each time) and a leaf it issued; returns (dir, ca, leaf)."""
    now = datetime.now(UTC)
    ca = dated_ca(directory, "Kunta CA", now - timedelta(days=1), now + timedelta(days=30))
    openssl(
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        directory / "leaf.key",
        "-out",
        directory / "leaf.csr",
        "-subj",
        "/CN=Virkailija",
    )
    openssl(
        "ca",
        "-batch",
        "-config",
        directory / "ca.cnf",
        "-cert",
        ca,
        "-keyfile",
        directory / "key.pem",
        "-in",
        directory / "leaf.csr",
        "-out",
        directory / "leaf.pem",
        "-days",
        "10",
        "-notext",
    )
    load = x509.load_pem_x509_certificate
    return directory, load(ca.read_bytes()), load((directory / "leaf.pem").read_bytes())


def _gencrl(directory: Path, out: Path, *, revoke: bool) -> None:
    ca = (
        "-config",
        directory / "ca.cnf",
        "-cert",
        directory / "ca.pem",
        "-keyfile",
        directory / "key.pem",
    )
    if revoke:
        openssl("ca", "-batch", *ca, "-revoke", directory / "leaf.pem")
    openssl("ca", "-batch", "-gencrl", "-crldays", "7", *ca, "-out", out)


def test_revoked_only_by_its_issuers_crl_and_again_after_the_file_changes(
    tmp_path: Path,
) -> None:
    directory, ca, leaf = _ca(tmp_path / "kunta")
    crl = tmp_path / "kunta.crl"
    _gencrl(directory, crl, revoke=False)
    assert revoked_by(leaf, [crl], [ca]) is None
    _gencrl(directory, crl, revoke=True)
    assert revoked_by(leaf, [crl], [ca]) == crl  # the same path, changed: read again
    assert revoked_by(leaf, [crl], []) is None  # nobody the organisation trusts signed it
    crl.unlink()
    assert revoked_by(leaf, [crl], [ca]) is None  # a missing file revokes nobody


def test_a_crl_by_another_key_of_the_same_name_revokes_nobody(tmp_path: Path) -> None:
    _, ca, leaf = _ca(tmp_path / "real")
    forger, _, _ = _ca(tmp_path / "forged")
    forged = tmp_path / "forged.crl"
    # The forger lists the real leaf's serial under the same CA name.
    serial = f"{leaf.serial_number:X}"
    serial = serial.zfill(len(serial) + len(serial) % 2)  # openssl wants whole bytes
    expiry = leaf.not_valid_after_utc.strftime("%y%m%d%H%M%SZ")
    revoked_at = datetime.now(UTC).strftime("%y%m%d%H%M%SZ")
    (forger / "index.txt").write_text(f"R\t{expiry}\t{revoked_at}\t{serial}\tunknown\t/CN=X\n")
    openssl(
        "ca",
        "-batch",
        "-gencrl",
        "-crldays",
        "7",
        "-config",
        forger / "ca.cnf",
        "-cert",
        forger / "ca.pem",
        "-keyfile",
        forger / "key.pem",
        "-out",
        forged,
    )
    found = x509.load_pem_x509_crl(forged.read_bytes())
    assert found.get_revoked_certificate_by_serial_number(leaf.serial_number) is not None
    assert revoked_by(leaf, [forged], [ca]) is None
