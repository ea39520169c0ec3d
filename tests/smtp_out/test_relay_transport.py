"""RelayTransport delivers to a real SMTP server and sorts its refusals into retry or give up."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult
from smtp_sink import SinkHandler, StartSink, free_port

from smtp_out.transport import (
    PermanentDeliveryError,
    RelayTransport,
    TransientDeliveryError,
    message_bytes,
)

SENDER = "noreply@gateway.example"
RECIPIENT = "citizen@example.org"


def sample() -> EmailMessage:
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = RECIPIENT
    message["Subject"] = "Uusi viesti"
    message.set_content("Kirjaudu palveluun.\n")
    return message


async def send(transport: RelayTransport, data: bytes | None = None) -> None:
    await transport.send(
        data or message_bytes(sample()), envelope_from=SENDER, recipients=[RECIPIENT]
    )


@pytest.fixture(autouse=True)
async def _let_tls_connections_finish_closing() -> AsyncIterator[None]:
    """A TLS connection closes after its close_notify exchange, a few loop turns after QUIT.
    Each test's event loop must live that long, or the socket is left for the garbage
    collector and its ResourceWarning lands in whichever test runs next."""
    yield
    await asyncio.sleep(0.2)


async def test_plain_delivery_without_tls(start_sink: StartSink) -> None:
    handler = SinkHandler()
    sink = start_sink(handler)
    data = message_bytes(sample())
    await send(RelayTransport("127.0.0.1", sink.port, starttls="none"), data)
    [received] = handler.received
    assert received.envelope_from == SENDER
    assert received.recipients == [RECIPIENT]
    assert not received.over_tls
    assert received.data == data


async def test_ehlo_names_the_given_local_hostname(start_sink: StartSink) -> None:
    names: list[str] = []

    class Recording(SinkHandler):
        async def handle_EHLO(
            self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
        ) -> list[str]:
            names.append(hostname)
            session.host_name = hostname
            return responses

    sink = start_sink(Recording())
    transport = RelayTransport(
        "127.0.0.1", sink.port, starttls="none", local_hostname="asiointi.example.fi"
    )
    await send(transport)
    assert names == ["asiointi.example.fi"]


async def test_required_starttls_upgrades_and_verifies(
    start_sink: StartSink, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    handler = SinkHandler()
    sink = start_sink(handler, tls_context=server_tls)
    transport = RelayTransport("127.0.0.1", sink.port, starttls="required", tls_context=client_tls)
    await send(transport)
    [received] = handler.received
    assert received.over_tls
    parsed = message_from_bytes(received.data, policy=policy.default)
    assert parsed["Subject"] == "Uusi viesti"


async def test_opportunistic_uses_starttls_when_offered(
    start_sink: StartSink, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    handler = SinkHandler()
    sink = start_sink(handler, tls_context=server_tls)
    await send(
        RelayTransport("127.0.0.1", sink.port, starttls="opportunistic", tls_context=client_tls)
    )
    assert [r.over_tls for r in handler.received] == [True]


async def test_opportunistic_sends_in_clear_when_not_offered(start_sink: StartSink) -> None:
    handler = SinkHandler()
    sink = start_sink(handler)
    await send(RelayTransport("127.0.0.1", sink.port, starttls="opportunistic"))
    assert [r.over_tls for r in handler.received] == [False]


async def test_required_starttls_refuses_a_server_without_it(start_sink: StartSink) -> None:
    handler = SinkHandler()
    sink = start_sink(handler)
    with pytest.raises(TransientDeliveryError, match="STARTTLS"):
        await send(RelayTransport("127.0.0.1", sink.port, starttls="required"))
    assert handler.received == []


async def test_untrusted_relay_certificate_is_transient(
    start_sink: StartSink, server_tls: ssl.SSLContext
) -> None:
    handler = SinkHandler()
    sink = start_sink(handler, tls_context=server_tls)
    # The default context trusts the system store, which does not know the test CA.
    with pytest.raises(TransientDeliveryError):
        await send(RelayTransport("127.0.0.1", sink.port, starttls="required"))
    assert handler.received == []


@pytest.mark.parametrize(
    ("handler", "error", "text"),
    [
        (
            SinkHandler(rcpt_reply="450 4.2.1 <citizen@example.org> busy"),
            TransientDeliveryError,
            "relay refused the recipients: 450 4.2.1",
        ),
        (
            SinkHandler(rcpt_reply="550 5.1.1 <citizen@example.org> unknown"),
            PermanentDeliveryError,
            "relay refused the recipients: 550 5.1.1",
        ),
        (
            SinkHandler(data_reply="451 4.3.0 citizen@example.org try later"),
            TransientDeliveryError,
            "relay refused the message: 451 4.3.0",
        ),
        (
            SinkHandler(data_reply="554 citizen@example.org rejected"),
            PermanentDeliveryError,
            "relay refused the message: 554",
        ),
    ],
)
async def test_refusals_map_to_error_kind_without_addresses(
    start_sink: StartSink, handler: SinkHandler, error: type[Exception], text: str
) -> None:
    sink = start_sink(handler)
    with pytest.raises(error) as caught:
        await send(RelayTransport("127.0.0.1", sink.port, starttls="none"))
    assert str(caught.value) == text
    assert handler.received == []


async def test_refused_connection_is_transient() -> None:
    with pytest.raises(TransientDeliveryError):
        await send(RelayTransport("127.0.0.1", free_port(), starttls="none", timeout=5))


async def test_login_happens_over_tls(
    start_sink: StartSink, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(
        server: object, session: object, envelope: object, mechanism: str, auth_data: object
    ) -> AuthResult:
        logins.append((auth_data.login, auth_data.password))  # type: ignore[attr-defined]
        return AuthResult(success=True)

    handler = SinkHandler()
    sink = start_sink(
        handler, tls_context=server_tls, authenticator=authenticator, auth_require_tls=True
    )
    transport = RelayTransport(
        "127.0.0.1",
        sink.port,
        starttls="required",
        username="relay",
        password="s3cret",
        tls_context=client_tls,
    )
    await send(transport)
    assert logins == [(b"relay", b"s3cret")]
    assert [r.over_tls for r in handler.received] == [True]


def test_credentials_without_required_tls_are_refused() -> None:
    with pytest.raises(ValueError, match="required"):
        RelayTransport("relay.example", 25, starttls="opportunistic", username="u", password="p")
