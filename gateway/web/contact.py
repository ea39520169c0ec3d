"""Checking the contact details a citizen types on the settings page.

Both return the value as it is stored (or None for an empty field) and raise ValueError when
it cannot be used; the error never quotes the value, since it is personal data.
"""

from __future__ import annotations

import re

MAX_EMAIL_LENGTH = 254  # RFC 5321's limit on a forward path

# Deliberately loose: the address is proven by mail reaching it, not by a pattern. This only
# refuses what cannot be an address at all (no @, spaces, no dot in the domain).
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+", re.ASCII)
# Finnish mobile numbers: 04x and 050 (national form), or the same after +358 / 00358, with
# 5 to 8 further digits. Spaces, hyphens and parentheses are the usual ways to group them.
_MOBILE = re.compile(r"(?:\+358|00358|0)((?:4\d|50)\d{5,8})")
_GROUPING = re.compile(r"[\s\-()]")


def normalise_email(text: str) -> str | None:
    value = text.strip()
    if not value:
        return None
    if len(value) > MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(value):
        raise ValueError("not an email address")
    return value


def normalise_mobile(text: str) -> str | None:
    """A Finnish mobile number in international form (+358401234567)."""
    value = _GROUPING.sub("", text)
    if not value:
        return None
    match = _MOBILE.fullmatch(value)
    if match is None:
        raise ValueError("not a Finnish mobile number")
    return "+358" + match.group(1)
