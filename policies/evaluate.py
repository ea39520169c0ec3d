"""Policy evaluation: pure functions from a context to a Decision with its trace.

Each trace entry is one rule as a postmaster reads it, "rule: what was found". Traces are
logged, so they name organisations, networks, domains and key fingerprints, never a clerk's
address, a HETU or content.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from policies.model import Decision, IPAddress, IPNetwork, Organisation


def identify_peer(peer: IPAddress, organisations: Sequence[Organisation]) -> Decision:
    """Which organisation a connecting mail server belongs to, by its source network.

    A network marked shared, or listed for several organisations, identifies none of them:
    the decision is a refusal by network alone, naming those organisations as candidates
    (policies.connection decides what happens next).
    """
    # A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d; networks are written as IPv4.
    if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is not None:
        peer = peer.ipv4_mapped
    own = [(org, net) for org in organisations for net in org.networks if peer in net]
    shared = [(org, net) for org in organisations for net in org.shared_networks if peer in net]
    if shared:
        return Decision(
            False,
            None,
            (
                f"networks: peer {peer} is in {_claims(shared)}, marked shared: a shared "
                "network identifies no organisation by itself",
            ),
            "shared_network",
            _distinct([org for org, _ in (*own, *shared)]),
        )
    if not own:
        trace = (f"networks: peer {peer} is in no organisation's networks",)
        return Decision(False, None, trace, "unknown_peer")
    if len({org.id for org, _ in own}) > 1:
        return Decision(
            False,
            None,
            (
                f"networks: peer {peer} is in {_claims(own)}: a network listed for several "
                "organisations identifies none of them",
            ),
            "shared_network",
            _distinct([org for org, _ in own]),
        )
    org, net = own[0]
    return Decision(True, org, (f"networks: peer {peer} is in {net} of organisation {org.id}",))


def _distinct(organisations: Sequence[Organisation]) -> tuple[Organisation, ...]:
    return tuple({org.id: org for org in organisations}.values())


def _claims(found: Sequence[tuple[Organisation, IPNetwork]]) -> str:
    return ", ".join(f"{net} of organisation {org.id}" for org, net in found)


def check_signer(
    organisation: Organisation,
    from_address: str,
    signer_addresses: Sequence[str],
    pgp_fingerprints: Sequence[str] = (),
) -> Decision:
    """The outermost signer must be the From address, in one of the organisation's domains.

    OpenPGP signers (`pgp_fingerprints`, primary keys) must each be allowed for the organisation:
    every key the gateway trusts is trusted for its own organisation only.
    """
    sender = from_address.lower()
    org_id = organisation.id
    domain = sender.rpartition("@")[2] or "(none)"
    trace: list[str] = []
    if not organisation.allows_sender(sender):
        domains = ", ".join(organisation.sender_domains)
        trace.append(
            f"sender domain: From domain {domain} is not one of organisation {org_id}'s "
            f"({domains})"
        )
        return Decision(False, organisation, tuple(trace), "sender_domain")
    trace.append(f"sender domain: From domain {domain} belongs to organisation {org_id}")
    if pgp_fingerprints:
        unknown = [f for f in pgp_fingerprints if f not in organisation.pgp.fingerprints]
        if unknown:
            trace.append(
                f"OpenPGP signer: key {unknown[0]} is not in organisation {org_id}'s "
                "pgp_fingerprints"
            )
            return Decision(False, organisation, tuple(trace), "signer_not_allowed")
        keys = ", ".join(dict.fromkeys(pgp_fingerprints))
        trace.append(f"OpenPGP signer: key {keys} is allowed for organisation {org_id}")
    signer = (
        "a user id of the signer's OpenPGP key" if pgp_fingerprints else "the signer's certificate"
    )
    if sender not in signer_addresses:
        trace.append(f"signer: {signer} does not name the From address")
        return Decision(False, organisation, tuple(trace), "signer_mismatch")
    trace.append(f"signer: {signer} names the From address")
    return Decision(True, organisation, tuple(trace))
