"""policies.connection: each rule of who is connecting, one case that passes and one that is
refused, with the trace it leaves."""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest
import trustme
from cryptography import x509

from crypto.passwords import check_hash, hash_password, verify_password
from policies.connection import (
    Connection,
    certificate_fingerprint,
    choose_signer_organisation,
    identify_client_certificate,
    identify_connection,
    login_decision,
)
from policies.model import Organisation, ServerAuthPolicy

CA_A, CA_B = trustme.CA(), trustme.CA()
CERT_A = x509.load_pem_x509_certificate(CA_A.issue_cert("mx.a.test").cert_chain_pems[0].bytes())
CERT_A2 = x509.load_pem_x509_certificate(CA_A.issue_cert("mx2.a.test").cert_chain_pems[0].bytes())
CERT_B = x509.load_pem_x509_certificate(CA_B.issue_cert("mx.b.test").cert_chain_pems[0].bytes())
CAS = {
    "a": (x509.load_pem_x509_certificate(CA_A.cert_pem.bytes()),),
    "b": (x509.load_pem_x509_certificate(CA_B.cert_pem.bytes()),),
}


def org(org_id: str, networks: tuple[str, ...] = (), shared: tuple[str, ...] = (),
        **auth: object) -> Organisation:
    return Organisation(
        id=org_id,
        name=org_id,
        sender_domains=(f"{org_id}.test",),
        networks=tuple(ipaddress.ip_network(n) for n in networks),
        trust_anchors=(),
        replies_allowed=False,
        reply_address=f"kirjaamo@{org_id}.test",
        shared_networks=tuple(ipaddress.ip_network(n) for n in shared),
        server_auth=ServerAuthPolicy(**auth),  # type: ignore[arg-type]
    )


A = org("a", networks=("192.0.2.0/24",), shared=("198.51.100.0/24",))
B = org("b", shared=("198.51.100.0/24",))
STRICT = org("strict", networks=("203.0.113.0/24",), require_tls=True)
ORGS = (A, B, STRICT)


def peer(address: str, tls: bool = False, **steps: object) -> Connection:
    return Connection(ipaddress.ip_address(address), tls, **steps)  # type: ignore[arg-type]


def test_certificate_issued_by_an_organisations_ca_identifies_it() -> None:
    decision = identify_client_certificate(CERT_A, CAS, ORGS)
    assert (decision.allowed, decision.organisation) == (True, A)
    fingerprint = certificate_fingerprint(CERT_A)
    assert decision.trace == (
        f"client certificate: {fingerprint} is issued by the tls_client_ca of a",
        "client certificate: authenticates organisation a (issuer)",
    )
    other = identify_client_certificate(CERT_B, CAS, ORGS)
    assert other.organisation == B  # another organisation's certificate names that one


def test_certificate_of_no_organisations_ca_is_refused() -> None:
    stranger = trustme.CA().issue_cert("x.test").cert_chain_pems[0].bytes()
    decision = identify_client_certificate(x509.load_pem_x509_certificate(stranger), CAS, ORGS)
    assert (decision.allowed, decision.reason) == (False, "client_certificate_unknown")


def test_pinned_fingerprint_must_match() -> None:
    pinned = dataclasses.replace(
        A, server_auth=ServerAuthPolicy(tls_client_fingerprints=(certificate_fingerprint(CERT_A),))
    )
    assert identify_client_certificate(CERT_A, CAS, (pinned, B)).organisation == pinned
    refused = identify_client_certificate(CERT_A2, CAS, (pinned, B))
    assert (refused.allowed, refused.reason) == (False, "client_certificate_not_pinned")
    assert refused.trace[-1].endswith("is not in tls_client_fingerprints of a")


def test_a_shared_ca_is_told_apart_only_by_pins() -> None:
    twin = org("twin")
    ambiguous = identify_client_certificate(CERT_A, {**CAS, "twin": CAS["a"]}, (A, twin))
    assert ambiguous.reason == "client_certificate_ambiguous"
    pin = ServerAuthPolicy(tls_client_fingerprints=(certificate_fingerprint(CERT_A),))
    pinned_twin = dataclasses.replace(twin, server_auth=pin)
    chosen = identify_client_certificate(CERT_A, {**CAS, "twin": CAS["a"]}, (A, pinned_twin))
    assert chosen.organisation == pinned_twin
    assert chosen.trace[-1] == (
        "client certificate: authenticates organisation twin (pinned fingerprint)"
    )


