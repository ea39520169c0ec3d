"""Policy evaluation: pure functions from a context to a Decision with its trace."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from policies.model import Decision, IPAddress, Organisation


def identify_peer(peer: IPAddress, organisations: Sequence[Organisation]) -> Decision:
    """Which organisation a connecting mail server belongs to, by its source network.

    A network listed for several organisations identifies none of them: such a peer is
    refused here until the postmaster-policy capability adds stronger authentication.
    """
    # A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d; networks are written as IPv4.
    if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is not None:
        peer = peer.ipv4_mapped
    matches = [org for org in organisations if any(peer in net for net in org.networks)]
    if len(matches) == 1:
        org = matches[0]
        return Decision(True, org, (f"peer network belongs to organisation {org.id}",))
    if not matches:
        return Decision(
            False, None, ("peer address is in no organisation's networks",), "unknown_peer"
        )
    ids = ", ".join(org.id for org in matches)
    return Decision(
        False, None, (f"peer network is shared by organisations {ids}",), "shared_network"
    )


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
    trace = [f"From address domain checked against organisation {organisation.id}"]
    if not organisation.allows_sender(sender):
        trace.append("From address is not in the organisation's sender domains")
        return Decision(False, organisation, tuple(trace), "sender_domain")
    if any(f not in organisation.pgp.fingerprints for f in pgp_fingerprints):
        trace.append("an OpenPGP signer is not among the organisation's allowed fingerprints")
        return Decision(False, organisation, tuple(trace), "signer_not_allowed")
    if sender not in signer_addresses:
        trace.append("the signer's certificate does not name the From address")
        return Decision(False, organisation, tuple(trace), "signer_mismatch")
    trace.append("signer certificate names the From address")
    return Decision(True, organisation, tuple(trace))
