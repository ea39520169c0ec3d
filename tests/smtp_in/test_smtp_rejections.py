"""DATA answers for messages made by the real `openssl cms`: what is refused, and why.

Every refusal asserts its code, its RFC 3463 status and that the store did not change.
"""

from __future__ import annotations

from collections.abc import Iterator
from email.utils import make_msgid
from pathlib import Path

import pytest
from gatewaytest.clerk import encrypt, envelope, inner_message, sign
from gatewaytest.env import CLERK, DOMAIN, ORG_DOMAIN, SUBMISSION, GatewayEnv, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.servers import InProcessGateway
from gatewaytest.smtp_fixtures import (
    Answer,
    assert_refused,
    connect,
    data,
    decision,
    make_foreign_signer,
    openssl_supports_gcm_cms,
    send,
    wrap_entity,
)

HETU = make_hetu("131052", "-", 308)
HETU_B = make_hetu("010203", "Y", 123)
HETU_NO_ACCOUNT = make_hetu("131052", "-", 309)
HETU_INVALID = HETU[:-1] + ("X" if HETU[-1] != "X" else "Y")
MAX_SIZE = 200_000
RCPT = f"{HETU}@{DOMAIN}"


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayEnv, InProcessGateway]]:
    env = make_env(tmp_path_factory.mktemp("rejections"), max_message_size=MAX_SIZE)
    env.add_citizen(HETU)
    env.add_citizen(HETU_B)
    gateway = InProcessGateway(env).start()
    yield env, gateway
    gateway.stop()


