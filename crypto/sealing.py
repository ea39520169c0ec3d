"""Sealing at rest: AES-256-GCM envelope encryption with a versioned master key ring.

Every citizen has a random 32-byte data key (DEK). Content is sealed under the DEK with
`seal`/`open_sealed`; the DEK itself is stored wrapped by the current master key
(`MasterKeyRing.wrap_data_key`). Rotating the master key means adding a new version to the
key file and re-wrapping the DEKs; sealed content is never re-encrypted.

Associated data binds each ciphertext to where it lives (`field_aad(table, row_id, field)`),
so a ciphertext copied into another row or column fails to open.

Blob layouts (all integers big-endian):
    sealed content:  0x01 | nonce (12) | ciphertext + tag (16)
    wrapped DEK:     0x01 | master key version (4) | nonce (12) | ciphertext + tag (16)

Key file format (`MasterKeyRing.from_file`): one key per line, `v<N>:<base64 of 32 bytes>`;
blank lines and lines starting with `#` are ignored; the last key line is the current one.

Errors: `SealingError` for anything that cannot be sealed or opened; its text never carries
key material or plaintext.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import struct
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "KEY_SIZE",
    "MasterKeyRing",
    "SealingError",
    "field_aad",
    "open_sealed",
    "seal",
]

KEY_SIZE = 32
_NONCE_SIZE = 12
_TAG_SIZE = 16
_FORMAT_V1 = 1
_SEALED_HEADER = 1 + _NONCE_SIZE
_WRAPPED_HEADER = 1 + 4 + _NONCE_SIZE
_KEY_LINE = re.compile(r"v(?P<version>[0-9]{1,9}):(?P<key>[A-Za-z0-9+/=]+)")


class SealingError(Exception):
    """A value could not be sealed or opened (wrong key, wrong row, corrupt or unknown format)."""


def field_aad(table: str, row_id: str, field: str) -> bytes:
    """The associated data that binds a ciphertext to one field of one row."""
    return f"{table}/{row_id}/{field}".encode()


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) != KEY_SIZE:
        raise SealingError("a sealing key must be exactly 32 bytes")


def seal(dek: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt `plaintext` under `dek` with a fresh random nonce, bound to `aad`."""
    _check_key(dek)
    nonce = secrets.token_bytes(_NONCE_SIZE)
    return bytes((_FORMAT_V1,)) + nonce + AESGCM(dek).encrypt(nonce, plaintext, aad)


def open_sealed(dek: bytes, blob: bytes, aad: bytes) -> bytes:
    """Decrypt a blob made by `seal`; any mismatch of key, blob or `aad` raises SealingError."""
    _check_key(dek)
    if len(blob) < _SEALED_HEADER + _TAG_SIZE or blob[0] != _FORMAT_V1:
        raise SealingError("sealed value has an unknown format or is truncated")
    try:
        return AESGCM(dek).decrypt(blob[1:_SEALED_HEADER], blob[_SEALED_HEADER:], aad)
    except InvalidTag as exc:
        raise SealingError("sealed value failed authentication") from exc


class MasterKeyRing:
    """Versioned master keys that wrap data keys; new wraps always use the current version."""

    def __init__(self, keys: Mapping[int, bytes], current: int) -> None:
        if current not in keys:
            raise SealingError("the current master key version is not in the key ring")
        for version, key in keys.items():
            if not 0 < version < 2**32:
                raise SealingError("master key versions must be positive 32-bit integers")
            _check_key(key)
        # Copy so that the caller's mapping cannot change the ring behind our back.
        self._keys = dict(keys)
        self._current = current

    @property
    def current_version(self) -> int:
        return self._current

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(sorted(self._keys))

    def __repr__(self) -> str:
        # Never the key bytes: a ring may end up in a log line or a traceback.
        return f"MasterKeyRing(versions={list(self.versions)}, current={self._current})"

    @classmethod
    def from_text(cls, text: str) -> MasterKeyRing:
        """Parse the key file format described in the module docstring."""
        keys: dict[int, bytes] = {}
        current: int | None = None
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            match = _KEY_LINE.fullmatch(line)
            if match is None:
                raise SealingError(f"master key line {number} is not of the form v<N>:<base64>")
            version = int(match["version"])
            if version in keys:
                raise SealingError(f"master key version {version} appears twice")
            try:
                key = base64.b64decode(match["key"], validate=True)
            except binascii.Error as exc:
                raise SealingError(f"master key line {number} is not valid base64") from exc
            if len(key) != KEY_SIZE:
                raise SealingError(f"master key line {number} does not decode to 32 bytes")
            keys[version] = key
            current = version
        if current is None:
            raise SealingError("the master key file holds no keys")
        return cls(keys, current)

    @classmethod
    def from_file(cls, path: str | Path) -> MasterKeyRing:
        try:
            text = Path(path).read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise SealingError(f"cannot read master key file {path}") from exc
        return cls.from_text(text)

    @staticmethod
    def generate_file_text(version: int = 1) -> str:
        """A new key file holding one fresh random key; append its key line to rotate."""
        key = base64.b64encode(secrets.token_bytes(KEY_SIZE)).decode("ascii")
        return (
            "# Asiointitili master keys: one v<N>:<base64> per line, the last is current.\n"
            "# Keep every old version until all data keys are re-wrapped.\n"
            f"v{version}:{key}\n"
        )

    @staticmethod
    def new_data_key() -> bytes:
        return secrets.token_bytes(KEY_SIZE)

    def wrap_data_key(self, dek: bytes, aad: bytes) -> bytes:
        """Encrypt a data key under the current master key version."""
        _check_key(dek)
        nonce = secrets.token_bytes(_NONCE_SIZE)
        sealed = AESGCM(self._keys[self._current]).encrypt(nonce, dek, aad)
        return struct.pack(">BI", _FORMAT_V1, self._current) + nonce + sealed

    def wrapped_version(self, blob: bytes) -> int:
        """The master key version a wrapped data key was made with (to find keys to re-wrap)."""
        if len(blob) < _WRAPPED_HEADER or blob[0] != _FORMAT_V1:
            raise SealingError("wrapped data key has an unknown format or is truncated")
        version: int = struct.unpack(">I", blob[1:5])[0]
        return version

    def unwrap_data_key(self, blob: bytes, aad: bytes) -> bytes:
        """Decrypt a wrapped data key with whichever known master key version wrapped it."""
        version = self.wrapped_version(blob)
        key = self._keys.get(version)
        if key is None:
            raise SealingError(f"wrapped data key uses unknown master key version {version}")
        try:
            dek = AESGCM(key).decrypt(blob[5:_WRAPPED_HEADER], blob[_WRAPPED_HEADER:], aad)
        except InvalidTag as exc:
            raise SealingError("wrapped data key failed authentication") from exc
        if len(dek) != KEY_SIZE:
            raise SealingError("wrapped data key has the wrong length")
        return dek
