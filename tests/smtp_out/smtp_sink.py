"""A capturing SMTP sink for tests: aiosmtpd handler with optional canned refusals."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Received:
    envelope_from: str
    recipients: list[str]
    data: bytes
    over_tls: bool


@dataclass
class SinkHandler:
    """Captures accepted mail; optional fixed replies to RCPT or DATA simulate refusals."""

    rcpt_reply: str | None = None
    data_reply: str | None = None
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.rcpt_reply is not None:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply is not None:
            return self.data_reply
        self.received.append(
            Received(
                envelope_from=envelope.mail_from,
                recipients=list(envelope.rcpt_tos),
                data=envelope.original_content,
                over_tls=session.ssl is not None,
            )
        )
        return "250 2.0.0 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


StartSink = Callable[..., Controller]
