"""`asiointitili init`: create the data directory, keys and database. Idempotent.

Existing files are never overwritten: re-running init after a change of configuration only adds
what is missing. Key files are created mode 0600 with O_EXCL, so they are never briefly readable.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from crypto import pgp_keys
from crypto.blind_index import BlindIndex
from crypto.sealing import MasterKeyRing
from gateway import pki
from gateway.config import Config, ConfigError
from mailbox_store import MailboxStore

log = logging.getLogger(__name__)


def _write_secret(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _write_public(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_bytes(data)


def _ensure(path: Path, make: Callable[[], bytes], created: list[str], *, secret: bool) -> None:
    if path.exists():
        return
    (_write_secret if secret else _write_public)(path, make())
    created.append(str(path))


def _ensure_identity(
    cert: Path, key: Path, make: Callable[[], pki.Identity], created: list[str]
) -> None:
    if cert.exists() and key.exists():
        return
    identity = make()
    _write_secret(key, identity.key_pem())
    _write_public(cert, identity.certificate_pem())
    created += [str(key), str(cert)]


def _rsa_key_pem(bits: int) -> bytes:
    return pki.new_rsa_key(bits).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def demo_clerk_address(config: Config) -> str:
    org = next(o for o in config.organisations if o.demo)
    return f"virkailija@{org.sender_domains[0]}"


def initialise(config: Config) -> list[str]:
    """Create whatever is missing; return the paths created."""
    created: list[str] = []
    config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    keys = config.keys
    current = keys.smime[0]
    if current.key is not None:
        _ensure_identity(
            current.certificate,
            current.key,
            lambda: pki.gateway_smime_identity(config.domain, config.submission_address),
            created,
        )
    _ensure_identity(
        config.smtp.tls_certificate,
        config.smtp.tls_key,
        lambda: pki.tls_identity(config.smtp.hostname),
        created,
    )
    _ensure(
        keys.master_key_file,
        lambda: MasterKeyRing.generate_file_text().encode(),
        created,
        secret=True,
    )
    _ensure(
        keys.blind_index_key_file,
        lambda: BlindIndex.generate_file_text().encode(),
        created,
        secret=True,
    )
    _ensure(
        keys.session_secret_file,
        lambda: base64.b64encode(secrets.token_bytes(32)) + b"\n",
        created,
        secret=True,
    )
    _ensure(keys.dkim_key_file, lambda: _rsa_key_pem(2048), created, secret=True)
    # The portal's OpenID Connect keys, made in every auth mode so that moving to "oidc" needs
    # no second init; RSA-3072, the usual minimum for new RSA keys.
    for path in (config.oidc_keys.signing, config.oidc_keys.encryption):
        _ensure(path, lambda: _rsa_key_pem(3072), created, secret=True)
    _ensure_pgp_key(config, created)
    if any(org.demo for org in config.organisations):
        _initialise_demo(config, created)
    config.outbound.outbox_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = MailboxStore(
        config.database_url,
        MasterKeyRing.from_file(keys.master_key_file),
        BlindIndex.from_file(keys.blind_index_key_file),
    )
    try:
        store.migrate()
    finally:
        store.close()
    return created


def _ensure_pgp_key(config: Config, created: list[str]) -> None:
    """The gateway's OpenPGP keyring and key, for organisations that send OpenPGP."""
    home = config.keys.gnupg_home
    if not pgp_keys.gpg_available():
        log.warning("gpg is not installed: no OpenPGP key made, so no organisation can use OpenPGP")
        return
    try:
        if pgp_keys.ensure_home(home):
            created.append(str(home))
        if not pgp_keys.secret_fingerprints(home):
            fingerprint = pgp_keys.generate_key(
                home, f"Asiointitili {config.domain}", config.submission_address
            )
            created.append(f"{home} (OpenPGP key {fingerprint})")
    except (OSError, ValueError, pgp_keys.KeyringError) as exc:
        raise ConfigError(config.path, "keys.gnupg_home", str(exc)) from None
    finally:
        pgp_keys.stop_agent(home)  # key generation started one; init must not leave it running


def _initialise_demo(config: Config, created: list[str]) -> None:
    """A small CA and a clerk for the demo organisation, so the walk-through needs nothing else."""
    org = next(o for o in config.organisations if o.demo)
    demo = config.demo_dir
    ca_cert, ca_key = demo / "ca.pem", demo / "ca-key.pem"
    _ensure_identity(
        ca_cert, ca_key, lambda: pki.certificate_authority(f"{org.name} CA", org.name), created
    )
    ca = pki.Identity(
        _load_cert(ca_cert),
        serialization.load_pem_private_key(ca_key.read_bytes(), None),  # type: ignore[arg-type]
    )
    _ensure_identity(
        demo / "clerk-cert.pem",
        demo / "clerk-key.pem",
        lambda: pki.clerk_identity(ca, demo_clerk_address(config), f"Virkailija, {org.name}"),
        created,
    )


def _load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())
