"""Ways to hand a finished outbound message to the world.

A `Transport` takes a finished message (CRLF bytes, already DKIM-signed by the worker) plus its
envelope and either delivers it or raises one of the two delivery errors, so the worker only has
to decide *when* to try again::

    DeliveryError
    ├── TransientDeliveryError   try again later (4xx, connection or TLS trouble, full disk)
    └── PermanentDeliveryError   give up (5xx for this message)

Error texts carry reply codes and enhanced status codes only: a relay's reply text often
echoes the recipient address, and these texts end up in logs and in the queue table.

Two transports exist: `RelayTransport` speaks SMTP to the configured relay (production) and
`OutboxDirTransport` drops `.eml` files in a directory (development).
"""

from __future__ import annotations

import asyncio
import email.policy
import os
import re
import secrets
import ssl
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Literal, Protocol

import aiosmtplib

StartTLS = Literal["required", "opportunistic", "none"]

_ENHANCED_STATUS = re.compile(r"^\s*([245]\.\d{1,3}\.\d{1,3})\b")


class DeliveryError(Exception):
    """A message could not be handed over; the subclass says whether to retry."""


class TransientDeliveryError(DeliveryError):
    """Delivery failed for now; the same message may succeed later."""


class PermanentDeliveryError(DeliveryError):
    """Delivery was refused for good; retrying the same message will not help."""


class Transport(Protocol):
    """Delivers one message (CRLF bytes) to the given envelope recipients, all or nothing."""

    async def send(self, data: bytes, *, envelope_from: str, recipients: Sequence[str]) -> None: ...


def message_bytes(message: EmailMessage) -> bytes:
    """The message as it goes on the wire: CRLF line endings, long headers folded.

    Rendered messages (notifications) become bytes here, before signing: a DKIM signature
    covers exactly these bytes, so nothing may re-serialise the message after it.
    """
    return message.as_bytes(policy=email.policy.SMTP)


class OutboxDirTransport:
    """Writes each message to `<directory>/<UTC timestamp>-<random>.eml`, readable by owner only.

    The file appears atomically (written under a temporary name, fsynced, renamed, directory
    fsynced), so a reader polling the directory never sees half a message and a crash never
    leaves one behind under a final name. The envelope is not recorded: the file holds exactly
    the message bytes.
    """

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    async def send(self, data: bytes, *, envelope_from: str, recipients: Sequence[str]) -> None:
        try:
            await asyncio.to_thread(self._write, data)
        except OSError as exc:
            raise TransientDeliveryError("could not write the message to the outbox") from exc

    def _write(self, data: bytes) -> Path:
        self._directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        final = self._directory / f"{stamp}-{secrets.token_hex(8)}.eml"
        # mkstemp creates the file with mode 0600 whatever the umask.
        fd, temp_name = tempfile.mkstemp(dir=self._directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.rename(temp_name, final)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        dir_fd = os.open(self._directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return final


class RelayTransport:
    """Delivers through an SMTP relay with aiosmtplib, one connection per message.

    `starttls` is "required" (refuse to send in clear: no STARTTLS offered is a transient
    failure, so mail waits until the relay is fixed), "opportunistic" (upgrade when offered) or
    "none". Whenever TLS is used the certificate is verified with `tls_context` (default: the
    system trust store); a failed handshake is transient rather than a silent fall-back to clear
    text. Credentials are only ever sent after STARTTLS, hence they need "required".

    A relay refusing the login is treated as transient even on 5xx: that is our configuration,
    not the message's fault, and marking every queued message dead would lose them all.

    `local_hostname` is the name given in EHLO (the gateway's own); without it aiosmtplib asks
    `socket.getfqdn()`, a DNS look-up per connection that may name an internal host.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        starttls: StartTLS,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        tls_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        if starttls not in ("required", "opportunistic", "none"):
            raise ValueError("starttls must be 'required', 'opportunistic' or 'none'")
        if (username is None) != (password is None):
            raise ValueError("username and password must be given together")
        if username is not None and starttls != "required":
            raise ValueError("relay credentials need starttls = 'required'")
        self._host = host
        self._port = port
        self._starttls = starttls
        self._username = username
        self._password = password
        self._timeout = timeout
        self._tls_context = tls_context or ssl.create_default_context()
        self._local_hostname = local_hostname

    async def send(self, data: bytes, *, envelope_from: str, recipients: Sequence[str]) -> None:
        if not recipients:
            raise PermanentDeliveryError("message has no recipients")
        client = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            timeout=self._timeout,
            start_tls=False,  # decided below, after seeing the relay's EHLO
            tls_context=self._tls_context,
            local_hostname=self._local_hostname,
        )
        try:
            await client.connect()
            try:
                await self._secure_and_login(client)
                await self._transfer(client, envelope_from, list(recipients), data)
            finally:
                await _quit_quietly(client)
        except (aiosmtplib.SMTPException, OSError) as exc:
            # OSError covers refused connections, timeouts and ssl.SSLError (a certificate
            # that does not verify): all worth another try once the relay is fixed.
            raise TransientDeliveryError(f"relay conversation failed: {_describe(exc)}") from exc

    async def _secure_and_login(self, client: aiosmtplib.SMTP) -> None:
        await client.ehlo()
        offered = client.supports_extension("starttls")
        if self._starttls == "required" and not offered:
            raise TransientDeliveryError("relay does not offer STARTTLS, which is required")
        if self._starttls != "none" and offered:
            await client.starttls()
        if self._username is not None and self._password is not None:
            try:
                await client.login(self._username, self._password)
            except aiosmtplib.SMTPException as exc:
                raise TransientDeliveryError("relay refused the login: " + _describe(exc)) from exc

    @staticmethod
    async def _transfer(
        client: aiosmtplib.SMTP, envelope_from: str, recipients: list[str], data: bytes
    ) -> None:
        try:
            refused, _ = await client.sendmail(envelope_from, recipients, data)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            replies = [(refusal.code, refusal.message) for refusal in exc.recipients]
            raise _by_replies(replies, "relay refused the recipients") from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise _by_replies([(exc.code, exc.message)], "relay refused the message") from exc
        if refused:
            # Some recipients got the message, others not: still an error for the caller,
            # who learns that delivery was not complete.
            replies = [(reply.code, reply.message) for reply in refused.values()]
            raise _by_replies(replies, "relay refused some recipients")


def _by_replies(replies: Sequence[tuple[int, str]], what: str) -> DeliveryError:
    """Permanent only if every refusal was a 5xx; any 4xx means a retry may work."""
    detail = f"{what}: {', '.join(_status(code, text) for code, text in replies)}"
    if replies and all(500 <= code < 600 for code, _ in replies):
        return PermanentDeliveryError(detail)
    return TransientDeliveryError(detail)


def _status(code: int, text: str) -> str:
    """The reply code and enhanced status, never the server's free text (it echoes addresses)."""
    match = _ENHANCED_STATUS.match(text)
    return f"{code} {match.group(1)}" if match else str(code)


def _describe(exc: BaseException) -> str:
    """What went wrong, by SMTP status or exception class, without any free text."""
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return _status(exc.code, exc.message)
    return type(exc).__name__


async def _quit_quietly(client: aiosmtplib.SMTP) -> None:
    """Say goodbye if the connection still stands; its failure changes nothing we sent."""
    if not client.is_connected:
        return
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError):
        client.close()
