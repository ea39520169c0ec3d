"""A stage worker: reads length-prefixed pickled calls on stdin, answers on stdout.

Started by `smtp_in.workers.StageWorkers` (`python -m smtp_in.worker_process`); exits when its
stdin ends, which is also what happens when the gateway dies.
"""

from __future__ import annotations

import pickle
import struct
import sys
from typing import Any, BinaryIO

_HEADER = struct.Struct(">Q")


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    data = stream.read(size)
    return data if data is not None and len(data) == size else None


def _answer(func: Any, args: tuple[Any, ...]) -> bytes:
    try:
        answer: tuple[bool, Any] = (True, func(*args))
    except Exception as exc:  # noqa: BLE001 - every failure goes back to the caller
        answer = (False, exc)
    try:
        return pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - an unpicklable result or exception
        return pickle.dumps((False, RuntimeError(f"unpicklable answer: {type(exc).__name__}")))


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    while (header := _read_exactly(requests, _HEADER.size)) is not None:
        payload = _read_exactly(requests, _HEADER.unpack(header)[0])
        if payload is None:
            return
        func, args = pickle.loads(payload)  # noqa: S301 - written by the gateway that started us
        del payload
        data = _answer(func, args)
        answers.write(_HEADER.pack(len(data)))
        answers.write(data)
        answers.flush()


def main() -> None:
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    # Whatever library code prints must not corrupt the channel.
    sys.stdout = sys.stderr
    serve(requests, answers)


if __name__ == "__main__":
    main()
