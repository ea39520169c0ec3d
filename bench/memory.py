"""Peak memory for one ~25 MB message through a real `asiointitili serve`.

The serving process reads DATA and stores; a crypto worker (a child process) decrypts, verifies
and extracts. Each one's peak resident set (VmHWM) is read before and after the message; the
rise is what that message cost the process at its worst moment. Small messages go first, on
several connections at once, so both workers have done real work before the baseline.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from gatewaytest.env import GatewayEnv
from gatewaytest.servers import ServeProcess

from bench.client import Result, run_load
from bench.messages import Clerk, batch, entity, entity_of_wire_size, wrap
from bench.procs import Memory, process_tree


@dataclass(frozen=True)
class MemoryResult:
    size: int
    before: dict[int, Memory]
    after: dict[int, Memory]
    result: Result

    def rise(self, pid: int) -> int:
        return self.after[pid].hwm - self.before[pid].hwm


def run(env: GatewayEnv, clerk: Clerk, size: int, log_path: Path) -> MemoryResult:
    big = wrap(clerk, entity_of_wire_size(clerk, size), "big")
    warm = batch(clerk, entity(clerk, 10 * 1024), "memwarm", 8)
    serve = ServeProcess(env, log_path).start()
    try:
        assert serve.process is not None
        pid = serve.process.pid
        warmed = asyncio.run(run_load(env.config.smtp.listen_port, clerk.sender, clerk.recipient,
                                      warm, concurrency=4))
        if warmed.failures:
            raise RuntimeError(f"warm-up refused: {warmed.failures[0]}")
        time.sleep(0.5)
        before = process_tree(pid)
        result = asyncio.run(run_load(env.config.smtp.listen_port, clerk.sender,
                                      clerk.recipient, [big], concurrency=1, timeout=300))
        after = process_tree(pid)
    finally:
        serve.stop()
    common = before.keys() & after.keys()  # a process that vanished has no rise to report
    return MemoryResult(len(big), {p: m for p, m in before.items() if p in common},
                        {p: m for p, m in after.items() if p in common}, result)
