"""gateway.toml -> frozen, validated configuration objects.

The file is read at start (and again on `asiointitili reload`). Every problem raises one
ConfigError naming the file, the dotted key and what was wrong with the value; nothing is read
lazily later. Relative paths are resolved against the directory of the configuration file.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from cryptography import x509

from crypto.passwords import check_hash
from crypto.revocation import load_crl
from policies.model import (
    CasePolicy,
    ContentPolicy,
    DeliveryPolicy,
    IPNetwork,
    Organisation,
    PgpPolicy,
    RateLimits,
    ReplyPolicy,
    ServerAuthPolicy,
    SignerPolicy,
    SmtpLogin,
)

T = TypeVar("T")

Environment = Literal["development", "production"]


class ConfigError(Exception):
    """A configuration problem: file, key and reason, fit to show an operator as is."""

    def __init__(self, file: Path | str, key: str, reason: str) -> None:
        super().__init__(f"{file}: {key}: {reason}")
        self.file, self.key, self.reason = str(file), key, reason


@dataclass(frozen=True)
class SmimeKeyFiles:
    """One S/MIME identity of the gateway: a PEM pair, or a PKCS#12 file with its password file."""

    certificate: Path
    key: Path | None
    password_file: Path | None


@dataclass(frozen=True)
class SmtpConfig:
    listen_host: str
    listen_port: int
    hostname: str
    max_message_size: int
    max_recipients: int
    tls_certificate: Path
    tls_key: Path
    crypto_workers: int


@dataclass(frozen=True)
class PortalConfig:
    listen_host: str
    listen_port: int
    public_url: str
    # How long a message the citizen deleted stays in the Deleted view before it is purged.
    deleted_retention_days: int = 30
    # The version of the terms of use; raising it has every citizen accept them again.
    terms_version: int = 1


@dataclass(frozen=True)
class OutboundConfig:
    mode: Literal["outbox", "relay", "hold"]
    outbox_dir: Path
    from_address: str
    relay_host: str
    relay_port: int
    relay_starttls: Literal["required", "opportunistic", "none"]
    # SMTP AUTH at the relay: both or neither. The password stays in its file until `serve`
    # starts, so the secret never sits in this object (nor in a traceback showing it).
    relay_username: str | None
    relay_password_file: Path | None
    # How long a temporarily failing mail is retried before it counts as undeliverable.
    retry_lifetime_hours: int = 120
    # A message unread this long brings the citizen one reminder notification.
    reminder_days: int = 7


@dataclass(frozen=True)
class KeysConfig:
    smime: tuple[
        SmimeKeyFiles, ...
    ]  # the first is current; the rest are retired, for decryption only
    master_key_file: Path
    blind_index_key_file: Path
    dkim_key_file: Path
    dkim_selector: str
    session_secret_file: Path
    gnupg_home: Path  # the gateway's own OpenPGP keyring (GNUPGHOME), never the user's


@dataclass(frozen=True)
class OidcKeyFiles:
    """The portal's own OpenID Connect keys (made by `init`, published as a JWKS)."""

    signing: Path  # signs request objects and private_key_jwt client assertions
    encryption: Path  # the broker encrypts ID tokens and userinfo to it


@dataclass(frozen=True)
class OidcConfig:
    """`[auth.oidc]`: the identification broker and how the portal uses it."""

    issuer: str
    client_id: str
    client_auth: Literal["private_key_jwt", "client_secret_basic", "client_secret_post"]
    # Read when `serve` starts, like the relay password, so no secret sits in this object.
    client_secret_file: Path | None
    scopes: tuple[str, ...]
    acr_values: tuple[str, ...]
    hetu_claim: str
    name_claim: str
    userinfo: bool
    request_object: bool
    signing_alg: Literal["RS256", "PS256"]
    http_timeout: int


