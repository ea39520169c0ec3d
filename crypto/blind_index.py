"""Keyed blind index: look values up by HMAC-SHA256 instead of storing them in the clear.

`BlindIndex(key)("010101-123N")` gives a stable hex digest for equality look-ups (HETU to
citizen, de-duplication of deliveries). Each purpose gets its own sub-key derived from the
master index key, so a digest made for one purpose ("hetu") never matches one made for
another ("dedup") even for the same input.

Key file format: one line holding the base64 of 32 random bytes; blank lines and lines
starting with `#` are ignored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from pathlib import Path

__all__ = ["BlindIndex", "BlindIndexError"]

_KEY_SIZE = 32
_DERIVATION_LABEL = b"asiointitili blind index v1\x00"


class BlindIndexError(Exception):
    """The index key is missing, unreadable or malformed (the text never shows the key)."""


class BlindIndex:
    """HMAC-SHA256 digests with domain separation per purpose."""

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != _KEY_SIZE:
            raise BlindIndexError("a blind index key must be exactly 32 bytes")
        self._key = key
        # Derived sub-keys, memoised; two threads racing compute the same value, so no lock.
        self._subkeys: dict[str, bytes] = {}

    def __repr__(self) -> str:
        return "BlindIndex(key=<hidden>)"

    def _subkey(self, purpose: str) -> bytes:
        subkey = self._subkeys.get(purpose)
        if subkey is None:
            if not purpose or "\x00" in purpose:
                raise BlindIndexError("a blind index purpose must be a non-empty name")
            subkey = hmac.digest(
                self._key, _DERIVATION_LABEL + purpose.encode("utf-8"), hashlib.sha256
            )
            self._subkeys[purpose] = subkey
        return subkey

    def __call__(self, value: str, purpose: str = "hetu") -> str:
        return hmac.new(self._subkey(purpose), value.encode("utf-8"), hashlib.sha256).hexdigest()

    @classmethod
    def from_text(cls, text: str) -> BlindIndex:
        lines = [
            line.strip()
            for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")
        ]
        if len(lines) != 1:
            raise BlindIndexError("the blind index key file must hold exactly one key line")
        try:
            key = base64.b64decode(lines[0], validate=True)
        except binascii.Error as exc:
            raise BlindIndexError("the blind index key is not valid base64") from exc
        return cls(key)

    @classmethod
    def from_file(cls, path: str | Path) -> BlindIndex:
        try:
            text = Path(path).read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise BlindIndexError(f"cannot read blind index key file {path}") from exc
        return cls.from_text(text)

    @staticmethod
    def generate_file_text() -> str:
        key = base64.b64encode(secrets.token_bytes(_KEY_SIZE)).decode("ascii")
        return f"# Asiointitili blind index key (base64 of 32 bytes); never change it.\n{key}\n"
