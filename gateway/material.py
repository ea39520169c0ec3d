"""Loading the key material a running gateway needs, with errors that name the configuration key."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from crypto import pgp_keys
from crypto.blind_index import BlindIndex
from crypto.certs import load_decryption_key
from crypto.oidc_keys import OidcKeys, private_key
from crypto.pgp import PgpContext
from crypto.reply_tokens import ReplyTokens
from crypto.sealing import MasterKeyRing
from crypto.smime import DecryptionKey
from gateway.config import Config, ConfigError
from policies.model import Organisation

T = TypeVar("T")

log = logging.getLogger(__name__)


def _read(config: Config, key: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        hint = " (run `asiointitili init` first)" if path.is_relative_to(config.data_dir) else ""
        raise ConfigError(config.path, key, f"cannot read {path}: {exc.strerror}{hint}") from None


def decryption_keys(config: Config) -> tuple[DecryptionKey, ...]:
    keys = []
    for i, files in enumerate(config.keys.smime):
        key = f"keys.smime[{i}]"
        cert = _read(config, f"{key}.certificate", files.certificate)
        pem = _read(config, f"{key}.key", files.key) if files.key else None
        password = (
            _read(config, f"{key}.password_file", files.password_file).strip()
            if files.password_file
            else None
        )
        try:
            keys.append(load_decryption_key(cert, pem, password))
        except (ValueError, TypeError) as exc:
            raise ConfigError(config.path, key, f"not a usable S/MIME key pair: {exc}") from None
    return tuple(keys)


def trust_anchor_pems(config: Config) -> dict[str, bytes]:
    """Each organisation's trust anchors as PEM, checked to parse (workers parse them again)."""
    anchors: dict[str, bytes] = {}
    now = datetime.now(UTC)
    for i, org in enumerate(config.organisations):
        pems = []
        expired = True
        for path in org.trust_anchors:
            data = _read(config, f"organisations[{i}].trust_anchors", path)
            try:
                certificates = x509.load_pem_x509_certificates(data)
                expired &= all(now > c.not_valid_after_utc for c in certificates)
            except ValueError:
                raise ConfigError(
                    config.path,
                    f"organisations[{i}].trust_anchors",
                    f"{path} holds no PEM certificate",
                ) from None
            pems.append(data)
        if pems and expired:
            # The unwrap stage refuses its S/MIME mail with this reason; the rest runs on.
            log.error(
                "organisation %s is DISABLED for S/MIME: every trust anchor "
                "(organisations[%d].trust_anchors) has expired; its mail is refused",
                org.id, i,
            )
        if pems:  # an organisation that signs with OpenPGP only may have none
            anchors[org.id] = b"\n".join(pems)
    return anchors


def pgp_context(config: Config) -> PgpContext | None:
    """The OpenPGP side of the crypto workers; None when no organisation uses OpenPGP.

    Imports the organisations' key files into the gateway's keyring and trusts the configured
    keys explicitly (ownertrust). An organisation whose configured key is missing, expired or
    revoked is disabled (its mail refused), loudly, and the rest of the gateway runs on.
    """
    users = [(i, org) for i, org in enumerate(config.organisations) if org.pgp.key_files]
    if not users:
        return None
    home = config.keys.gnupg_home
    key = "keys.gnupg_home"
    if not pgp_keys.gpg_available():
        raise ConfigError(config.path, key, "organisations use OpenPGP, but gpg is not installed")
    try:
        if not home.is_dir() or not pgp_keys.secret_fingerprints(home):
            raise ConfigError(config.path, key, f"{home} holds no OpenPGP key (run `init` first)")
        for i, org in users:
            _import(config, i, org, home)
        wanted = list(dict.fromkeys(f for _, org in users for f in _configured_keys(org)))
        pgp_keys.trust(home, wanted)
        states = pgp_keys.key_states(home, wanted)
    except (OSError, ValueError, pgp_keys.KeyringError) as exc:
        raise ConfigError(config.path, key, f"{home}: {exc}") from None
    disabled: dict[str, str] = {}
    for i, org in users:
        bad = [(f, states[f].status) for f in _configured_keys(org) if states[f].status != "valid"]
        if bad:
            fingerprint, status = bad[0]
            disabled[org.id] = status
            log.error(
                "organisation %s is DISABLED: its OpenPGP key %s (organisations[%d]) is %s; "
                "its mail is refused until the key is fixed",
                org.id, fingerprint, i, status,
            )
    return PgpContext(home, {f: s.addresses for f, s in states.items()}, disabled)


def _configured_keys(org: Organisation) -> tuple[str, ...]:
    return tuple(f for f in (*org.pgp.fingerprints, org.pgp.reply_key) if f)


def _import(config: Config, index: int, org: Organisation, home: Path) -> None:
    key = f"organisations[{index}].pgp_keys"
    for path in org.pgp.key_files:
        _read(config, key, path)
    try:
        pgp_keys.import_keys(home, org.pgp.key_files)
    except (OSError, ValueError, pgp_keys.KeyringError) as exc:
        raise ConfigError(config.path, key, f"cannot import: {exc}") from None


def crypto_material_args(
    config: Config,
) -> tuple[
    tuple[DecryptionKey, ...], dict[str, bytes], tuple[Organisation, ...], PgpContext | None
]:
    """What each crypto process needs (`smtp_in.stages.install_material`), in pickleable form."""
    return (
        decryption_keys(config),
        trust_anchor_pems(config),
        config.organisations,
        pgp_context(config),
    )


