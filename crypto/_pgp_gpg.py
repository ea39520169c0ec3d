"""gpg driven by python-gnupg for the gateway's own keyring, keeping every status line.

Every call names the keyring (`--homedir`), runs in batch mode, reads no gpg.conf, never asks
for a passphrase and never goes to the network. Validity comes from the ownertrust the gateway
sets at start (`--trust-model pgp`); `always_trust` is never used.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gnupg

# python-gnupg warns about every non-zero exit of gpg, which a refused message always causes;
# the gateway's own refusal says more, and in a worker there is no handler to send it to.
logging.getLogger("gnupg").setLevel(logging.ERROR)

_OPTIONS = (
    "--no-options",
    "--trust-model", "pgp",
    "--pinentry-mode", "error",
    "--disable-dirmngr",
    "--no-auto-key-retrieve",
    "--no-auto-key-locate",
    "--no-auto-key-import",
)

Status = tuple[str, str]


class _Recorder(gnupg.Crypt):  # type: ignore[misc]  # python-gnupg is untyped
    """python-gnupg's decrypt/verify result, keeping the status lines in order: its own
    summary keeps only the last signature's outcome, and a message may carry several."""

    def __init__(self, gpg: gnupg.GPG) -> None:
        super().__init__(gpg)
        self.statuses: list[Status] = []

    def handle_status(self, key: str, value: str) -> None:
        self.statuses.append((key, value))
        super().handle_status(key, value)


@dataclass(frozen=True)
class GpgRun:
    """What one gpg call printed: its output and its status lines."""

    data: bytes
    statuses: tuple[Status, ...]


class GpgKeyring:
    """One GNUPGHOME. `maintenance` lets gpg update the trust database; the hot path does not,
    so that concurrent workers only ever read the keyring."""

    def __init__(self, home: Path, *, maintenance: bool = False) -> None:
        options = list(_OPTIONS)
        if not maintenance:
            options.append("--no-auto-check-trustdb")
        self.home = home
        # The full path spares each call a search of PATH.
        binary = shutil.which("gpg") or "gpg"
        self.gpg = gnupg.GPG(gpgbinary=binary, gnupghome=str(home), options=options)
        # result_map is python-gnupg's hook for the result types of its operations.
        self.gpg.result_map = {**gnupg.GPG.result_map, "crypt": _Recorder, "verify": _Recorder}

    def decrypt(self, data: bytes) -> GpgRun:
        """`gpg --decrypt`: decrypts, and verifies whatever signatures the data carries."""
        return _run(self.gpg.decrypt(data))

    def verify_detached(self, data: bytes, signature: bytes) -> GpgRun:
        """Verify a detached signature over `data` (the signature goes through a file, the
        data through a pipe: only public bytes ever touch the disk)."""
        fd, name = tempfile.mkstemp(prefix="sig-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(signature)
            return _run(self.gpg.verify_data(name, data))
        finally:
            os.unlink(name)


def _run(result: Any) -> GpgRun:
    data = result.data if isinstance(result.data, bytes) else b""
    return GpgRun(data, tuple(result.statuses))
