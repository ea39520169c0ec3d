"""The aiosmtpd handler: who is connecting (MAIL), whom the mail is for (RCPT), and DATA.

Who is connecting: a TLS client certificate (mapped after STARTTLS), an SMTP AUTH login
(`check_login`) or the source network (policies.connection). On a shared network nobody is
identified: RCPT accepts every valid HETU and the signature names the organisation at DATA.

DATA runs the ingest pipeline and answers only after the commit: 250 means stored for good.
Each connection keeps the policy snapshot it opened under (`reload` gives new connections a new
one); rate limits (smtp_in.limits) are counted at MAIL, before any content is accepted.
Logs name organisations, reply codes and stage traces; never addresses, HETUs or content.

Bounces are the one thing any peer may send: a delivery status notification with the null sender
to the per-mail return path (smtp_out.verp) of something the gateway sent. It is recorded
against that outbound queue row, and never delivered to anyone. Their logs name only row ids,
actions and status codes.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography import x509

from crypto.hetu import InvalidHetu, is_temporary, parse_hetu
from crypto.passwords import DUMMY_HASH, verify_password
from mailbox_store import MailboxStore, StoreError, StoreFull
from policies.connection import (
    Connection,
    identify_client_certificate,
    identify_connection,
    login_decision,
)
from policies.model import Decision, Organisation, RateLimits
from smtp_in import replies
from smtp_in.dsn import MalformedDsn, NotADsn, parse_dsn
from smtp_in.limits import RateLimiter
from smtp_in.pipeline import Inbound, Outcome, Recipient, Stage, StagePool, run_pipeline
from smtp_in.policy_snapshot import ListenerPolicy
from smtp_in.server import GatewayEnvelope
from smtp_out.verp import BOUNCE_PREFIX, Mac, parse_return_path

log = logging.getLogger(__name__)

_HETU_SHAPED = re.compile(r"\d{6}.\d{3}.", re.ASCII)


def _now() -> datetime:
    return datetime.now(UTC)


class ActiveCitizens:
    """A short-lived memory of which HETUs have an active account, for answering RCPT.

    Only positive answers are kept, for `ttl` seconds. It is safe to be briefly stale: the store
    checks every recipient's status again under lock when it commits, and a citizen passivated
    meanwhile gets the same no-account answer at DATA.
    """

    def __init__(self, store: MailboxStore, ttl: float = 30.0, size: int = 10_000) -> None:
        self.store, self.ttl, self.size = store, ttl, size
        self._known: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def cached(self, hetu: str) -> str | None:
        hit = self._known.get(hetu)
        if hit is None or hit[1] < time.monotonic():
            return None
        return hit[0]

    def look_up(self, hetu: str) -> str | None:
        """The store's answer (blocking: run it in a thread), remembered when positive."""
        citizen_id = self.store.active_citizen_id(hetu)
        if citizen_id is not None:
            self._known[hetu] = (citizen_id, time.monotonic() + self.ttl)
            self._known.move_to_end(hetu)
            while len(self._known) > self.size:
                self._known.popitem(last=False)
        return citizen_id


@dataclass(frozen=True, slots=True)
class BounceRecipient:
    """A bounce address the gateway issued: the outbound queue row its DSN is about."""

    queue_id: str


# Why MAIL was refused (policies.connection reasons) -> the answer the peer gets.
_CONNECTION_REPLIES = {
    "unknown_peer": replies.UNKNOWN_PEER,
    "tls_required": replies.TLS_REQUIRED,
    "client_certificate_unknown": replies.CLIENT_CERT_UNKNOWN,
    "client_certificate_not_pinned": replies.CLIENT_CERT_NOT_PINNED,
    "client_certificate_ambiguous": replies.CLIENT_CERT_AMBIGUOUS,
    "conflicting_authentication": replies.CONFLICTING_AUTHENTICATION,
}