@dataclass(frozen=True)
class Config:
    path: Path
    environment: Environment
    domains: tuple[str, ...]
    submission_address: str
    data_dir: Path
    database_url: str
    allow_temporary_hetus: bool
    auth_mode: Literal["test", "oidc"]
    oidc: OidcConfig | None  # None without an [auth.oidc] table (then `serve` refuses oidc mode)
    oidc_keys: OidcKeyFiles
    smtp: SmtpConfig
    portal: PortalConfig
    outbound: OutboundConfig
    keys: KeysConfig
    organisations: tuple[Organisation, ...]
    # `[limits]`; each organisation's own are in Organisation.limits.
    limits: RateLimits = RateLimits()

    @property
    def domain(self) -> str:
        return self.domains[0]

    @property
    def demo_dir(self) -> Path:
        return self.data_dir / "demo"


class _Section:
    """Typed access to one TOML table; remembers the keys read, to refuse unknown ones."""

    def __init__(self, file: Path, prefix: str, table: Mapping[str, Any]) -> None:
        self.file, self.prefix, self.table = file, prefix, table
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def get(self, name: str, kind: type[T], default: T | None = None) -> T:
        self.used.add(name)
        if name not in self.table:
            if default is None:
                raise ConfigError(self.file, self.key(name), "is required")
            return default
        value = self.table[name]
        # bool is an int in Python; a port of `true` must still be refused.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigError(
                self.file, self.key(name), f"must be a {kind.__name__}, not {value!r}"
            )
        return value

    def strings(self, name: str, default: list[str] | None = None) -> tuple[str, ...]:
        values = self.get(name, list, default)
        if not all(isinstance(v, str) for v in values):
            raise ConfigError(self.file, self.key(name), f"must be a list of strings: {values!r}")
        return tuple(values)

    def choice(self, name: str, options: tuple[str, ...], default: str) -> Any:
        value = self.get(name, str, default)
        if value not in options:
            raise ConfigError(
                self.file, self.key(name), f"must be one of {', '.join(options)}, not {value!r}"
            )
        return value

    def path(self, name: str, base: Path, default: Path) -> Path:
        value = self.get(name, str, "")
        return (base / value).resolve() if value else default

    def sub(self, name: str) -> _Section:
        self.used.add(name)
        table = self.table.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(self.file, self.key(name), "must be a table")
        return _Section(self.file, self.key(name), table)

    def finish(self) -> None:
        unknown = sorted(set(self.table) - self.used)
        if unknown:
            raise ConfigError(self.file, self.key(unknown[0]), "is not a known setting")


