"""Figures and their presentation: percentiles, the phase table, pass/fail lines."""

from __future__ import annotations

import math
from collections.abc import Sequence

from bench.client import Result
from bench.inline import Split
from bench.memory import MemoryResult
from bench.throughput import Phases

MIB = 1024 * 1024


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (no interpolation: p99 of 300 samples is the 297th smallest)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def phase_table(rows: Sequence[tuple[str, Result]]) -> str:
    head = (f"{'phase':<34} {'sent':>5} {'fail':>5} {'msg/s':>7} "
            f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    lines = [head, "-" * len(head)]
    for name, r in rows:
        lat = r.latencies
        lines.append(
            f"{name:<34} {r.sent:>5} {len(r.failures):>5} {r.rate:>7.1f} "
            f"{ms(percentile(lat, 50))} {ms(percentile(lat, 95))} {ms(percentile(lat, 99))} "
            f"{ms(max(lat) if lat else math.nan)}"
        )
    lines.append("(msg/s: accepted / wall time of the phase; latency: DATA command sent -> final "
                 "reply received,\n the message's transfer included; nearest-rank percentiles)")
    for name, r in rows:
        for failure in r.failures[:3]:
            lines.append(f"  {name}: refused: {failure}")
    return "\n".join(lines)


def split_table(size: int, ours: Split, naive: Split) -> str:
    lines = [f"1 message of {size / MIB:.2f} MiB on the wire, end of DATA -> 250, best run, ms:"]
    lines.append("  ours  " + "  ".join(f"{k} {v * 1000:.1f}" for k, v in ours.parts.items())
                 + f"  = {ours.total * 1000:.1f}")
    lines.append("  naive " + "  ".join(f"{k} {v * 1000:.1f}" for k, v in naive.parts.items())
                 + f"  = {naive.total * 1000:.1f}")
    lines.append("  (ours, inline as in a pool worker, no pickling: unwrap = decrypt + every "
                 "signature and chain;\n   verify = signer is the sender; extract = MIME parts; "
                 "store = sealed commit with its notification.\n   naive verifies nothing and "
                 "stores nothing)")
    return "\n".join(lines)


def memory_table(mem: MemoryResult) -> str:
    lines = [f"1 message of {mem.size / MIB:.1f} MiB through serve "
             f"(DATA->250 {ms(mem.result.latencies[0]).strip() if mem.result.latencies else '-'}"
             f" ms{', REFUSED ' + mem.result.failures[0] if mem.result.failures else ''}):",
             f"  {'process':<18} {'pid':>7} {'HWM before':>11} {'HWM after':>10} "
             f"{'rise MiB':>9} {'x size':>7}"]
    for pid, before in mem.before.items():
        rise = mem.rise(pid)
        lines.append(f"  {before.role:<18} {pid:>7} {before.hwm / MIB:>11.1f} "
                     f"{mem.after[pid].hwm / MIB:>10.1f} {rise / MIB:>9.1f} "
                     f"{rise / mem.size:>7.2f}")
    return "\n".join(lines)


def verdicts(phases: Phases, ours: Split, naive: Split, mem: MemoryResult | None,
             warmup: int) -> str:
    """The four targets, PASS/FAIL each, and a consistency check on what the store holds."""
    ratio = phases.full.rate / phases.sink.rate if phases.sink.rate else 0.0
    p99 = percentile(phases.half.latencies, 99) * 1000
    speedup = naive.total / ours.total
    lines = [
        f"{verdict(ratio >= 0.45)} throughput: gateway/sink = {ratio:.2f}x "
        f"({phases.full.rate:.1f} / {phases.sink.rate:.1f} msg/s; target >= 0.45x)",
        f"{verdict(p99 <= 25 and not phases.half.failures)} latency: p99 DATA->250 at 50% load "
        f"= {p99:.1f} ms (target <= 25 ms; achieved {phases.half.rate:.1f} msg/s)",
        f"{verdict(speedup >= 3)} 1 MB: naive/ours = {speedup:.2f}x "
        f"({naive.total * 1000:.1f} / {ours.total * 1000:.1f} ms; target >= 3x)",
        f"info 1 MB before the store (the naive path stores nothing): naive/ours = "
        f"{naive.total / (ours.total - ours.parts.get('store', 0.0)):.2f}x",
    ]
    if mem is not None:
        main_pid = next(iter(mem.before))  # process_tree lists the serving process first
        worker = max((p for p, m in mem.before.items() if m.role == "crypto worker"),
                     key=mem.rise, default=None)
        for pid in (main_pid, worker):
            if pid is None:
                continue
            factor = mem.rise(pid) / mem.size
            lines.append(
                f"{verdict(factor <= 8 and not mem.result.failures)} 25 MB: "
                f"{mem.before[pid].role} peak RSS (VmHWM) rise = {mem.rise(pid) / MIB:.0f} MiB "
                f"= {factor:.2f}x size (target <= 8x)")
    stored = phases.counts.get("messages", 0) - warmup
    lines.append(
        f"check: gateway answered 250 to {phases.accepted} measured messages (+{warmup} "
        f"warm-up); the store holds {stored} (+{warmup}), "
        f"{phases.counts.get('outbound_queue', 0)} notifications queued (held, not sent)")
    if any(r.failures for r in (phases.sink, phases.full, phases.half)):
        lines.append("NOTE: some messages were refused (listed above); figures count accepted "
                     "ones only")
    return "\n".join(lines)
