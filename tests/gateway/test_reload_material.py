"""`PolicyReloader` against the real configuration loader, key material and crypto workers:
an OpenPGP key revoked after start disables its organisation once reloaded, and a file whose
files cannot be read is refused with the workers in force left serving."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from gatewaytest.env import ORG_DOMAIN, make_env
from gatewaytest.openpgp import Gpg, require_gpg

from crypto import pgp_keys
from gateway import material
from gateway.reload import PolicyReloader
from gateway.serve import stage_workers
from smtp_in import stages
from smtp_in.policy_snapshot import ListenerPolicy
from smtp_in.workers import StageWorkers


def disabled_organisations() -> dict[str, str]:
    """Run in a crypto worker: the organisations its OpenPGP material disables."""
    pgp = stages._crypto_material().pgp  # noqa: SLF001 - what the worker actually holds
    assert pgp is not None
    return dict(pgp.disabled)


class RecordingHandler:
    def __init__(self) -> None:
        self.policies: list[ListenerPolicy] = []

    def reload(self, policy: ListenerPolicy, pool: StageWorkers) -> None:
        self.policies.append(policy)


async def test_revoked_key_is_imported_and_broken_files_are_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    require_gpg()
    clerk = Gpg(tmp_path / "clerk")
    fingerprint = clerk.new_key(f"Virkailija <virkailija@{ORG_DOMAIN}>")
    key_file = tmp_path / "demokunta.asc"
    key_file.write_bytes(clerk.export(fingerprint))
    env = make_env(
        tmp_path / "gw",
        org_toml=f'pgp_keys = ["{key_file}"]\npgp_fingerprints = ["{fingerprint}"]\n',
    )
    config = env.config
    workers = stage_workers(config)
    await workers.start()
    handler = RecordingHandler()
    reloader = PolicyReloader(
        config, handler, workers, material.smtp_tls_context(config), stage_workers  # type: ignore[arg-type]
    )
    try:
        assert await workers.run(disabled_organisations) == {}

        # The clerk's key is revoked after start: a reload imports the revocation.
        clerk.revoke(fingerprint)
        key_file.write_bytes(clerk.export(fingerprint))
        assert await reloader.reload()
        assert reloader.workers is not workers
        assert await reloader.workers.run(disabled_organisations) == {"demokunta": "revoked"}
        assert len(handler.policies) == 1

        # A trust anchor that cannot be read: refused, file and key logged, workers kept.
        current = reloader.workers
        anchor = config.data_dir / "demo" / "ca.pem"
        anchor.rename(anchor.with_suffix(".gone"))
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="gateway.reload"):
            assert not await reloader.reload()
        logged = "\n".join(record.getMessage() for record in caplog.records)
        assert f"{env.config_path}: organisations[0].trust_anchors" in logged
        assert "the policy in force stays" in logged
        assert reloader.workers is current and len(handler.policies) == 1
        assert await current.run(disabled_organisations) == {"demokunta": "revoked"}
    finally:
        await reloader.close()
        pgp_keys.stop_agent(config.keys.gnupg_home)
        clerk.stop()
