"""Loading the key material a running gateway needs, with errors that name the configuration key."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from crypto.blind_index import BlindIndex
from crypto.certs import load_decryption_key
from crypto.reply_tokens import ReplyTokens
from crypto.sealing import MasterKeyRing
from crypto.smime import DecryptionKey
from gateway.config import Config, ConfigError
from policies.model import Organisation

T = TypeVar("T")


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
    for i, org in enumerate(config.organisations):
        pems = []
        for path in org.trust_anchors:
            data = _read(config, f"organisations[{i}].trust_anchors", path)
            try:
                x509.load_pem_x509_certificates(data)
            except ValueError:
                raise ConfigError(
                    config.path,
                    f"organisations[{i}].trust_anchors",
                    f"{path} holds no PEM certificate",
                ) from None
            pems.append(data)
        anchors[org.id] = b"\n".join(pems)
    return anchors


def crypto_material_args(
    config: Config,
) -> tuple[tuple[DecryptionKey, ...], dict[str, bytes], tuple[Organisation, ...]]:
    """What each crypto process needs (`smtp_in.stages.install_material`), in pickleable form."""
    return decryption_keys(config), trust_anchor_pems(config), config.organisations


def gateway_certificate_pem(config: Config) -> bytes:
    """The current certificate (the first configured identity), PEM even when kept as PKCS#12."""
    return decryption_keys(config)[0].certificate.public_bytes(serialization.Encoding.PEM)


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


def smtp_tls_context(config: Config) -> ssl.SSLContext:
    _read(config, "smtp.tls_certificate", config.smtp.tls_certificate)
    _read(config, "smtp.tls_key", config.smtp.tls_key)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(config.smtp.tls_certificate, config.smtp.tls_key)
    except ssl.SSLError as exc:
        raise ConfigError(config.path, "smtp.tls_certificate", f"unusable: {exc.reason}") from None
    return context
