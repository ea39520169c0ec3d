"""The clerk's side of OpenPGP in tests: keys and messages made by the real `gpg` tool.

The clerk's keyring is a temporary GNUPGHOME of its own; keys the clerk encrypts to are given
ownertrust there, as a clerk would certify them. Messages follow RFC 3156 (PGP/MIME) or the
inline form Thunderbird and Enigmail send.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from crypto.pgp_keys import stop_agent


def require_gpg() -> None:
    """Skip without gpg, except in CI (CI=true), where a missing gpg is a failure."""
    if shutil.which("gpg") and shutil.which("gpgconf"):
        return
    if os.environ.get("CI") == "true":
        pytest.fail("gpg is required in CI (apt-get install gnupg)")
    pytest.skip("gpg is not installed")


def crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class Gpg:
    """A GNUPGHOME and the gpg command line on it."""

    def __init__(self, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        home.chmod(0o700)
        self.home = home

    def run(self, *args: str, stdin: bytes = b"", faked_time: str | None = None) -> bytes:
        command = ["gpg", "--homedir", str(self.home), "--batch", "--yes", "--no-options",
                   "--pinentry-mode", "loopback", "--passphrase", ""]
        if faked_time:
            command += ["--faked-system-time", faked_time]
        done = subprocess.run([*command, *args], input=stdin, capture_output=True, check=False)
        if done.returncode != 0:
            raise AssertionError(f"gpg {args[:2]} failed: {done.stderr.decode(errors='replace')}")
        return done.stdout

    def stop(self) -> None:
        stop_agent(self.home)

    # Keys

    def new_key(
        self, uid: str, *, signing_subkey: bool = False, expire: str = "never",
        faked_time: str | None = None,
    ) -> str:
        """An ed25519 key for `uid` with a cv25519 encryption subkey; returns its fingerprint.
        With `signing_subkey` the primary only certifies and an ed25519 subkey signs."""
        usage = "cert" if signing_subkey else "sign,cert"
        status = self.run("--status-fd", "1", "--quick-generate-key", uid, "ed25519", usage,
                          expire, faked_time=faked_time)
        match = re.search(rb"KEY_CREATED [BP] ([0-9A-F]{40})", status)
        assert match, status
        fingerprint = match.group(1).decode()
        self.run("--quick-add-key", fingerprint, "cv25519", "encr", "never", faked_time=faked_time)
        if signing_subkey:
            self.add_signing_subkey(fingerprint, faked_time=faked_time)
        return fingerprint

    def add_signing_subkey(
        self, fingerprint: str, *, expire: str = "never", faked_time: str | None = None
    ) -> str:
        self.run("--quick-add-key", fingerprint, "ed25519", "sign", expire, faked_time=faked_time)
        return self.subkeys(fingerprint)[-1]

    def subkeys(self, fingerprint: str) -> list[str]:
        listing = self.run("--with-colons", "--list-keys", fingerprint).decode().splitlines()
        found, in_subkey = [], False
        for line in listing:
            fields = line.split(":")
            if fields[0] in ("pub", "sub"):
                in_subkey = fields[0] == "sub"
            elif fields[0] == "fpr" and in_subkey:
                found.append(fields[9])
        return found

    def revoke_subkey(self, fingerprint: str, index: int) -> None:
        """Revoke the index-th subkey (1 = the first) through --edit-key's prompts."""
        commands = f"key {index}\nrevkey\ny\n0\n\ny\nsave\n".encode()
        self.run("--command-fd", "0", "--edit-key", fingerprint, stdin=commands)

    def revoke(self, fingerprint: str) -> None:
        """Import the revocation certificate gpg made with the key."""
        certificate = (self.home / "openpgp-revocs.d" / f"{fingerprint}.rev").read_bytes()
        self.run("--import", stdin=certificate.replace(b":-----BEGIN", b"-----BEGIN"))

    def export(self, *fingerprints: str) -> bytes:
        return self.run("--armor", "--export", *fingerprints)

    def export_secret(self, fingerprint: str) -> bytes:
        return self.run("--armor", "--export-secret-keys", fingerprint)

    def import_key(self, data: bytes, *, trusted: Sequence[str] = ()) -> None:
        self.run("--import", stdin=data)
        if trusted:
            self.run("--import-ownertrust", stdin="".join(f"{f}:6:\n" for f in trusted).encode())

    # Messages

    def sign_encrypt(
        self, data: bytes, signer: str | None, recipient: str, *, armor: bool = True,
        faked_time: str | None = None,
    ) -> bytes:
        args = ["--armor"] if armor else []
        if signer:
            args += ["--local-user", signer, "--sign", "--digest-algo", "SHA256"]
        return self.run(*args, "--recipient", recipient, "--encrypt", stdin=data,
                        faked_time=faked_time)

    def detached_signature(
        self, data: bytes, signer: str, *, faked_time: str | None = None
    ) -> bytes:
        return self.run("--local-user", signer, "--digest-algo", "SHA256", "--armor",
                        "--detach-sign", stdin=data, faked_time=faked_time)