def load_config(path: Path) -> Config:
    """Read and validate the whole configuration, or raise ConfigError."""
    path = path.resolve()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(path, "(file)", f"cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "(syntax)", str(exc)) from None
    except UnicodeDecodeError:
        raise ConfigError(path, "(file)", "is not UTF-8 text") from None
    return _build(path, _Section(path, "", raw))


def _build(path: Path, root: _Section) -> Config:
    base = path.parent
    gw = root.sub("gateway")
    environment = gw.choice("environment", ("development", "production"), "production")
    domains = tuple(d.lower() for d in gw.strings("domains"))
    if not domains:
        raise ConfigError(path, gw.key("domains"), "must name at least one domain")
    submission = gw.get("submission_address", str).strip()
    _check_address(path, gw.key("submission_address"), submission)
    if submission.rpartition("@")[2].lower() not in domains:
        raise ConfigError(
            path, gw.key("submission_address"), f"{submission!r} is not in gateway.domains"
        )
    data_dir = gw.path("data_dir", base, base / "var")
    keys_dir = data_dir / "keys"
    database_url = gw.get("database_url", str, "") or f"sqlite:///{data_dir / 'gateway.sqlite3'}"
    allow_temporary = gw.get("allow_temporary_hetus", bool, False)
    gw.finish()

    auth = root.sub("auth")
    auth_mode = auth.choice("mode", ("test", "oidc"), "oidc")
    oidc, oidc_keys = _auth_oidc(auth, base, keys_dir)
    auth.finish()

    smtp = _smtp(root.sub("smtp"), base, keys_dir, domains[0])
    portal = _portal(root.sub("portal"))
    outbound = _outbound(root.sub("outbound"), base, data_dir, domains)
    keys = _keys(root.sub("keys"), base, keys_dir)
    limits = _limits(root.sub("limits"), RateLimits())
    organisations = _organisations(path, root, base, smtp.max_message_size, limits)
    root.finish()

    config = Config(
        path=path,
        environment=environment,
        domains=domains,
        submission_address=submission,
        data_dir=data_dir,
        database_url=database_url,
        allow_temporary_hetus=allow_temporary,
        auth_mode=auth_mode,
        oidc=oidc,
        oidc_keys=oidc_keys,
        smtp=smtp,
        portal=portal,
        outbound=outbound,
        keys=keys,
        organisations=organisations,
        limits=limits,
    )
    _check_development_is_local(config)
    return config


def _auth_oidc(
    auth: _Section, base: Path, keys_dir: Path
) -> tuple[OidcConfig | None, OidcKeyFiles]:
    """`[auth.oidc]`; its key files have defaults even without the table, for `init`."""
    present = "oidc" in auth.table
    sec = auth.sub("oidc")
    keys = OidcKeyFiles(
        signing=sec.path("signing_key_file", base, keys_dir / "oidc-signing-key.pem"),
        encryption=sec.path("encryption_key_file", base, keys_dir / "oidc-encryption-key.pem"),
    )
    return (_oidc(sec, base) if present else None), keys


def _oidc(sec: _Section, base: Path) -> OidcConfig:
    issuer = sec.get("issuer", str)
    _parse(sec, "issuer", _issuer_url, issuer)
    client_id = sec.get("client_id", str).strip()
    if not client_id:
        raise ConfigError(sec.file, sec.key("client_id"), "must not be empty")
    client_auth = sec.choice(
        "client_auth",
        ("private_key_jwt", "client_secret_basic", "client_secret_post"),
        "private_key_jwt",
    )
    secret_file = sec.get("client_secret_file", str, "")
    if client_auth == "private_key_jwt" and secret_file:
        raise ConfigError(
            sec.file,
            sec.key("client_secret_file"),
            f'{secret_file!r} is unused with client_auth = "private_key_jwt"',
        )
    if client_auth != "private_key_jwt" and not secret_file:
        raise ConfigError(
            sec.file, sec.key("client_secret_file"), f"is required with {client_auth!r}"
        )
    scopes = sec.strings("scopes", ["openid"])
    if "openid" not in scopes:
        raise ConfigError(sec.file, sec.key("scopes"), f"must include 'openid': {list(scopes)!r}")
    acr_values = sec.strings("acr_values", ["http://ftn.ficora.fi/2017/loa2"])
    if not acr_values or not all(v.strip() for v in acr_values):
        raise ConfigError(
            sec.file, sec.key("acr_values"), f"must name at least one level: {list(acr_values)!r}"
        )
    cfg = OidcConfig(
        issuer=issuer,
        client_id=client_id,
        client_auth=client_auth,
        client_secret_file=(base / secret_file).resolve() if secret_file else None,
        scopes=scopes,
        acr_values=acr_values,
        hetu_claim=_claim_name(sec, "hetu_claim", "urn:oid:1.2.246.21"),
        name_claim=_claim_name(sec, "name_claim", "name"),
        userinfo=sec.get("userinfo", bool, True),
        request_object=sec.get("request_object", bool, True),
        signing_alg=sec.choice("signing_alg", ("RS256", "PS256"), "RS256"),
        http_timeout=_positive(sec, "http_timeout", 10),
    )
    sec.finish()
    return cfg


def _issuer_url(value: str) -> str:
    """An https URL; plain http only on loopback (a test provider), never across a network."""
    parts = urlsplit(value)
    if parts.query or parts.fragment or not parts.hostname:
        raise ValueError("must be a URL with a host and no query or fragment")
    if parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(parts.hostname)):
        return value
    raise ValueError("must be an https URL (http only on a loopback address)")


def _claim_name(sec: _Section, name: str, default: str) -> str:
    value = sec.get(name, str, default).strip()
    if not value:
        raise ConfigError(sec.file, sec.key(name), "must not be empty")
    return value


