"""Benchmarks for the gateway (`make bench`); never run as tests.

The test support package `gatewaytest` (tests/gatewaytest: make_env, ServeProcess, ...) is
reused, so the repository's `tests` directory goes on sys.path before any bench module loads.
"""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parent.parent / "tests")
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