@pytest.fixture(scope="module")
def foreign(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_foreign_signer(tmp_path_factory.mktemp("foreign"), CLERK)


def inner(subject: str = "Paatos", **kwargs: object) -> bytes:
    return inner_message(subject, "Hei.\n", **kwargs)  # type: ignore[arg-type]


def refused(gw: tuple[GatewayEnv, InProcessGateway], message: bytes, code: int, status: str,
            rcpt: str = RCPT) -> Answer:
    store = gw[1].store
    before = store.table_counts()
    answer = send(gw[1].port, message, [rcpt])
    assert_refused(answer, code, status, store, before)
    return answer


def accepted(gw: tuple[GatewayEnv, InProcessGateway], message: bytes, subject: str,
             hetu: str = HETU, rcpt: str = RCPT) -> None:
    store = gw[1].store
    citizen = store.active_citizen_id(hetu)
    assert citizen is not None
    before = len(store.inbox(citizen, limit=500))
    answer = send(gw[1].port, message, [rcpt])
    assert (answer.code, answer.status) == (250, "2.0.0"), answer
    entries = store.inbox(citizen, limit=500)
    assert len(entries) == before + 1
    assert subject in [e.subject for e in entries]


def test_oversize_data_refused_and_session_goes_on(gw: tuple[GatewayEnv, InProcessGateway]
                                                  ) -> None:
    env, gateway = gw
    before = gateway.store.table_counts()
    valid = decision(env, RCPT, subject="Koon jalkeen")
    with connect(gateway.port) as client:
        assert client.mail(CLERK)[0] == 250
        assert client.rcpt(RCPT)[0] == 250
        big = valid.replace(b"\r\n\r\n", b"\r\nX-Pad: " + b"p" * MAX_SIZE + b"\r\n\r\n", 1)
        answer = data(client, big)
        assert_refused(answer, 552, "5.3.4", gateway.store, before)
        assert client.noop()[0] == 250
        assert client.mail(CLERK)[0] == 250
        assert client.rcpt(RCPT)[0] == 250
        answer = data(client, valid)
        assert (answer.code, answer.status) == (250, "2.0.0")
    assert gateway.store.table_counts()["messages"] == before["messages"] + 1


def padded(message: bytes, size: int) -> bytes:
    """The message with an X-Pad header making its DATA content exactly `size` bytes."""
    head = b"X-Pad: \r\n"
    pad = size - len(message) - len(head)
    assert pad >= 0
    return head[:7] + b"p" * pad + head[7:] + message


def test_size_limit_is_exact(gw: tuple[GatewayEnv, InProcessGateway]) -> None:
    env, gateway = gw
    refused(gw, padded(decision(env, RCPT, subject="Yli rajan"), MAX_SIZE + 1), 552, "5.3.4")
    accepted(gw, padded(decision(env, RCPT, subject="Rajalla"), MAX_SIZE), "Rajalla")


def test_signed_but_not_encrypted(gw: tuple[GatewayEnv, InProcessGateway]) -> None:
    env, _ = gw
    message = envelope(sign(inner(), env.clerk_cert, env.clerk_key), sender=CLERK, to=RCPT)
    answer = refused(gw, message, 550, "5.7.1")
    assert "not S/MIME encrypted" in answer.text


def test_encrypted_but_unsigned(gw: tuple[GatewayEnv, InProcessGateway]) -> None:
    env, _ = gw
    message = envelope(encrypt(inner(), env.gateway_cert), sender=CLERK, to=RCPT)
    answer = refused(gw, message, 550, "5.7.1")
    assert "not signed" in answer.text
    assert "encrypted to the gateway" not in answer.text


def test_encrypted_to_another_certificate(gw: tuple[GatewayEnv, InProcessGateway]) -> None:
    env, _ = gw
    signed = sign(inner(), env.clerk_cert, env.clerk_key)
    message = envelope(encrypt(signed, env.clerk_cert), sender=CLERK, to=RCPT)
    refused(gw, message, 550, "5.7.5")


def test_signer_is_not_the_from_address(gw: tuple[GatewayEnv, InProcessGateway]) -> None:
    env, _ = gw
    message = wrap_entity(env, inner(), RCPT, sender=f"toinen@{ORG_DOMAIN}")
    answer = refused(gw, message, 550, "5.7.1")
    assert "does not match the From" in answer.text


def test_from_domain_is_not_the_organisations(gw: tuple[GatewayEnv, InProcessGateway]) -> None:
    env, _ = gw
    message = wrap_entity(env, inner(), RCPT, sender="virkailija@muukunta.test")
    answer = refused(gw, message, 550, "5.7.1")
    assert "sender domains" in answer.text


def test_signer_from_untrusted_ca(gw: tuple[GatewayEnv, InProcessGateway],
                                  foreign: tuple[Path, Path]) -> None:
    env, _ = gw
    cert, key = foreign
    signed = sign(inner(), cert, key)
    message = envelope(encrypt(signed, env.gateway_cert), sender=CLERK, to=RCPT)
    answer = refused(gw, message, 550, "5.7.7")
    assert "trusted CA" in answer.text


def test_sha1_signature_is_weak(gw: tuple[GatewayEnv, InProcessGateway]) -> None:
    env, _ = gw
    signed = sign(inner(), env.clerk_cert, env.clerk_key, digest="sha1")
    message = envelope(encrypt(signed, env.gateway_cert), sender=CLERK, to=RCPT)
    answer = refused(gw, message, 550, "5.7.7")
    assert "SHA-1" in answer.text


def test_submission_refuses_invalid_and_accountless_hetus_masked(
    gw: tuple[GatewayEnv, InProcessGateway],
) -> None:
    env, _ = gw
    message = decision(env, SUBMISSION, hetu_lines=(HETU_INVALID, HETU_NO_ACCOUNT, HETU_B))
    answer = refused(gw, message, 550, "5.1.1", rcpt=SUBMISSION)
    assert answer.text.count("131052-****") == 2
    assert "invalid: 131052-****" in answer.text
    assert "paper: 131052-****" in answer.text
    for hetu in (HETU_INVALID, HETU_NO_ACCOUNT, HETU_B, HETU_B[:7]):
        assert hetu not in answer.text


def test_submission_with_only_an_invalid_hetu_is_5_1_3(
    gw: tuple[GatewayEnv, InProcessGateway],
) -> None:
    env, _ = gw
    message = decision(env, SUBMISSION, hetu_lines=(HETU_INVALID,))
    answer = refused(gw, message, 550, "5.1.3", rcpt=SUBMISSION)
    assert HETU_INVALID not in answer.text


def test_submission_without_hetu_line(gw: tuple[GatewayEnv, InProcessGateway]) -> None:
    env, _ = gw
    answer = refused(gw, decision(env, SUBMISSION), 550, "5.1.3", rcpt=SUBMISSION)
    assert "Henkilotunnus" in answer.text


def test_submission_with_valid_hetus_is_delivered(gw: tuple[GatewayEnv, InProcessGateway]
                                                  ) -> None:
    env, _ = gw
    message = decision(env, SUBMISSION, subject="Kahdelle", hetu_lines=(HETU, HETU_B))
    store = gw[1].store
    ids = [store.active_citizen_id(h) for h in (HETU, HETU_B)]
    before = [len(store.inbox(i, limit=500)) for i in ids]  # type: ignore[arg-type]
    answer = send(gw[1].port, message, [SUBMISSION])
    assert (answer.code, answer.status) == (250, "2.0.0")
    assert [len(store.inbox(i, limit=500)) for i in ids] == [n + 1 for n in before]  # type: ignore[arg-type]


def test_resent_message_is_stored_once(gw: tuple[GatewayEnv, InProcessGateway]) -> None:
    env, gateway = gw
    message = decision(env, RCPT, subject="Uudelleen", message_id=make_msgid(domain=ORG_DOMAIN))
    counts = [gateway.store.table_counts()]
    for _ in range(3):
        answer = send(gateway.port, message, [RCPT])
        assert (answer.code, answer.status) == (250, "2.0.0")
        counts.append(gateway.store.table_counts())
    assert counts[1]["messages"] == counts[0]["messages"] + 1
    assert counts[1] == counts[2] == counts[3]


def test_resent_with_new_bytes_but_same_message_id_is_stored_once(
    gw: tuple[GatewayEnv, InProcessGateway],
) -> None:
    env, gateway = gw
    mid = make_msgid(domain=ORG_DOMAIN)
    first = decision(env, RCPT, subject="Uudelleen 2", message_id=mid)
    second = decision(env, RCPT, subject="Uudelleen 2", message_id=mid)  # fresh encryption
    assert first != second
    assert send(gateway.port, first, [RCPT]).code == 250
    after_first = gateway.store.table_counts()
    assert send(gateway.port, second, [RCPT]).code == 250
    assert gateway.store.table_counts() == after_first


def test_rsa_oaep_is_accepted(gw: tuple[GatewayEnv, InProcessGateway]) -> None:
    env, _ = gw
    signed = sign(inner("OAEP"), env.clerk_cert, env.clerk_key)
    message = envelope(encrypt(signed, env.gateway_cert, oaep=True), sender=CLERK, to=RCPT)
    accepted(gw, message, "OAEP")


def test_opaque_signing_is_accepted(gw: tuple[GatewayEnv, InProcessGateway]) -> None:
    env, _ = gw
    signed = sign(inner("Opaque"), env.clerk_cert, env.clerk_key, detached=False)
    message = envelope(encrypt(signed, env.gateway_cert), sender=CLERK, to=RCPT)
    accepted(gw, message, "Opaque")


def test_aes_gcm_is_accepted(gw: tuple[GatewayEnv, InProcessGateway]) -> None:
    env, _ = gw
    if not openssl_supports_gcm_cms(env.gateway_cert):
        pytest.skip("this openssl cannot make AES-GCM CMS (AuthEnvelopedData)")
    signed = sign(inner("GCM"), env.clerk_cert, env.clerk_key)
    message = envelope(encrypt(signed, env.gateway_cert, cipher="-aes-256-gcm"), sender=CLERK,
                       to=RCPT)
    accepted(gw, message, "GCM")
