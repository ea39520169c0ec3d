"""aiosmtpd's SMTP protocol, adjusted where its defaults get in the way of a public-sector gateway.

Overridden, each for a reason:
- MAIL and RCPT: aiosmtpd refuses the DSN parameters (RET, ENVID, NOTIFY, ORCPT) that Exchange and
  Postfix send, answers without enhanced status codes and logs every address (HETUs) at INFO.
- DATA: a leaner reader (one growing buffer instead of a list of lines, about 2x the message size
  instead of 4x) that enforces the size limit while reading and answers 552 5.3.4.
- push: aiosmtpd hard-codes some replies without RFC 3463 codes; we advertise
  ENHANCEDSTATUSCODES, so every reply gets one.
- AUTH: PLAIN and LOGIN only after STARTTLS (530 5.7.0 before), checked by the handler in a
  thread (scrypt), the connection dropped after `MAX_FAILED_LOGINS` failures; aiosmtpd's own
  runs its authenticator on the event loop and answers 538 before TLS.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import logging
import re
from typing import Any

from aiosmtpd.smtp import MISSING, SMTP, Envelope, Session, syntax

from policies.model import Decision, Organisation
from smtp_in import replies
from smtp_in.policy_snapshot import ListenerPolicy

log = logging.getLogger(__name__)

# aiosmtpd logs each command line, RCPT addresses (which hold HETUs) included, at INFO and DEBUG.
AIOSMTPD_LOGGER = "mail.log"

_MAIL_PARAMS = {"SIZE", "BODY", "SMTPUTF8", "RET", "ENVID", "AUTH"}
_RCPT_PARAMS = {"NOTIFY", "ORCPT"}
_HAS_ENHANCED = re.compile(rb"^\d{3}[ -][245]\.\d{1,3}\.\d{1,3}( |$)")
# Generic enhanced codes for aiosmtpd's own fixed replies (RFC 3463 section 3).
_GENERIC_ENHANCED = {
    b"221": b"2.0.0",
    b"250": b"2.0.0",
    b"421": b"4.7.0",
    b"451": b"4.3.0",
    b"454": b"4.7.0",
    b"500": b"5.5.2",
    b"501": b"5.5.4",
    b"502": b"5.5.1",
    b"503": b"5.5.1",
    b"504": b"5.5.4",
    b"530": b"5.7.0",
    b"552": b"5.3.4",
    b"553": b"5.1.3",
    b"554": b"5.7.0",
    b"555": b"5.5.4",
}
_SIMPLE_PATH = re.compile(r"\s*<([^<>@\s\"\\()\[\],;:]+@[A-Za-z0-9.-]+|)>(?:\s+(.*))?")
_DATA_TERMINATOR = b"\r\n.\r\n"
_READ_CHUNK = 1 << 18
MAX_FAILED_LOGINS = 3  # per connection; then 421 and the connection is closed


class GatewayEnvelope(Envelope):
    """aiosmtpd's envelope plus what the gateway decided at RCPT time."""

    def __init__(self) -> None:
        super().__init__()
        self.recipients: list[Any] = []  # smtp_in.pipeline.Recipient, in RCPT order


