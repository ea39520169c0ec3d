"""The gateway's own OpenPGP keyring: its key, the organisations' keys, and what state they are in.

Used by `init` (create the keyring and key), `keys show pgp`, and at start (`gateway.material`:
import the organisations' key files, trust the configured keys explicitly by setting their
ownertrust, and report keys that are missing, expired or revoked). Nothing here runs per message.
"""

from __future__ import annotations

import email.utils
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from crypto._pgp_gpg import GpgKeyring

# gpg-agent listens on sockets in the keyring directory unless /run/user/UID exists; a Unix
# socket path holds at most 107 bytes, and the longest name gpg uses is this one.
_LONGEST_SOCKET = "/S.gpg-agent.browser"
_SOCKET_PATH_LIMIT = 107
_ESCAPE = re.compile(rb"\\x([0-9a-fA-F]{2})")


class KeyringError(Exception):
    """The keyring cannot be used as configured; the text names the reason, never key material."""


@dataclass(frozen=True)
class KeyState:
    """A configured key as the keyring sees it now."""

    status: str  # "valid", "missing", "expired" or "revoked"
    addresses: tuple[str, ...] = ()  # e-mail addresses of its valid user ids


def gpg_available() -> bool:
    return shutil.which("gpg") is not None


def ensure_home(home: Path) -> bool:
    """Create the keyring directory (mode 0700) if missing; True when it was created."""
    created = not home.exists()
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    if home.stat().st_mode & 0o077:
        raise KeyringError(f"{home} must be private to the gateway (mode 0700)")
    socket_dir = _gpgconf("--homedir", str(home), "--list-dirs", "socketdir").strip()
    if len((socket_dir + _LONGEST_SOCKET).encode()) > _SOCKET_PATH_LIMIT:
        raise KeyringError(
            f"{home} is too long a path for gpg-agent's sockets; choose a shorter directory"
        )
    return created


def secret_fingerprints(home: Path) -> tuple[str, ...]:
    """Primary fingerprints of the keys the gateway holds secret (decrypts with), oldest first."""
    listing = GpgKeyring(home, maintenance=True).gpg.list_keys(secret=True)
    return tuple(key["fingerprint"] for key in listing)


def generate_key(home: Path, name: str, address: str) -> str:
    """A new ed25519 signing key with a cv25519 encryption subkey, without a passphrase (the
    directory is protected like the other key files); returns its fingerprint."""
    gpg = GpgKeyring(home, maintenance=True).gpg
    parameters = gpg.gen_key_input(
        key_type="EDDSA",
        key_curve="ed25519",
        key_usage="sign,cert",
        subkey_type="ECDH",
        subkey_curve="cv25519",
        subkey_usage="encrypt",
        name_real=name,
        name_email=address,
        expire_date=0,
        no_protection=True,
    )
    result = gpg.gen_key(parameters)
    if not result.fingerprint:
        raise KeyringError(f"gpg could not create the gateway's key in {home}")
    return str(result.fingerprint)


def public_key(home: Path) -> str:
    """The gateway's current public key (the newest secret key's), ASCII-armoured."""
    fingerprints = secret_fingerprints(home)
    if not fingerprints:
        raise KeyringError(f"{home} holds no secret key (run `asiointitili init`)")
    return str(GpgKeyring(home, maintenance=True).gpg.export_keys(fingerprints[-1]))


def import_keys(home: Path, files: Iterable[Path]) -> None:
    """Import public keys; unchanged keys stay as they are, revocations and updates apply.

    A file holding a secret key is refused before anything is imported: the gateway would
    decrypt with it, and take it for its own key.
    """
    gpg = GpgKeyring(home, maintenance=True).gpg
    for path in files:
        data = path.read_bytes()
        if any(key["type"] == "sec" for key in gpg.scan_keys_mem(data)):
            raise KeyringError(f"{path} holds a secret key; give the public key only")
        gpg.import_keys(data)


def trust(home: Path, fingerprints: Sequence[str]) -> None:
    """Give the configured keys ultimate ownertrust: the gateway vouches for them itself."""
    if fingerprints:
        GpgKeyring(home, maintenance=True).gpg.trust_keys(list(fingerprints), "TRUST_ULTIMATE")


def key_states(home: Path, fingerprints: Iterable[str]) -> dict[str, KeyState]:
    """Each primary fingerprint's state now. Listing also brings gpg's trust database up to
    date, which the workers (who never write it) rely on."""
    listing = GpgKeyring(home, maintenance=True).gpg.list_keys()
    found = _parse_listing(listing.data)
    return {f: found.get(f, KeyState("missing")) for f in fingerprints}


def _parse_listing(data: bytes) -> dict[str, KeyState]:
    """`--with-colons` records: pub (validity in field 2), its fpr, uids, then subkeys."""
    states: dict[str, KeyState] = {}
    validity, fingerprint, addresses = "", "", list[str]()
    for line in [*data.splitlines(), b"pub:end"]:
        fields = line.split(b":")
        kind = fields[0]
        if kind == b"pub":
            if fingerprint and fingerprint not in states:
                status = {"r": "revoked", "e": "expired"}.get(validity, "valid")
                states[fingerprint] = KeyState(status, tuple(dict.fromkeys(addresses)))
            validity, fingerprint, addresses = fields[1].decode(), "", []
        elif kind == b"fpr" and not fingerprint:
            fingerprint = fields[9].decode().upper()  # the first fpr after pub is the primary's
        elif kind == b"uid" and fields[1] in (b"u", b"f"):
            uid = _ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), fields[9])
            address = email.utils.parseaddr(uid.decode("utf-8", "replace"))[1].lower()
            if "@" in address:
                addresses.append(address)
    return states


def stop_agent(home: Path) -> None:
    """Stop the gpg-agent gpg started for this keyring (it would outlive a command otherwise)."""
    if home.is_dir() and shutil.which("gpgconf"):
        _gpgconf("--homedir", str(home), "--kill", "gpg-agent")


def _gpgconf(*args: str) -> str:
    program = shutil.which("gpgconf")
    if program is None:
        raise KeyringError("gpgconf (GnuPG) is not installed")
    done = subprocess.run(  # noqa: S603 - our own arguments, no shell
        [program, *args], capture_output=True, check=False, env={**os.environ, "LC_ALL": "C"}
    )
    if done.returncode != 0:
        raise KeyringError(f"gpgconf {args[-1]} failed (exit status {done.returncode})")
    return done.stdout.decode("utf-8", "replace")
