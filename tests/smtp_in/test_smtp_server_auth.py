"""How organisations' mail servers authenticate, against the live listener on loopback with real
TLS handshakes: client certificates (made by `openssl`), SMTP AUTH after STARTTLS, require_tls,
and shared networks where only the signature names the organisation, at DATA.

Loopback sources: 127.0.0.1 is demokunta's network, .2 nobody's, .4 shared by demokunta and
naapurikunta, .5 tiukkakunta's (require_tls).
"""

from __future__ import annotations

import base64
import logging
import smtplib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from gatewaytest.clerk import clerk_message, inner_message
from gatewaytest.client_certs import (
    CA_EXTENSIONS,
    ClientCert,
    client_ca,
    client_cert,
    sha256_fingerprint,
)
from gatewaytest.env import CLERK, DOMAIN, GatewayEnv, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.servers import InProcessGateway
from gatewaytest.smtp_fixtures import (
    RecordingSMTP,
    connect,
    data,
    decision,
    lines_without_enhanced_code,
    make_foreign_signer,
)

from crypto.passwords import hash_password
from smtp_in import replies

HETU = make_hetu("131052", "-", 308)
HETU_NO_ACCOUNT = make_hetu("131052", "-", 309)
BAD_CHECKSUM = HETU[:-1] + ("X" if HETU[-1] != "X" else "Y")
RCPT = f"{HETU}@{DOMAIN}"
UNREGISTERED, SHARED, STRICT = "127.0.0.2", "127.0.0.4", "127.0.0.5"
USER, PASSWORD = "demokunta-mx", "oikea hevonen patteri niitti"
NEIGHBOUR_CLERK = "virkailija@naapurikunta.test"


def _intermediate_ca(directory: Path, root: tuple[Path, Path], name: str) -> tuple[Path, Path]:
    """An issuing CA under `root`: what the organisation names as its tls_client_ca alone."""
    cert = client_cert(directory, root, name, CA_EXTENSIONS)
    return cert.cert, cert.key


@dataclass(frozen=True)
class World:
    env: GatewayEnv
    gateway: InProcessGateway
    own: ClientCert  # demokunta's mail server
    neighbour: ClientCert  # naapurikunta's
    pinned: ClientCert  # pinnikunta's, its fingerprint pinned
    unpinned: ClientCert  # issued by pinnikunta's CA, but not pinned
    under_intermediate: ClientCert  # valikunta names only its issuing (intermediate) CA
    neighbour_clerk: tuple[Path, Path]
    stranger: tuple[Path, Path]  # signs as a demokunta clerk, from a CA nobody trusts


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    certs = tmp_path_factory.mktemp("client-certs")
    ca_own, ca_neighbour, ca_pin = (
        client_ca(certs / n, n) for n in ("demokunta", "naapurikunta", "pinnikunta")
    )
    own = client_cert(certs / "demokunta", ca_own, "mx.demokunta.test")
    neighbour = client_cert(certs / "naapurikunta", ca_neighbour, "mx.naapurikunta.test")
    pinned = client_cert(certs / "pinnikunta", ca_pin, "mx1.pinnikunta.test")
    unpinned = client_cert(certs / "pinnikunta", ca_pin, "mx2.pinnikunta.test")
    root = client_ca(certs / "juuri", "juuri")
    issuing = _intermediate_ca(certs / "juuri", root, "valikunta-issuing")
    under_intermediate = client_cert(certs / "juuri", issuing, "mx.valikunta.test")
    neighbour_clerk = make_foreign_signer(tmp_path_factory.mktemp("neighbour"), NEIGHBOUR_CLERK)
    stranger = make_foreign_signer(tmp_path_factory.mktemp("stranger"), CLERK)
    neighbour_anchor = neighbour_clerk[0].parent / "ca.pem"
    env = make_env(
        tmp_path_factory.mktemp("server-auth"),
        org_toml=f"""
tls_client_ca = "{ca_own[0]}"
smtp_auth = [{{username = "{USER}", password_hash = "{hash_password(PASSWORD.encode())}"}}]
shared_networks = ["{SHARED}/32"]
""",
        extra_toml=f"""
[[organisations]]
id = "naapurikunta"
name = "Naapurikunta"
sender_domains = ["naapurikunta.test"]
shared_networks = ["{SHARED}/32"]
trust_anchors = ["{neighbour_anchor}"]
reply_address = "kirjaamo@naapurikunta.test"
tls_client_ca = "{ca_neighbour[0]}"
require_tls = true

[[organisations]]
id = "pinnikunta"
name = "Pinnikunta"
sender_domains = ["pinnikunta.test"]
trust_anchors = ["{neighbour_anchor}"]
reply_address = "kirjaamo@pinnikunta.test"
tls_client_ca = "{ca_pin[0]}"
tls_client_fingerprints = ["{sha256_fingerprint(pinned.cert)}"]

[[organisations]]
id = "tiukkakunta"
name = "Tiukkakunta"
sender_domains = ["tiukkakunta.test"]
networks = ["{STRICT}/32"]
trust_anchors = ["{neighbour_anchor}"]
reply_address = "kirjaamo@tiukkakunta.test"
require_tls = true

[[organisations]]
id = "valikunta"
name = "Valikunta"
sender_domains = ["valikunta.test"]
trust_anchors = ["{neighbour_anchor}"]
reply_address = "kirjaamo@valikunta.test"
tls_client_ca = "{issuing[0]}"
""",
    )
    env.add_citizen(HETU)
    gateway = InProcessGateway(env).start()
    yield World(
        env, gateway, own, neighbour, pinned, unpinned, under_intermediate, neighbour_clerk,
        stranger,
    )
    gateway.stop()


