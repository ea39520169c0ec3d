"""The pipeline driver: stages run in order, pool stages in a real process pool, and nothing runs
after a terminal outcome."""

from __future__ import annotations

import ipaddress
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime

import pytest

from policies.model import Organisation
from smtp_in import replies
from smtp_in.pipeline import Inbound, Recipient, Reject, Stage, TempFail, run_pipeline
from smtp_in.stages import ingest_pipeline

ORG = Organisation(
    id="kunta", name="Kunta", sender_domains=("kunta.test",),
    networks=(ipaddress.ip_network("127.0.0.1/32"),), trust_anchors=(), replies_allowed=False,
    reply_address="kirjaamo@kunta.test",
)


def _message() -> Inbound:
    return Inbound(raw=b"x" * 100_000, organisation_id=ORG.id, recipients=(Recipient("c1"),),
                   received_at=datetime.now(UTC))


def record_pid(message: Inbound) -> None:
    message.trace.append(f"pid={os.getpid()}")


def refuse(message: Inbound) -> None:
    raise Reject(replies.UNSIGNED)


def must_not_run(message: Inbound) -> None:
    raise AssertionError("a stage ran after a terminal outcome")


async def test_stages_run_in_order_with_pool_stages_in_another_process() -> None:
    stages = (
        Stage("first", record_pid, in_pool=True),
        Stage("second", record_pid, in_pool=True),
        Stage("local", record_pid, in_pool=False),
    )
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        done = await run_pipeline(stages, _message(), pool)
    pool_pid = done.trace[0]
    assert done.trace[1::2][:2] == ["first", "second"] and done.trace[-1] == "local"
    assert done.trace[2] == pool_pid  # both pool stages went to the pool in one call
    assert pool_pid != f"pid={os.getpid()}"
    assert done.raw == b"x" * 100_000  # the bytes were kept, not shipped back


@pytest.mark.parametrize("use_pool", [False, True])
async def test_no_stage_runs_after_a_terminal_outcome(use_pool: bool) -> None:
    stages = (
        Stage("refuse", refuse, in_pool=True),
        Stage("after-in-pool", must_not_run, in_pool=True),
        Stage("after-locally", must_not_run, in_pool=False),
    )
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(1, mp_context=context) if use_pool else None
    try:
        with pytest.raises(Reject) as outcome:
            await run_pipeline(stages, _message(), pool)
    finally:
        if pool:
            pool.shutdown()
    assert outcome.value.reply is replies.UNSIGNED or outcome.value.reply == replies.UNSIGNED


def test_outcomes_are_not_errors_and_carry_their_reply() -> None:
    assert not issubclass(Reject, RuntimeError) and not issubclass(TempFail, Reject)
    assert TempFail(replies.STORAGE_FULL).reply.is_temporary


def test_the_ingest_pipeline_is_one_ordered_tuple() -> None:
    stages = ingest_pipeline(store=None, settings=None)  # type: ignore[arg-type]
    assert [s.name for s in stages] == ["parse", "unwrap", "verify", "extract", "policy", "store"]
    assert [s.in_pool for s in stages] == [True, True, True, True, False, False]
