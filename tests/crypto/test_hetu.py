"""HETU validation accepts exactly the codes DVV issues, including the 2023 century signs."""

from __future__ import annotations

import pytest
from stdnum.fi import hetu as stdnum_hetu

from crypto.hetu import InvalidHetu, is_temporary, mask_hetu, parse_hetu

VALID = [
    "131052-308T",  # the classic example
    "131052y308t",  # lower case is normalised (some mail systems lower-case local parts)
    "010101A123N",
    "290200A1239",  # 29 February 2000 existed
    "010594Y9021",  # 2023 signs for the 1900s: Y X W V U
    "020594X903P",
    "020594W903P",
    "020594V903P",
    "020594U903P",
    "010516B903X",  # 2023 signs for the 2000s: B C D E F
    "010516C903X",
    "010516D903X",
    "010516E903X",
    "010516F903X",
    "010181+900C",  # 1800s (a temporary code: individual number 900)
]

INVALID = [
    ("131052-308U", "check character"),
    ("290201A123F", "date"),       # 29 February 2001 did not exist
    ("320152-308T", "date"),
    ("131352-308T", "date"),
    ("131052G308T", "form"),       # G is no century sign
    ("131052Z308T", "form"),
    ("131052-000M", "000 and 001"),
    ("131052-001N", "000 and 001"),
    ("131052-308", "form"),
    ("131052-308TT", "form"),
    ("", "form"),
    ("13105-2308T", "form"),
]


@pytest.mark.parametrize("code", VALID)
def test_valid_codes_are_accepted_and_agree_with_python_stdnum(code: str) -> None:
    normalised = parse_hetu(code, allow_temporary=True)
    assert normalised == code.upper()
    assert stdnum_hetu.is_valid(normalised, allow_temporary=True)


@pytest.mark.parametrize(("code", "reason"), INVALID)
def test_invalid_codes_are_refused_with_a_reason_that_does_not_repeat_them(
    code: str, reason: str
) -> None:
    with pytest.raises(InvalidHetu) as refused:
        parse_hetu(code, allow_temporary=True)
    assert reason in str(refused.value)
    if code:
        assert code not in str(refused.value)


def test_temporary_codes_only_when_allowed() -> None:
    with pytest.raises(InvalidHetu, match="temporary"):
        parse_hetu("010594Y9021")
    assert is_temporary(parse_hetu("010594Y9021", allow_temporary=True))
    assert not is_temporary(parse_hetu("131052-308T"))


def test_masking_keeps_only_the_birth_date_and_century_sign() -> None:
    assert mask_hetu("131052-308T") == "131052-****"
    assert mask_hetu("abc") == "****"
