"""Rate limits against the real listener: a sender over its organisation's limits gets 4xx
answers with when to try again, and every message answered 250 is stored, once."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from email.utils import make_msgid

import pytest
from gatewaytest.env import CLERK, DOMAIN, ORG_DOMAIN, GatewayEnv, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.servers import InProcessGateway
from gatewaytest.smtp_fixtures import RecordingSMTP, connect, data, decision

from policies.model import Organisation, RateLimits
from smtp_in.limits import RateLimiter

HETU = make_hetu("131052", "-", 308)
RCPT = f"{HETU}@{DOMAIN}"
LIMITS = "limits = {messages_per_connection = 2, messages_per_minute = 3, " \
    "concurrent_connections = 1}"


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayEnv, InProcessGateway]]:
    env = make_env(tmp_path_factory.mktemp("rate-limits"), org_toml=LIMITS)
    env.add_citizen(HETU)
    gateway = InProcessGateway(env).start()
    yield env, gateway
    gateway.stop()


def message(env: GatewayEnv, n: int) -> bytes:
    return decision(env, RCPT, subject=f"Viesti {n}",
                    message_id=make_msgid(idstring=f"rate{n}", domain=ORG_DOMAIN))


def mail(client: RecordingSMTP) -> tuple[int, str]:
    code, text = client.mail(CLERK)
    return code, text.decode()


def transaction(client: RecordingSMTP, body: bytes) -> tuple[int, str]:
    """MAIL, RCPT and DATA; the first answer that is not 250 ends it (and is returned)."""
    code, text = mail(client)
    if code != 250:
        return code, text
    code, text = client.rcpt(RCPT)
    assert code == 250, text
    answer = data(client, body)
    return answer.code, answer.text


def wait_for_slot(limiter: RateLimiter) -> None:
    """The server sees a connection close a moment after QUIT's answer."""
    deadline = time.monotonic() + 10
    while limiter.connections("demokunta"):
        assert time.monotonic() < deadline, "the closed connection's slot was not given back"
        time.sleep(0.02)


def test_limited_sender_gets_4xx_and_loses_nothing(
    gw: tuple[GatewayEnv, InProcessGateway],
) -> None:
    with contextlib.ExitStack() as stack:
        limited_sender(gw, stack)


def limited_sender(gw: tuple[GatewayEnv, InProcessGateway], stack: contextlib.ExitStack) -> None:
    env, gateway = gw
    port = gateway.port
    bodies = [message(env, n) for n in range(4)]
    limiter = gateway.handler.limiter

    first = stack.enter_context(connect(port))
    assert transaction(first, bodies[0])[0] == 250
    assert transaction(first, bodies[1])[0] == 250
    # messages_per_connection = 2: the third MAIL on this connection waits for a new one.
    code, text = mail(first)
    assert (code, text.split()[0]) == (451, "4.7.1") and "reconnect" in text

    # concurrent_connections = 1: a second connection is refused and closed.
    second = stack.enter_context(connect(port))
    code, text = mail(second)
    assert (code, text.split()[0]) == (421, "4.7.0") and "try again" in text
    with pytest.raises(OSError):
        second.noop()
    second.close()
    first.quit()

    wait_for_slot(limiter)
    third = stack.enter_context(connect(port))
    assert transaction(third, bodies[2])[0] == 250
    # messages_per_minute = 3 (the refused MAILs did not count): the fourth waits.
    code, text = transaction(third, bodies[3])
    assert (code, text.split()[0]) == (451, "4.7.1")
    seconds = int(text.split("try again in ")[1].split()[0])
    assert 1 <= seconds <= 60
    # A minute on, the same message goes through on the same connection.
    limiter.clock = lambda: time.monotonic() + 61
    try:
        assert transaction(third, bodies[3])[0] == 250
    finally:
        limiter.clock = time.monotonic
    third.quit()

    replies = first.replies + second.replies + third.replies
    assert all(code < 500 for code, _ in replies)
    store = gateway.store
    citizen = store.active_citizen_id(HETU)
    assert citizen is not None
    subjects = [entry.subject for entry in store.inbox(citizen, limit=50)]
    assert sorted(subjects) == [f"Viesti {n}" for n in range(4)]


def test_limiter_window_slides_and_slots_return() -> None:
    now = [1000.0]
    limiter = RateLimiter(clock=lambda: now[0])
    org = Organisation(
        id="kunta", name="Kunta", sender_domains=("kunta.test",), networks=(),
        trust_anchors=(), replies_allowed=False, reply_address="kirjaamo@kunta.test",
        limits=RateLimits(messages_per_minute=2, concurrent_connections=2),
    )
    assert limiter.take_message(org) == 0
    now[0] += 20
    assert limiter.take_message(org) == 0
    assert limiter.take_message(org) == 40  # the first leaves the window at 1060
    now[0] += 40
    assert limiter.take_message(org) == 0
    assert limiter.open_connection(org) and limiter.open_connection(org)
    assert not limiter.open_connection(org)
    limiter.close_connection(org.id)
    assert limiter.open_connection(org)