def test_login_trace_names_the_user_only_when_it_authenticates() -> None:
    assert login_decision("a-mx", A).trace == ("SMTP AUTH: user a-mx authenticates organisation a",)
    failed = login_decision("a-mx", None)
    assert (failed.allowed, failed.trace) == (False, ("SMTP AUTH: credentials invalid",))


def test_network_identifies_its_organisation_and_an_unknown_one_is_refused() -> None:
    assert identify_connection(peer("192.0.2.9"), ORGS).organisation == A
    refused = identify_connection(peer("233.252.0.1"), ORGS)
    assert (refused.allowed, refused.reason) == (False, "unknown_peer")


def test_certificate_or_login_wins_over_the_network() -> None:
    by_cert = identify_client_certificate(CERT_B, CAS, ORGS)
    decision = identify_connection(peer("192.0.2.9", True, certificate=by_cert), ORGS)
    assert decision.organisation == B
    assert decision.trace == by_cert.trace
    login = login_decision("b-mx", B)
    assert identify_connection(peer("233.252.0.1", True, login=login), ORGS).organisation == B


def test_certificate_and_login_of_different_organisations_conflict() -> None:
    by_cert = identify_client_certificate(CERT_A, CAS, ORGS)
    decision = identify_connection(
        peer("233.252.0.1", True, certificate=by_cert, login=login_decision("b-mx", B)), ORGS
    )
    assert (decision.allowed, decision.reason) == (False, "conflicting_authentication")


def test_a_refused_certificate_refuses_the_connection_even_on_the_organisations_network() -> None:
    stranger = dataclasses.replace(
        A, server_auth=ServerAuthPolicy(tls_client_fingerprints=("00" * 32,))
    )
    refused = identify_client_certificate(CERT_A, CAS, (stranger,))
    decision = identify_connection(peer("192.0.2.9", True, certificate=refused), (stranger,))
    assert (decision.allowed, decision.reason) == (False, "client_certificate_not_pinned")


def test_require_tls() -> None:
    refused = identify_connection(peer("203.0.113.5"), ORGS)
    assert (refused.allowed, refused.reason) == (False, "tls_required")
    assert refused.trace[-1] == "require_tls: organisation strict sends only over STARTTLS"
    assert identify_connection(peer("203.0.113.5", tls=True), ORGS).organisation == STRICT


def test_shared_network_defers_to_the_signature() -> None:
    decision = identify_connection(peer("198.51.100.7"), ORGS)
    assert decision.allowed and decision.organisation is None
    assert {o.id for o in decision.candidates} == {"a", "b"}
    assert decision.trace[-1] == "shared network: the signature decides the organisation at DATA"


def test_shared_network_where_every_organisation_requires_tls() -> None:
    strict = tuple(
        dataclasses.replace(o, server_auth=ServerAuthPolicy(require_tls=True)) for o in (A, B)
    )
    refused = identify_connection(peer("198.51.100.7"), strict)
    assert (refused.allowed, refused.reason) == (False, "tls_required")
    assert identify_connection(peer("198.51.100.7", tls=True), strict).candidates == strict


def test_signer_organisation_on_a_shared_network_by_from_domain() -> None:
    chosen = choose_signer_organisation("clerk@b.test", (A, B))
    assert chosen.candidates == (B,)
    refused = choose_signer_organisation("clerk@elsewhere.test", (A, B))
    assert (refused.allowed, refused.reason) == (False, "sender_domain")
    assert refused.trace == ("shared network: From domain elsewhere.test belongs to none of a, b",)


def test_password_hashes_are_salted_and_checked() -> None:
    first, second = hash_password(b"salasana"), hash_password(b"salasana")
    assert first != second and first.startswith("$scrypt$ln=14,r=8,p=1$")
    assert verify_password(b"salasana", first) and not verify_password(b"salasanA", first)
    assert check_hash(first) == first


@pytest.mark.parametrize(
    "text",
    ["salasana", "$scrypt$ln=30,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43,
     "$scrypt$ln=14,r=8,p=1$AAAA$" + "A" * 43, "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"],
    ids=["plain-text", "cost-too-high", "short-salt", "other-scheme"],
)
def test_unusable_hashes_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        check_hash(text)
