"""The processes under test: a bare aiosmtpd sink, and what /proc says about memory."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from gatewaytest.env import free_port
from gatewaytest.servers import wait_for_port


class Sink:
    """`python -m aiosmtpd -n -c aiosmtpd.handlers.Sink`: accepts and drops every message."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Sink:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink",
                 "-l", f"127.0.0.1:{self.port}"],
                stdout=log, stderr=subprocess.STDOUT,
            )
        wait_for_port(self.port, process=self.process)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass(frozen=True)
class Memory:
    """One process's resident set now and at its peak (VmRSS, VmHWM), in bytes."""

    pid: int
    role: str
    rss: int
    hwm: int


def _status(pid: int) -> dict[str, str]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.strip()
    return fields


def _kib(value: str) -> int:
    return int(value.split()[0]) * 1024


def children(pid: int) -> list[int]:
    """Direct children of `pid`, from every thread's /proc/PID/task/TID/children."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue
    return sorted(set(found))


def role(pid: int) -> str:
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    if "smtp_in.worker_process" in cmdline:
        return "crypto worker"
    return "child"


def memory(pid: int, role_name: str) -> Memory:
    status = _status(pid)
    return Memory(pid, role_name, _kib(status["VmRSS"]), _kib(status["VmHWM"]))


def process_tree(pid: int) -> dict[int, Memory]:
    """The serving process and each of its children (the stage workers)."""
    tree = {pid: memory(pid, "serve (main)")}
    for child in children(pid):
        try:
            tree[child] = memory(child, role(child))
        except FileNotFoundError:
            continue
    return tree