def starttls(client: RecordingSMTP, cert: ClientCert | None = None) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the development listener's certificate is self-signed
    if cert is not None:
        context.load_cert_chain(cert.cert, cert.key)
    code, _ = client.starttls(context=context)
    assert code == 220
    client.ehlo("kunta-mx.test")


def plain(user: str, password: str) -> str:
    return "PLAIN " + base64.b64encode(f"\0{user}\0{password}".encode()).decode()


def status(answer: tuple[int, bytes]) -> tuple[int, str]:
    return answer[0], answer[1].decode()[:5]


def inbox(world: World) -> list[tuple[str, str]]:
    store = world.gateway.store
    citizen = store.active_citizen_id(HETU)
    assert citizen is not None
    return [(e.organisation_id, e.subject) for e in store.inbox(citizen, limit=500)]


def deliver(world: World, client: RecordingSMTP, subject: str) -> tuple[int, str]:
    assert status(client.mail(CLERK)) == (250, "2.1.0")
    assert status(client.rcpt(RCPT)) == (250, "2.1.5")
    answer = data(client, decision(world.env, RCPT, subject=subject))
    return answer.code, answer.status


def test_auth_is_offered_only_after_starttls_and_refused_before(world: World) -> None:
    with connect(world.gateway.port, source=UNREGISTERED) as client:
        assert not client.has_extn("auth")
        assert status(client.docmd("AUTH", plain(USER, PASSWORD))) == (530, "5.7.0")
        starttls(client)
        assert client.esmtp_features["auth"].split() == ["PLAIN", "LOGIN"]
        assert lines_without_enhanced_code(client.replies) == []


def test_wrong_password_is_535_like_an_unknown_user_and_the_third_failure_drops(
    world: World,
) -> None:
    with connect(world.gateway.port, source=UNREGISTERED) as client:
        starttls(client)
        wrong = client.docmd("AUTH", plain(USER, "vaara"))
        unknown = client.docmd("AUTH", plain("nobody-mx", PASSWORD))
        assert status(wrong) == (535, "5.7.8")
        assert wrong == unknown  # no hint whether the user exists
        assert status(client.docmd("AUTH", plain(USER, "vaara taas"))) == (421, "4.7.0")
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.docmd("AUTH", plain(USER, PASSWORD))
        assert lines_without_enhanced_code(client.replies) == []
    # Still unauthenticated: the failures did not count for anything.
    with connect(world.gateway.port, source=UNREGISTERED) as client:
        starttls(client)
        assert status(client.mail(CLERK)) == (550, "5.7.1")


