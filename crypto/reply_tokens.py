"""Message-IDs that carry a reply token: `<r.<token>@<gateway domain>>`.

A citizen's reply leaves under such a Message-ID. When the clerk presses Reply, the answer comes
back with it in In-Reply-To/References, and the token says which thread it belongs to, with no
HETU typed. The token holds the citizen's message row id and an expiry; its MAC (the blind
index's keyed HMAC under its own purpose) also covers the citizen, the thread and the
organisation, which are looked up by row id and never travel in the clear. So a token cannot be
guessed, forged, moved to another thread, or used by another organisation, and it runs out.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["ReplyTokens", "ThreadRef", "TokenClaim"]

_PREFIX = "r."
_ROW_ID = 16  # bytes of a uuid4 hex row id
_EXPIRY = struct.Struct(">I")  # hours since the epoch
_MAC = 16
_TOKEN = re.compile(r"r\.([a-z2-7]{58})", re.ASCII)

Mac = Callable[[str], str]
"""Keyed MAC of a text, hex (e.g. `lambda v: blind_index(v, "reply-token")`)."""


@dataclass(frozen=True)
class ThreadRef:
    """What a token is bound to: the citizen's outgoing message and its thread."""

    message_row_id: str
    citizen_id: str
    thread_id: str
    organisation_id: str


@dataclass(frozen=True)
class TokenClaim:
    """A token as found in a header: what it claims, not yet checked against the store."""

    message_row_id: str
    expires_at: datetime
    mac: bytes


class ReplyTokens:
    def __init__(self, mac: Mac, domain: str) -> None:
        self._mac = mac
        self._domain = domain.lower()

    def message_id(self, ref: ThreadRef, expires_at: datetime) -> str:
        """The complete Message-ID header value (with angle brackets) for this reply."""
        hours = int(expires_at.timestamp() // 3600)
        row = bytes.fromhex(ref.message_row_id)
        if len(row) != _ROW_ID:
            raise ValueError("a message row id is 32 hex digits")
        raw = row + _EXPIRY.pack(hours) + self._digest(ref, hours)
        token = base64.b32encode(raw).decode("ascii").rstrip("=").lower()
        return f"<{_PREFIX}{token}@{self._domain}>"

    def claims(self, message_ids: tuple[str, ...]) -> list[TokenClaim]:
        """The tokens among these Message-IDs (without brackets) that look like ours, in order.

        A Message-ID in our domain with our prefix that does not decode is returned as a claim
        that can never verify, so a mangled token is refused rather than silently ignored.
        """
        claims: list[TokenClaim] = []
        for value in message_ids:
            local, at, domain = value.rpartition("@")
            if not at or domain.lower() != self._domain or not local.lower().startswith(_PREFIX):
                continue
            claims.append(self._decode(local.lower()))
        return claims

    def verify(self, claim: TokenClaim, ref: ThreadRef) -> bool:
        """Whether the claim's MAC is right for the row it names (expiry is checked apart)."""
        hours = int(claim.expires_at.timestamp() // 3600)
        return hmac.compare_digest(claim.mac, self._digest(ref, hours))

    def _digest(self, ref: ThreadRef, hours: int) -> bytes:
        text = "|".join(
            (ref.message_row_id, str(hours), ref.citizen_id, ref.thread_id, ref.organisation_id)
        )
        return bytes.fromhex(self._mac(text))[:_MAC]

    @staticmethod
    def _decode(local: str) -> TokenClaim:
        match = _TOKEN.fullmatch(local)
        try:
            raw = base64.b32decode(match.group(1).upper() + "======") if match else b""
        except binascii.Error:
            raw = b""
        if len(raw) != _ROW_ID + _EXPIRY.size + _MAC:
            return TokenClaim("0" * 32, datetime.fromtimestamp(0, UTC), b"")
        (hours,) = _EXPIRY.unpack_from(raw, _ROW_ID)
        return TokenClaim(
            message_row_id=raw[:_ROW_ID].hex(),
            expires_at=datetime.fromtimestamp(0, UTC) + timedelta(hours=hours),
            mac=raw[_ROW_ID + _EXPIRY.size :],
        )
