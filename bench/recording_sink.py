"""A bare aiosmtpd sink in its own process that notes when each message arrived.

`python -m aiosmtpd -n -l 127.0.0.1:PORT -c bench.recording_sink.Recorder LOG` accepts every
message and appends one line per message to LOG: `<time.monotonic()> <first recipient>`.
CLOCK_MONOTONIC is one clock for every process on the machine, so the benchmark compares these
times with its own. Nothing is parsed: the sink stays as cheap as aiosmtpd's own Sink. (This
module imports nothing of the gateway: the sink process stays small; see bench.outbound_sink.)
"""

from __future__ import annotations

import os
import time
from argparse import ArgumentParser
from typing import Any


class Recorder:
    """aiosmtpd handler: one line per accepted message, written straight to the log file."""

    def __init__(self, log: str) -> None:
        self._fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    @classmethod
    def from_cli(cls, parser: ArgumentParser, *args: str) -> Recorder:
        if len(args) != 1:
            parser.error("Recorder takes one argument: the log file")
        return cls(args[0])

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        line = f"{time.monotonic():.6f} {envelope.rcpt_tos[0]}\n"
        os.write(self._fd, line.encode())
        return "250 2.0.0 OK"
