"""The recording sink (bench.recording_sink.Recorder) as a process on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from gatewaytest.env import free_port
from gatewaytest.servers import wait_for_port

_REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Arrival:
    at: float  # time.monotonic() in the sink's process
    recipient: str


class RecordingSink:
    """`python -m aiosmtpd` with the Recorder handler (a context manager)."""

    def __init__(self, directory: Path, name: str) -> None:
        self.port = free_port()
        self.log = directory / f"{name}.arrivals"
        self._output = directory / f"{name}.log"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> RecordingSink:
        self.log.touch()
        with self._output.open("ab") as output:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}",
                 "-c", "bench.recording_sink.Recorder", str(self.log)],
                stdout=output, stderr=subprocess.STDOUT, cwd=_REPO,
            )  # fmt: skip
        wait_for_port(self.port, process=self._process)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._process is not None
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def count(self) -> int:
        with self.log.open("rb") as handle:
            return sum(1 for _ in handle)

    def arrivals(self) -> list[Arrival]:
        found = []
        for line in self.log.read_text().splitlines():
            at, _, recipient = line.partition(" ")
            found.append(Arrival(float(at), recipient))
        return found

    def clear(self) -> None:
        """Forget what arrived so far (between phases; the sink keeps appending)."""
        self.log.write_bytes(b"")
