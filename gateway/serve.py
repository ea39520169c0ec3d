"""`asiointitili serve`: the SMTP listener, the portal and the outbound worker in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Iterator
from datetime import timedelta

import uvicorn

from crypto.hetu import parse_hetu
from gateway import material
from gateway.config import Config
from gateway.web.app import create_app
from mailbox_store import MailboxStore, StoreError
from smtp_in.handler import GatewayHandler
from smtp_in.server import GatewaySMTP, quiet_aiosmtpd_logging
from smtp_in.stages import StoreSettings, ingest_pipeline, install_material
from smtp_in.workers import StageWorkers
from smtp_out.transport import OutboxDirTransport, RelayTransport, Transport
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
    return RelayTransport(out.relay_host, out.relay_port, starttls=out.relay_starttls)


async def _checkpoints(store: MailboxStore, stop: asyncio.Event, every: float = 1.0) -> None:
    """Copy the SQLite WAL into the database off the commit path (see MailboxStore)."""
    while not stop.is_set():
        try:
            await asyncio.to_thread(store.checkpoint)
        except StoreError as exc:
            log.warning("WAL checkpoint failed (retried): %s", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


def stage_workers(config: Config) -> StageWorkers:
    """Processes for decryption, verification and MIME parsing, each holding the keys once."""
    return StageWorkers(
        config.smtp.crypto_workers or os.cpu_count() or 1,
        install_material,
        material.crypto_material_args(config),
    )


async def serve(config: Config) -> None:
    quiet_aiosmtpd_logging()
    store = MailboxStore(
        config.database_url, material.master_keys(config), material.blind_index(config),
        background_checkpoints=True,
    )
    store.migrate()
    tls = material.smtp_tls_context(config)
    workers = stage_workers(config)
    await workers.start()
    loop = asyncio.get_running_loop()

    outbound = OutboundWorker(
        store,
        _transport(config),
        from_address=config.outbound.from_address,
        login_url=config.portal.public_url + "/",
        message_id_domain=config.domain,
    )
    handler = GatewayHandler(
        organisations=config.organisations,
        domains=config.domains,
        submission_address=config.submission_address,
        store=store,
        stages=ingest_pipeline(store, StoreSettings(config.allow_temporary_hetus)),
        pool=workers,
        max_recipients=config.smtp.max_recipients,
        allow_temporary_hetus=config.allow_temporary_hetus,
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