def _smtp(sec: _Section, base: Path, keys_dir: Path, domain: str) -> SmtpConfig:
    cfg = SmtpConfig(
        listen_host=sec.get("listen_host", str, "127.0.0.1"),
        listen_port=_port(sec, "listen_port", 25),
        hostname=sec.get("hostname", str, domain),
        max_message_size=_positive(sec, "max_message_size", 25 * 1024 * 1024),
        max_recipients=_positive(sec, "max_recipients", 100),
        tls_certificate=sec.path("tls_certificate", base, keys_dir / "smtp-tls-cert.pem"),
        tls_key=sec.path("tls_key", base, keys_dir / "smtp-tls-key.pem"),
        crypto_workers=sec.get("crypto_workers", int, 0),
    )
    sec.finish()
    return cfg


def _portal(sec: _Section) -> PortalConfig:
    host = sec.get("listen_host", str, "127.0.0.1")
    port = _port(sec, "listen_port", 8080)
    public_url = sec.get("public_url", str, f"http://{host}:{port}").rstrip("/")
    if not public_url.startswith(("http://", "https://")):
        raise ConfigError(
            sec.file, sec.key("public_url"), f"must be an http(s) URL: {public_url!r}"
        )
    retention = _positive(sec, "deleted_retention_days", 30)
    terms_version = _positive(sec, "terms_version", 1)
    sec.finish()
    return PortalConfig(
        listen_host=host,
        listen_port=port,
        public_url=public_url,
        deleted_retention_days=retention,
        terms_version=terms_version,
    )


def _outbound(
    sec: _Section, base: Path, data_dir: Path, domains: tuple[str, ...]
) -> OutboundConfig:
    username = sec.get("relay_username", str, "")
    password_file = sec.get("relay_password_file", str, "")
    cfg = OutboundConfig(
        mode=sec.choice("mode", ("outbox", "relay", "hold"), "outbox"),
        outbox_dir=sec.path("outbox_dir", base, data_dir / "outbox"),
        from_address=sec.get("from_address", str, f"noreply@{domains[0]}"),
        relay_host=sec.get("relay_host", str, "localhost"),
        relay_port=_port(sec, "relay_port", 25),
        relay_starttls=sec.choice(
            "relay_starttls", ("required", "opportunistic", "none"), "required"
        ),
        relay_username=username or None,
        relay_password_file=(base / password_file).resolve() if password_file else None,
        retry_lifetime_hours=_positive(sec, "retry_lifetime_hours", 120),
        reminder_days=_positive(sec, "reminder_days", 7),
    )
    _check_address(sec.file, sec.key("from_address"), cfg.from_address)
    if bool(username) != bool(password_file):
        missing = "relay_password_file" if username else "relay_username"
        given = "relay_username" if username else "relay_password_file"
        raise ConfigError(sec.file, sec.key(missing), f"is required when {given} is set")
    if username and cfg.relay_starttls != "required":
        # Credentials must never cross the network in clear text.
        raise ConfigError(
            sec.file,
            sec.key("relay_starttls"),
            f'must be "required" when relay credentials are set, not {cfg.relay_starttls!r}',
        )
    sec.finish()
    return cfg


def _keys(sec: _Section, base: Path, keys_dir: Path) -> KeysConfig:
    entries = sec.get("smime", list, [])
    smime = tuple(_smime_entry(sec, i, entry, base) for i, entry in enumerate(entries)) or (
        SmimeKeyFiles(keys_dir / "smime-cert.pem", keys_dir / "smime-key.pem", None),
    )
    cfg = KeysConfig(
        smime=smime,
        master_key_file=sec.path("master_key_file", base, keys_dir / "master.key"),
        blind_index_key_file=sec.path("blind_index_key_file", base, keys_dir / "blind-index.key"),
        dkim_key_file=sec.path("dkim_key_file", base, keys_dir / "dkim-key.pem"),
        dkim_selector=sec.get("dkim_selector", str, "asiointi1"),
        session_secret_file=sec.path("session_secret_file", base, keys_dir / "session.key"),
        gnupg_home=sec.path("gnupg_home", base, keys_dir / "gnupg"),
    )
    sec.finish()
    return cfg


