"""Policy evaluation: which organisation is connecting, and whether a signer may send for it."""

from __future__ import annotations

import ipaddress

from policies.evaluate import check_signer, identify_peer
from policies.model import Organisation


def _org(org_id: str, *networks: str) -> Organisation:
    return Organisation(
        id=org_id, name=org_id, sender_domains=(f"{org_id}.test",),
        networks=tuple(ipaddress.ip_network(n) for n in networks), trust_anchors=(),
        replies_allowed=False, reply_address=f"kirjaamo@{org_id}.test",
    )


ORGS = (_org("kunta", "192.0.2.0/24", "2001:db8::/32"), _org("kaupunki", "198.51.100.0/24"),
        _org("toinen", "198.51.100.0/24"))


def test_a_peer_in_one_organisations_network_is_that_organisation() -> None:
    decision = identify_peer(ipaddress.ip_address("192.0.2.7"), ORGS)
    assert decision.allowed and decision.organisation is ORGS[0]
    assert decision.trace == ("networks: peer 192.0.2.7 is in 192.0.2.0/24 of organisation kunta",)
    assert identify_peer(ipaddress.ip_address("2001:db8::25"), ORGS).organisation is ORGS[0]


def test_an_ipv4_peer_seen_through_a_dual_stack_listener_is_recognised() -> None:
    assert identify_peer(ipaddress.ip_address("::ffff:192.0.2.7"), ORGS).organisation is ORGS[0]


def test_unknown_and_shared_networks_identify_no_one() -> None:
    unknown = identify_peer(ipaddress.ip_address("203.0.113.1"), ORGS)
    assert (unknown.allowed, unknown.reason) == (False, "unknown_peer")
    shared = identify_peer(ipaddress.ip_address("198.51.100.9"), ORGS)
    assert (shared.allowed, shared.reason, shared.organisation) == (False, "shared_network", None)
    assert "kaupunki" in shared.trace[0] and "toinen" in shared.trace[0]


def test_the_signer_must_be_the_from_address_in_the_organisations_domain() -> None:
    kunta = ORGS[0]
    ok = check_signer(kunta, "Virkailija@KUNTA.test", ("virkailija@kunta.test",))
    assert ok.allowed
    other = check_signer(kunta, "virkailija@kunta.test", ("toinen@kunta.test",))
    assert (other.allowed, other.reason) == (False, "signer_mismatch")
    foreign = check_signer(kunta, "x@elsewhere.test", ("x@elsewhere.test",))
    assert (foreign.allowed, foreign.reason) == (False, "sender_domain")
