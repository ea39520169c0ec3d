"""`asiointitili serve`: the SMTP listener, the portal and the outbound worker in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Iterator
from datetime import timedelta

import uvicorn

from crypto.blind_index import BlindIndex
from crypto.dkim import DkimError, DkimSigner
from crypto.hetu import parse_hetu
from gateway import material
from gateway.config import Config, ConfigError
from gateway.reply_desk import GatewaySigner, ReplyDesk
from gateway.web.app import create_app
from mailbox_store import MailboxStore, StoreError
from smtp_in.handler import GatewayHandler
from smtp_in.server import GatewaySMTP, quiet_aiosmtpd_logging
from smtp_in.stages import StoreSettings, ingest_pipeline, install_material
from smtp_in.workers import StageWorkers
from smtp_out.transport import OutboxDirTransport, RelayTransport, Transport
from smtp_out.verp import return_path
from smtp_out.worker import OutboundWorker

log = logging.getLogger(__name__)

class _Portal(uvicorn.Server):
    # The gateway owns signal handling for all three parts; uvicorn must not take it over.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _transport(config: Config) -> Transport:
    out = config.outbound
    if out.mode == "outbox":
        return OutboxDirTransport(out.outbox_dir)
    return RelayTransport(
        out.relay_host,
        out.relay_port,
        starttls=out.relay_starttls,
        username=out.relay_username,
        password=_relay_password(config),
    )


def _relay_password(config: Config) -> str | None:
    """The relay password from its file (read once, here at start), or None without login."""
    path = config.outbound.relay_password_file
    if path is None:
        return None
    key = "outbound.relay_password_file"
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(config.path, key, f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(config.path, key, f"{path} is not UTF-8 text") from None
    # Only the line end an editor adds is dropped: other spaces may belong to the password.
    password = text.rstrip("\r\n")
    if not password:
        raise ConfigError(config.path, key, f"{path} is empty")
    return password


def _dkim_signer(config: Config) -> DkimSigner:
    """The signer for every outgoing mail: the primary domain, the configured selector and key."""
    key = "keys.dkim_key_file"
    path = config.keys.dkim_key_file
    try:
        pem = path.read_bytes()
    except OSError as exc:
        hint = " (run `asiointitili init` first)" if path.is_relative_to(config.data_dir) else ""
        raise ConfigError(config.path, key, f"cannot read {path}: {exc.strerror}{hint}") from None
    try:
        return DkimSigner(
            domain=config.domain, selector=config.keys.dkim_selector, private_key_pem=pem
        )
    except DkimError as exc:
        # The text says what was wrong (key, selector or domain) and never holds key material.
        raise ConfigError(config.path, key, f"{path}: {exc}") from None


def _return_path(index: BlindIndex, domain: str) -> Callable[[str], str]:
    """Queue row id -> its VERP envelope sender, MAC'd under the blind index's "bounce" key."""

    def mac(value: str) -> str:
        return index(value, "bounce")

    return lambda queue_id: return_path(queue_id, mac=mac, domain=domain)


async def _checkpoints(store: MailboxStore, stop: asyncio.Event, every: float = 1.0) -> None:
    """Copy the SQLite WAL into the database off the commit path (see MailboxStore)."""
    while not stop.is_set():
        try:
            await asyncio.to_thread(store.checkpoint)
        except StoreError as exc:
            log.warning("WAL checkpoint failed (retried): %s", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


def store_settings(config: Config) -> StoreSettings:
    return StoreSettings(config.allow_temporary_hetus, material.reply_tokens(config))


def reply_desk(
    config: Config, store: MailboxStore, *, on_queued: Callable[[], None] = lambda: None
) -> ReplyDesk:
    """Citizens' replies, signed with the gateway's current S/MIME identity."""
    current = material.decryption_keys(config)[0]
    return ReplyDesk(
        store,
        config.organisations,
        material.reply_tokens(config),
        GatewaySigner(config.submission_address, current.certificate, current.private_key),
        material.organisation_certificates(config),
        on_queued=on_queued,
    )


def stage_workers(config: Config) -> StageWorkers:
    """Processes for decryption, verification and MIME parsing, each holding the keys once."""
    return StageWorkers(
        config.smtp.crypto_workers or os.cpu_count() or 1,
        install_material,
        material.crypto_material_args(config),
    )


async def serve(config: Config) -> None:
    quiet_aiosmtpd_logging()
    # Read before anything starts, so a bad key or password file stops `serve` at once.
    # The mailbox keys come first: without them nothing else matters (and `init` makes them all).
    master_keys = material.master_keys(config)
    index = material.blind_index(config)
    transport = _transport(config)
    dkim = _dkim_signer(config)
    store = MailboxStore(config.database_url, master_keys, index, background_checkpoints=True)
    store.migrate()
    tls = material.smtp_tls_context(config)
    workers = stage_workers(config)
    await workers.start()
    loop = asyncio.get_running_loop()

    outbound = OutboundWorker(
        store,
        transport,
        from_address=config.outbound.from_address,
        login_url=config.portal.public_url + "/",
        message_id_domain=config.domain,
        dkim=dkim,
        return_path=_return_path(index, config.domain),
    )
    handler = GatewayHandler(
        organisations=config.organisations,
        domains=config.domains,
        submission_address=config.submission_address,
        store=store,
        stages=ingest_pipeline(store, store_settings(config)),
        pool=workers,
        max_recipients=config.smtp.max_recipients,
        allow_temporary_hetus=config.allow_temporary_hetus,
        bounce_mac=lambda value: index(value, "bounce"),
        on_delivered=outbound.wake,
    )
    smtp = await loop.create_server(
        lambda: GatewaySMTP(
            handler,
            hostname=config.smtp.hostname,
            data_size_limit=config.smtp.max_message_size,
            enable_SMTPUTF8=True,
            decode_data=False,
            tls_context=tls,
            ident="Asiointitili gateway",
            loop=loop,
        ),
        host=config.smtp.listen_host,
        port=config.smtp.listen_port,
    )
    app = create_app(
        store,
        secret_key=material.session_secret(config),
        auth_mode=config.auth_mode,
        organisations={org.id: org.name for org in config.organisations},
        secure_cookies=config.portal.public_url.startswith("https://"),
        hetu_parser=lambda text: parse_hetu(text, allow_temporary=config.allow_temporary_hetus),
        idle_timeout=timedelta(minutes=30),
        replies=reply_desk(
            config, store, on_queued=lambda: loop.call_soon_threadsafe(outbound.wake)
        ),
    )
    portal = _Portal(
        uvicorn.Config(
            app,
            host=config.portal.listen_host,
            port=config.portal.listen_port,
            log_level="warning",
            lifespan="off",
            access_log=False,
        )
    )
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    tasks = [
        asyncio.create_task(portal.serve(), name="portal"),
        asyncio.create_task(_checkpoints(store, stop), name="checkpoints"),
    ]
    # "hold" keeps outgoing mail queued (maintenance, benchmarks); it is sent once mode changes.
    if config.outbound.mode != "hold":
        tasks.append(asyncio.create_task(outbound.run(stop), name="outbound"))
    log.info(
        "serving SMTP on %s:%d and the portal on %s:%d",
        config.smtp.listen_host,
        config.smtp.listen_port,
        config.portal.listen_host,
        config.portal.listen_port,
    )
    print(
        f"asiointitili: SMTP on {config.smtp.listen_host}:{config.smtp.listen_port}, "
        f"portal at {config.portal.public_url}/",
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        smtp.close()
        portal.should_exit = True
        await smtp.wait_closed()
        await asyncio.gather(*tasks, return_exceptions=True)
        await workers.close()
        store.close()
