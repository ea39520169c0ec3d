"""Salted password hashes for SMTP AUTH users, in the PHC string format with scrypt:

    $scrypt$ln=14,r=8,p=1$<salt>$<key>

`ln` is log2 of scrypt's cost N; salt (16 random bytes) and key (32 bytes) are standard base64
without padding. `asiointitili hash-password` makes one; gateway.toml keeps only these strings.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

_LN, _R, _P = 14, 8, 1  # 16 MiB and some 50 ms per check: costly to guess, cheap enough to serve
_FORMAT = re.compile(
    r"\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)"
)
# Bounds on what a configuration may ask for, so a typo cannot make every AUTH take minutes.
_MAX_LN, _MAX_R, _MAX_P = 20, 32, 16


@dataclass(frozen=True)
class _Parsed:
    ln: int
    r: int
    p: int
    salt: bytes
    key: bytes


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _parse(text: str) -> _Parsed:
    match = _FORMAT.fullmatch(text)
    if not match:
        raise ValueError("is not a password hash of the form $scrypt$ln=14,r=8,p=1$salt$key")
    ln, r, p = (int(match.group(i)) for i in (1, 2, 3))
    if not (10 <= ln <= _MAX_LN and 1 <= r <= _MAX_R and 1 <= p <= _MAX_P):
        raise ValueError(
            f"scrypt parameters out of range (ln 10-{_MAX_LN}, r 1-{_MAX_R}, p 1-{_MAX_P})"
        )
    salt, key = _unb64(match.group(4)), _unb64(match.group(5))
    if len(salt) < 16 or len(key) < 32:
        raise ValueError("salt must be at least 16 bytes and key at least 32 bytes")
    return _Parsed(ln, r, p, salt, key)


def check_hash(text: str) -> str:
    """`text` when it is a usable hash; ValueError saying what is wrong otherwise."""
    _parse(text)
    return text


def _scrypt(password: bytes, salt: bytes, ln: int, r: int, p: int, length: int) -> bytes:
    n = 1 << ln
    return hashlib.scrypt(
        password, salt=salt, n=n, r=r, p=p, dklen=length, maxmem=128 * r * n * p + (1 << 24)
    )


def hash_password(password: bytes) -> str:
    salt = secrets.token_bytes(16)
    key = _scrypt(password, salt, _LN, _R, _P, 32)
    return f"$scrypt$ln={_LN},r={_R},p={_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: bytes, hashed: str) -> bool:
    """Whether `password` matches; compared in constant time. Blocking (tens of ms)."""
    parsed = _parse(hashed)
    key = _scrypt(password, parsed.salt, parsed.ln, parsed.r, parsed.p, len(parsed.key))
    return hmac.compare_digest(key, parsed.key)


# Checked for unknown users too, so that the time taken does not tell whether a user exists.
DUMMY_HASH = f"$scrypt$ln={_LN},r={_R},p={_P}${_b64(bytes(16))}${_b64(bytes(32))}"