def gateway_certificate_pem(config: Config) -> bytes:
    """The current certificate (the first configured identity), PEM even when kept as PKCS#12."""
    return decryption_keys(config)[0].certificate.public_bytes(serialization.Encoding.PEM)


def gateway_pgp_public_key(config: Config) -> str:
    """The gateway's OpenPGP public key, ASCII-armoured, for organisations to encrypt to."""
    home = config.keys.gnupg_home
    if not home.is_dir() or not pgp_keys.gpg_available():
        raise ConfigError(
            config.path, "keys.gnupg_home", f"{home}: no OpenPGP keyring (run `asiointitili init`)"
        )
    try:
        return pgp_keys.public_key(home)
    except (OSError, ValueError, pgp_keys.KeyringError) as exc:
        raise ConfigError(config.path, "keys.gnupg_home", str(exc)) from None
    finally:
        pgp_keys.stop_agent(home)  # listing secret keys started one; a command must not leave it


def _key_file(config: Config, key: str, path: Path, load: Callable[[Path], T]) -> T:
    _read(config, key, path)
    try:
        return load(path)
    except Exception as exc:  # noqa: BLE001 - any parse failure is a config error
        raise ConfigError(
            config.path, key, f"{path} is not a usable key file ({type(exc).__name__})"
        ) from None


def master_keys(config: Config) -> MasterKeyRing:
    return _key_file(
        config, "keys.master_key_file", config.keys.master_key_file, MasterKeyRing.from_file
    )


def blind_index(config: Config) -> BlindIndex:
    return _key_file(
        config, "keys.blind_index_key_file", config.keys.blind_index_key_file, BlindIndex.from_file
    )


def organisation_certificates(config: Config) -> dict[str, x509.Certificate]:
    """Each organisation's own certificate, where its reply policy names one."""
    found = {}
    for i, org in enumerate(config.organisations):
        path = org.replies.certificate
        if path is not None:
            pem = _read(config, f"organisations[{i}].certificate", path)
            found[org.id] = x509.load_pem_x509_certificates(pem)[0]
    return found


def reply_tokens(config: Config) -> ReplyTokens:
    """Reply tokens in Message-IDs of the primary domain, keyed by the blind index key."""
    index = blind_index(config)
    return ReplyTokens(lambda value: index(value, "reply-token"), config.domain)


def session_secret(config: Config) -> bytes:
    return _read(config, "keys.session_secret_file", config.keys.session_secret_file).strip()


def oidc_keys(config: Config) -> OidcKeys:
    """The portal's OpenID Connect signing and encryption keys (`init` makes them)."""
    files = config.oidc_keys
    return OidcKeys(
        signing=_key_file(
            config,
            "auth.oidc.signing_key_file",
            files.signing,
            lambda path: private_key(path.read_bytes(), "sig"),
        ),
        encryption=_key_file(
            config,
            "auth.oidc.encryption_key_file",
            files.encryption,
            lambda path: private_key(path.read_bytes(), "enc"),
        ),
    )


def oidc_client_secret(config: Config) -> str | None:
    """The client secret from its file (read once, at start), or None with private_key_jwt."""
    path = config.oidc.client_secret_file if config.oidc else None
    if path is None:
        return None
    key = "auth.oidc.client_secret_file"
    try:
        secret = _read(config, key, path).decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise ConfigError(config.path, key, f"{path} is not UTF-8 text") from None
    if not secret:
        raise ConfigError(config.path, key, f"{path} is empty")
    return secret


def tls_client_cas(config: Config) -> dict[str, tuple[x509.Certificate, ...]]:
    """Each organisation's `tls_client_ca` certificates, for mapping client certificates."""
    found = {}
    for i, org in enumerate(config.organisations):
        path = org.server_auth.tls_client_ca
        if path is None:
            continue
        key = f"organisations[{i}].tls_client_ca"
        try:
            certificates = tuple(x509.load_pem_x509_certificates(_read(config, key, path)))
        except ValueError:
            raise ConfigError(config.path, key, f"{path} holds no PEM certificate") from None
        found[org.id] = certificates
    return found


def smtp_tls_context(config: Config) -> ssl.SSLContext:
    """STARTTLS: the gateway's certificate, and a request for a client certificate from any
    organisation's client CA (ssl can only ask for those it was given). Optional: mail
    servers without one identify themselves by network or AUTH."""
    _read(config, "smtp.tls_certificate", config.smtp.tls_certificate)
    _read(config, "smtp.tls_key", config.smtp.tls_key)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(config.smtp.tls_certificate, config.smtp.tls_key)
    except ssl.SSLError as exc:
        raise ConfigError(config.path, "smtp.tls_certificate", f"unusable: {exc.reason}") from None
    client_cas = [ca for cas in tls_client_cas(config).values() for ca in cas]
    if client_cas:
        pem = b"".join(ca.public_bytes(serialization.Encoding.PEM) for ca in client_cas)
        context.load_verify_locations(cadata=pem.decode("ascii"))
        # An organisation's issuing CA may be an intermediate: trusted as listed, no root needed.
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        context.verify_mode = ssl.CERT_OPTIONAL
    return context