def _boundary() -> str:
    return f"------------{secrets.token_hex(12)}"


def encrypted_entity(armoured: bytes) -> bytes:
    """RFC 3156 multipart/encrypted around ASCII-armoured OpenPGP data."""
    b = _boundary()
    return crlf(
        f'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted";\n'
        f' boundary="{b}"\n\nThis is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\n'
        f"--{b}\nContent-Type: application/pgp-encrypted\n"
        f"Content-Description: PGP/MIME version identification\n\nVersion: 1\n\n"
        f'--{b}\nContent-Type: application/octet-stream; name="encrypted.asc"\n'
        f'Content-Disposition: inline; filename="encrypted.asc"\n\n'.encode()
        + armoured
        + f"\n--{b}--\n".encode()
    )


def signed_entity(gpg: Gpg, entity: bytes, signer: str, *, faked_time: str | None = None) -> bytes:
    """RFC 3156 multipart/signed: the entity exactly as signed, then its detached signature."""
    entity = crlf(entity)
    signature = gpg.detached_signature(entity, signer, faked_time=faked_time)
    b = _boundary()
    return (
        crlf(
            f'Content-Type: multipart/signed; micalg=pgp-sha256;\n'
            f' protocol="application/pgp-signature"; boundary="{b}"\n\n'
            f"This is an OpenPGP/MIME signed message (RFC 4880 and 3156)\n--{b}\n".encode()
        )
        + entity
        + crlf(
            f'\n--{b}\nContent-Type: application/pgp-signature; name="OpenPGP_signature.asc"\n'
            f'Content-Disposition: attachment; filename="OpenPGP_signature.asc"\n\n'.encode()
            + signature
            + f"\n--{b}--\n".encode()
        )
    )


def combined(gpg: Gpg, entity: bytes, signer: str | None, recipient: str) -> bytes:
    """Signed and encrypted in one pass (RFC 3156 section 6.2), or encrypted only."""
    return encrypted_entity(gpg.sign_encrypt(crlf(entity), signer, recipient))


def sign_then_encrypt(gpg: Gpg, entity: bytes, signer: str, recipient: str) -> bytes:
    """multipart/signed inside multipart/encrypted (RFC 3156 section 6.1, Thunderbird's way)."""
    return encrypted_entity(gpg.sign_encrypt(signed_entity(gpg, entity, signer), None, recipient))


def inline_entity(
    gpg: Gpg, text: str, attachments: Sequence[tuple[str, bytes]], signer: str, recipient: str
) -> bytes:
    """Inline PGP as Enigmail sent it: an armoured text body and binary `.pgp` attachments."""
    body = gpg.sign_encrypt(text.encode("utf-8"), signer, recipient)
    b = _boundary()
    parts = [
        f"--{b}\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 7bit\n\n"
        .encode() + body + b"\n"
    ]
    for name, data in attachments:
        encrypted = gpg.sign_encrypt(data, signer, recipient, armor=False)
        parts.append(
            f'--{b}\nContent-Type: application/octet-stream; name="{name}.pgp"\n'
            f'Content-Disposition: attachment; filename="{name}.pgp"\n'
            f"Content-Transfer-Encoding: base64\n\n".encode()
            + base64.encodebytes(encrypted)
        )
    return crlf(
        f'Content-Type: multipart/mixed; boundary="{b}"\n\n'.encode()
        + b"".join(parts)
        + f"--{b}--\n".encode()
    )


def exchange_mangled(message: bytes) -> bytes:
    """What Exchange makes of a PGP/MIME encrypted message: multipart/mixed with an empty text
    part, the version part as a base64 attachment, and the data as encrypted.asc."""
    head, _, body = crlf(message).partition(b"\r\n\r\n")
    armoured = body[body.index(b"-----BEGIN PGP MESSAGE-----") :]
    armoured = armoured[: armoured.index(b"-----END PGP MESSAGE-----") + 25] + b"\r\n"
    kept = [line for line in re.split(rb"\r\n(?![ \t])", head)
            if not line.lower().startswith((b"content-type:", b"mime-version:"))]
    b = f"_003_{secrets.token_hex(16)}_"
    return crlf(
        b"\n".join(kept)
        + f'\nMIME-Version: 1.0\nContent-Type: multipart/mixed;\n\tboundary="{b}"\n\n'
        f'--{b}\nContent-Type: text/plain; charset="us-ascii"\n'
        f"Content-Transfer-Encoding: quoted-printable\n\n\n"
        f'--{b}\nContent-Type: application/pgp-encrypted; name="PGPMIME version identification"\n'
        f'Content-Disposition: attachment; filename="PGPMIME version identification"\n'
        f"Content-Transfer-Encoding: base64\n\nVmVyc2lvbjogMQ0K\n\n"
        f'--{b}\nContent-Type: application/octet-stream; name="encrypted.asc"\n'
        f'Content-Disposition: attachment; filename="encrypted.asc"\n'
        f"Content-Transfer-Encoding: base64\n\n".encode()
        + base64.encodebytes(armoured)
        + f"\n--{b}--\n".encode()
    )
