"""gateway.toml `[limits]` and an organisation's own `limits` over them."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError, load_config
from policies.model import RateLimits

BASE = """
[gateway]
domains = ["asiointi.example"]
submission_address = "viesti@asiointi.example"

[[organisations]]
id = "kunta"
name = "Kunta"
sender_domains = ["kunta.example"]
networks = ["192.0.2.0/24"]
trust_anchors = ["ca.pem"]
reply_address = "kirjaamo@kunta.example"
"""

SECOND = """
[[organisations]]
id = "toinen"
name = "Toinen"
sender_domains = ["toinen.example"]
networks = ["198.51.100.0/24"]
trust_anchors = ["ca.pem"]
reply_address = "kirjaamo@toinen.example"
"""


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def test_defaults_global_limits_and_overrides(tmp_path: Path) -> None:
    config = _load(tmp_path, BASE)
    assert config.limits == RateLimits()  # type: ignore[attr-defined]
    assert config.organisations[0].limits == RateLimits()  # type: ignore[attr-defined]

    config = _load(
        tmp_path,
        BASE + "limits = {messages_per_minute = 60}\n" + SECOND
        + "[limits]\nconcurrent_connections = 4\nmessages_per_connection = 10\n",
    )
    kunta, toinen = config.organisations  # type: ignore[attr-defined]
    assert kunta.limits == RateLimits(10, 60, 4)
    assert toinen.limits == RateLimits(10, RateLimits().messages_per_minute, 4)


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        (BASE + "[limits]\nmessages_per_minute = 0\n", "limits.messages_per_minute",
         "must be positive, not 0"),
        (BASE + "limits = {connections = 3}\n", "organisations[0].limits.connections",
         "is not a known setting"),
        (BASE + 'limits = {concurrent_connections = "5"}\n',
         "organisations[0].limits.concurrent_connections", "must be a int, not '5'"),
    ],
)
def test_bad_limits_name_key_and_reason(tmp_path: Path, text: str, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    assert (caught.value.key, caught.value.reason) == (key, reason)
