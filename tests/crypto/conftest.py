"""Fixtures for the S/MIME tests: the Thunderbird corpus and a tiny PKI made by the openssl CLI.

Messages are signed and encrypted by the real `openssl cms` so that the code under test is never
only checked against itself. The PKI is built once per session (RSA key generation is slow).
"""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from gatewaytest.corpus import SMIME

from crypto.certs import load_decryption_key
from crypto.smime import DecryptionKey

CORPUS = SMIME


def openssl(*args: str | Path, stdin: bytes | None = None) -> bytes:
    """Run the openssl CLI; fail the test with its stderr when it fails."""
    done = subprocess.run(
        ["openssl", *map(str, args)], input=stdin, capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"openssl {args[0]} failed: {done.stderr.decode(errors='replace')}")
    return done.stdout


@dataclass(frozen=True)
class Identity:
    """A certificate and its private key as PEM files made by openssl."""

    cert: Path
    key: Path

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert.read_bytes())

    @property
    def decryption_key(self) -> DecryptionKey:
        return load_decryption_key(self.cert.read_bytes(), self.key.read_bytes())


class PkiMaker:
    """Makes CAs and certificates with `openssl req` / `openssl x509` in one directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        # Unique serials: issuer + serial is how CMS names a certificate.
        self.serials = itertools.count(1001)

    def _ext(self, name: str, lines: list[str]) -> Path:
        path = self.root / f"{name}.ext"
        path.write_text("\n".join(lines) + "\n")
        return path

    def ca(self, name: str) -> Identity:
        cert, key = self.root / f"{name}.crt", self.root / f"{name}.key"
        openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
            "-days", "3650", "-subj", f"/O=Test/CN={name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )  # fmt: skip
        return Identity(cert, key)

    def issue(
        self,
        issuer: Identity,
        name: str,
        *,
        email: str | None = None,
        days: int = 30,
        extensions: tuple[str, ...] = (
            "keyUsage=critical,digitalSignature,keyEncipherment",
            "extendedKeyUsage=emailProtection",
        ),
    ) -> Identity:
        cert, key, csr = (self.root / f"{name}.{ext}" for ext in ("crt", "key", "csr"))
        openssl(
            "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
            "-subj", f"/O=Kunta/CN={name}",
        )  # fmt: skip
        lines = ["basicConstraints=CA:FALSE", *extensions]
        if email:
            lines.append(f"subjectAltName=email:{email}")
        openssl(
            "x509", "-req", "-in", csr, "-CA", issuer.cert, "-CAkey", issuer.key,
            "-set_serial", str(next(self.serials)), "-days", str(days),
            "-extfile", self._ext(name, lines), "-out", cert,
        )  # fmt: skip
        return Identity(cert, key)

    def issue_v1(self, issuer: Identity, name: str, email: str) -> Identity:
        """A certificate as old PKIs still issue them: X.509 v1, the address in the subject."""
        cert, key, csr = (self.root / f"{name}.{ext}" for ext in ("crt", "key", "csr"))
        openssl(
            "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
            "-subj", f"/O=Kunta/CN={name}/emailAddress={email}",
        )  # fmt: skip
        openssl(
            "x509", "-req", "-in", csr, "-CA", issuer.cert, "-CAkey", issuer.key,
            "-set_serial", str(next(self.serials)), "-days", "30", "-out", cert,
        )  # fmt: skip
        return Identity(cert, key)


@dataclass(frozen=True)
class Pki:
    """The session's identities, by role."""

    ca: Identity
    other_ca: Identity
    clerk: Identity
    legacy_clerk: Identity
    expiring_clerk: Identity
    server_clerk: Identity
    foreign_clerk: Identity
    intermediate: Identity
    not_a_ca: Identity
    clerk_below_intermediate: Identity
    clerk_below_not_a_ca: Identity
    gateway: Identity
    retired_gateway: Identity
    stranger: Identity


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    maker = PkiMaker(tmp_path_factory.mktemp("pki"))
    ca, other_ca = maker.ca("Kunta Test CA"), maker.ca("Other CA")
    intermediate = maker.issue(
        ca, "Kunta Issuing CA",
        extensions=("basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign"),
    )  # fmt: skip
    # An end-entity certificate must not become an issuer just by signing something.
    not_a_ca = maker.issue(ca, "Plain Leaf", email="leaf@kunta.example")
    return Pki(
        ca=ca,
        other_ca=other_ca,
        clerk=maker.issue(ca, "Clerk", email="Virkailija@Kunta.example"),
        legacy_clerk=maker.issue_v1(ca, "Legacy Clerk", "Vanha@Kunta.example"),
        expiring_clerk=maker.issue(ca, "Expiring Clerk", email="old@kunta.example", days=1),
        server_clerk=maker.issue(
            ca, "Server Clerk", email="server@kunta.example",
            extensions=("keyUsage=critical,digitalSignature", "extendedKeyUsage=serverAuth"),
        ),  # fmt: skip
        foreign_clerk=maker.issue(other_ca, "Foreign Clerk", email="clerk@elsewhere.example"),
        intermediate=intermediate,
        not_a_ca=not_a_ca,
        clerk_below_intermediate=maker.issue(intermediate, "Deep Clerk", email="d@kunta.example"),
        clerk_below_not_a_ca=maker.issue(not_a_ca, "Bogus Clerk", email="bogus@kunta.example"),
        gateway=maker.issue(ca, "Gateway 2026", email="gateway@asiointi.example"),
        retired_gateway=maker.issue(ca, "Gateway 2025", email="gateway@asiointi.example"),
        stranger=maker.issue(ca, "Some Other Recipient", email="other@kunta.example"),
    )