def _smime_entry(sec: _Section, index: int, entry: object, base: Path) -> SmimeKeyFiles:
    if not isinstance(entry, dict):
        raise ConfigError(sec.file, f"{sec.key('smime')}[{index}]", "must be a table")
    item = _Section(sec.file, f"{sec.key('smime')}[{index}]", entry)
    cert = item.get("certificate", str)
    key = item.get("key", str, "")
    password = item.get("password_file", str, "")
    item.finish()
    if not key and not cert.lower().endswith((".p12", ".pfx")):
        raise ConfigError(
            sec.file, item.key("key"), "is required unless certificate is a PKCS#12 (.p12) file"
        )
    return SmimeKeyFiles(
        base / cert, (base / key) if key else None, (base / password) if password else None
    )


def _organisations(
    path: Path,
    root: _Section,
    base: Path,
    max_message_size: int,
    limits: RateLimits,
) -> tuple[Organisation, ...]:
    entries = root.get("organisations", list, [])
    orgs: list[Organisation] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ConfigError(path, f"organisations[{i}]", "must be a table")
        sec = _Section(path, f"organisations[{i}]", entry)
        org_id = sec.get("id", str)
        if any(o.id == org_id for o in orgs):
            raise ConfigError(path, sec.key("id"), f"{org_id!r} is declared twice")
        reply = sec.get("reply_address", str)
        _check_address(path, sec.key("reply_address"), reply)
        pgp = _pgp_policy(sec, base)
        # An organisation that signs with OpenPGP only needs no S/MIME trust anchors.
        anchors = sec.strings("trust_anchors", [] if pgp.fingerprints else None)
        orgs.append(
            Organisation(
                id=org_id,
                name=sec.get("name", str),
                name_sv=sec.get("name_sv", str, ""),
                name_en=sec.get("name_en", str, ""),
                services=sec.strings("services", []),
                sender_domains=tuple(d.lower() for d in sec.strings("sender_domains")),
                networks=_networks(sec, "networks", []),
                trust_anchors=tuple((base / p).resolve() for p in anchors),
                replies_allowed=sec.get("replies_allowed", bool, False),
                reply_address=reply,
                demo=sec.get("demo", bool, False),
                replies=_reply_policy(sec, base),
                delivery=_delivery_policy(sec),
                cases=_case_policy(sec),
                pgp=pgp,
                shared_networks=_networks(sec, "shared_networks", []),
                server_auth=_server_auth(sec, base, orgs),
                signers=_signer_policy(sec, base),
                content=_content_policy(sec, max_message_size),
                limits=_limits(sec.sub("limits"), limits),
                **_new_messages(sec),
            )
        )
        _check_identifiable(sec, orgs[-1])
        _check_relaxation(sec, orgs[-1])
        sec.finish()
    return tuple(orgs)


def _limits(sec: _Section, defaults: RateLimits) -> RateLimits:
    """`[limits]`, or an organisation's `limits` table over the global one."""
    limits = RateLimits(
        messages_per_connection=_positive(
            sec, "messages_per_connection", defaults.messages_per_connection
        ),
        messages_per_minute=_positive(sec, "messages_per_minute", defaults.messages_per_minute),
        concurrent_connections=_positive(
            sec, "concurrent_connections", defaults.concurrent_connections
        ),
    )
    sec.finish()
    return limits


def _server_auth(sec: _Section, base: Path, others: list[Organisation]) -> ServerAuthPolicy:
    """TLS client certificates, SMTP AUTH logins and require_tls of one organisation."""
    ca = sec.get("tls_client_ca", str, "")
    ca_path = _parse(sec, "tls_client_ca", lambda v: _client_ca(base / v), ca) if ca else None
    fingerprints = tuple(
        _parse(sec, "tls_client_fingerprints", _sha256_fingerprint, value)
        for value in sec.strings("tls_client_fingerprints", [])
    )
    if fingerprints and ca_path is None:
        raise ConfigError(
            sec.file, sec.key("tls_client_ca"), "is required with tls_client_fingerprints"
        )
    taken = {login.username for org in others for login in org.server_auth.logins}
    logins: list[SmtpLogin] = []
    for i, entry in enumerate(sec.get("smtp_auth", list, [])):
        key = f"{sec.key('smtp_auth')}[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(sec.file, key, "must be a table {username, password_hash}")
        item = _Section(sec.file, key, entry)
        username = item.get("username", str).strip()
        if not username or username in taken:
            reason = "is declared twice" if username else "must not be empty"
            raise ConfigError(sec.file, item.key("username"), f"{username!r} {reason}")
        taken.add(username)
        hashed = _parse(item, "password_hash", check_hash, item.get("password_hash", str))
        item.finish()
        logins.append(SmtpLogin(username, hashed))
    return ServerAuthPolicy(
        tls_client_ca=ca_path,
        tls_client_fingerprints=fingerprints,
        logins=tuple(logins),
        require_tls=sec.get("require_tls", bool, False),
    )