class GatewaySession(Session):
    """aiosmtpd's session plus who the peer proved to be. STARTTLS starts a new session
    (RFC 3207 section 4.2), so nothing said before TLS survives it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.certificate: Decision | None = None  # the TLS client certificate's decision
        self.login: Decision | None = None  # a successful AUTH
        self.failed_logins = 0
        # Set at MAIL: the organisation, or on a shared network the ones the signature may name.
        self.organisation: Organisation | None = None
        self.candidates: tuple[Organisation, ...] = ()


class GatewaySMTP(SMTP):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # aiosmtpd keeps these limits in a dict shared by all sessions and grows it on every EHLO;
        # ours is per session and fixed: room for SIZE, BODY, SMTPUTF8, RET and ENVID on MAIL,
        # NOTIFY and ORCPT on RCPT (RFC 1869 section 4.1.2, RFC 3461).
        self.command_size_limits = collections.defaultdict(
            lambda: self.command_size_limit, {"MAIL": 512 + 200, "RCPT": 512 + 600}
        )
        # Per connection (a STARTTLS session does not reset them): the policy in force when it
        # opened, its MAIL commands so far, and the organisation whose connection slot it holds.
        self.policy: ListenerPolicy | None = getattr(self.event_handler, "policy", None)
        self.messages = 0
        self.rate_organisation: str | None = None

    def connection_lost(self, error: Exception | None) -> None:
        super().connection_lost(error)
        closed = getattr(self.event_handler, "connection_closed", None)
        if closed is not None:
            closed(self)

    def _create_envelope(self) -> GatewayEnvelope:
        return GatewayEnvelope()

    def _create_session(self) -> GatewaySession:
        return GatewaySession(self.loop)

    def _offers_auth(self) -> bool:
        """AUTH is offered over TLS where some organisation has SMTP AUTH logins."""
        return bool(self._tls_protocol) and self._has_logins()

    def _has_logins(self) -> bool:
        return self.policy is not None and bool(self.policy.logins)

    @syntax("EHLO hostname")
    async def smtp_EHLO(self, hostname: str | None) -> None:  # noqa: N802 - aiosmtpd's naming
        # Rebuilt to advertise ENHANCEDSTATUSCODES, and AUTH only over TLS and when configured.
        if not hostname:
            await self.push("501 5.5.4 Syntax: EHLO hostname")
            return
        assert self.session is not None
        self._set_rset_state()  # type: ignore[no-untyped-call]
        self.session.extended_smtp = True
        self.session.host_name = hostname
        lines = [self.hostname, "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES"]
        if self.data_size_limit:
            lines.insert(1, f"SIZE {self.data_size_limit}")
        if self.tls_context and not self._tls_protocol:
            lines.append("STARTTLS")
        if self._offers_auth():
            lines.append("AUTH PLAIN LOGIN")
        lines.append("HELP")
        for line in lines[:-1]:
            await SMTP.push(self, f"250-{line}")  # EHLO lines carry no enhanced code
        await SMTP.push(self, f"250 {lines[-1]}")

    @syntax("AUTH <mechanism> [initial-response]")
    async def smtp_AUTH(self, arg: str | None) -> None:  # noqa: N802 - aiosmtpd's naming
        if await self.check_helo_needed("EHLO"):
            return
        session = self.session
        assert isinstance(session, GatewaySession) and self.envelope is not None
        if not session.extended_smtp or not self._has_logins():
            await self.push(str(replies.AUTH_UNAVAILABLE))
            return
        if not self._tls_protocol:
            await self.push(str(replies.AUTH_NEEDS_TLS))
            return
        if session.login is not None or self.envelope.mail_from is not None:
            await self.push(str(replies.AUTH_NOT_NOW))
            return
        words = (arg or "").split()
        if not 1 <= len(words) <= 2 or words[0].upper() not in ("PLAIN", "LOGIN"):
            await self.push(str(replies.AUTH_MECHANISM))
            return
        initial = words[1] if len(words) > 1 else None
        credentials = await self._credentials(words[0].upper(), initial)
        if credentials is None:
            return  # the reason was answered already
        decision: Decision = await self.event_handler.check_login(*credentials, self.policy)
        if decision.allowed:
            session.login = decision
            session.authenticated = True
            log.info("%s", "; ".join(decision.trace))
            await self.push(str(replies.AUTH_OK))
            return
        session.failed_logins += 1
        log.info("SMTP AUTH failed (%d of %d)", session.failed_logins, MAX_FAILED_LOGINS)
        if session.failed_logins < MAX_FAILED_LOGINS:
            await self.push(str(replies.AUTH_FAILED))
            return
        # Guessing costs a new connection (and TLS handshake) every few tries.
        await self.push(str(replies.AUTH_TOO_MANY_FAILURES))
        self._close_now()

    def _close_now(self) -> None:
        assert self._handler_coroutine is not None and self.transport is not None
        self._handler_coroutine.cancel()
        self.transport.close()

    async def _credentials(self, mechanism: str, initial: str | None) -> tuple[bytes, bytes] | None:
        """(username, password) by RFC 4616 PLAIN or the LOGIN exchange; None when answered."""
        if mechanism == "PLAIN":
            blob = await self._auth_response(initial, "")
            if blob is None:
                return None
            parts = blob.split(b"\0")
            if len(parts) != 3:
                await self.push(str(replies.AUTH_SYNTAX))
                return None
            return parts[1], parts[2]
        username = await self._auth_response(initial, "Username:")
        if username is None:
            return None
        password = await self._auth_response(None, "Password:")
        return None if password is None else (username, password)

    async def _auth_response(self, initial: str | None, challenge: str) -> bytes | None:
        if initial is None:
            # aiosmtpd's challenge answers an abort (*) or bad base64 itself, with codes.
            blob = await self.challenge_auth(challenge)
            return None if blob is MISSING else blob
        if initial == "=":  # RFC 4954: an empty initial response
            return b""
        try:
            return base64.b64decode(initial, validate=True)
        except binascii.Error:
            await self.push(str(replies.AUTH_SYNTAX))
            return None

    @syntax("VRFY <address>")
    async def smtp_VRFY(self, arg: str | None) -> None:  # noqa: N802 - aiosmtpd's naming
        # Never confirms an address (that would reveal who has an account), and never echoes it.
        await self.push(str(replies.CANNOT_VRFY))

    async def push(self, status: str | bytes) -> None:
        line = status.encode("ascii", "replace") if isinstance(status, str) else status
        code = line[:3]
        # The greeting, EHLO lines and 354 carry no enhanced code (RFC 2034 section 3).
        if (
            code not in (b"220", b"354")
            and not line.startswith(b"250-")
            and (not _HAS_ENHANCED.match(line) and code in _GENERIC_ENHANCED)
        ):
            line = code + b" " + _GENERIC_ENHANCED[code] + line[3:]
        await super().push(line)

    @syntax("MAIL FROM: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_MAIL(self, arg: str | None) -> None:  # noqa: N802 - aiosmtpd's naming
        if await self.check_helo_needed() or await self.check_auth_needed("MAIL"):
            return
        assert self.envelope is not None and self.session is not None
        if self.envelope.mail_from is not None:
            await self.push(str(replies.NESTED_MAIL))
            return
        parsed = self._address_and_params(arg, "FROM:", _MAIL_PARAMS)
        if isinstance(parsed, replies.Reply):
            await self.push(str(replies.MAIL_SYNTAX if parsed is _SYNTAX else parsed))
            return
        address, params = parsed
        size = params.get("SIZE")
        if size is not None:
            if not size.isdigit():
                await self.push(str(replies.BAD_PARAMETER))
                return
            if self.data_size_limit and int(size) > self.data_size_limit:
                await self.push(str(replies.TOO_BIG))
                return
        if params.get("BODY", "7BIT") not in ("7BIT", "8BITMIME"):
            await self.push(str(replies.BAD_PARAMETER))
            return
        options = [f"{k}={v}" if v else k for k, v in params.items()]
        status = await self._call_handler_hook("MAIL", address, options)
        if status is MISSING:
            self.envelope.mail_from = address
            self.envelope.mail_options.extend(options)
            status = str(replies.SENDER_OK)
        await self.push(status)
        if status.startswith("421"):  # a connection over its organisation's limit ends here
            self._close_now()

    @syntax("RCPT TO: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_RCPT(self, arg: str | None) -> None:  # noqa: N802 - aiosmtpd's naming
        if await self.check_helo_needed() or await self.check_auth_needed("RCPT"):
            return
        assert self.envelope is not None
        if self.envelope.mail_from is None:
            await self.push(str(replies.NEED_MAIL))
            return
        parsed = self._address_and_params(arg, "TO:", _RCPT_PARAMS)
        if isinstance(parsed, replies.Reply):
            await self.push(str(replies.RCPT_SYNTAX if parsed is _SYNTAX else parsed))
            return
        address, params = parsed
        options = [f"{k}={v}" if v else k for k, v in params.items()]
        status = await self._call_handler_hook("RCPT", address, options)
        if status is MISSING:
            status = str(replies.RECIPIENT_OK)
        await self.push(status)

    def _address_and_params(
        self, arg: str | None, keyword: str, allowed: set[str]
    ) -> tuple[str, dict[str, str]] | replies.Reply:
        if arg is None:
            return _SYNTAX
        rest = self._strip_command_keyword(keyword, arg)
        if rest is None:
            return _SYNTAX
        # Nearly every client sends a plain <local@domain>; email's address parser (which
        # _getaddr uses) costs more than the rest of the command, so it handles only the rest.
        simple = _SIMPLE_PATH.fullmatch(rest)
        if simple:
            address, params_text = simple.group(1), simple.group(2) or ""
        else:
            address, params_text = self._getaddr(rest)
        if address is None:
            return replies.BAD_ADDRESS
        if keyword == "TO:" and not address:
            return _SYNTAX
        params: dict[str, str] = {}
        assert params_text is not None
        for word in params_text.split():
            name, _, value = word.partition("=")
            name = name.upper()
            if name not in allowed or not name.isalnum():
                return replies.BAD_PARAMETER
            params[name] = value.upper() if name in ("SIZE", "BODY", "RET", "NOTIFY") else value
        if params and not self.session.extended_smtp:  # type: ignore[union-attr]
            return _SYNTAX
        return address, params

    @syntax("DATA")
    async def smtp_DATA(self, arg: str | None) -> None:  # noqa: N802 - aiosmtpd's naming
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push(str(replies.NEED_RCPT))
            return
        if arg:
            await self.push("501 5.5.4 Syntax: DATA")
            return
        await self.push(f"354 {replies.START_DATA.text}")
        content = await self._read_data()
        if content is None:
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            await self.push(str(replies.TOO_BIG))
            return
        self.envelope.content = self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push(str(replies.ACCEPTED) if status is MISSING else status)

    async def _read_data(self) -> bytes | None:
        """Read up to the lone dot; undo dot-stuffing. None when over the size limit
        (the rest is still read and discarded, so the session stays in step)."""
        limit = self.data_size_limit or 0
        buffer = bytearray(b"\r\n")  # lets the terminator match an empty message too
        scanned = 0
        oversize = False
        while True:
            chunk = await self._reader.read(_READ_CHUNK)
            if not chunk:
                raise ConnectionResetError("connection closed during DATA")
            buffer += chunk
            end = buffer.find(_DATA_TERMINATOR, scanned)
            if end >= 0:
                break
            scanned = max(0, len(buffer) - len(_DATA_TERMINATOR) + 1)
            if limit and len(buffer) > limit + 2 and not oversize:
                oversize = True
            if oversize:
                # Keep only the tail that could still hold the terminator.
                del buffer[: len(buffer) - len(_DATA_TERMINATOR)]
                scanned = 0
        leftover = bytes(buffer[end + len(_DATA_TERMINATOR) :])
        if leftover:
            # We do not offer PIPELINING, but a client may still send its next command early.
            self._reader._buffer[:0] = leftover  # type: ignore[attr-defined]  # noqa: SLF001
        if oversize or (limit and end > limit):
            return None
        del buffer[end + 2 :]
        del buffer[:2]
        if b"\r\n." in buffer:
            buffer = buffer.replace(b"\r\n.", b"\r\n")
        if buffer.startswith(b"."):
            del buffer[0]
        return bytes(buffer)


_SYNTAX = replies.Reply(501, "5.5.4", "syntax")


def quiet_aiosmtpd_logging() -> None:
    """Keep addresses (HETUs) out of the logs: aiosmtpd logs them at INFO and DEBUG."""
    logging.getLogger(AIOSMTPD_LOGGER).setLevel(logging.WARNING)
