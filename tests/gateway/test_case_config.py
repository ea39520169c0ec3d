"""The case tags, deletion retention and reminder delay in gateway.toml: defaults, values, and
errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import Config, ConfigError, load_config
from policies.model import CasePolicy

BASE = """
[gateway]
domains = ["asiointi.example"]
submission_address = "viesti@asiointi.example"
{top}
[[organisations]]
id = "kunta"
name = "Kunta"
sender_domains = ["kunta.example"]
networks = ["192.0.2.0/24"]
trust_anchors = ["ca.pem"]
reply_address = "kirjaamo@kunta.example"
{org}
"""


def _load(tmp_path: Path, *, top: str = "", org: str = "") -> Config:
    path = tmp_path / "gateway.toml"
    path.write_text(BASE.format(top=top, org=org), encoding="utf-8")
    return load_config(path)


def test_defaults(tmp_path: Path) -> None:
    config = _load(tmp_path)
    assert config.organisations[0].cases == CasePolicy()
    assert CasePolicy().request_tag == "[lisätietopyyntö]"
    assert config.portal.deleted_retention_days == 30
    assert config.outbound.reminder_days == 7


def test_values(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        top="[portal]\ndeleted_retention_days = 14\n[outbound]\nreminder_days = 3\n",
        org='request_tag = "[begäran]"\ncase_label = "ärende"\nstatus_label = "läge"',
    )
    assert config.organisations[0].cases == CasePolicy("[begäran]", "ärende", "läge")
    assert config.portal.deleted_retention_days == 14
    assert config.outbound.reminder_days == 3


@pytest.mark.parametrize(
    ("top", "org", "key"),
    [
        ("", 'case_label = "asia:"', "organisations[0].case_label"),
        ("", 'status_label = ""', "organisations[0].status_label"),
        ("", 'request_tag = " "', "organisations[0].request_tag"),
        ("[portal]\ndeleted_retention_days = 0\n", "", "portal.deleted_retention_days"),
        ("[outbound]\nreminder_days = -1\n", "", "outbound.reminder_days"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, top: str, org: str, key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _load(tmp_path, top=top, org=org)
    assert raised.value.key == key
