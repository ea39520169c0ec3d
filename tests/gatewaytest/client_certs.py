"""SMTP client certificates for mail servers, made by the real `openssl` (P-256 keys)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gatewaytest.clerk import openssl

CA_EXTENSIONS = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"


@dataclass(frozen=True)
class ClientCert:
    cert: Path
    key: Path


def client_ca(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed CA issuing an organisation's mail servers' certificates: (cert, key)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, key = directory / "ca.pem", directory / "ca-key.pem"
    openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key, "-out", ca, "-days", "30", "-subj", f"/CN={name} SMTP client CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )
    return ca, key


def client_cert(
    directory: Path, ca: tuple[Path, Path], name: str, extensions: str = ""
) -> ClientCert:
    """A certificate for mail server `name` issued by `ca` (a client certificate by default)."""
    key, csr = directory / f"{name}-key.pem", directory / f"{name}.csr"
    cert = directory / f"{name}.pem"
    ext = directory / f"{name}.cnf"
    openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key, "-out", csr, "-subj", f"/CN={name}",
    )
    ext.write_text(
        extensions
        or "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        f"extendedKeyUsage=clientAuth\nsubjectAltName=DNS:{name}\n"
    )
    openssl(
        "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
        "-days", "30", "-out", cert, "-extfile", ext,
    )
    return ClientCert(cert, key)


def sha256_fingerprint(cert: Path) -> str:
    """As a postmaster copies it from `openssl x509 -fingerprint -sha256`: "AB:CD:..."."""
    printed = openssl("x509", "-in", cert, "-noout", "-fingerprint", "-sha256").decode()
    return printed.split("=")[1].strip()
