"""Each rule of the evaluator, table-driven: a mail that passes it and one it refuses, with the
trace a postmaster reads (the exact lines, in order)."""

from __future__ import annotations

import ipaddress
from dataclasses import replace

import pytest

from policies.evaluate import check_signer, identify_peer
from policies.model import Organisation, PgpPolicy

FINGERPRINT = "EB85BB5FA33A75E15E944E63F231550C4F47E38E"
OTHER_KEY = "0123456789ABCDEF0123456789ABCDEF01234567"


def _org(org_id: str, networks: tuple[str, ...] = (), shared: tuple[str, ...] = ()) -> Organisation:
    return Organisation(
        id=org_id,
        name=org_id,
        sender_domains=(f"{org_id}.test",),
        networks=tuple(ipaddress.ip_network(n) for n in networks),
        trust_anchors=(),
        replies_allowed=False,
        reply_address=f"kirjaamo@{org_id}.test",
        shared_networks=tuple(ipaddress.ip_network(n) for n in shared),
    )


KUNTA = _org("kunta", ("192.0.2.0/24", "2001:db8::/32"), shared=("203.0.113.0/24",))
KAUPUNKI = _org("kaupunki", ("198.51.100.0/24",), shared=("203.0.113.0/24",))
TOINEN = _org("toinen", ("198.51.100.0/25",))
ORGS = (KUNTA, KAUPUNKI, TOINEN)
PGP_KUNTA = replace(KUNTA, pgp=PgpPolicy(fingerprints=(FINGERPRINT,)))

PEER_CASES = [
    pytest.param(
        "192.0.2.7", True, "", "kunta",
        ["networks: peer 192.0.2.7 is in 192.0.2.0/24 of organisation kunta"],
        id="own-network-passes",
    ),
    pytest.param(
        "::ffff:192.0.2.7", True, "", "kunta",
        ["networks: peer 192.0.2.7 is in 192.0.2.0/24 of organisation kunta"],
        id="dual-stack-ipv4-passes",
    ),
    pytest.param(
        "2001:db8::25", True, "", "kunta",
        ["networks: peer 2001:db8::25 is in 2001:db8::/32 of organisation kunta"],
        id="ipv6-network-passes",
    ),
    pytest.param(
        "10.1.2.3", False, "unknown_peer", None,
        ["networks: peer 10.1.2.3 is in no organisation's networks"],
        id="unknown-peer-refused",
    ),
    pytest.param(
        "203.0.113.9", False, "shared_network", None,
        [
            "networks: peer 203.0.113.9 is in 203.0.113.0/24 of organisation kunta, "
            "203.0.113.0/24 of organisation kaupunki, marked shared: a shared network "
            "identifies no organisation by itself"
        ],
        id="marked-shared-network-refused",
    ),
    pytest.param(
        "198.51.100.9", False, "shared_network", None,
        [
            "networks: peer 198.51.100.9 is in 198.51.100.0/24 of organisation kaupunki, "
            "198.51.100.0/25 of organisation toinen: a network listed for several "
            "organisations identifies none of them"
        ],
        id="network-of-several-refused",
    ),
    pytest.param(
        "198.51.100.200", True, "", "kaupunki",
        ["networks: peer 198.51.100.200 is in 198.51.100.0/24 of organisation kaupunki"],
        id="outside-the-overlap-passes",
    ),
]


@pytest.mark.parametrize(("peer", "allowed", "reason", "org_id", "trace"), PEER_CASES)
def test_identify_peer(
    peer: str, allowed: bool, reason: str, org_id: str | None, trace: list[str]
) -> None:
    decision = identify_peer(ipaddress.ip_address(peer), ORGS)
    assert (decision.allowed, decision.reason) == (allowed, reason)
    assert (decision.organisation.id if decision.organisation else None) == org_id
    assert list(decision.trace) == trace


def test_a_shared_network_names_its_organisations_as_candidates() -> None:
    decision = identify_peer(ipaddress.ip_address("203.0.113.9"), ORGS)
    assert [org.id for org in decision.candidates] == ["kunta", "kaupunki"]


SIGNER_CASES = [
    pytest.param(
        KUNTA, "Virkailija@KUNTA.test", ("virkailija@kunta.test",), (), True, "",
        [
            "sender domain: From domain kunta.test belongs to organisation kunta",
            "signer: the signer's certificate names the From address",
        ],
        id="smime-signer-passes",
    ),
    pytest.param(
        KUNTA, "x@elsewhere.test", ("x@elsewhere.test",), (), False, "sender_domain",
        ["sender domain: From domain elsewhere.test is not one of organisation kunta's "
         "(kunta.test)"],
        id="foreign-domain-refused",
    ),
    pytest.param(
        KUNTA, "virkailija@kunta.test", ("toinen@kunta.test",), (), False, "signer_mismatch",
        [
            "sender domain: From domain kunta.test belongs to organisation kunta",
            "signer: the signer's certificate does not name the From address",
        ],
        id="smime-signer-mismatch-refused",
    ),
    pytest.param(
        PGP_KUNTA, "virkailija@kunta.test", ("virkailija@kunta.test",), (FINGERPRINT,),
        True, "",
        [
            "sender domain: From domain kunta.test belongs to organisation kunta",
            f"OpenPGP signer: key {FINGERPRINT} is allowed for organisation kunta",
            "signer: a user id of the signer's OpenPGP key names the From address",
        ],
        id="openpgp-signer-passes",
    ),
    pytest.param(
        PGP_KUNTA, "virkailija@kunta.test", ("virkailija@kunta.test",), (OTHER_KEY,),
        False, "signer_not_allowed",
        [
            "sender domain: From domain kunta.test belongs to organisation kunta",
            f"OpenPGP signer: key {OTHER_KEY} is not in organisation kunta's pgp_fingerprints",
        ],
        id="openpgp-key-of-no-one-refused",
    ),
    pytest.param(
        PGP_KUNTA, "virkailija@kunta.test", ("toinen@kunta.test",), (FINGERPRINT,),
        False, "signer_mismatch",
        [
            "sender domain: From domain kunta.test belongs to organisation kunta",
            f"OpenPGP signer: key {FINGERPRINT} is allowed for organisation kunta",
            "signer: a user id of the signer's OpenPGP key does not name the From address",
        ],
        id="openpgp-user-id-mismatch-refused",
    ),
]


@pytest.mark.parametrize(
    ("org", "sender", "signers", "keys", "allowed", "reason", "trace"), SIGNER_CASES
)
def test_check_signer(
    org: Organisation,
    sender: str,
    signers: tuple[str, ...],
    keys: tuple[str, ...],
    allowed: bool,
    reason: str,
    trace: list[str],
) -> None:
    decision = check_signer(org, sender, signers, keys)
    assert (decision.allowed, decision.reason, decision.organisation) == (allowed, reason, org)
    assert list(decision.trace) == trace


def test_traces_never_carry_the_clerks_address() -> None:
    for case in SIGNER_CASES:
        org, sender, signers, keys = case.values[:4]
        decision = check_signer(org, sender, signers, keys)  # type: ignore[arg-type]
        assert all("@" not in line for line in decision.trace)
