"""The `asiointitili` command line."""

from __future__ import annotations

import argparse
import asyncio
import base64
import getpass
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import uvloop
from cryptography.hazmat.primitives import serialization

from crypto.hetu import InvalidHetu, parse_hetu
from crypto.passwords import hash_password
from gateway import material, policy_cli
from gateway.config import Config, ConfigError, load_config
from mailbox_store import QueueEntry

DEFAULT_CONFIG = "gateway.toml"


class UsageError(Exception):
    """A command-line mistake: named argument, value and reason."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asiointitili", description="Asiointitili secure mail gateway"
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=Path(os.environ.get("ASIOINTITILI_CONFIG", DEFAULT_CONFIG)),
        help="configuration file (default: $ASIOINTITILI_CONFIG or ./gateway.toml)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("init", help="create the data directory, keys and database (idempotent)")
    commands.add_parser("serve", help="run the SMTP listener, portal and outbound worker")
    commands.add_parser(
        "reload", help="check the configuration, then have the running serve re-read it (SIGHUP)"
    )

    keys = commands.add_parser("keys", help="show the gateway's public keys")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True)
    show = keys_commands.add_parser("show", help="print a public key or certificate")
    show.add_argument("kind", choices=("smime", "pgp", "dkim"))

    citizen = commands.add_parser("citizen", help="manage citizen accounts")
    citizen_commands = citizen.add_subparsers(dest="citizen_command", required=True)
    add = citizen_commands.add_parser("add", help="create an active account")
    add.add_argument("--hetu", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--email")
    add.add_argument("--lang", choices=("fi", "sv", "en"), default="fi")

    queue = commands.add_parser("queue", help="list and manage outgoing mail (like postqueue)")
    queue_commands = queue.add_subparsers(dest="queue_command", required=True)
    listing = queue_commands.add_parser("list", help="every queued mail, soonest first")
    listing.add_argument(
        "--state", action="append", default=[],
        choices=("queued", "sending", "held", "failed", "sent"),
    )
    queue_commands.add_parser("show", help="one queued mail").add_argument("id")
    for name, text in (
        ("retry", "make due now (queued or failed)"),
        ("hold", "keep from being sent"),
        ("release", "send held mail again"),
    ):
        change = queue_commands.add_parser(name, help=text)
        target = change.add_mutually_exclusive_group(required=True)
        target.add_argument("id", nargs="?")
        target.add_argument("--all", action="store_true")
    queue_commands.add_parser("delete", help="remove a mail not being sent").add_argument("id")

    events = commands.add_parser("events", help="check citizens' event logs")
    events_commands = events.add_subparsers(dest="events_command", required=True)
    verify = events_commands.add_parser(
        "verify", help="check a citizen's event hash chain, and an exported log against it"
    )
    verify.add_argument("--hetu", required=True)
    verify.add_argument("--export", type=Path, metavar="FILE.json")

    policy_cli.add_commands(commands)
    commands.add_parser(
        "hash-password",
        help="read an SMTP AUTH password from stdin, print its salted hash for smtp_auth",
    )

    demo = commands.add_parser(
        "demo-send", help="send a signed, encrypted message as the demo clerk"
    )
    demo.add_argument("--to", required=True, metavar="HETU")
    demo.add_argument("--attach", type=Path, action="append", default=[], metavar="FILE")
    demo.add_argument("--subject", default="Päätös / Beslut / Decision")
    demo.add_argument("--body", default="Hei,\n\nohessa päätöksenne.\n\nTerveisin\nDemokunta\n")
    return parser


def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Alembic narrates every migration step; tnefparse complains about each odd TNEF property.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("tnefparse").setLevel(logging.ERROR)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _configure_logging()
    try:
        if args.command == "hash-password":
            return _hash_password()  # needs no configuration
        if args.command == "policy" and args.policy_command == "check":
            # Every problem, not only the first one load_config stops at.
            return policy_cli.policy_check(args.config)
        config = load_config(args.config)
        return _run(args, config)
    except ConfigError as exc:
        print(f"asiointitili: configuration error: {exc}", file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"asiointitili: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _run(args: argparse.Namespace, config: Config) -> int:
    if args.command == "init":
        from gateway.init import initialise

        for path in initialise(config):
            print(f"created {path}")
        print(f"data directory {config.data_dir} is ready")
        return 0
    if args.command == "serve":
        from gateway.serve import serve

        # uvloop's event loop and transports cost the SMTP listener a fifth less CPU.
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(serve(config))
        return 0
    if args.command == "reload":
        return _reload(config)
    if args.command == "keys":
        return _keys_show(config, args.kind)
    if args.command == "citizen":
        return _citizen_add(config, args)
    if args.command == "demo-send":
        return _demo_send(config, args)
    if args.command == "queue":
        return _queue(config, args)
    if args.command == "policy":
        return policy_cli.run(args, config)
    if args.command == "events":
        return _events_verify(config, args)
    raise AssertionError(args.command)


def _reload(config: Config) -> int:
    """Signal the serve running on this data_dir; the file was loaded already (main), so a
    broken one never reaches it. serve's log says whether the reload was taken."""
    from gateway.reload import pid_file, running_serve

    try:
        pid = running_serve(config)
    except (OSError, ValueError) as exc:
        raise UsageError(f"reload: cannot read {pid_file(config)}: {exc}") from None
    if pid is None:
        raise UsageError(f"reload: no serve is running on {config.data_dir}")
    os.kill(pid, signal.SIGHUP)
    print(f"reload requested from serve (pid {pid}); its log tells whether it was taken")
    return 0