def _client_ca(path: Path) -> Path:
    path = _readable(path)
    try:
        found = x509.load_pem_x509_certificates(path.read_bytes())
    except ValueError:
        found = []
    if not found:
        raise ValueError(f"{path} holds no PEM certificate")
    return path


def _sha256_fingerprint(value: str) -> str:
    """SHA-256 of a certificate as `openssl x509 -fingerprint -sha256` prints it (or bare)."""
    fingerprint = value.replace(":", "").strip().upper()
    if not re.fullmatch(r"[0-9A-F]{64}", fingerprint):
        raise ValueError("must be a SHA-256 fingerprint of 64 hexadecimal digits")
    return fingerprint


def _signer_policy(sec: _Section, base: Path) -> SignerPolicy:
    """CRLs, pinned signer certificates, sender address patterns, and what must be signed."""
    crls = tuple(
        _parse(sec, "crl_files", lambda v: _crl_file(base / v), value)
        for value in sec.strings("crl_files", [])
    )
    fingerprints = tuple(
        _parse(sec, "signer_fingerprints", _sha256_fingerprint, value)
        for value in sec.strings("signer_fingerprints", [])
    )
    patterns = tuple(
        _parse(sec, "sender_addresses", _address_pattern, value)
        for value in sec.strings("sender_addresses", [])
    )
    return SignerPolicy(
        crl_files=crls,
        fingerprints=fingerprints,
        sender_addresses=patterns,
        signature_required=sec.get("signature_required", bool, True),
        encryption_required=sec.get("encryption_required", bool, True),
    )


def _crl_file(path: Path) -> Path:
    path = _readable(path)
    load_crl(path.read_bytes())  # ValueError names what is wrong
    return path


def _address_pattern(value: str) -> str:
    """An fnmatch pattern for whole addresses: "*@kirjaamo.kunta.fi", "paatokset-*@kunta.fi"."""
    pattern = value.strip().lower()
    local, at, domain = pattern.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in pattern):
        raise ValueError("must be an address pattern like '*@kirjaamo.kunta.fi'")
    if pattern.count("[") != pattern.count("]"):
        raise ValueError("has an unbalanced [ ]")
    return pattern


def _content_policy(sec: _Section, global_limit: int) -> ContentPolicy:
    size = sec.get("max_message_size", int, 0) or None
    if size is not None and not 0 < size <= global_limit:
        raise ConfigError(
            sec.file,
            sec.key("max_message_size"),
            f"must be positive and at most [smtp] max_message_size ({global_limit}), not {size}",
        )
    count = sec.get("max_attachments", int, -1)
    if count < -1:
        raise ConfigError(sec.file, sec.key("max_attachments"), f"must not be negative: {count}")
    types = tuple(
        _parse(sec, "allowed_attachment_types", _content_type, value)
        for value in sec.strings("allowed_attachment_types", [])
    )
    return ContentPolicy(
        max_message_size=size,
        max_attachments=None if count == -1 else count,
        allowed_attachment_types=types,
        keep_html=sec.get("keep_html", bool, True),
    )


def _content_type(value: str) -> str:
    ctype = value.strip().lower()
    if not re.fullmatch(r"[a-z0-9][a-z0-9.+-]*/([a-z0-9][a-z0-9.+-]*|\*)", ctype):
        raise ValueError("must be a content type like 'application/pdf' or 'image/*'")
    return ctype


