"""The signer-identity and content rules, table-driven: a mail that passes each rule and one it
refuses, with the exact trace a postmaster reads."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from policies.content import check_attachments, check_size
from policies.model import ContentPolicy, Organisation, SignerPolicy
from policies.signers import check_signer_identity

PINNED = "AB" * 32
OTHER = "CD" * 32
KUNTA = Organisation(
    id="kunta",
    name="Kunta",
    sender_domains=("kunta.test",),
    networks=(),
    trust_anchors=(),
    replies_allowed=False,
    reply_address="kirjaamo@kunta.test",
)
PATTERNS = replace(KUNTA, signers=SignerPolicy(sender_addresses=("*@kirjaamo.kunta.test",)))
PINS = replace(KUNTA, signers=SignerPolicy(fingerprints=(PINNED,)))
CRLS = replace(KUNTA, signers=SignerPolicy(crl_files=(Path("/etc/gw/kunta.crl"),)))


SIGNER_CASES = [
    pytest.param(KUNTA, "a@kunta.test", PINNED, None, True, "", [], id="no-rules-pass"),
    pytest.param(
        PATTERNS,
        "virkailija@kirjaamo.kunta.test",
        PINNED,
        None,
        True,
        "",
        ["sender addresses: the From address matches one of (*@kirjaamo.kunta.test)"],
        id="address-pattern-passes",
    ),
    pytest.param(
        PATTERNS,
        "virkailija@kunta.test",
        PINNED,
        None,
        False,
        "sender_address",
        [
            "sender addresses: the From address matches none of organisation kunta's patterns "
            "(*@kirjaamo.kunta.test)"
        ],
        id="address-pattern-refuses",
    ),
    pytest.param(
        PATTERNS,
        "Virkailija@Kirjaamo.Kunta.test",
        None,
        None,
        True,
        "",
        ["sender addresses: the From address matches one of (*@kirjaamo.kunta.test)"],
        id="address-pattern-any-case-and-openpgp",
    ),
    pytest.param(
        PINS,
        "a@kunta.test",
        PINNED,
        None,
        True,
        "",
        [f"signer fingerprints: certificate {PINNED} is pinned"],
        id="pinned-certificate-passes",
    ),
    pytest.param(
        PINS,
        "a@kunta.test",
        OTHER,
        None,
        False,
        "signer_not_pinned",
        [
            f"signer fingerprints: certificate {OTHER} is not in organisation kunta's "
            "signer_fingerprints"
        ],
        id="unpinned-certificate-refused",
    ),
    pytest.param(
        PINS,
        "a@kunta.test",
        None,
        None,
        True,
        "",
        [],
        id="certificate-pins-leave-openpgp-to-pgp-fingerprints",
    ),
    pytest.param(
        CRLS,
        "a@kunta.test",
        OTHER,
        None,
        True,
        "",
        ["CRL: none of organisation kunta's CRLs lists the signer's certificate"],
        id="unrevoked-passes",
    ),
    pytest.param(
        CRLS,
        "a@kunta.test",
        OTHER,
        "kunta.crl",
        False,
        "signer_revoked",
        ["CRL: kunta.crl lists the signer's certificate as revoked"],
        id="revoked-refused",
    ),
]


@pytest.mark.parametrize(
    ("org", "sender", "fingerprint", "revoked_in", "allowed", "reason", "trace"), SIGNER_CASES
)
def test_signer_identity_rules(
    org: Organisation,
    sender: str,
    fingerprint: str | None,
    revoked_in: str | None,
    allowed: bool,
    reason: str,
    trace: list[str],
) -> None:
    decision = check_signer_identity(org, sender, fingerprint, revoked_in)
    assert (decision.allowed, decision.reason, list(decision.trace)) == (allowed, reason, trace)
    assert decision.organisation is org
    assert all(sender.lower() not in line.lower() for line in decision.trace)


SIZED = replace(KUNTA, content=ContentPolicy(max_message_size=1000))


@pytest.mark.parametrize(
    ("org", "size", "allowed", "trace"),
    [
        pytest.param(KUNTA, 10**9, True, [], id="no-limit-passes"),
        pytest.param(
            SIZED, 1000, True, ["max_message_size: 1000 bytes is within 1000"], id="at-limit"
        ),
        pytest.param(
            SIZED,
            1001,
            False,
            ["max_message_size: 1001 bytes exceeds organisation kunta's 1000"],
            id="over-limit-refused",
        ),
    ],
)
def test_size_rule(org: Organisation, size: int, allowed: bool, trace: list[str]) -> None:
    decision = check_size(org, size)
    assert (decision.allowed, list(decision.trace)) == (allowed, trace)
    assert decision.reason == ("" if allowed else "too_big")


COUNTED = replace(KUNTA, content=ContentPolicy(max_attachments=2))
TYPED = replace(
    KUNTA, content=ContentPolicy(allowed_attachment_types=("application/pdf", "image/*"))
)

ATTACHMENT_CASES = [
    pytest.param(KUNTA, ["application/x-msdownload"] * 9, True, "", 0, [], id="defaults-allow"),
    pytest.param(
        COUNTED,
        ["application/pdf"] * 2,
        True,
        "",
        0,
        ["max_attachments: 2 attachments, at most 2"],
        id="count-at-limit",
    ),
    pytest.param(
        COUNTED,
        ["application/pdf"] * 3,
        False,
        "too_many_attachments",
        0,
        ["max_attachments: 3 attachments exceed organisation kunta's 2"],
        id="too-many-refused",
    ),
    pytest.param(
        TYPED,
        ["application/pdf", "image/png"],
        True,
        "",
        0,
        ["allowed_attachment_types: every attachment is one of (application/pdf, image/*)"],
        id="allowed-types-and-wildcard-pass",
    ),
    pytest.param(
        TYPED,
        ["image/jpeg", "application/zip"],
        False,
        "attachment_type",
        2,
        [
            "allowed_attachment_types: attachment 2 is application/zip, not one of organisation "
            "kunta's (application/pdf, image/*)"
        ],
        id="type-refused-by-position",
    ),
    pytest.param(
        TYPED,
        [],
        True,
        "",
        0,
        ["allowed_attachment_types: every attachment is one of (application/pdf, image/*)"],
        id="no-attachments-pass",
    ),
]


@pytest.mark.parametrize(
    ("org", "types", "allowed", "reason", "position", "trace"), ATTACHMENT_CASES
)
def test_attachment_rules(
    org: Organisation,
    types: list[str],
    allowed: bool,
    reason: str,
    position: int,
    trace: list[str],
) -> None:
    decision = check_attachments(org, types)
    assert (decision.allowed, decision.reason, decision.attachment) == (allowed, reason, position)
    assert list(decision.trace) == trace