def test_right_password_authenticates_and_a_real_smime_message_is_delivered(
    world: World,
) -> None:
    with connect(world.gateway.port, source=UNREGISTERED) as client:
        assert status(client.mail(CLERK)) == (550, "5.7.1")  # nobody's network, no AUTH yet
        client.rset()
        starttls(client)
        assert status(client.docmd("AUTH", plain(USER, PASSWORD))) == (235, "2.7.0")
        assert status(client.docmd("AUTH", plain(USER, PASSWORD))) == (503, "5.5.1")
        assert deliver(world, client, "AUTH PLAIN") == (250, "2.0.0")
        assert lines_without_enhanced_code(client.replies) == []
    assert ("demokunta", "AUTH PLAIN") in inbox(world)


def test_auth_login_mechanism(world: World) -> None:
    with connect(world.gateway.port, source=UNREGISTERED) as client:
        starttls(client)
        client.user, client.password = USER, PASSWORD
        code, _ = client.auth("LOGIN", client.auth_login, initial_response_ok=False)
        assert code == 235


def test_client_certificate_authenticates_its_organisation(world: World) -> None:
    with connect(world.gateway.port, source=UNREGISTERED) as client:
        starttls(client, world.own)
        assert deliver(world, client, "Varmenteella") == (250, "2.0.0")
    assert ("demokunta", "Varmenteella") in inbox(world)


@pytest.mark.parametrize("source", ["127.0.0.1", UNREGISTERED], ids=["own-network", "elsewhere"])
def test_a_certificate_of_another_organisation_does_not_authenticate_this_one(
    world: World, source: str
) -> None:
    before = world.gateway.store.table_counts()
    with connect(world.gateway.port, source=source) as client:
        # The certificate names naapurikunta, even on demokunta's own network: a demokunta
        # clerk's signature is then not one naapurikunta's trust anchors vouch for.
        starttls(client, world.neighbour)
        assert deliver(world, client, "Naapurin varmenteella") == (550, "5.7.7")
    assert world.gateway.store.table_counts() == before


def test_pinned_fingerprint_mismatch_is_refused(world: World) -> None:
    with connect(world.gateway.port, source=UNREGISTERED) as client:
        starttls(client, world.unpinned)
        code, text = client.mail("virkailija@pinnikunta.test")
        assert (code, text.decode()) == (550, str(replies.CLIENT_CERT_NOT_PINNED)[4:])
    with connect(world.gateway.port, source=UNREGISTERED) as client:
        starttls(client, world.pinned)
        assert status(client.mail("virkailija@pinnikunta.test")) == (250, "2.1.0")


def test_an_intermediate_issuing_ca_alone_is_enough(world: World) -> None:
    with connect(world.gateway.port, source=UNREGISTERED) as client:
        starttls(client, world.under_intermediate)
        assert status(client.mail("virkailija@valikunta.test")) == (250, "2.1.0")


def test_require_tls_refuses_mail_without_starttls(world: World) -> None:
    with connect(world.gateway.port, source=STRICT) as client:
        code, text = client.mail("virkailija@tiukkakunta.test")
        assert (code, text.decode()) == (530, str(replies.TLS_REQUIRED)[4:])
        assert status(client.rcpt(RCPT)) == (503, "5.5.1")
        starttls(client)
        assert status(client.mail("virkailija@tiukkakunta.test")) == (250, "2.1.0")
        assert lines_without_enhanced_code(client.replies) == []


def test_shared_network_rcpt_reveals_nothing_about_accounts(world: World) -> None:
    with connect(world.gateway.port, source=SHARED) as client:
        assert status(client.mail(CLERK)) == (250, "2.1.0")
        with_account = client.rcpt(RCPT)
        without_account = client.rcpt(f"{HETU_NO_ACCOUNT}@{DOMAIN}")
        assert with_account == without_account
        assert status(with_account) == (250, "2.1.5")
        # A code that cannot exist says nothing about anyone's account.
        assert status(client.rcpt(f"{BAD_CHECKSUM}@{DOMAIN}")) == (550, "5.1.3")
    with connect(world.gateway.port, source=SHARED) as client:
        # Authenticated by certificate, the organisation is known: RCPT answers as usual.
        starttls(client, world.own)
        client.mail(CLERK)
        assert status(client.rcpt(f"{HETU_NO_ACCOUNT}@{DOMAIN}")) == (550, "5.1.1")


