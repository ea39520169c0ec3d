"""Outgoing OpenPGP: a MIME entity signed and encrypted in one pass, as RFC 3156 PGP/MIME.

The gateway signs with its own key and encrypts to the organisation's configured key, both
from the gateway's keyring; the organisation's key must be valid there (the gateway gives the
configured keys ownertrust at start), never `always_trust`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from pathlib import Path

from crypto._pgp_gpg import GpgKeyring

__all__ = ["PgpOutError", "sign_and_encrypt"]


class PgpOutError(Exception):
    """gpg could not sign or encrypt (names the gpg status, never the content)."""


def sign_and_encrypt(
    entity: bytes, home: Path, *, signer: str, recipients: Sequence[str]
) -> bytes:
    """The complete `multipart/encrypted` entity (CRLF) holding `entity` signed by `signer`
    and encrypted to `recipients` (fingerprints)."""
    if not recipients:
        raise PgpOutError("no OpenPGP recipient")
    result = GpgKeyring(home).gpg.encrypt(
        entity, list(recipients), sign=signer, armor=True, extra_args=["--digest-algo", "SHA256"]
    )
    if not result.ok:
        raise PgpOutError(f"gpg could not sign and encrypt ({result.status or 'no status'})")
    armoured = bytes(result.data).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    # The armour holds only base64 and fixed lines, so a random boundary cannot occur in it.
    boundary = f"=_pgp_{secrets.token_hex(16)}".encode("ascii")
    return b"".join(
        (
            b'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted";\r\n'
            b' boundary="' + boundary + b'"\r\n\r\n'
            b"This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\r\n",
            b"--" + boundary + b"\r\n",
            b"Content-Type: application/pgp-encrypted\r\n"
            b"Content-Description: PGP/MIME version identification\r\n\r\nVersion: 1\r\n\r\n",
            b"--" + boundary + b"\r\n",
            b'Content-Type: application/octet-stream; name="encrypted.asc"\r\n'
            b'Content-Disposition: inline; filename="encrypted.asc"\r\n\r\n',
            armoured.rstrip(b"\r\n") + b"\r\n",
            b"--" + boundary + b"--\r\n",
        )
    )
