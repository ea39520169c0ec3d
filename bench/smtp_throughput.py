"""`make bench`: the gateway's SMTP throughput and latency, next to a bare aiosmtpd sink.

Everything runs on 127.0.0.1 in a throw-away data directory and stops by itself:

1. SMTP load (bench.throughput): 10 KB-body messages, signed then encrypted (RSA-2048), over
   C connections; messages/s and DATA->250 latency for the sink, the gateway flat out, and the
   gateway at half its measured rate. Quote the gateway/sink ratio: both ran in this run,
   with the same client and the same messages, so machine speed largely cancels out.
2. One ~1 MB message in-process (bench.inline): the gateway's stages vs the naive path.
3. One ~25 MB message through a real serve process (bench.memory): peak RSS rises.

Targets (printed PASS/FAIL): gateway >= 0.45x sink msg/s; p99 <= 25 ms at 50% load;
1 MB >= 3x faster than naive; 25 MB raises each process's peak RSS by <= 8x the size.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import inline, memory, throughput
from bench.environment import HETU, bench_env
from bench.messages import Clerk, batch, entity, entity_of_wire_size, wrap
from bench.report import memory_table, phase_table, split_table, verdicts

BODY = 10 * 1024
LARGE = 1024 * 1024
HUGE = 25 * 1024 * 1024


@dataclass(frozen=True)
class Figures:
    phases: throughput.Phases
    large_size: int
    ours: inline.Split
    naive: inline.Split
    mem: memory.MemoryResult | None


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.smtp_throughput",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000,
                        help="measured per flat-out phase (1000: the sink needs ~1 s of it)")
    parser.add_argument("--warmup", type=int, default=50, help="unmeasured, first (50)")
    parser.add_argument("--concurrency", type=int, default=8, help="SMTP connections (8)")
    parser.add_argument("--half-messages", type=int, default=1000,
                        help="messages at 50%% load, shortened to ~60 s (1000)")
    parser.add_argument("--runs", type=int, default=5, help="1 MB in-process runs, best (5)")
    parser.add_argument("--skip-memory", action="store_true", help="no 25 MB phase")
    return parser.parse_args(argv)


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def measure(args: argparse.Namespace, root: Path) -> Figures:
    env, citizen_id = bench_env(root)
    clerk = Clerk.from_env(env, HETU)
    small = entity(clerk, BODY)
    say(f"message: {BODY // 1024} KB body -> {len(wrap(clerk, small, 'x')) / 1024:.1f} KiB "
        f"on the wire; gateway crypto_workers = {env.config.smtp.crypto_workers}")
    load = throughput.Load(args.messages, args.warmup, args.concurrency, args.half_messages)
    phases = throughput.run(env, clerk, lambda p, n: batch(clerk, small, p, n), load, root, say)

    large = entity_of_wire_size(clerk, LARGE)
    say(f"1 MB in-process: {args.runs} runs each (+1 warm-up)")
    ours = inline.ours(env, citizen_id, lambda i: wrap(clerk, large, f"l{i}"), args.runs)
    naive = inline.naive(env, wrap(clerk, large, "naive"), args.runs)

    mem = None
    if not args.skip_memory:
        say("25 MB through serve (building the message takes a few seconds)")
        mem = memory.run(env, clerk, HUGE, root / "serve-memory.log")
    return Figures(phases, len(wrap(clerk, large, "l0")), ours, naive, mem)


def report(args: argparse.Namespace, figures: Figures) -> None:
    phases = figures.phases
    print()
    print(phase_table([
        ("bare aiosmtpd sink, flat out", phases.sink),
        ("gateway, flat out", phases.full),
        (f"gateway, 50% load ({phases.half_rate:.1f}/s)", phases.half),
    ]))
    print()
    print(split_table(figures.large_size, figures.ours, figures.naive))
    if figures.mem is not None:
        print()
        print(memory_table(figures.mem))
    print()
    print(verdicts(phases, figures.ours, figures.naive, figures.mem, args.warmup))


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    load1, load5, load15 = os.getloadavg()
    say(f"{os.cpu_count()} CPUs, load average {load1:.2f} {load5:.2f} {load15:.2f} "
        "(other work on this machine makes every figure noisier; the ratio less so)")
    with tempfile.TemporaryDirectory(prefix="asiointitili-bench-") as tmp:
        root = Path(tmp)
        try:
            figures = measure(args, root)
        except BaseException:
            for log in sorted(root.glob("*.log")):
                tail = log.read_text(errors="replace")[-3000:]
                print(f"--- {log.name} (end) ---\n{tail}", file=sys.stderr)
            raise
    report(args, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
