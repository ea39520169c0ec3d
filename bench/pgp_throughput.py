"""`make bench`, PGP mode: OpenPGP ingest next to S/MIME, and next to gpg alone.

In one throw-away data directory (the demo organisation also declared as an OpenPGP sender):

1. a bare loop: python-gnupg on two threads decrypting and verifying the same PGP messages
   against the gateway's own keyring, nothing else (what gpg alone allows on this machine);
2. a real `serve` (outbound held), flat out over C connections: S/MIME messages (signed then
   encrypted, RSA-2048), then PGP/MIME sign-then-encrypt (Thunderbird's way: two gpg calls per
   message), then PGP/MIME signed and encrypted in one pass (one gpg call), all with a 10 KB
   body; messages/s and DATA->250 latency percentiles for each.

Target (PASS/FAIL): each PGP kind's ingest rate >= 0.8x the bare loop's rate for that kind.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import gnupg
from gatewaytest.env import CLERK, GatewayEnv
from gatewaytest.openpgp import Gpg, combined, sign_then_encrypt
from gatewaytest.servers import ServeProcess

from bench.client import Result, run_load
from bench.environment import HETU, bench_env
from bench.messages import Clerk, batch, entity, inner
from bench.report import phase_table, verdict
from crypto import pgp_keys
from crypto._cms_mime import split_entity
from crypto._pgp_mime import encrypted_payload, signed_parts
from gateway import material
from gateway.config import load_config
from gateway.serve import stage_worker_count

BODY = 10 * 1024
TARGET = 0.8


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.pgp_throughput",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=600, help="measured per phase (600)")
    parser.add_argument("--warmup", type=int, default=30, help="unmeasured, first (30)")
    parser.add_argument("--concurrency", type=int, default=8, help="SMTP connections (8)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (3)")
    parser.add_argument("--workers", type=int, default=0,
                        help="serve's crypto_workers (0: serve's default for OpenPGP)")
    return parser.parse_args(argv)


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


@dataclass(frozen=True)
class Kind:
    name: str
    entity: bytes  # the PGP/MIME entity behind the outer header fields
    bare: Callable[[gnupg.GPG], bool]  # one decrypt+verify of it, as gpg alone does it


def _bare_calls(home: Path, entity_bytes: bytes) -> Callable[[gnupg.GPG], bool]:
    """The gpg calls the message needs and nothing more: decrypt (which verifies a one-pass
    signature), and for sign-then-encrypt the detached signature over the first part (the
    parts are cut out once, here: the loop does no MIME work)."""
    payload = encrypted_payload(split_entity(entity_bytes))
    assert payload is not None
    decrypted = gnupg.GPG(gnupghome=str(home)).decrypt(payload)
    detached = signed_parts(split_entity(bytes(decrypted.data)))
    if detached is None:
        return lambda gpg: bool(gpg.decrypt(payload).valid)
    signed, signature = detached
    signature_file = home.parent / f"bench-{os.getpid()}-{id(entity_bytes)}.asc"
    signature_file.write_bytes(signature)

    def call(gpg: gnupg.GPG) -> bool:
        return bool(gpg.decrypt(payload).ok) and bool(gpg.verify_data(str(signature_file), signed))

    return call


def bare_loop(home: Path, kind: Kind, count: int, threads: int = 2) -> Result:
    gpg = gnupg.GPG(gnupghome=str(home))
    result = Result()
    kind.bare(gpg)  # warm: the agent has the key loaded
    began = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for ok in pool.map(lambda _: kind.bare(gpg), range(count)):
            if not ok:
                result.failures.append("gpg refused it")
    result.elapsed = time.perf_counter() - began
    result.latencies = [result.elapsed / count * threads] * (count - len(result.failures))
    return result


def _load(port: int, clerk: Clerk, messages: list[bytes], concurrency: int) -> Result:
    return asyncio.run(run_load(port, clerk.sender, clerk.recipient, messages,
                                concurrency=concurrency))


def measure(args: argparse.Namespace, root: Path) -> dict[str, tuple[Result, Result | None]]:
    signer = Gpg(root / "clerk")
    try:
        return _measure(args, root, signer)
    finally:
        signer.stop()


def _measure(
    args: argparse.Namespace, root: Path, signer: Gpg
) -> dict[str, tuple[Result, Result | None]]:
    key = signer.new_key(f"Virkailija <{CLERK}>")  # the demo clerk's address
    (root / "clerk.asc").write_bytes(signer.export(key))
    env, _ = bench_env(root / "gw", org_toml=(
        f'pgp_keys = ["{root / "clerk.asc"}"]\npgp_fingerprints = ["{key}"]\n'))
    # The test configuration pins 2 workers; the benchmark uses what operators get.
    text = env.config_path.read_text()
    env.config_path.write_text(
        text.replace("crypto_workers = 2", f"crypto_workers = {args.workers}", 1)
    )
    env = GatewayEnv(env.root, env.config_path, load_config(env.config_path))
    clerk = Clerk.from_env(env, HETU)
    home = env.config.keys.gnupg_home
    material.pgp_context(env.config)  # imports and trusts the clerk's key, as serve does
    gateway_key = pgp_keys.secret_fingerprints(home)[-1]
    signer.import_key(pgp_keys.public_key(home).encode(), trusted=[gateway_key])
    content = inner(BODY)
    kinds = []
    for name, build in (("PGP/MIME sign-then-encrypt", sign_then_encrypt),
                        ("PGP/MIME signed+encrypted at once", combined)):
        built = build(signer, content, key, gateway_key)
        kinds.append(Kind(name, built, _bare_calls(home, built)))
    smime = entity(clerk, BODY)
    say(f"{BODY // 1024} KB body; S/MIME {len(smime) / 1024:.1f} KiB, PGP "
        + ", ".join(f"{len(k.entity) / 1024:.1f} KiB" for k in kinds)
        + f"; serve's crypto workers: {stage_worker_count(env.config)}")

    serve = ServeProcess(env, root / "serve.log").start()
    figures: dict[str, list[tuple[Result, Result | None]]] = {}
    try:
        port = env.config.smtp.listen_port
        rows = [("S/MIME sign-then-encrypt", smime, None)]
        rows += [(k.name, k.entity, k) for k in kinds]
        for name, body, _ in rows:  # warm-up: workers, agent and caches
            _load(port, clerk, batch(clerk, body, f"w{name[:6]}", args.warmup), args.concurrency)
        # Rounds alternate the bare loop and the gateway, so that whatever else this machine
        # does weighs on both alike; each figure is the median of its rounds.
        for round_number in range(args.rounds):
            for i, (name, body, kind) in enumerate(rows):
                bare = None
                if kind is not None:
                    say(f"round {round_number + 1}: bare python-gnupg, 2 threads: {name}")
                    bare = bare_loop(home, kind, args.messages)
                say(f"round {round_number + 1}: gateway flat out: {name}")
                result = _load(port, clerk, batch(clerk, body, f"r{round_number}.{i}",
                                                  args.messages), args.concurrency)
                figures.setdefault(name, []).append((result, bare))
    finally:
        serve.stop()
    return {name: _median(runs) for name, runs in figures.items()}


def _median(runs: list[tuple[Result, Result | None]]) -> tuple[Result, Result | None]:
    """The round whose gateway rate is the median, and the median bare loop."""
    by_gateway = sorted(runs, key=lambda run: run[0].rate)
    bares = sorted((b for _, b in runs if b is not None), key=lambda b: b.rate)
    middle = by_gateway[len(by_gateway) // 2][0]
    return middle, bares[len(bares) // 2] if bares else None


def report(figures: dict[str, tuple[Result, Result | None]]) -> bool:
    rows = [(f"gateway: {name}", gateway) for name, (gateway, _) in figures.items()]
    print()
    print(phase_table(rows))
    print()
    ok = True
    for name, (gateway, bare) in figures.items():
        if bare is None:
            continue
        ratio = gateway.rate / bare.rate if bare.rate else 0.0
        passed = ratio >= TARGET and not gateway.failures
        ok = ok and passed
        print(f"{verdict(passed)}  {name}: gateway {gateway.rate:.1f} msg/s, bare python-gnupg "
              f"(2 threads) {bare.rate:.1f} msg/s: {ratio:.2f}x (target >= {TARGET}x)")
    return ok


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    load1, load5, load15 = os.getloadavg()
    say(f"{os.cpu_count()} CPUs, load average {load1:.2f} {load5:.2f} {load15:.2f}")
    # gpg-agent's socket path must stay short: a directory right under /tmp.
    with tempfile.TemporaryDirectory(prefix="bpgp-", dir="/tmp") as tmp:
        root = Path(tmp)
        try:
            figures = measure(args, root)
        except BaseException:
            with contextlib.suppress(OSError):
                print((root / "serve.log").read_text(errors="replace")[-3000:], file=sys.stderr)
            raise
    report(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