def _hash_password() -> int:
    """One line from stdin (asked for without echo at a terminal); the hash on stdout."""
    if sys.stdin.isatty():
        password = getpass.getpass("SMTP AUTH password: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise UsageError("hash-password: the password is empty")
    print(hash_password(password.encode("utf-8")))
    return 0


def _keys_show(config: Config, kind: str) -> int:
    if kind == "smime":
        sys.stdout.write(material.gateway_certificate_pem(config).decode())
        return 0
    if kind == "pgp":
        sys.stdout.write(material.gateway_pgp_public_key(config))
        return 0
    path = config.keys.dkim_key_file
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), None)
    except (OSError, ValueError) as exc:
        raise ConfigError(config.path, "keys.dkim_key_file", f"{path}: {exc}") from None
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"
    print(f'{config.keys.dkim_selector}._domainkey.{config.domain}. IN TXT "{record}"')
    return 0


def _hetu_argument(config: Config, value: str) -> str:
    try:
        return parse_hetu(value, allow_temporary=config.allow_temporary_hetus)
    except InvalidHetu as exc:
        raise UsageError(
            f"--hetu: the value is not a valid personal identity code: {exc}"
        ) from None


def _store(config: Config):  # type: ignore[no-untyped-def]
    from mailbox_store import MailboxStore

    store = MailboxStore(
        config.database_url, material.master_keys(config), material.blind_index(config)
    )
    store.migrate()
    return store


def _citizen_add(config: Config, args: argparse.Namespace) -> int:
    from crypto.hetu import mask_hetu
    from mailbox_store import CitizenExists

    hetu = _hetu_argument(config, args.hetu)
    store = _store(config)
    try:
        store.add_citizen(hetu, args.name, args.email, args.lang)
    except CitizenExists:
        raise UsageError(f"--hetu: an account for {mask_hetu(hetu)} exists already") from None
    finally:
        store.close()
    print(f"account created for {mask_hetu(hetu)}")
    return 0


def _queue(config: Config, args: argparse.Namespace) -> int:
    store = _store(config)
    try:
        command = args.queue_command
        if command == "list":
            entries = store.queue_entries(states=args.state)
            for entry in entries:
                print(_queue_line(entry))
            print(f"{len(entries)} in the queue")
            return 0
        if command == "show":
            entry = store.queue_entry(args.id)
            if entry is None:
                raise UsageError(f"queue show: no queue entry {args.id!r}")
            print(_queue_line(entry))
            return 0
        if command == "delete":
            changed = store.delete_queue_entries([args.id])
        else:
            changed = store.change_queue_entries(command, None if args.all else [args.id])
        if not changed and not getattr(args, "all", False):
            raise UsageError(f"queue {command}: no entry {args.id!r} in a state that allows it")
        print(f"{command}: {changed} changed")
        return 0
    finally:
        store.close()


def _queue_line(entry: QueueEntry) -> str:
    due = entry.due_at.strftime("%Y-%m-%d %H:%M:%S")
    error = f"  last error: {entry.last_error}" if entry.last_error else ""
    return (
        f"{entry.id}  {entry.kind:<12} {entry.state:<7} attempts={entry.attempts:<3} "
        f"due={due}Z  to={entry.recipient or '-'}{error}"
    )


def _events_verify(config: Config, args: argparse.Namespace) -> int:
    """Report on the citizen's event chain (and an export of it); 1 when anything fails."""
    from crypto.hetu import mask_hetu
    from gateway.event_check import check_events

    hetu = _hetu_argument(config, args.hetu)
    export = None
    if args.export is not None:
        try:
            export = args.export.read_bytes()
        except OSError as exc:
            raise UsageError(f"--export: {args.export}: {exc.strerror}") from None
    store = _store(config)
    try:
        citizen_id = store.citizen_id(hetu)
        if citizen_id is None:
            raise UsageError(f"--hetu: no account for {mask_hetu(hetu)}")
        certificates = [key.certificate for key in material.decryption_keys(config)]
        report = check_events(citizen_id, store.event_chain(citizen_id), export, certificates)
    finally:
        store.close()
    print(f"event log of {mask_hetu(hetu)}")
    for line in report.lines:
        print(line)
    return 0 if report.ok else 1


def _demo_send(config: Config, args: argparse.Namespace) -> int:
    from gateway.demo import build_demo_message, send

    if not any(org.demo for org in config.organisations):
        raise UsageError("demo-send needs a demo organisation in the configuration")
    hetu = _hetu_argument(config, args.to)
    for path in args.attach:
        if not path.is_file():
            raise UsageError(f"--attach: {path} is not a readable file")
    sender, recipient, message = build_demo_message(
        config, hetu, args.subject, args.body, args.attach
    )
    host = config.smtp.listen_host
    try:
        answer = send(host, config.smtp.listen_port, sender, recipient, message)
    except OSError as exc:
        raise UsageError(
            f"cannot reach the gateway at {host}:{config.smtp.listen_port}: {exc}"
        ) from None
    print(answer)
    return 0 if answer.startswith("250") else 1


if __name__ == "__main__":
    raise SystemExit(main())