def _check_relaxation(sec: _Section, org: Organisation) -> None:
    """Unsigned or unencrypted mail only over a secured, authenticated server connection: TLS
    required and a pinned client certificate or SMTP AUTH (a network alone proves too little)."""
    auth = org.server_auth
    secured = auth.require_tls and bool(auth.tls_client_fingerprints or auth.logins)
    for key in ("signature_required", "encryption_required"):
        if not getattr(org.signers, key) and not secured:
            raise ConfigError(
                sec.file,
                sec.key(key),
                "may be false only with require_tls = true and tls_client_fingerprints or "
                "smtp_auth",
            )


def _check_identifiable(sec: _Section, org: Organisation) -> None:
    auth = org.server_auth
    if not (org.networks or org.shared_networks or auth.tls_client_ca or auth.logins):
        raise ConfigError(
            sec.file,
            sec.key("networks"),
            "the organisation needs networks, shared_networks, tls_client_ca or smtp_auth",
        )


def _new_messages(sec: _Section) -> dict[str, Any]:
    """`new_messages` and `topics`; the topic becomes a Subject, so one line of text each."""
    accepted = sec.get("new_messages", bool, False)
    topics = tuple(topic.strip() for topic in sec.strings("topics", []))
    if any(not topic or not topic.isprintable() for topic in topics) or len(set(topics)) < len(
        topics
    ):
        raise ConfigError(
            sec.file, sec.key("topics"), f"must be distinct one-line texts: {topics!r}"
        )
    if accepted and not topics:
        raise ConfigError(sec.file, sec.key("topics"), "must list a topic when new_messages = true")
    if accepted and not (sec.get("certificate", str, "") or sec.get("pgp_reply_key", str, "")):
        # A new message goes to the registry, which only these keys open.
        raise ConfigError(
            sec.file,
            sec.key("new_messages"),
            "needs the organisation's certificate (S/MIME) or pgp_reply_key (OpenPGP)",
        )
    return {"new_messages": accepted, "topics": topics}


_FINGERPRINT = re.compile(r"[0-9A-F]{40}")


def _pgp_policy(sec: _Section, base: Path) -> PgpPolicy:
    files = tuple(
        _parse(sec, "pgp_keys", lambda v: _readable(base / v), value)
        for value in sec.strings("pgp_keys", [])
    )
    fingerprints = tuple(
        _parse(sec, "pgp_fingerprints", _fingerprint, value)
        for value in sec.strings("pgp_fingerprints", [])
    )
    reply_key = sec.get("pgp_reply_key", str, "")
    if reply_key:
        reply_key = _parse(sec, "pgp_reply_key", _fingerprint, reply_key)
    if (fingerprints or reply_key) and not files:
        raise ConfigError(sec.file, sec.key("pgp_keys"), "must name the files holding those keys")
    return PgpPolicy(key_files=files, fingerprints=fingerprints, reply_key=reply_key)


def _fingerprint(value: str) -> str:
    """A full OpenPGP v4 fingerprint; the spaces gpg prints between groups are allowed."""
    fingerprint = "".join(value.split()).upper()
    if not _FINGERPRINT.fullmatch(fingerprint):
        raise ValueError("must be a full fingerprint of 40 hexadecimal digits (not a key id)")
    return fingerprint


def _readable(path: Path) -> Path:
    path = path.resolve()
    if not path.is_file() or not os.access(path, os.R_OK):
        raise ValueError(f"{path} is not a readable file")
    return path


def _delivery_policy(sec: _Section) -> DeliveryPolicy:
    defaults = DeliveryPolicy()
    tag = sec.get("verifiable_tag", str, defaults.verifiable_tag).strip()
    if not tag:
        raise ConfigError(sec.file, sec.key("verifiable_tag"), "must not be empty")
    return DeliveryPolicy(
        verifiable_tag=tag,
        verifiable_by_default=sec.get("verifiable_by_default", bool, False),
        acknowledge_days=_positive(sec, "acknowledge_days", defaults.acknowledge_days),
    )


def _case_policy(sec: _Section) -> CasePolicy:
    defaults = CasePolicy()
    request_tag = sec.get("request_tag", str, defaults.request_tag).strip()
    if not request_tag:
        raise ConfigError(sec.file, sec.key("request_tag"), "must not be empty")
    labels: dict[str, str] = {}
    for name in ("case_label", "status_label"):
        label = sec.get(name, str, getattr(defaults, name)).strip()
        # The label stands inside `[label: VALUE]`, so it cannot hold brackets or a colon.
        if not label or any(c in label for c in "[]:"):
            raise ConfigError(sec.file, sec.key(name), f"must be a word like 'asia', not {label!r}")
        labels[name] = label
    return CasePolicy(request_tag=request_tag, **labels)


