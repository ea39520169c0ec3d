"""Valid personal identity codes for tests, computed rather than copied."""

from __future__ import annotations

_CHECK = "0123456789ABCDEFHJKLMNPRSTUVWXY"


def make_hetu(ddmmyy: str, sign: str, individual: int) -> str:
    number = f"{individual:03d}"
    return f"{ddmmyy}{sign}{number}{_CHECK[int(ddmmyy + number) % 31]}"
