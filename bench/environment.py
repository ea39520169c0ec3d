"""A throw-away gateway data directory for the benchmark, made by the tests' `make_env`.

Outbound mail is held (`[outbound] mode = "hold"`): notifications are queued in the same
transaction as the message, as always, but nothing is sent while the benchmark runs.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from gatewaytest.env import GatewayEnv, make_env
from gatewaytest.hetus import make_hetu

from gateway.config import load_config

MAX_MESSAGE_SIZE = 30 * 1024 * 1024
HETU = make_hetu("131052", "-", 308)
# The benchmark measures the pipeline, not the rate limits: its client may send flat out.
_UNLIMITED = """
[limits]
messages_per_connection = 1000000
messages_per_minute = 1000000
concurrent_connections = 1000
"""


def bench_env(root: Path, *, org_toml: str = "") -> tuple[GatewayEnv, str]:
    """Initialise a data directory under `root` (30 MB size limit, outbound held) with one
    citizen (`HETU`); returns the environment and the citizen's id. `org_toml` adds settings
    to the demo organisation (its OpenPGP keys, for the PGP mode)."""
    with contextlib.redirect_stdout(io.StringIO()):
        env = make_env(
            root, max_message_size=MAX_MESSAGE_SIZE, org_toml=org_toml, extra_toml=_UNLIMITED
        )
    text = env.config_path.read_text()
    if 'mode = "outbox"' not in text:
        raise RuntimeError(f"{env.config_path}: no [outbound] mode to switch to hold")
    env.config_path.write_text(text.replace('mode = "outbox"', 'mode = "hold"', 1))
    env = GatewayEnv(env.root, env.config_path, load_config(env.config_path))
    return env, env.add_citizen(HETU)
