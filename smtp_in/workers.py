"""Worker processes for the CPU-bound stages, driven straight from the event loop over pipes.

Why not concurrent.futures.ProcessPoolExecutor: its feeder and manager threads each keep the
last pickled job and result alive until the next one arrives (a 25 MB message stays in memory
twice over), and every call crosses three threads. Here a job is one length-prefixed pickle
written to an idle worker's stdin and one read back from its stdout, all on the loop.

The channel is a pair of pipes between the gateway and children it started itself; nothing else
can write to them. A worker that dies takes only its current job with it (answered 451 by the
handler) and is replaced. Workers exit on their own when the gateway goes away (stdin closes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import struct
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
_HEADER = struct.Struct(">Q")
# Pipes are read in large pieces: a 25 MB message should not need thousands of loop turns.
_PIPE_LIMIT = 1 << 20


class WorkerDied(Exception):
    """A worker process ended while it had a job; the job's outcome is unknown (not stored)."""


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        assert process.stdin is not None and process.stdout is not None
        self.stdin, self.stdout = process.stdin, process.stdout

    async def call(self, payload: bytes) -> tuple[bool, Any]:
        """Send one job; return (True, result) or (False, the exception it raised)."""
        self.stdin.write(_HEADER.pack(len(payload)))
        self.stdin.write(payload)
        del payload
        await self.stdin.drain()
        (size,) = _HEADER.unpack(await self.stdout.readexactly(_HEADER.size))
        answer: tuple[bool, Any] = pickle.loads(  # noqa: S301 - written by our own child
            await self.stdout.readexactly(size)
        )
        return answer


class StageWorkers:
    """`count` worker processes; `run(func, *args)` runs a picklable call in an idle one.

    `initializer(*initargs)` runs once in each worker before its first job (the gateway's keys
    are installed that way, so they cross the pipe once per worker, not once per message).
    """

    def __init__(
        self, count: int, initializer: Callable[..., None], initargs: Sequence[Any]
    ) -> None:
        self.count = count
        self._init = pickle.dumps((initializer, tuple(initargs)))
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._all: set[_Worker] = set()
        self._replacing: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await asyncio.gather(*(self._spawn() for _ in range(self.count)))

    async def _spawn(self) -> None:
        # The child imports what the jobs name from the same places as we do (as
        # multiprocessing's spawn does by sending sys.path along).
        path = os.pathsep.join(entry for entry in sys.path if entry)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "smtp_in.worker_process",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=_PIPE_LIMIT,
            env={**os.environ, "PYTHONPATH": path},
        )
        worker = _Worker(process)
        try:
            ok, error = await worker.call(self._init)
        except BaseException:
            process.kill()
            raise
        if not ok:
            process.kill()
            raise error
        self._all.add(worker)
        self._idle.put_nowait(worker)

    async def _replace(self, worker: _Worker) -> None:
        self._all.discard(worker)
        with contextlib.suppress(ProcessLookupError):
            worker.process.kill()
        await worker.process.wait()
        await self._spawn()

    def run(self, func: Callable[..., T], *args: Any) -> Awaitable[T]:
        """Pickle the call now (so the caller may drop its arguments), run it when awaited."""
        return self._run(pickle.dumps((func, args), protocol=pickle.HIGHEST_PROTOCOL))

    async def _run(self, payload: bytes) -> Any:
        worker = await self._idle.get()
        try:
            ok, value = await worker.call(payload)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            log.error("a stage worker died (exit status %s); starting another",
                      worker.process.returncode)
            await self._replace(worker)
            raise WorkerDied("stage worker died during a job") from exc
        except BaseException:
            # Cancelled mid-job: the pipe is out of step, so this worker is replaced.
            task = asyncio.get_running_loop().create_task(self._replace(worker))
            self._replacing.add(task)
            task.add_done_callback(self._replacing.discard)
            raise
        self._idle.put_nowait(worker)
        if not ok:
            raise value
        return value

    async def retire(self, timeout: float = 600.0) -> None:
        """Close once every worker is idle (after a reload handed new jobs to another pool):
        jobs already given to this one finish first, since waiters are served in order."""
        try:
            async with asyncio.timeout(timeout):
                for _ in range(self.count):
                    await self._idle.get()
        except TimeoutError:
            log.warning("retired stage workers still busy after %.0f s; closing them", timeout)
        finally:
            await self.close()

    async def close(self) -> None:
        for worker in self._all:
            worker.stdin.close()  # a worker exits when its stdin ends
        for worker in self._all:
            try:
                await asyncio.wait_for(worker.process.wait(), timeout=10)
            except TimeoutError:
                worker.process.kill()
                await worker.process.wait()
        self._all.clear()
