"""`asiointitili policy check` and `asiointitili policy test`.

`policy test` answers "what would the gateway say to this mail?" with the live code: the real
SMTP handler for MAIL and RCPT (with an in-memory session and envelope) and the real ingest
stages up to recipient resolution; the store stage is left out, so nothing is written.
With --tls-cert or --auth the connection is taken to have done STARTTLS: the certificate goes
through the listener's STARTTLS hook and the password through its AUTH check.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import ipaddress
import logging
import re
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gateway import material
from gateway.config import Config
from gateway.policy_check import check_policy

if TYPE_CHECKING:
    from mailbox_store import MailboxStore
    from smtp_in.handler import GatewayHandler
    from smtp_in.pipeline import Inbound, Stage
    from smtp_in.server import GatewayEnvelope, GatewaySession

# Where the postmaster may name the file after the subcommand as well (`policy check --config F`).
_CONFIG_HELP = "configuration file (the same as asiointitili --config)"
_LINE_END = re.compile(rb"\r\n|\n|\r(?!\n)")


class PolicyUsageError(Exception):
    """A mistake in the command line of `policy test`."""


def add_commands(commands: Any) -> None:
    """The `policy` subcommands, added to the CLI's subparsers."""
    policy = commands.add_parser("policy", help="check the configuration; explain a decision")
    sub = policy.add_subparsers(dest="policy_command", required=True)
    check = sub.add_parser("check", help="list every problem of the configuration (exit 0 or 1)")
    check.add_argument("--config", type=Path, default=argparse.SUPPRESS, help=_CONFIG_HELP)
    test = sub.add_parser(
        "test", help="evaluate a mail as the live gateway would, storing nothing (exit 0 or 1)"
    )
    test.add_argument("--config", type=Path, default=argparse.SUPPRESS, help=_CONFIG_HELP)
    test.add_argument("--peer", required=True, help="the sending mail server's IP address")
    test.add_argument("--from", dest="sender", required=True, metavar="ADDRESS", help="MAIL FROM")
    test.add_argument(
        "--to", action="append", required=True, metavar="ADDRESS", help="RCPT TO (repeatable)"
    )
    test.add_argument("--message", type=Path, metavar="FILE.eml", help="the message as sent")
    test.add_argument(
        "--tls-cert", type=Path, metavar="FILE.pem",
        help="the client certificate the peer presents after STARTTLS (implies STARTTLS)",
    )
    test.add_argument(
        "--auth", metavar="USER",
        help="SMTP AUTH as USER, the password from stdin (implies STARTTLS)",
    )


@dataclass(frozen=True)
class _Login:
    username: str
    password: bytes = field(repr=False)  # never shown, not even in a traceback


def policy_check(path: Path) -> int:
    """Print every problem with file, key and reason; 1 when any is an error."""
    problems = check_policy(path)
    for problem in problems:
        print(problem)
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    print(f"{path}: {errors} error(s), {warnings} warning(s)")
    return 1 if errors else 0


def policy_test(config: Config, args: argparse.Namespace) -> int:
    """Print each step's trace and answer, then the decision; 0 when the mail would be accepted."""
    try:
        peer = ipaddress.ip_address(args.peer)
    except ValueError:
        raise PolicyUsageError(f"--peer: {args.peer!r} is not an IP address") from None
    raw = None
    if args.message is not None:
        try:
            raw = args.message.read_bytes()
        except OSError as exc:
            reason = f"--message: cannot read {args.message}: {exc.strerror}"
            raise PolicyUsageError(reason) from None
    certificate = _client_certificate(args.tls_cert) if args.tls_cert is not None else None
    login = _Login(args.auth, _read_password()) if args.auth is not None else None
    return asyncio.run(
        _evaluate(config, peer, args.sender, args.to, raw, certificate=certificate, login=login)
    )


def _client_certificate(path: Path) -> x509.Certificate:
    """The first certificate of a PEM file (the peer's own; a chain may follow it)."""
    try:
        return x509.load_pem_x509_certificates(path.read_bytes())[0]
    except OSError as exc:
        raise PolicyUsageError(f"--tls-cert: cannot read {path}: {exc.strerror}") from None
    except ValueError:
        raise PolicyUsageError(f"--tls-cert: {path} holds no PEM certificate") from None


