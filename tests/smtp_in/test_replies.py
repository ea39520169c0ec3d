"""Every reply constant's name matches its code, carries an RFC 3463 status of the same class,
and is ASCII, as RFC 5321 requires."""

from __future__ import annotations

import re

import pytest

from smtp_in import replies

ALL = {name: value for name, value in vars(replies).items() if isinstance(value, replies.Reply)}

# What each name promises, by code and status class.
EXPECTED = {
    "SENDER_OK": (250, "2.1.0"), "RECIPIENT_OK": (250, "2.1.5"), "ACCEPTED": (250, "2.0.0"),
    "UNKNOWN_PEER": (550, "5.7.1"), "RELAY_DENIED": (550, "5.7.1"),
    "UNKNOWN_MAILBOX": (550, "5.1.1"), "INVALID_HETU": (550, "5.1.3"),
    "NO_ACCOUNT": (550, "5.1.1"), "TOO_BIG": (552, "5.3.4"),
    "STORAGE_FULL": (452, "4.3.1"), "TEMPORARY_FAILURE": (451, "4.3.0"),
    "BAD_PARAMETER": (555, "5.5.4"), "TOO_MANY_RECIPIENTS": (452, "4.5.3"),
    "PARTIAL": (550, "5.6.1"), "WEAK_ALGORITHM": (550, "5.7.7"), "BAD_SIGNATURE": (550, "5.7.7"),
    "UNTRUSTED_SIGNER": (550, "5.7.7"), "NOT_ENCRYPTED": (550, "5.7.1"), "UNSIGNED": (550, "5.7.1"),
    "NOT_FOR_GATEWAY": (550, "5.7.5"),
    "PGP_NOT_ENCRYPTED": (550, "5.7.1"), "PGP_NOT_FOR_GATEWAY": (550, "5.7.5"),
    "PGP_UNKNOWN_SIGNER": (550, "5.7.7"), "PGP_SIGNER_REVOKED": (550, "5.7.7"),
    "PGP_SIGNER_EXPIRED": (550, "5.7.7"), "PGP_USER_ID_MISMATCH": (550, "5.7.1"),
    "MALFORMED_PGP": (550, "5.6.0"), "ORGANISATION_KEY_MISSING": (550, "5.7.1"),
    "ORGANISATION_KEY_EXPIRED": (550, "5.7.1"), "ORGANISATION_KEY_REVOKED": (550, "5.7.1"),
    "SIGNER_REVOKED": (550, "5.7.7"), "SIGNER_NOT_PINNED": (550, "5.7.7"),
    "SENDER_ADDRESS": (550, "5.7.1"), "ORGANISATION_TOO_BIG": (552, "5.3.4"),
    "TOO_MANY_ATTACHMENTS": (550, "5.7.1"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_name_matches_code(name: str) -> None:
    assert (ALL[name].code, ALL[name].status) == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(ALL))
def test_status_class_matches_code_and_text_is_ascii(name: str) -> None:
    reply = ALL[name]
    reply.text.encode("ascii")
    if reply.code != 354:
        assert re.fullmatch(r"[245]\.\d{1,3}\.\d{1,3}", reply.status)
        assert reply.status[0] == str(reply.code)[0]
    assert " / " in reply.text or name == "START_DATA"  # Finnish / English


def test_rejection_texts_are_distinct_so_the_clerk_can_tell_causes_apart() -> None:
    refusals = [r for r in ALL.values() if r.code >= 500]
    texts = [r.text for r in refusals]
    assert len(texts) == len(set(texts))


def test_body_recipient_refusal_lists_masked_codes_only() -> None:
    reply = replies.body_recipients_refused(["131052-****"], ["010101A****"])
    assert reply.code == 550 and "131052-****" in reply.text and "010101A****" in reply.text
    assert reply.status == "5.1.1"
    reply.text.encode("ascii")
