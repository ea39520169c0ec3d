"""`asiointitili serve`: the SMTP listener, the portal and the outbound worker in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial

import uvicorn

from crypto import pgp_keys
from crypto.blind_index import BlindIndex
from crypto.dkim import DkimError, DkimSigner
from crypto.hetu import parse_hetu
from crypto.smime_out import detached_signature
from gateway import material
from gateway.config import Config, ConfigError
from gateway.receipts import ReceiptDesk
from gateway.reload import PidFile, PolicyReloader
from gateway.reply_desk import GatewaySigner, ReplyDesk
from gateway.web.app import create_app
from gateway.web.oidc import OidcSettings, RelyingParty
from gateway.web.oidc_routes import CALLBACK_PATH
from gateway.web.organisations import organisation_profiles
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
        local_hostname=config.smtp.hostname,
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


def gateway_signer(config: Config) -> GatewaySigner:
    """The gateway's current S/MIME identity, which signs everything sent to organisations,
    and its OpenPGP key where organisations use OpenPGP."""
    current = material.decryption_keys(config)[0]
    home, fingerprint = None, None
    if any(org.pgp.reply_key for org in config.organisations):
        home = config.keys.gnupg_home
        fingerprint = pgp_keys.secret_fingerprints(home)[-1]  # the newest is the current one
    return GatewaySigner(
        config.submission_address, current.certificate, current.private_key, home, fingerprint
    )


def reply_desk(
    config: Config, store: MailboxStore, *, on_queued: Callable[[], None] = lambda: None
) -> ReplyDesk:
    return ReplyDesk(
        store,
        config.organisations,
        material.reply_tokens(config),
        gateway_signer(config),
        material.organisation_certificates(config),
        on_queued=on_queued,
    )


def receipt_desk(
    config: Config, store: MailboxStore, *, on_queued: Callable[[], None] = lambda: None
) -> ReceiptDesk:
    return ReceiptDesk(
        store,
        config.organisations,
        gateway_signer(config),
        material.organisation_certificates(config),
        config.domain,
        on_queued=on_queued,
    )


async def _overdue_acknowledgements(
    receipts: ReceiptDesk, stop: asyncio.Event, every: float = 60.0
) -> None:
    """Tell senders whose verifiable messages passed their deadline unacknowledged."""
    while not stop.is_set():
        try:
            await asyncio.to_thread(receipts.expire_overdue)
        except Exception as exc:  # noqa: BLE001 - retried on the next round
            log.warning("checking acknowledgement deadlines failed (%s)", type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


async def _message_upkeep(
    store: MailboxStore,
    config: Config,
    stop: asyncio.Event,
    on_queued: Callable[[], None],
    every: float = 60.0,
) -> None:
    """Purge messages deleted longer ago than the retention, and remind of unread ones once."""
    retention = timedelta(days=config.portal.deleted_retention_days)
    remind_after = timedelta(days=config.outbound.reminder_days)
    while not stop.is_set():
        now = datetime.now(UTC)
        try:
            await asyncio.to_thread(store.purge_deleted, now, retention=retention)
            if await asyncio.to_thread(store.remind_unread, now, after=remind_after):
                on_queued()
        except Exception as exc:  # noqa: BLE001 - retried on the next round
            log.warning("message upkeep failed (%s)", type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


def relying_party(config: Config) -> RelyingParty:
    """The OpenID Connect login of `auth.mode = "oidc"`, with its keys and secret read now."""
    oidc = config.oidc
    if oidc is None:
        raise ConfigError(
            config.path, "auth.oidc", 'is required when auth.mode = "oidc" (issuer, client_id)'
        )
    settings = OidcSettings(
        issuer=oidc.issuer,
        client_id=oidc.client_id,
        redirect_uri=config.portal.public_url + CALLBACK_PATH,
        scopes=oidc.scopes,
        acr_values=oidc.acr_values,
        hetu_claim=oidc.hetu_claim,
        name_claim=oidc.name_claim,
        client_auth=oidc.client_auth,
        client_secret=material.oidc_client_secret(config),
        userinfo=oidc.userinfo,
        request_object=oidc.request_object,
        signing_alg=oidc.signing_alg,
        http_timeout=float(oidc.http_timeout),
    )
    return RelyingParty(settings, material.oidc_keys(config))


def chain_signer(config: Config) -> Callable[[bytes], bytes]:
    """Signs the head of a citizen's exported event log with the current S/MIME identity."""
    current = material.decryption_keys(config)[0]
    return partial(
        detached_signature, certificate=current.certificate, key=current.private_key
    )


def stage_worker_count(config: Config) -> int:
    """`smtp.crypto_workers`, or by default one per core; two per core when an organisation
    uses OpenPGP, because such a worker spends most of each message waiting for gpg processes
    (measured: `make bench` PGP mode)."""
    per_core = 2 if any(org.pgp.key_files for org in config.organisations) else 1
    return config.smtp.crypto_workers or per_core * (os.cpu_count() or 1)


def stage_workers(config: Config) -> StageWorkers:
    """Processes for decryption, verification and MIME parsing, each holding the keys once."""
    return StageWorkers(
        stage_worker_count(config), install_material, material.crypto_material_args(config)
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
    oidc = relying_party(config) if config.auth_mode == "oidc" else None
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
        retry_lifetime=timedelta(hours=config.outbound.retry_lifetime_hours),
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
        client_cas=material.tls_client_cas(config),
        limits=config.limits,
    )
    reloader = PolicyReloader(config, handler, workers, tls, stage_workers)
    smtp = await loop.create_server(
        lambda: GatewaySMTP(
            handler,
            hostname=config.smtp.hostname,
            data_size_limit=config.smtp.max_message_size,
            enable_SMTPUTF8=True,
            decode_data=False,
            tls_context=reloader.tls,  # read per connection: a reload may have replaced it
            ident="Asiointitili gateway",
            loop=loop,
        ),
        host=config.smtp.listen_host,
        port=config.smtp.listen_port,
    )
    def wake_outbound() -> None:  # called from portal threads
        loop.call_soon_threadsafe(outbound.wake)

    receipts = receipt_desk(config, store, on_queued=wake_outbound)
    app = create_app(
        store,
        secret_key=material.session_secret(config),
        auth_mode=config.auth_mode,
        organisations=organisation_profiles(config.organisations),
        secure_cookies=config.portal.public_url.startswith("https://"),
        hetu_parser=lambda text: parse_hetu(text, allow_temporary=config.allow_temporary_hetus),
        idle_timeout=timedelta(minutes=30),
        replies=reply_desk(config, store, on_queued=wake_outbound),
        oidc=oidc,
        receipts=receipts,
        chain_signer=chain_signer(config),
        terms_version=config.portal.terms_version,
        deleted_retention=timedelta(days=config.portal.deleted_retention_days),
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
    loop.add_signal_handler(signal.SIGHUP, reloader.request)
    pid = PidFile(config)  # for `asiointitili reload`
    pid.acquire()

    tasks = [
        asyncio.create_task(portal.serve(), name="portal"),
        asyncio.create_task(_checkpoints(store, stop), name="checkpoints"),
        asyncio.create_task(_overdue_acknowledgements(receipts, stop), name="acknowledgements"),
        asyncio.create_task(
            _message_upkeep(store, config, stop, outbound.wake), name="message-upkeep"
        ),
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
        await reloader.close()
        pid.release()
        store.close()
        if any(org.pgp.key_files for org in reloader.config.organisations):
            pgp_keys.stop_agent(config.keys.gnupg_home)  # the workers' gpg calls started it
