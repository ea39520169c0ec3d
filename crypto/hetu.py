"""Finnish personal identity codes (henkilötunnus, HETU): parsing, validation and masking.

A HETU is ``DDMMYYCZZZQ``: birth date, century sign, individual number and a check character.
The 2023 reform added century signs ``Y X W V U`` (1900s) and ``B C D E F`` (2000s) beside the
old ``-`` and ``A``; ``+`` marks the 1800s. Individual numbers 900-999 are temporary codes that
the national test environment uses for test identities; production has no accounts for them.
"""

from __future__ import annotations

import datetime as dt
import re

_CHECK_CHARS = "0123456789ABCDEFHJKLMNPRSTUVWXY"
_CENTURIES = {
    "+": 1800,
    "-": 1900,
    "Y": 1900,
    "X": 1900,
    "W": 1900,
    "V": 1900,
    "U": 1900,
    "A": 2000,
    "B": 2000,
    "C": 2000,
    "D": 2000,
    "E": 2000,
    "F": 2000,
}
_SHAPE = re.compile(r"(\d{2})(\d{2})(\d{2})([-+A-FU-Y])(\d{3})([0-9A-Y])")


class InvalidHetu(ValueError):
    """The text is not a valid HETU. The message never repeats the code itself."""


def parse_hetu(text: str, *, allow_temporary: bool = False) -> str:
    """Return the normalised (upper-case) HETU, or raise InvalidHetu saying what is wrong."""
    code = text.strip().upper()
    match = _SHAPE.fullmatch(code)
    if match is None:
        raise InvalidHetu("not of the form DDMMYYCZZZQ with a known century sign")
    day, month, year, sign, individual, check = match.groups()
    try:
        dt.date(_CENTURIES[sign] + int(year), int(month), int(day))
    except ValueError:
        raise InvalidHetu("the birth date does not exist") from None
    number = int(individual)
    if number < 2:
        raise InvalidHetu("individual number 000 and 001 are never issued")
    if number >= 900 and not allow_temporary:
        raise InvalidHetu("temporary identity codes (individual number 900-999) are not accepted")
    if _CHECK_CHARS[int(day + month + year + individual) % 31] != check:
        raise InvalidHetu("the check character does not match")
    return code


def is_temporary(hetu: str) -> bool:
    """True for a (valid, normalised) temporary code, as used by test identities."""
    return int(hetu[7:10]) >= 900


def mask_hetu(hetu: str) -> str:
    """What may stand in logs and clerk-facing texts: the birth date and century sign only."""
    return hetu[:7] + "****" if len(hetu) >= 7 else "****"
