"""A gateway data directory made by the real `asiointitili init`, with a configuration to match."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from crypto.hetu import parse_hetu
from gateway import material
from gateway.cli import main as cli_main
from gateway.config import Config, load_config
from mailbox_store import MailboxStore

DOMAIN = "asiointi.test"
SUBMISSION = f"viesti@{DOMAIN}"
ORG_DOMAIN = "demokunta.test"
CLERK = f"virkailija@{ORG_DOMAIN}"

CONFIG_TEMPLATE = """\
[gateway]
environment = "development"
domains = ["{domain}"]
submission_address = "{submission}"
data_dir = "{data_dir}"
database_url = "{database_url}"
allow_temporary_hetus = {allow_temporary}

[auth]
mode = "test"

[smtp]
listen_host = "127.0.0.1"
listen_port = {smtp_port}
max_message_size = {max_message_size}
crypto_workers = 2

[portal]
listen_port = {portal_port}

[outbound]
mode = "outbox"
from_address = "noreply@{domain}"

[keys]
smime = [{smime}]
{keys_toml}

[[organisations]]
id = "demokunta"
name = "Demokunta"
sender_domains = [{sender_domains}]
networks = ["127.0.0.1/32"]
trust_anchors = ["{data_dir}/demo/ca.pem"{extra_anchors}]
replies_allowed = true
reply_address = "kirjaamo@{org_domain}"
demo = true
{org_toml}
{extra_toml}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class GatewayEnv:
    root: Path
    config_path: Path
    config: Config

    @property
    def data_dir(self) -> Path:
        return self.config.data_dir

    @property
    def clerk_cert(self) -> Path:
        return self.data_dir / "demo" / "clerk-cert.pem"

    @property
    def clerk_key(self) -> Path:
        return self.data_dir / "demo" / "clerk-key.pem"

    @property
    def gateway_cert(self) -> Path:
        return self.config.keys.smime[0].certificate

    def cli(self, *args: str) -> int:
        return cli_main(["--config", str(self.config_path), *args])

    def open_store(self, *, background_checkpoints: bool = False) -> MailboxStore:
        return MailboxStore(
            self.config.database_url,
            material.master_keys(self.config),
            material.blind_index(self.config),
            background_checkpoints=background_checkpoints,
        )

    def add_citizen(
        self,
        hetu: str,
        name: str = "Testi Kansalainen",
        email: str | None = "kansalainen@example.fi",
        lang: str = "fi",
    ) -> str:
        store = self.open_store()
        try:
            return store.add_citizen(parse_hetu(hetu, allow_temporary=True), name, email, lang)
        finally:
            store.close()


def make_env(
    root: Path,
    *,
    database_url: str = "",
    max_message_size: int = 5 * 1024 * 1024,
    allow_temporary: bool = True,
    extra_anchors: tuple[Path, ...] = (),
    data_dir: Path | None = None,
    smime: tuple[tuple[Path, Path | None, Path | None], ...] = (),
    sender_domains: tuple[str, ...] = (ORG_DOMAIN,),
    keys_toml: str = "",
    org_toml: str = "",
    extra_toml: str = "",
) -> GatewayEnv:
    """Write a configuration under `root`, run `asiointitili init` for it, and load it.

    `smime` lists the gateway's S/MIME identities as (certificate, key, password file); empty
    means the development identity that init creates. `keys_toml` and `org_toml` are lines
    added to [keys] and to the demo organisation, `extra_toml` is added at the end.
    """
    root.mkdir(parents=True, exist_ok=True)
    data = data_dir or root / "var"
    config_path = root / "gateway.toml"
    config_path.write_text(
        CONFIG_TEMPLATE.format(
            domain=DOMAIN,
            submission=SUBMISSION,
            org_domain=ORG_DOMAIN,
            data_dir=data,
            database_url=database_url,
            allow_temporary=str(allow_temporary).lower(),
            smtp_port=free_port(),
            portal_port=free_port(),
            max_message_size=max_message_size,
            extra_anchors="".join(f', "{p}"' for p in extra_anchors),
            smime=", ".join(_smime_entry(*entry) for entry in smime),
            sender_domains=", ".join(f'"{d}"' for d in sender_domains),
            keys_toml=keys_toml,
            org_toml=org_toml,
            extra_toml=extra_toml,
        )
    )
    assert cli_main(["--config", str(config_path), "init"]) == 0
    return GatewayEnv(root, config_path, load_config(config_path))


def _smime_entry(cert: Path, key: Path | None, password_file: Path | None) -> str:
    fields = [f'certificate = "{cert}"']
    if key:
        fields.append(f'key = "{key}"')
    if password_file:
        fields.append(f'password_file = "{password_file}"')
    return "{" + ", ".join(fields) + "}"
