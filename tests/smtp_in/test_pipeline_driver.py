"""The pipeline driver: stages run in order, pool stages in real worker processes, and nothing
runs after a terminal outcome."""

from __future__ import annotations

import asyncio
import ipaddress
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from policies.model import Organisation
from smtp_in import replies
from smtp_in.pipeline import Inbound, Recipient, Reject, Stage, TempFail, run_pipeline
from smtp_in.stages import ingest_pipeline
from smtp_in.workers import StageWorkers, WorkerDied

ORG = Organisation(
    id="kunta", name="Kunta", sender_domains=("kunta.test",),
    networks=(ipaddress.ip_network("127.0.0.1/32"),), trust_anchors=(), replies_allowed=False,
    reply_address="kirjaamo@kunta.test",
)
_started_in: list[int] = []


def remember_start(tag: str) -> None:
    """Initializer: runs once in each worker."""
    _started_in.append(os.getpid())


def _message() -> Inbound:
    return Inbound(raw=b"x" * 100_000, organisation_id=ORG.id, recipients=(Recipient("c1"),),
                   received_at=datetime.now(UTC))


def record_pid(message: Inbound) -> None:
    message.trace.append(f"pid={os.getpid()}")


def refuse(message: Inbound) -> None:
    raise Reject(replies.UNSIGNED)


def must_not_run(message: Inbound) -> None:
    raise AssertionError("a stage ran after a terminal outcome")


def die(message: Inbound) -> None:
    os._exit(3)


def pid_and_initialised() -> tuple[int, list[int]]:
    return os.getpid(), list(_started_in)


@pytest.fixture
async def workers() -> AsyncIterator[StageWorkers]:
    pool = StageWorkers(1, remember_start, ("x",))
    await pool.start()
    yield pool
    await pool.close()


async def test_stages_run_in_order_with_pool_stages_in_another_process(
    workers: StageWorkers,
) -> None:
    stages = (
        Stage("first", record_pid, in_pool=True),
        Stage("second", record_pid, in_pool=True),
        Stage("local", record_pid, in_pool=False),
    )
    done = await run_pipeline(stages, _message(), workers)
    pool_pid = done.trace[0]
    assert done.trace[1::2][:2] == ["first", "second"] and done.trace[-1] == "local"
    assert done.trace[2] == pool_pid  # both pool stages went to the pool in one call
    assert pool_pid != f"pid={os.getpid()}"
    assert done.raw == b""  # the workers had the bytes; they are not shipped back or kept
    pid, initialised = await workers.run(pid_and_initialised)
    assert initialised == [pid]  # the initializer ran once, in the worker


@pytest.mark.parametrize("use_pool", [False, True])
async def test_no_stage_runs_after_a_terminal_outcome(
    use_pool: bool, workers: StageWorkers
) -> None:
    stages = (
        Stage("refuse", refuse, in_pool=True),
        Stage("after-in-pool", must_not_run, in_pool=True),
        Stage("after-locally", must_not_run, in_pool=False),
    )
    with pytest.raises(Reject) as outcome:
        await run_pipeline(stages, _message(), workers if use_pool else None)
    assert outcome.value.reply == replies.UNSIGNED


async def test_a_dead_worker_fails_only_its_job_and_is_replaced(workers: StageWorkers) -> None:
    with pytest.raises(WorkerDied):
        await run_pipeline((Stage("die", die, in_pool=True),), _message(), workers)
    done = await run_pipeline((Stage("ok", record_pid, in_pool=True),), _message(), workers)
    assert done.trace[-1] == "ok"


async def test_a_cancelled_job_does_not_leave_a_worker_out_of_step(
    workers: StageWorkers,
) -> None:
    job = asyncio.create_task(workers.run(_sleep_then_pid, 5.0))
    await asyncio.sleep(0.3)
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    pid, _ = await asyncio.wait_for(workers.run(pid_and_initialised), timeout=20)
    assert pid != os.getpid()


def _sleep_then_pid(seconds: float) -> int:
    import time

    time.sleep(seconds)
    return os.getpid()


def test_outcomes_are_not_errors_and_carry_their_reply() -> None:
    assert not issubclass(Reject, RuntimeError) and not issubclass(TempFail, Reject)
    assert TempFail(replies.STORAGE_FULL).reply.is_temporary


def test_the_ingest_pipeline_is_one_ordered_tuple() -> None:
    stages = ingest_pipeline(store=None, settings=None)  # type: ignore[arg-type]
    assert [s.name for s in stages] == ["parse", "unwrap", "verify", "extract", "policy", "store"]
    assert [s.in_pool for s in stages] == [True, True, True, True, False, False]