@pytest.fixture(scope="session")
def bob_key() -> DecryptionKey:
    """Bob is the recipient of every encrypted corpus message; he plays the gateway."""
    return load_decryption_key((CORPUS / "Bob.p12").read_bytes(), password=b"nss")


@pytest.fixture(scope="session")
def bob_cert_pem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bob") / "bob.crt"
    openssl(
        "pkcs12", "-in", CORPUS / "Bob.p12", "-passin", "pass:nss", "-nokeys", "-clcerts",
        "-out", path,
    )  # fmt: skip
    return path


@pytest.fixture(scope="session")
def alice_ec(tmp_path_factory: pytest.TempPathFactory) -> Identity:
    """The corpus ECDSA P-384 identity as PEM files (openssl reads the BER PKCS#12 as is)."""
    root = tmp_path_factory.mktemp("alice-ec")
    identity = Identity(root / "alice-ec.crt", root / "alice-ec.key")
    source = ("pkcs12", "-in", CORPUS / "Alice-ec.p12", "-passin", "pass:nss")
    openssl(*source, "-clcerts", "-nokeys", "-out", identity.cert)
    openssl(*source, "-nocerts", "-nodes", "-out", identity.key)
    return identity


@pytest.fixture(scope="session")
def openssl_cli() -> Callable[..., bytes]:
    return openssl


@pytest.fixture(scope="session")
def nss_ca() -> x509.Certificate:
    return x509.load_pem_x509_certificate((CORPUS / "TestCA.pem").read_bytes())


Encrypt = Callable[..., bytes]


@pytest.fixture
def encrypt(tmp_path: Path) -> Encrypt:
    """Encrypt a whole message (headers included) with `openssl cms -encrypt`."""

    def run(message: bytes, recipient: Path, *options: str) -> bytes:
        source = tmp_path / "plain.eml"
        source.write_bytes(message)
        cipher = () if any(o.startswith("-aes") for o in options) else ("-aes256",)
        return openssl(
            "cms", "-encrypt", *cipher, "-in", source, "-recip", recipient, *options, "-crlfeol"
        )

    return run


Sign = Callable[..., bytes]


@pytest.fixture
def sign(tmp_path: Path) -> Sign:
    """Sign a MIME entity with `openssl cms -sign` (detached unless -nodetach is given)."""

    def run(entity: bytes, signer: Identity, *options: str) -> bytes:
        source = tmp_path / "entity.eml"
        source.write_bytes(entity)
        return openssl(
            "cms", "-sign", "-in", source, "-signer", signer.cert, "-inkey", signer.key,
            *options, "-crlfeol",
        )  # fmt: skip

    return run
