"""Re-reading the routing policy while `serve` runs: SIGHUP, or `asiointitili reload`.

What a reload changes: the organisations (networks, certificates, logins, signers, content
rules, ...) and the rate limits, for connections opened afterwards; the STARTTLS context (client
CAs); and the crypto workers, which are replaced by new ones holding the new organisations,
trust anchors and keys, with the organisations' OpenPGP keys imported again (so a revocation
imported since takes effect). Connections in progress keep the policy they started under; their
jobs already in the old workers finish there. Everything else (listeners, database, portal,
outbound) is read only at start: a change to it is logged as needing a restart.

A file that does not load, or whose keys and certificates cannot be read, is refused with every
problem logged (file, key, reason), and the policy in force stays.
"""

from __future__ import annotations

import asyncio
import dataclasses
import fcntl
import logging
import os
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from gateway import material
from gateway.config import Config, ConfigError, load_config
from gateway.policy_check import check_policy
from smtp_in.handler import GatewayHandler
from smtp_in.policy_snapshot import ListenerPolicy
from smtp_in.workers import StageWorkers

log = logging.getLogger(__name__)

# Settings a reload does not apply: `serve` reads them once, at start.
_RESTART_ONLY = (
    "environment", "domains", "submission_address", "data_dir", "database_url",
    "allow_temporary_hetus", "auth_mode", "oidc", "smtp", "portal", "outbound",
)


def pid_file(config: Config) -> Path:
    """Where `serve` keeps its process id, for `asiointitili reload`."""
    return config.data_dir / "serve.pid"


class PidFile:
    """`serve`'s pid in data_dir, locked while it runs: a file left by a killed serve is not
    locked, so its pid (perhaps another process's by now) is never signalled."""

    def __init__(self, config: Config) -> None:
        self.path = pid_file(config)
        self._file: TextIO | None = None

    def acquire(self) -> None:
        file = self.path.open("a+", encoding="ascii")
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.close()
            log.warning("another serve holds %s: `asiointitili reload` signals that one", self.path)
            return
        file.truncate(0)
        file.write(f"{os.getpid()}\n")
        file.flush()
        self._file = file

    def release(self) -> None:
        if self._file is not None:
            self.path.unlink(missing_ok=True)
            self._file.close()  # and with it the lock
            self._file = None


def running_serve(config: Config) -> int | None:
    """The pid of the serve running on this data_dir, or None when there is none."""
    try:
        file = pid_file(config).open(encoding="ascii")
    except FileNotFoundError:
        return None
    with file:
        try:
            fcntl.flock(file, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:  # held: a serve is running
            return int(file.read().strip())
        return None  # left by a serve that was killed


class PolicyReloader:
    """Owns the current crypto workers and STARTTLS context; `request` is the SIGHUP handler."""

    def __init__(
        self,
        config: Config,
        handler: GatewayHandler,
        workers: StageWorkers,
        tls: ssl.SSLContext,
        make_workers: Callable[[Config], StageWorkers],
    ) -> None:
        self.config, self.handler, self.workers, self.tls = config, handler, workers, tls
        self.make_workers = make_workers
        self._lock = asyncio.Lock()  # one reload at a time; a second signal waits its turn
        self._tasks: set[asyncio.Task[bool]] = set()

    def request(self) -> None:
        task = asyncio.get_running_loop().create_task(self.reload(), name="policy-reload")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def reload(self) -> bool:
        async with self._lock:
            return await self._reload()

    async def _reload(self) -> bool:
        path = self.config.path
        log.info("reloading the policy from %s", path)
        try:
            # Blocking reads (and gpg imports in make_workers): off the event loop.
            new = await asyncio.to_thread(load_config, path)
            client_cas = await asyncio.to_thread(material.tls_client_cas, new)
            tls = await asyncio.to_thread(material.smtp_tls_context, new)
            workers = await asyncio.to_thread(self.make_workers, new)
        except ConfigError as exc:
            await asyncio.to_thread(_log_refusal, path, exc)
            return False
        try:
            await workers.start()
        except Exception as exc:  # noqa: BLE001 - the workers in force keep serving
            log.error(
                "reload refused: the new crypto workers did not start (%s); "
                "the policy in force stays", type(exc).__name__,
            )
            await workers.close()
            return False
        for name in _RESTART_ONLY:
            if getattr(new, name) != getattr(self.config, name):
                log.warning("reload: %s: %s changed; it takes effect at restart", path, name)
        # The workers read keys.smime again; the other key files only at start.
        if dataclasses.replace(new.keys, smime=self.config.keys.smime) != self.config.keys:
            log.warning("reload: %s: keys changed; only keys.smime takes effect now", path)
        old = self.workers
        self.handler.reload(ListenerPolicy(new.organisations, client_cas, new.limits), workers)
        self.workers, self.tls = workers, tls
        self.config = dataclasses.replace(
            self.config, organisations=new.organisations, limits=new.limits
        )
        log.info(
            "policy reloaded: %d organisation(s); new connections use it",
            len(new.organisations),
        )
        await old.retire()
        return True

    async def close(self) -> None:
        """At shutdown: stop reloads under way (their old workers are closed) and the workers."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.workers.close()


def _log_refusal(path: Path, error: ConfigError) -> None:
    """Every error of the refused file, as `policy check` lists them (at least the one that
    stopped the load)."""
    try:
        problems = [p for p in check_policy(path) if p.severity == "error"]
    except Exception as exc:  # noqa: BLE001 - the one error below is still worth logging
        log.error("reload: listing every problem failed (%s)", type(exc).__name__)
        problems = []
    for problem in problems:
        log.error("reload refused: %s", problem)
    if not any(p.key == error.key and p.reason == error.reason for p in problems):
        log.error("reload refused: error: %s: %s: %s", error.file, error.key, error.reason)
    log.error("reload refused: the policy in force stays")