def _reply_policy(sec: _Section, base: Path) -> ReplyPolicy:
    defaults = ReplyPolicy()
    tag = sec.get("no_reply_tag", str, defaults.no_reply_tag).strip()
    if not tag:
        raise ConfigError(sec.file, sec.key("no_reply_tag"), "must not be empty")
    certificate = sec.get("certificate", str, "")
    if certificate:
        _parse(sec, "certificate", lambda p: _load_certificate(base / p), certificate)
    recipients = sec.choice("reply_to", ("sender", "registry", "both"), defaults.recipients)
    if recipients != "sender" and not certificate:
        # Encrypted only to the clerk, a reply would reach a registry that cannot open it.
        raise ConfigError(
            sec.file, sec.key("reply_to"), f"{recipients!r} needs the organisation's certificate"
        )
    return ReplyPolicy(
        recipients=recipients,
        no_reply_tag=tag,
        max_attachments=_at_least(sec, "reply_max_attachments", 0, defaults.max_attachments),
        max_attachment_bytes=_positive(
            sec, "reply_max_attachment_size", defaults.max_attachment_bytes
        ),
        aes_gcm=sec.get("aes_gcm", bool, defaults.aes_gcm),
        certificate=(base / certificate).resolve() if certificate else None,
        thread_days=_positive(sec, "reply_thread_days", defaults.thread_days),
    )


def _load_certificate(path: Path) -> x509.Certificate:
    """The first certificate of a PEM file; ValueError (with the reason) when unusable."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    certificates = x509.load_pem_x509_certificates(data)
    if not certificates:
        raise ValueError(f"{path} holds no certificate")
    return certificates[0]


def _networks(
    sec: _Section, name: str = "networks", default: list[str] | None = None
) -> tuple[IPNetwork, ...]:
    return tuple(
        _parse(sec, name, lambda v: ipaddress.ip_network(v, strict=True), value)
        for value in sec.strings(name, default)
    )


def _parse(sec: _Section, key: str, parse: Callable[[str], T], value: str) -> T:
    try:
        return parse(value)
    except ValueError as exc:
        raise ConfigError(sec.file, sec.key(key), f"{value!r}: {exc}") from None


def _port(sec: _Section, name: str, default: int) -> int:
    port = sec.get(name, int, default)
    if not 0 <= port <= 65535:
        raise ConfigError(sec.file, sec.key(name), f"must be a port number, not {port}")
    return port


def _at_least(sec: _Section, name: str, minimum: int, default: int) -> int:
    value = sec.get(name, int, default)
    if value < minimum:
        raise ConfigError(sec.file, sec.key(name), f"must be at least {minimum}, not {value}")
    return value


def _positive(sec: _Section, name: str, default: int) -> int:
    value = sec.get(name, int, default)
    if value <= 0:
        raise ConfigError(sec.file, sec.key(name), f"must be positive, not {value}")
    return value


def _check_address(file: Path | str, key: str, value: str) -> None:
    local, at, domain = value.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in value):
        raise ConfigError(file, key, f"is not an e-mail address: {value!r}")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_development_is_local(config: Config) -> None:
    """A copied development sample must never become an open door on a real network."""
    risky = (
        config.environment == "development"
        or config.auth_mode == "test"
        or any(org.demo for org in config.organisations)
    )
    if not risky:
        return
    for key, host in (
        ("smtp.listen_host", config.smtp.listen_host),
        ("portal.listen_host", config.portal.listen_host),
    ):
        if not _is_loopback(host):
            raise ConfigError(
                config.path,
                key,
                f"{host!r} is not a loopback address, but this is a development configuration "
                '(test identification, demo organisation or environment = "development")',
            )
    if any(org.demo for org in config.organisations) and config.environment != "development":
        raise ConfigError(
            config.path, "organisations", 'a demo organisation needs environment = "development"'
        )
