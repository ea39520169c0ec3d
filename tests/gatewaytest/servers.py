"""The gateway's SMTP listener on loopback: in this process (fast) or as a real `serve` process."""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

from aiosmtpd.controller import Controller

from crypto.pgp_keys import stop_agent
from gateway import material
from gateway.serve import store_settings
from gatewaytest.env import GatewayEnv
from mailbox_store import MailboxStore
from smtp_in.handler import GatewayHandler
from smtp_in.server import GatewaySMTP, quiet_aiosmtpd_logging
from smtp_in.stages import ingest_pipeline, install_material


class _GatewayController(Controller):
    def __init__(self, env: GatewayEnv, handler: GatewayHandler) -> None:
        super().__init__(handler, hostname="127.0.0.1", port=env.config.smtp.listen_port)
        self.env = env

    def factory(self) -> GatewaySMTP:
        config = self.env.config
        return GatewaySMTP(
            self.handler,
            hostname=config.smtp.hostname,
            data_size_limit=config.smtp.max_message_size,
            enable_SMTPUTF8=True,
            decode_data=False,
            tls_context=material.smtp_tls_context(config),
            ident="Asiointitili gateway",
        )


class InProcessGateway:
    """The real listener, handler and pipeline; crypto stages run inline instead of in a pool."""

    def __init__(self, env: GatewayEnv) -> None:
        quiet_aiosmtpd_logging()
        config = env.config
        install_material(*material.crypto_material_args(config))
        self.store: MailboxStore = env.open_store()
        self.handler = GatewayHandler(
            organisations=config.organisations,
            domains=config.domains,
            submission_address=config.submission_address,
            store=self.store,
            stages=ingest_pipeline(self.store, store_settings(config)),
            pool=None,
            max_recipients=config.smtp.max_recipients,
            allow_temporary_hetus=config.allow_temporary_hetus,
            bounce_mac=partial(material.blind_index(config), purpose="bounce"),
            client_cas=material.tls_client_cas(config),
            limits=config.limits,
        )
        self.controller = _GatewayController(env, self.handler)
        self.port = config.smtp.listen_port
        self.config = config

    def start(self) -> InProcessGateway:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
        self.store.close()
        if any(org.pgp.key_files for org in self.config.organisations):
            stop_agent(self.config.keys.gnupg_home)  # gpg started one for the crypto stages

    def client(self, source: str = "127.0.0.1") -> smtplib.SMTP:
        client = smtplib.SMTP("127.0.0.1", self.port, timeout=30, source_address=(source, 0))
        client.ehlo("kunta-mx.test")
        return client


def wait_for_port(
    port: int, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"serve exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on port {port}")


class ServeProcess:
    """`asiointitili serve` as its own process, the way operators run it."""

    def __init__(self, env: GatewayEnv, log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServeProcess:
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gateway.cli",
                    "--config",
                    str(self.env.config_path),
                    "serve",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        wait_for_port(self.env.config.smtp.listen_port, process=self.process)
        wait_for_port(self.env.config.portal.listen_port, process=self.process)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()
