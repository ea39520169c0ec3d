"""End of DATA to 250 for one large message, in this process: our stages against the naive path.

Ours: the gateway's own stage tuple (`ingest_pipeline`) run inline with `run_stages`, one stage
at a time so each is timed, with the keys installed as a pool worker has them and a real
MailboxStore (SQLite) for policy and store, as tests' InProcessGateway does. The naive path is
what one would write first: `email` on the whole message, cryptography's `pkcs7_decrypt_smime`,
`email` on the result; it neither verifies signatures nor stores anything. Best of N runs each.
"""

from __future__ import annotations

import email
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.serialization import pkcs7
from gatewaytest.env import GatewayEnv

from gateway import material
from gateway.serve import store_settings
from smtp_in.pipeline import Inbound, Recipient, run_stages
from smtp_in.stages import ingest_pipeline, install_material

Timings = dict[str, float]


@dataclass(frozen=True)
class Split:
    """The best run's total (s) and its parts, in order."""

    total: float
    parts: Timings


def _best(runs: list[Timings]) -> Split:
    best = min(runs, key=lambda r: sum(r.values()))
    return Split(sum(best.values()), best)


def ours(env: GatewayEnv, citizen_id: str, make: Callable[[int], bytes], runs: int) -> Split:
    """`make(i)` gives the i-th copy of the message (fresh Message-ID: no duplicate short-cut).
    Run 0 warms caches and is not counted."""
    config = env.config
    install_material(*material.crypto_material_args(config))
    store = env.open_store(background_checkpoints=True)  # as serve opens it
    try:
        stages = ingest_pipeline(store, store_settings(config))
        timed: list[Timings] = []
        for i in range(runs + 1):
            message = Inbound(raw=make(i), organisation_id=config.organisations[0].id,
                              recipients=(Recipient(citizen_id),), received_at=datetime.now(UTC))
            parts: Timings = {}
            for stage in stages:
                start = time.perf_counter()
                run_stages((stage,), message)
                parts[stage.name] = time.perf_counter() - start
            if message.duplicate or not message.citizen_ids:
                raise RuntimeError("inline run did not store a new message")
            if i:
                timed.append(parts)
            store.checkpoint()  # serve does this in the background, off the DATA path
        return _best(timed)
    finally:
        store.close()


def naive(env: GatewayEnv, raw: bytes, runs: int) -> Split:
    key = material.decryption_keys(env.config)[0]
    timed: list[Timings] = []
    for i in range(runs + 1):
        t0 = time.perf_counter()
        email.message_from_bytes(raw)
        t1 = time.perf_counter()
        content = pkcs7.pkcs7_decrypt_smime(raw, key.certificate, key.private_key, [])
        t2 = time.perf_counter()
        result = email.message_from_bytes(content)
        t3 = time.perf_counter()
        if result.get_content_type() != "multipart/signed":
            raise RuntimeError(f"naive path decrypted to {result.get_content_type()}")
        if i:
            timed.append({"email(whole)": t1 - t0, "pkcs7_decrypt_smime": t2 - t1,
                          "email(result)": t3 - t2})
    return _best(timed)
