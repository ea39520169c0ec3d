"""Per-mail return paths (VERP): `bounce+<queue id>.<mac>@<gateway domain>`.

Every outgoing mail gets its own envelope sender, so a bounce names the queue row it is about
without our parsing the returned message. The MAC (the blind index's keyed HMAC under its own
purpose) makes the address unguessable and unforgeable: nobody can make us record a bounce for a
row they were not sent.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable

__all__ = ["BOUNCE_PREFIX", "parse_return_path", "return_path"]

BOUNCE_PREFIX = "bounce+"
_MAC_LENGTH = 20  # hex digits: 80 bits, far beyond guessing over SMTP
_LOCAL = re.compile(rf"bounce\+([0-9a-f]{{32}})\.([0-9a-f]{{{_MAC_LENGTH}}})", re.ASCII)

Mac = Callable[[str], str]
"""Keyed MAC of a queue id, hex (e.g. `lambda v: blind_index(v, "bounce")`)."""


def return_path(queue_id: str, *, mac: Mac, domain: str) -> str:
    return f"{BOUNCE_PREFIX}{queue_id}.{mac(queue_id)[:_MAC_LENGTH]}@{domain}"


def parse_return_path(local_part: str, *, mac: Mac) -> str | None:
    """The queue id a bounce address stands for, or None if it is not one we made."""
    match = _LOCAL.fullmatch(local_part.lower())
    if match is None:
        return None
    queue_id, given = match.groups()
    if not hmac.compare_digest(given, mac(queue_id)[:_MAC_LENGTH]):
        return None
    return queue_id
