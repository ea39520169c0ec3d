"""Who is connecting: a mail server's TLS client certificate, its SMTP AUTH login, its network.

Pure functions to a Decision with its trace, like policies.evaluate. A certificate or a login
identifies one organisation and wins over the network; a shared network identifies none, and
the organisation is then taken from the signature at DATA (`candidates`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes

from policies.evaluate import identify_peer
from policies.model import Decision, IPAddress, Organisation


def certificate_fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 over the DER encoding, 64 upper-case hex digits (as tls_client_fingerprints)."""
    return certificate.fingerprint(hashes.SHA256()).hex().upper()


def _issued_by(certificate: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def identify_client_certificate(
    certificate: x509.Certificate,
    client_cas: Mapping[str, Sequence[x509.Certificate]],
    organisations: Sequence[Organisation],
) -> Decision:
    """The organisation whose `tls_client_ca` issued the (TLS-verified) client certificate.

    Where the organisation pins fingerprints, the certificate must be one of them. Two
    organisations sharing a CA are told apart only by their pins.
    """
    fingerprint = certificate_fingerprint(certificate)
    issued = [
        org
        for org in organisations
        if any(_issued_by(certificate, ca) for ca in client_cas.get(org.id, ()))
    ]
    if not issued:
        unknown = f"client certificate: {fingerprint} is issued by no organisation's tls_client_ca"
        return Decision(False, None, (unknown,), "client_certificate_unknown")
    ids = ", ".join(org.id for org in issued)
    trace = [f"client certificate: {fingerprint} is issued by the tls_client_ca of {ids}"]
    pinned = [org for org in issued if fingerprint in org.server_auth.tls_client_fingerprints]
    unpinned = [org for org in issued if not org.server_auth.tls_client_fingerprints]
    matches = pinned or unpinned
    if not matches:
        trace.append(
            f"client certificate: {fingerprint} is not in tls_client_fingerprints of {ids}"
        )
        return Decision(False, None, tuple(trace), "client_certificate_not_pinned")
    if len(matches) > 1:
        trace.append("client certificate: several organisations accept it; pin fingerprints")
        return Decision(False, None, tuple(trace), "client_certificate_ambiguous")
    org = matches[0]
    how = "pinned fingerprint" if pinned else "issuer"
    trace.append(f"client certificate: authenticates organisation {org.id} ({how})")
    return Decision(True, org, tuple(trace))


def login_decision(username: str, organisation: Organisation | None) -> Decision:
    """The trace of an SMTP AUTH attempt; `organisation` is None when it failed (for whatever
    reason: the trace does not say whether the user exists)."""
    if organisation is None:
        return Decision(False, None, ("SMTP AUTH: credentials invalid",), "auth_failed")
    trace = (f"SMTP AUTH: user {username} authenticates organisation {organisation.id}",)
    return Decision(True, organisation, trace)


@dataclass(frozen=True)
class Connection:
    """What is known of a connection when it sends MAIL."""

    peer: IPAddress
    tls: bool
    certificate: Decision | None = None  # identify_client_certificate, when one was presented
    login: Decision | None = None  # a successful SMTP AUTH


def identify_connection(connection: Connection, organisations: Sequence[Organisation]) -> Decision:
    """Which organisation sends on this connection, or, on a shared network, which may.

    Allowed with an organisation; allowed without one but with `candidates` (decided at DATA
    by the signature); or refused with reason unknown_peer, tls_required, a client_certificate_*
    reason or conflicting_authentication.
    """
    trace: list[str] = []
    authenticated: list[Organisation] = []
    for step in (connection.certificate, connection.login):
        if step is None:
            continue
        trace.extend(step.trace)
        if not step.allowed:
            return Decision(False, None, tuple(trace), step.reason)
        assert step.organisation is not None
        authenticated.append(step.organisation)
    if len({org.id for org in authenticated}) > 1:
        trace.append("authentication: the certificate and the login name different organisations")
        return Decision(False, None, tuple(trace), "conflicting_authentication")
    if authenticated:
        return Decision(True, authenticated[0], tuple(trace))
    by_network = identify_peer(connection.peer, organisations)
    trace.extend(by_network.trace)
    if by_network.allowed:
        org = by_network.organisation
        assert org is not None
        if org.server_auth.require_tls and not connection.tls:
            trace.append(f"require_tls: organisation {org.id} sends only over STARTTLS")
            return Decision(False, org, tuple(trace), "tls_required")
        return Decision(True, org, tuple(trace))
    if by_network.reason != "shared_network":
        return Decision(False, None, tuple(trace), by_network.reason)
    candidates = by_network.candidates
    if not connection.tls and all(org.server_auth.require_tls for org in candidates):
        trace.append("require_tls: every organisation of this network sends only over STARTTLS")
        return Decision(False, None, tuple(trace), "tls_required")
    trace.append("shared network: the signature decides the organisation at DATA")
    return Decision(True, None, tuple(trace), candidates=candidates)


def choose_signer_organisation(from_address: str, candidates: Sequence[Organisation]) -> Decision:
    """On a shared network: the candidates whose sender domains hold the From address, to be
    tried in turn until one's trust anchors verify the signature."""
    domain = from_address.rpartition("@")[2].lower() or "(none)"
    fitting = tuple(org for org in candidates if org.allows_sender(from_address))
    if not fitting:
        ids = ", ".join(org.id for org in candidates)
        trace = (f"shared network: From domain {domain} belongs to none of {ids}",)
        return Decision(False, None, trace, "sender_domain")
    ids = ", ".join(org.id for org in fitting)
    trace = (f"shared network: From domain {domain} belongs to {ids}",)
    return Decision(True, None, trace, candidates=fitting)
