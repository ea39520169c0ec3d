"""`asiointitili policy check`: every problem of a configuration file, not just the first.

`load_config` stops at the first problem. Here each problem is reported, then set aside (the
offending key, list item or, as a last resort, the whole organisation is left out) and the file
is read again, until it loads. The configuration that loads is then checked for what only a
running gateway would notice: networks overlapping between organisations, unreadable
certificates and keys, and expiry. Nothing is written anywhere.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from crypto import pgp_keys
from crypto._pgp_gpg import GpgKeyring
from crypto.certs import load_decryption_key
from crypto.revocation import load_crl, signed_by_any
from gateway import material
from gateway.config import Config, ConfigError, SmimeKeyFiles, _build, _Section, load_config
from policies.model import IPNetwork, Organisation

WARN_DAYS = 30
# Each round sets one problem aside; a file with more problems than this is not worth reading.
_MAX_ROUNDS = 200
_KEY_PART = re.compile(r"([^.\[\]]+)(?:\[(\d+)\])?")

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    severity: Severity
    file: str
    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.file}: {self.key}: {self.reason}"


def check_policy(path: Path, *, now: datetime | None = None) -> list[Problem]:
    """Every problem of the configuration at `path`: errors first found, then warnings."""
    moment = now or datetime.now(UTC)
    config, problems, positions = _load_collecting(path)
    if config is not None:
        problems += _Checks(config, positions, moment).run()
    return problems


def _load_collecting(path: Path) -> tuple[Config | None, list[Problem], list[int]]:
    """The configuration with every problem set aside, the problems, and the original index of
    each organisation that remains (some may have been left out)."""
    try:
        config = load_config(path)
        return config, [], list(range(len(config.organisations)))
    except ConfigError as exc:
        if exc.key in ("(file)", "(syntax)"):
            return None, [_error(exc.file, exc.key, exc.reason)], []
        error = exc
    path = path.resolve()
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    organisations = raw.get("organisations")
    positions = list(range(len(organisations))) if isinstance(organisations, list) else []
    problems: list[Problem] = []
    dropped: set[str] = set()
    for _ in range(_MAX_ROUNDS):
        key = _original_key(error.key, positions)
        if _news(problems, key, error.reason):
            problems.append(_error(error.file, key, error.reason))
        if not _set_aside(raw, error, positions, dropped):
            break  # nothing left to set aside: the rest cannot be read without a fix
        try:
            return _build(path, _Section(path, "", raw)), problems, positions
        except ConfigError as exc:
            error = exc
    return None, problems, positions


def _news(problems: list[Problem], key: str, reason: str) -> bool:
    """Whether a problem is worth reporting: a key set aside once may fail again for that
    very reason ("is required", "needs networks"), unless another of its values is named."""
    seen = [p.reason for p in problems if p.key == key]
    return reason not in seen and (not seen or reason.startswith(("'", '"')))


def _error(file: str, key: str, reason: str) -> Problem:
    return Problem("error", file, key, reason)


def _original_key(key: str, positions: list[int]) -> str:
    """Keys name organisations by their place in the file, not in what is left of it."""
    found = re.match(r"organisations\[(\d+)\]", key)
    if found is None or int(found.group(1)) >= len(positions):
        return key
    return f"organisations[{positions[int(found.group(1))]}]{key[found.end():]}"


def _set_aside(
    raw: dict[str, Any], error: ConfigError, positions: list[int], dropped: set[str]
) -> bool:
    """Leave out what `error` is about, so the next reading goes past it; False when stuck."""
    parts = [(m.group(1), m.group(2)) for m in _KEY_PART.finditer(error.key)]
    if error.key == "organisations" and isinstance(raw.get("organisations"), list):
        # "a demo organisation needs environment = development": read them as non-demo.
        demos = [o for o in raw["organisations"] if isinstance(o, dict) and "demo" in o]
        for entry in demos:
            del entry["demo"]
        return bool(demos)
    container: Any = raw
    for name, index in parts[:-1]:
        container = container.get(name) if isinstance(container, dict) else None
        if index is not None:
            container = container[int(index)] if isinstance(container, list) else None
    name, index = parts[-1] if parts else ("", None)
    if not isinstance(container, dict) or name not in container or error.key in dropped:
        if _stand_in(container, parts, positions, dropped):
            return True
        return _drop_organisation(raw, parts, positions)
    value = container[name]
    if index is not None and isinstance(value, list):
        del value[int(index)]
        if name == "organisations" and container is raw:
            del positions[int(index)]
        return True
    if isinstance(value, list):
        bad = [v for v in value if error.reason.startswith(repr(v))]
        if bad:  # one unusable item: keep the others to be checked
            value.remove(bad[0])
            return True
    del container[name]
    dropped.add(error.key)
    return True


# Stand-ins for required keys, so that the rest is still checked. The network is in 100::/64,
# the discard-only prefix (RFC 6666), and the domain is .invalid: they overlap nothing real.
_STAND_INS: dict[str, Callable[[str], object]] = {
    "organisations.id": lambda i: f"organisations[{i}]",
    "organisations.name": lambda i: f"organisations[{i}]",
    "organisations.reply_address": lambda i: f"organisation-{i}@stand-in.invalid",
    "organisations.networks": lambda i: [f"100::{int(i) + 1:x}/128"],
    "organisations.sender_domains": lambda i: [],
    "organisations.trust_anchors": lambda i: [],
    "gateway.domains": lambda i: ["stand-in.invalid"],
    "gateway.submission_address": lambda i: "viesti@stand-in.invalid",
}


def _stand_in(
    container: object, parts: list[tuple[str, str | None]], positions: list[int], dropped: set[str]
) -> bool:
    """Give a required key a stand-in value, once."""
    if len(parts) != 2 or not isinstance(container, dict):
        return False
    (section, index), (name, _) = parts
    original = str(positions[int(index)]) if index is not None else ""
    marker = f"stand-in {section}[{original}].{name}"
    stand_in = _STAND_INS.get(f"{section}.{name}")
    if stand_in is None or marker in dropped:
        return False
    if section == "gateway" and name == "submission_address" and container.get("domains"):
        container[name] = f"viesti@{container['domains'][0]}"  # must be in gateway.domains
    else:
        container[name] = stand_in(original)
    dropped.add(marker)
    return True


def _drop_organisation(
    raw: dict[str, Any], parts: list[tuple[str, str | None]], positions: list[int]
) -> bool:
    """A required key that is missing or unusable: leave the whole organisation out."""
    if not parts or parts[0][0] != "organisations" or parts[0][1] is None:
        return False
    entries = raw.get("organisations")
    index = int(parts[0][1])
    if not isinstance(entries, list) or index >= len(entries):
        return False
    del entries[index]
    del positions[index]
    return True


class _Checks:
    """What the loaded configuration cannot say by itself: files, overlaps and time."""

    def __init__(self, config: Config, positions: list[int], now: datetime) -> None:
        self.config, self.positions, self.now = config, positions, now
        self.file = str(config.path)
        self.problems: list[Problem] = []

    def run(self) -> list[Problem]:
        self._overlapping_networks()
        for index, org in zip(self.positions, self.config.organisations, strict=True):
            self._trust_anchors(index, org)
            self._crls(index, org)
            self._organisation_certificate(index, org)
            self._client_ca(index, org)
            self._pgp_keys(index, org)
        self._gateway_keys()
        # Errors first: they decide the exit code and are what must be fixed.
        return sorted(self.problems, key=lambda p: p.severity != "error")

    def add(self, severity: Severity, key: str, reason: str) -> None:
        self.problems.append(Problem(severity, self.file, key, reason))

    # organisations

    def _overlapping_networks(self) -> None:
        orgs = list(zip(self.positions, self.config.organisations, strict=True))
        for (i, a), (j, b) in combinations(orgs, 2):
            for net_a, shared_a in _networks(a):
                for net_b, shared_b in _networks(b):
                    if not _overlap(net_a, net_b) or (shared_a and shared_b):
                        continue
                    self.add(
                        "error",
                        f"organisations[{j}].{'shared_networks' if shared_b else 'networks'}",
                        f"{net_b} overlaps {net_a} of organisation {a.id} (organisations[{i}]): "
                        "list it in shared_networks of both organisations, or remove it",
                    )

    def _trust_anchors(self, index: int, org: Organisation) -> None:
        key = f"organisations[{index}].trust_anchors"
        expired: list[bool] = []
        for path in org.trust_anchors:
            for certificate in self._certificates(key, path):
                expired.append(self._expiry("warning", key, path, certificate))
        if expired and all(expired):
            self.add(
                "warning",
                key,
                f"organisation {org.id} is DISABLED: every trust anchor has expired, so its "
                "S/MIME mail is refused until a valid one is configured",
            )

    def _crls(self, index: int, org: Organisation) -> None:
        """A CRL no anchor signed is ignored, and a stale one misses recent revocations."""
        key = f"organisations[{index}].crl_files"
        anchors = [c for p in org.trust_anchors for c in self._certificates(key, p, quiet=True)]
        for path in org.signers.crl_files:
            crl = load_crl(path.read_bytes())
            if not signed_by_any(crl, anchors):
                self.add(
                    "warning",
                    key,
                    f"{path} is not signed by any of organisation {org.id}'s trust anchors: "
                    "it revokes nobody",
                )
            if crl.next_update_utc is not None and crl.next_update_utc < self.now:
                self.add(
                    "warning",
                    key,
                    f"{path} was due to be replaced at {crl.next_update_utc:%Y-%m-%d %H:%M} UTC: "
                    "revocations since then are unknown; publish a fresh CRL",
                )

    def _organisation_certificate(self, index: int, org: Organisation) -> None:
        path = org.replies.certificate
        key = f"organisations[{index}].certificate"
        if path is not None:
            for certificate in self._certificates(key, path)[:1]:
                if self._expiry("warning", key, path, certificate):
                    self.add(
                        "warning",
                        key,
                        f"replies to organisation {org.id} are encrypted to an expired "
                        "certificate; ask the organisation for its new one",
                    )

    def _client_ca(self, index: int, org: Organisation) -> None:
        path = org.server_auth.tls_client_ca
        key = f"organisations[{index}].tls_client_ca"
        if path is not None:
            for certificate in self._certificates(key, path):
                if self._expiry("warning", key, path, certificate):
                    self.add(
                        "warning",
                        key,
                        f"organisation {org.id}'s mail servers cannot authenticate with client "
                        "certificates from this expired CA",
                    )

    def _pgp_keys(self, index: int, org: Organisation) -> None:
        if not org.pgp.key_files:
            return
        key = f"organisations[{index}].pgp_keys"
        if not pgp_keys.gpg_available():
            self.add("error", key, "the organisation uses OpenPGP, but gpg is not installed")
            return
        keys: dict[str, dict[str, str]] = {}
        for path in org.pgp.key_files:
            try:
                keys.update((k["fingerprint"], k) for k in _scan(path))
            except (OSError, ValueError) as exc:
                self.add("error", key, f"{path}: cannot be read as OpenPGP keys: {exc}")
        for fingerprint in dict.fromkeys((*org.pgp.fingerprints, org.pgp.reply_key)):
            if not fingerprint:
                continue
            found = keys.get(fingerprint)
            status = "missing from pgp_keys" if found is None else _pgp_status(found, self.now)
            if status:
                self.add(
                    "warning",
                    key,
                    f"organisation {org.id} is DISABLED: its OpenPGP key {fingerprint} is "
                    f"{status}, so its mail is refused until the key is fixed",
                )
            elif found is not None:
                self._pgp_expiring(key, fingerprint, found)

    def _pgp_expiring(self, key: str, fingerprint: str, found: dict[str, str]) -> None:
        expires = _pgp_expiry(found)
        if expires is not None and expires - self.now <= timedelta(days=WARN_DAYS):
            self.add(
                "warning",
                key,
                f"OpenPGP key {fingerprint} expires on {expires:%Y-%m-%d} "
                f"(in {(expires - self.now).days} days)",
            )

    # the gateway's own keys: unusable or expired is fatal

    def _gateway_keys(self) -> None:
        config = self.config
        for index, files in enumerate(config.keys.smime):
            self._smime_identity(index, files)
        self._fatal(lambda: material.smtp_tls_context(config))
        tls = config.smtp.tls_certificate
        for certificate in self._certificates("smtp.tls_certificate", tls, quiet=True)[:1]:
            self._expiry("error", "smtp.tls_certificate", tls, certificate)
        self._fatal(lambda: material.master_keys(config))
        self._fatal(lambda: material.blind_index(config))
        self._fatal(lambda: material.session_secret(config))
        self._fatal(self._dkim_key)
        if config.auth_mode == "oidc":
            if config.oidc is None:
                self.add("error", "auth.oidc", 'is required with auth.mode = "oidc"')
            self._fatal(lambda: material.oidc_keys(config))
            self._fatal(lambda: material.oidc_client_secret(config))
        password = config.outbound.relay_password_file
        if password is not None:
            self._fatal(lambda: material._read(config, "outbound.relay_password_file", password))
        if any(org.pgp.key_files for org in config.organisations):
            self._gateway_pgp_key()

    def _fatal(self, load: Callable[[], object]) -> None:
        try:
            load()
        except ConfigError as exc:
            self.add("error", exc.key, exc.reason)

    def _smime_identity(self, index: int, files: SmimeKeyFiles) -> None:
        key = f"keys.smime[{index}]"
        try:
            cert = material._read(self.config, f"{key}.certificate", files.certificate)
            pem = material._read(self.config, f"{key}.key", files.key) if files.key else None
            password = (
                material._read(self.config, f"{key}.password_file", files.password_file).strip()
                if files.password_file
                else None
            )
        except ConfigError as exc:
            self.add("error", exc.key, exc.reason)
            return
        try:
            identity = load_decryption_key(cert, pem, password)
        except (ValueError, TypeError) as exc:
            self.add("error", key, f"not a usable S/MIME key pair: {exc}")
            return
        # Retired identities stay listed to decrypt old mail: their expiry is expected.
        if index == 0:
            self._expiry("error", f"{key}.certificate", files.certificate, identity.certificate)

    def _dkim_key(self) -> None:
        path = self.config.keys.dkim_key_file
        data = material._read(self.config, "keys.dkim_key_file", path)
        try:
            serialization.load_pem_private_key(data, None)
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                self.config.path, "keys.dkim_key_file", f"{path} is not a usable key: {exc}"
            ) from None

    def _gateway_pgp_key(self) -> None:
        home = self.config.keys.gnupg_home
        key = "keys.gnupg_home"
        if not pgp_keys.gpg_available():
            self.add("error", key, "organisations use OpenPGP, but gpg is not installed")
            return
        if not home.is_dir():
            self.add("error", key, f"{home} holds no OpenPGP keyring (run `asiointitili init`)")
            return
        try:
            listing = GpgKeyring(home).gpg.list_keys(secret=True)
        finally:
            pgp_keys.stop_agent(home)  # listing secret keys starts one; a check leaves none
        if not listing:
            self.add("error", key, f"{home} holds no OpenPGP key of the gateway (run `init`)")
        for found in listing:
            expires = _pgp_expiry(found)
            if expires is not None and expires <= self.now:
                self.add("error", key, f"the gateway's OpenPGP key {found['fingerprint']} has "
                         f"expired ({expires:%Y-%m-%d})")
            else:
                self._pgp_expiring(key, found["fingerprint"], found)

    # helpers

    def _certificates(self, key: str, path: Path, *, quiet: bool = False) -> list[x509.Certificate]:
        try:
            data = path.read_bytes()
        except OSError as exc:
            if not quiet:
                self.add("error", key, f"{path} cannot be read: {exc.strerror}")
            return []
        try:
            return x509.load_pem_x509_certificates(data)
        except ValueError:
            if not quiet:
                self.add("error", key, f"{path} holds no PEM certificate")
            return []

    def _expiry(
        self, severity: Severity, key: str, path: Path, certificate: x509.Certificate
    ) -> bool:
        """Report an expired (`severity`) or soon expiring (warning) certificate; True when
        it has expired."""
        ends = certificate.not_valid_after_utc
        subject = certificate.subject.rfc4514_string() or "(no subject)"
        if ends <= self.now:
            self.add(severity, key, f"{path}: certificate {subject} expired on {ends:%Y-%m-%d}")
            return True
        if ends - self.now <= timedelta(days=WARN_DAYS):
            self.add(
                "warning",
                key,
                f"{path}: certificate {subject} expires on {ends:%Y-%m-%d} "
                f"(in {(ends - self.now).days} days)",
            )
        return False


def _networks(org: Organisation) -> Iterator[tuple[IPNetwork, bool]]:
    yield from ((net, False) for net in org.networks)
    yield from ((net, True) for net in org.shared_networks)


def _overlap(a: IPNetwork, b: IPNetwork) -> bool:
    if isinstance(a, ipaddress.IPv4Network) and isinstance(b, ipaddress.IPv4Network):
        return a.overlaps(b)
    if isinstance(a, ipaddress.IPv6Network) and isinstance(b, ipaddress.IPv6Network):
        return a.overlaps(b)
    return False


def _scan(path: Path) -> list[dict[str, str]]:
    """The keys in a file as gpg reads them, in a scratch keyring (the gateway's is untouched)."""
    home = Path(tempfile.mkdtemp(prefix="pc-"))  # short: gpg-agent's sockets live in it
    try:
        return list(GpgKeyring(home).gpg.scan_keys(str(path)))
    finally:
        pgp_keys.stop_agent(home)
        shutil.rmtree(home, ignore_errors=True)


def _pgp_expiry(found: dict[str, str]) -> datetime | None:
    expires = found.get("expires") or ""
    return datetime.fromtimestamp(int(expires), UTC) if expires.isdigit() else None


def _pgp_status(found: dict[str, str], now: datetime) -> str:
    """Why gpg would refuse the key ("" when usable): validity "r" revoked, "e" expired."""
    if found.get("trust") == "r":
        return "revoked"
    expires = _pgp_expiry(found)
    if found.get("trust") == "e" or (expires is not None and expires <= now):
        return "expired"
    return ""