def _read_password() -> bytes:
    """As `hash-password`: asked for without echo at a terminal, else one line of stdin."""
    if sys.stdin.isatty():
        password = getpass.getpass("SMTP AUTH password: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise PolicyUsageError("--auth: the password (read from stdin) is empty")
    return password.encode("utf-8")


class _PeerCertificate:
    """What the listener's STARTTLS hook reads from the ssl object: the peer's certificate."""

    def __init__(self, certificate: x509.Certificate | None) -> None:
        self.der = (
            certificate.public_bytes(serialization.Encoding.DER) if certificate else None
        )

    def getpeercert(self, binary_form: bool = False) -> bytes | None:
        return self.der


def _handshake_failure(certificate: x509.Certificate) -> str | None:
    """Why the TLS layer would refuse the certificate before the listener sees it (it
    verifies the validity period, as for any certificate), or None."""
    now = datetime.now(UTC)
    if now < certificate.not_valid_before_utc:
        return "the client certificate is not valid yet"
    if now > certificate.not_valid_after_utc:
        return "the client certificate has expired"
    return None


async def _evaluate(
    config: Config,
    peer: ipaddress.IPv4Address | ipaddress.IPv6Address,
    sender: str,
    recipients: list[str],
    raw: bytes | None,
    *,
    certificate: x509.Certificate | None,
    login: _Login | None,
) -> int:
    # Imported here: the rest of the CLI need not load the SMTP side.
    from mailbox_store import MailboxStore
    from policies.connection import Connection, identify_connection
    from smtp_in import replies
    from smtp_in.handler import GatewayHandler
    from smtp_in.pipeline import Stage
    from smtp_in.server import GatewayEnvelope, GatewaySession
    from smtp_in.stages import install_material

    # The handler's "stored" log line would be untrue here; its refusals are printed below.
    handler_log = logging.getLogger("smtp_in.handler")
    level = handler_log.level
    handler_log.setLevel(logging.WARNING)
    index = material.blind_index(config)
    store = MailboxStore(config.database_url, material.master_keys(config), index)
    stages = _stages_without_store(config, store)
    seen = _Seen(tuple(stage.name for stage in stages))
    try:
        handler = GatewayHandler(
            organisations=config.organisations,
            domains=config.domains,
            submission_address=config.submission_address,
            store=store,
            stages=(Stage("seen", seen.keep, in_pool=True), *stages),
            pool=None,  # inline: every stage works on the one message `seen` keeps
            max_recipients=config.smtp.max_recipients,
            allow_temporary_hetus=config.allow_temporary_hetus,
            bounce_mac=lambda value: index(value, "bounce"),
            client_cas=material.tls_client_cas(config),
        )
        session = GatewaySession(asyncio.get_running_loop())
        # What the transport's peername gives (aiosmtpd annotates it as a str).
        session.peer = (str(peer), 0)  # type: ignore[assignment]
        envelope = GatewayEnvelope()
        tls = certificate is not None or login is not None
        if tls:
            stopped = await _starttls_and_auth(handler, session, envelope, certificate, login)
            if stopped is not None:
                return stopped

        print(f"MAIL FROM:<{sender}> from {peer}")
        connection = Connection(
            peer, tls=tls, certificate=session.certificate, login=session.login
        )
        _print_trace(identify_connection(connection, config.organisations).trace)
        answer = await handler.handle_MAIL(None, session, envelope, sender, [])
        if not _answered(answer):
            return _refused("MAIL", answer)
        refused = ""
        for address in recipients:
            print(f"RCPT TO:<{address}>")
            answer = await handler.handle_RCPT(None, session, envelope, address, [])
            if not _answered(answer):
                refused = refused or answer
        if refused:
            return _refused("RCPT", refused)
        if raw is None:
            print(
                "DATA: not evaluated (give --message FILE.eml for decryption, signature, "
                "signer and recipients)"
            )
            return _accepted(str(replies.RECIPIENT_OK))

        envelope.content = _as_sent(raw)
        print(f"DATA: {len(envelope.content)} bytes")
        if len(envelope.content) > config.smtp.max_message_size:
            return _refused("DATA", str(replies.TOO_BIG))
        install_material(*material.crypto_material_args(config))
        answer = await handler.handle_DATA(None, session, envelope)
        _print_trace(seen.trace(failed=not answer.startswith("2")))
        if not answer.startswith("2"):
            return _refused("DATA", answer)
        print(f"  recipients: {len(seen.message.citizen_ids) if seen.message else 0} citizen(s)")
        return _accepted(answer)
    finally:
        store.close()
        handler_log.setLevel(level)


async def _starttls_and_auth(
    handler: GatewayHandler,
    session: GatewaySession,
    envelope: GatewayEnvelope,
    certificate: x509.Certificate | None,
    login: _Login | None,
) -> int | None:
    """The listener's STARTTLS hook and AUTH check, in that order; the exit code when refused."""
    from policies.connection import certificate_fingerprint
    from smtp_in import replies

    presented = "no client certificate"
    if certificate is not None:
        presented = f"client certificate {certificate_fingerprint(certificate)}"
    print(f"STARTTLS: assumed (--tls-cert and --auth need it), {presented}")
    if certificate is not None:
        failure = _handshake_failure(certificate)
        if failure is not None:
            print(f"  {failure}")
            return _refused("STARTTLS", f"a failed TLS handshake ({failure})")
    session.ssl = {"ssl_object": _PeerCertificate(certificate)}
    handler.handle_STARTTLS(None, session, envelope)
    if login is None:
        return None
    print(f"AUTH as {login.username}")
    if not handler.policy.logins:  # the listener offers AUTH only where logins are configured
        _answered(str(replies.AUTH_UNAVAILABLE))
        return _refused("AUTH", str(replies.AUTH_UNAVAILABLE))
    decision = await handler.check_login(login.username.encode("utf-8"), login.password)
    _print_trace(decision.trace)
    if not decision.allowed:
        _answered(str(replies.AUTH_FAILED))
        return _refused("AUTH", str(replies.AUTH_FAILED))
    session.login = decision
    session.authenticated = True
    _answered(str(replies.AUTH_OK))
    return None


class _Seen:
    """A first stage that keeps the message, so its trace can be shown after the handler's
    answer (which is all the handler returns)."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.message: Inbound | None = None

    def keep(self, message: Inbound) -> None:
        self.message = message

    def trace(self, *, failed: bool) -> list[str]:
        """Rules as they are, each finished stage as "passed", and the one that refused."""
        names = self.names
        trace = self.message.trace[1:] if self.message else []  # [0] is this stage itself
        lines = [f"stage {t}: passed" if t in names else t for t in trace]
        done = sum(t in names for t in trace)
        if failed and done < len(names):
            lines.append(f"stage {names[done]}: refused")
        return lines


def _stages_without_store(config: Config, store: MailboxStore) -> tuple[Stage, ...]:
    from gateway.serve import store_settings
    from smtp_in.stages import ingest_pipeline

    # Everything a live message passes, less the one stage that writes.
    return tuple(s for s in ingest_pipeline(store, store_settings(config)) if s.name != "store")


def _as_sent(raw: bytes) -> bytes:
    """A saved .eml as a mail server sends it: CRLF line ends, a final line break."""
    data = _LINE_END.sub(b"\r\n", raw)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def _print_trace(trace: Any) -> None:
    for line in trace:
        print(f"  {line}")


def _answered(answer: str) -> bool:
    print(f"  -> {answer}")
    return answer.startswith("2")


def _refused(step: str, answer: str) -> int:
    print(f"decision: refused at {step}; the sender gets: {answer}")
    return 1


def _accepted(answer: str) -> int:
    print(f"decision: accepted: {answer} (policy test: nothing was stored)")
    return 0


def run(args: argparse.Namespace, config: Config) -> int:
    try:
        return policy_test(config, args)
    except PolicyUsageError as exc:
        print(f"asiointitili: {exc}", file=sys.stderr)
        return 2