def neighbour_message(world: World, subject: str) -> bytes:
    cert, key = world.neighbour_clerk
    return clerk_message(
        cert=cert, key=key, gateway_cert=world.env.gateway_cert, sender=NEIGHBOUR_CLERK,
        to=RCPT, inner=inner_message(subject, "Hei.\n"),
    )


def test_shared_network_the_signature_decides_the_organisation_at_data(world: World) -> None:
    with connect(world.gateway.port, source=SHARED) as client:
        assert deliver(world, client, "Yhteisesta verkosta") == (250, "2.0.0")
        # naapurikunta requires TLS: known only once its clerk's signature is read.
        client.mail(NEIGHBOUR_CLERK)
        client.rcpt(RCPT)
        answer = data(client, neighbour_message(world, "Ilman TLS:aa"))
        assert (answer.code, answer.text) == (530, str(replies.TLS_REQUIRED)[4:])
        starttls(client)
        client.mail(NEIGHBOUR_CLERK)
        client.rcpt(RCPT)
        answer = data(client, neighbour_message(world, "Naapurilta"))
        assert (answer.code, answer.status) == (250, "2.0.0")
    delivered = inbox(world)
    assert {("demokunta", "Yhteisesta verkosta"), ("naapurikunta", "Naapurilta")} <= set(delivered)
    assert "Ilman TLS:aa" not in [subject for _, subject in delivered]


def test_shared_network_refusals_come_at_data(world: World) -> None:
    store = world.gateway.store
    before = store.table_counts()
    with connect(world.gateway.port, source=SHARED) as client:
        client.mail(CLERK)
        client.rcpt(f"{HETU_NO_ACCOUNT}@{DOMAIN}")
        answer = data(client, decision(world.env, RCPT))
        assert (answer.code, answer.status) == (550, "5.1.1")
        assert HETU_NO_ACCOUNT not in answer.text and HETU_NO_ACCOUNT[:7] in answer.text
        # Signed as a demokunta clerk, by a CA no organisation of this network trusts.
        cert, key = world.stranger
        client.mail(CLERK)
        client.rcpt(RCPT)
        forged = clerk_message(
            cert=cert, key=key, gateway_cert=world.env.gateway_cert, sender=CLERK, to=RCPT,
            inner=inner_message("Vieras", "Hei.\n"),
        )
        answer = data(client, forged)
        assert (answer.code, answer.status) == (550, "5.7.7")
        # From a domain of no organisation on this network.
        client.mail("someone@elsewhere.test")
        client.rcpt(RCPT)
        elsewhere = decision(world.env, RCPT).replace(CLERK.encode(), b"x@elsewhere.test")
        answer = data(client, elsewhere)
        assert (answer.code, answer.status) == (550, "5.7.1")
        assert lines_without_enhanced_code(client.replies) == []
    assert store.table_counts() == before


def test_logs_carry_the_traces_but_no_password_or_hetu(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with connect(world.gateway.port, source=UNREGISTERED) as client:
        starttls(client)
        client.docmd("AUTH", plain(USER, "vaara"))
        client.docmd("AUTH", plain(USER, PASSWORD))
    with connect(world.gateway.port, source=SHARED) as client:
        client.mail(CLERK)
        client.rcpt(f"{HETU_NO_ACCOUNT}@{DOMAIN}")
        data(client, decision(world.env, RCPT))
    with connect(world.gateway.port, source=STRICT) as client:
        client.mail("virkailija@tiukkakunta.test")
    logged = caplog.text
    assert "SMTP AUTH: user demokunta-mx authenticates organisation demokunta" in logged
    assert "shared network: the signature names organisation demokunta" in logged
    assert "require_tls: organisation tiukkakunta sends only over STARTTLS" in logged
    for secret in (PASSWORD, "vaara", HETU_NO_ACCOUNT, HETU_NO_ACCOUNT.replace("-", "")):
        assert secret not in logged