class GatewayHandler:
    def __init__(
        self,
        *,
        organisations: Sequence[Organisation],
        domains: Sequence[str],
        submission_address: str,
        store: MailboxStore,
        stages: Sequence[Stage],
        pool: StagePool | None,
        max_recipients: int,
        allow_temporary_hetus: bool,
        bounce_mac: Mac,
        on_delivered: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = _now,
        client_cas: Mapping[str, Sequence[x509.Certificate]] | None = None,
        limits: RateLimits | None = None,
    ) -> None:
        # New connections take this snapshot; `reload` replaces it.
        self.policy = ListenerPolicy(
            tuple(organisations), dict(client_cas or {}), limits or RateLimits()
        )
        self.limiter = RateLimiter()
        self.domains = {d.lower() for d in domains}
        self.submission_address = submission_address.lower()
        self.store = store
        self.citizens = ActiveCitizens(store)
        self.stages = tuple(stages)
        self.pool = pool
        self.max_recipients = max_recipients
        self.allow_temporary_hetus = allow_temporary_hetus
        self.bounce_mac = bounce_mac
        self.on_delivered = on_delivered
        self.clock = clock

    def reload(self, policy: ListenerPolicy, pool: StagePool | None) -> None:
        """New connections run under `policy` and DATA uses `pool`; those in progress keep
        their snapshot, and their jobs already in the old pool finish there."""
        self.policy = policy
        self.pool = pool

    def _policy(self, server: Any) -> ListenerPolicy:
        """The connection's snapshot (none when called outside a connection, `policy test`)."""
        return getattr(server, "policy", None) or self.policy

    def _rate_limit(self, server: Any, organisation: Organisation | None) -> replies.Reply | None:
        """Count this MAIL against the connection's and the organisation's limits; the refusal
        when one is reached (nothing counted then)."""
        policy = self._policy(server)
        limits = organisation.limits if organisation else policy.limits
        sender = organisation.id if organisation else "a shared network"
        if server.messages >= limits.messages_per_connection:
            log.info("refused MAIL from %s: messages_per_connection %d reached",
                     sender, limits.messages_per_connection)
            return replies.TOO_MANY_ON_CONNECTION
        if organisation is not None:
            if server.rate_organisation is None:
                if not self.limiter.open_connection(organisation):
                    log.info("refused a connection of %s: concurrent_connections %d reached",
                             sender, limits.concurrent_connections)
                    return replies.TOO_MANY_CONNECTIONS
                server.rate_organisation = organisation.id
            wait = self.limiter.take_message(organisation)
            if wait:
                log.info("refused MAIL from %s: messages_per_minute %d reached",
                         sender, limits.messages_per_minute)
                return replies.message_rate_limited(wait)
        server.messages += 1
        return None

    def connection_closed(self, server: Any) -> None:
        """Give back the connection's slot of its organisation (smtp_in.server calls this)."""
        if server.rate_organisation is not None:
            self.limiter.close_connection(server.rate_organisation)
            server.rate_organisation = None

    async def handle_MAIL(  # noqa: N802 - aiosmtpd hook name
        self,
        server: Any,
        session: Any,
        envelope: GatewayEnvelope,
        address: str,
        options: list[str],
    ) -> str:
        if not address:
            # The null sender (RFC 5321 section 4.5.5) is how MTAs anywhere return delivery
            # status notifications, so any peer may use it; RCPT then admits only bounce
            # addresses, which reveal nothing about citizens.
            envelope.mail_from = address
            envelope.mail_options.extend(options)
            return str(replies.SENDER_OK)
        # Unknown peers are refused before any recipient is examined, so nobody outside can
        # probe which HETUs have accounts.
        connection = Connection(
            ipaddress.ip_address(session.peer[0]),
            tls=session.ssl is not None,
            certificate=session.certificate,
            login=session.login,
        )
        decision = identify_connection(connection, self._policy(server).organisations)
        if not decision.allowed:
            log.info("refused MAIL: %s", "; ".join(decision.trace))
            return str(_CONNECTION_REPLIES.get(decision.reason, replies.UNKNOWN_PEER))
        # Limits are counted before DATA, so a refusal never concerns an accepted message.
        limited = self._rate_limit(server, decision.organisation) if server else None
        if limited is not None:
            return str(limited)
        session.organisation = decision.organisation
        session.candidates = decision.candidates
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return str(replies.SENDER_OK)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd hook name
        self,
        server: Any,
        session: Any,
        envelope: GatewayEnvelope,
        address: str,
        options: list[str],
    ) -> str:
        if envelope.mail_from == "":
            return self._bounce_recipient(envelope, address, options)
        # On a shared network nobody is identified yet: no answer may tell who has an account.
        reply, recipient = await self._recipient(address, defer=bool(session.candidates))
        if recipient is None:
            return str(reply)
        if len(envelope.recipients) >= self.max_recipients:
            return str(replies.TOO_MANY_RECIPIENTS)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        envelope.recipients.append(recipient)
        return str(reply)

    def _bounce_recipient(self, envelope: GatewayEnvelope, address: str, options: list[str]) -> str:
        """RCPT in a null-sender transaction: only a bounce address the gateway issued."""
        local, _, domain = address.rpartition("@")
        if domain.lower() not in self.domains:
            return str(replies.RELAY_DENIED)
        # Answered without looking at anything else: this peer may be anyone, and must not
        # learn whether any citizen address exists.
        if not local.lower().startswith(BOUNCE_PREFIX):
            return str(replies.NULL_SENDER_BOUNCES_ONLY)
        queue_id = parse_return_path(local, mac=self.bounce_mac)
        if queue_id is None:
            log.info("refused a bounce address the gateway did not issue")
            return str(replies.UNKNOWN_BOUNCE_ADDRESS)
        # A DSN reports on one mail, which went out under one return path.
        if envelope.recipients:
            return str(replies.ONE_BOUNCE_ADDRESS)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        envelope.recipients.append(BounceRecipient(queue_id))
        return str(replies.RECIPIENT_OK)

    async def _recipient(
        self, address: str, *, defer: bool
    ) -> tuple[replies.Reply, Recipient | None]:
        """The answer, and the recipient when accepted; with `defer`, any valid HETU is
        accepted and looked up only at DATA."""
        local, _, domain = address.rpartition("@")
        if domain.lower() not in self.domains:
            return replies.RELAY_DENIED, None
        if local.lower().startswith(BOUNCE_PREFIX):
            return replies.BOUNCE_NEEDS_NULL_SENDER, None
        if address.lower() == self.submission_address:
            return replies.RECIPIENT_OK, Recipient(None)
        if not _HETU_SHAPED.fullmatch(local):
            return replies.UNKNOWN_MAILBOX, None
        try:
            hetu = parse_hetu(local, allow_temporary=True)
        except InvalidHetu:
            return replies.INVALID_HETU, None
        # Temporary codes are valid syntax, but only test environments have accounts for them.
        if is_temporary(hetu) and not self.allow_temporary_hetus:
            return replies.NO_ACCOUNT, None
        if defer:
            return replies.RECIPIENT_OK, Recipient(None, hetu=hetu)
        citizen_id = self.citizens.cached(hetu)
        if citizen_id is None:
            try:
                citizen_id = await asyncio.to_thread(self.citizens.look_up, hetu)
            except StoreError:
                return replies.TEMPORARY_FAILURE, None
        if citizen_id is None:
            return replies.NO_ACCOUNT, None
        return replies.RECIPIENT_OK, Recipient(citizen_id)

    def handle_STARTTLS(  # noqa: N802 - aiosmtpd hook name
        self, server: Any, session: Any, envelope: GatewayEnvelope
    ) -> bool:
        """Map a client certificate (verified by the TLS layer against every organisation's
        tls_client_ca) to its organisation; MAIL acts on the decision."""
        ssl_object = (session.ssl or {}).get("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if der:
            certificate = x509.load_der_x509_certificate(der)
            policy = self._policy(server)
            session.certificate = identify_client_certificate(
                certificate, policy.client_cas, policy.organisations
            )
            log.info("STARTTLS: %s", "; ".join(session.certificate.trace))
        return True  # a refused certificate is answered at MAIL, with its reason

    async def check_login(
        self, username: bytes, password: bytes, policy: ListenerPolicy | None = None
    ) -> Decision:
        """SMTP AUTH credentials -> the organisation, under the connection's `policy`. An
        unknown user costs the same scrypt as a known one, so the time taken does not tell
        whether the user exists."""
        name = username.decode("utf-8", "replace")
        found = (policy or self.policy).logins.get(name)
        hashed = found[1] if found else DUMMY_HASH
        valid = await asyncio.to_thread(verify_password, password, hashed)
        return login_decision(name, found[0] if found and valid else None)

    async def handle_DATA(  # noqa: N802 - aiosmtpd hook name
        self, server: Any, session: Any, envelope: GatewayEnvelope
    ) -> str:
        content = envelope.content
        assert isinstance(content, bytes)
        # The pipeline owns the bytes now; aiosmtpd's envelope need not keep them alive.
        envelope.content = envelope.original_content = None
        if envelope.mail_from == "":
            (bounce,) = envelope.recipients  # RCPT admits exactly one bounce address
            return await self._record_bounce(content, bounce.queue_id)
        organisation: Organisation | None = session.organisation
        message = Inbound(
            raw=content,
            organisation_id=organisation.id if organisation else "",
            recipients=tuple(envelope.recipients),
            received_at=self.clock(),
            candidates=tuple(org.id for org in session.candidates),
            tls=session.ssl is not None,
        )
        sender = organisation.id if organisation else "a shared network"
        del content
        try:
            message = await run_pipeline(self.stages, message, self.pool)
        except Outcome as outcome:
            log.info(
                "message from %s answered %s %s after %s",
                sender,
                outcome.reply.code,
                outcome.reply.status,
                " > ".join(message.trace) or "start",
            )
            return str(outcome.reply)
        except Exception as exc:  # noqa: BLE001 - fail closed: the sender retries, nothing stored
            log.error("ingest failed for a message from %s: %s", sender, _describe(exc))
            return str(replies.TEMPORARY_FAILURE)
        log.info(
            "message from %s stored for %d citizen(s)%s",
            message.organisation_id,
            len(message.citizen_ids),
            " (already stored: resent)" if message.duplicate else "",
        )
        self.on_delivered()
        return str(replies.ACCEPTED)

    async def _record_bounce(self, content: bytes, queue_id: str) -> str:
        """Record a DSN against its queue row; nothing of it is delivered to anyone."""
        try:
            # Parsing up to a megabyte is CPU work: keep it off the event loop.
            report = await asyncio.to_thread(parse_dsn, content)
        except NotADsn:
            log.info("refused a non-DSN message to the bounce address of queue row %s", queue_id)
            return str(replies.NOT_A_DSN)
        except MalformedDsn:
            log.info("refused an unreadable DSN for queue row %s", queue_id)
            return str(replies.MALFORMED_DSN)
        try:
            found = await asyncio.to_thread(
                self.store.record_bounce, queue_id, action=report.action, status=report.status
            )
        except StoreError as exc:
            log.error("DSN for queue row %s not recorded (sender retries): %s", queue_id, exc)
            full = isinstance(exc, StoreFull)
            return str(replies.STORAGE_FULL if full else replies.TEMPORARY_FAILURE)
        if found:
            log.info("DSN for queue row %s: %s %s", queue_id, report.action, report.status)
        else:
            # Deleted by an operator meanwhile: nothing left to mark, and a refusal would only
            # make the sender retry or bounce the bounce.
            log.info("DSN for queue row %s dropped: no such row", queue_id)
        return str(replies.BOUNCE_RECORDED)

    async def handle_exception(self, error: Exception) -> str:
        log.error("SMTP session error: %s", _describe(error))
        return str(replies.TEMPORARY_FAILURE)


def _describe(exc: BaseException) -> str:
    """The exception's type and where it happened, without its message: messages of library
    exceptions can quote the data (content, addresses) they choked on."""
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    where = " < ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in frames[::-1])
    return f"{type(exc).__name__} at {where}"
