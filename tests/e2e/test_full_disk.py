"""A full disk is a temporary failure (452 4.3.1) that stores nothing; freeing space heals it.

The data directory lives on a small tmpfs (or, failing that, a loop-mounted ext4 image).
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from gatewaytest.env import DOMAIN, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.servers import InProcessGateway
from gatewaytest.smtp_fixtures import assert_refused, decision, send

pytestmark = pytest.mark.e2e

HETU = make_hetu("131052", "-", 308)
RCPT = f"{HETU}@{DOMAIN}"


def _run(*args: str | Path) -> bool:
    return subprocess.run([str(a) for a in args], capture_output=True, check=False).returncode == 0


def _cannot(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: in CI this test must run")
    pytest.skip(reason)


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    loop: str | None = None
    if not _run("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mountpoint):
        image = tmp_path / "disk.img"
        with image.open("wb") as f:
            f.truncate(16 * 1024 * 1024)
        if not (shutil.which("mkfs.ext4") and _run("mkfs.ext4", "-q", image)):
            _cannot("neither a tmpfs nor an ext4 image can be made here")
        done = subprocess.run(["losetup", "--find", "--show", str(image)], capture_output=True,
                              text=True, check=False)
        if done.returncode != 0 or not _run("mount", done.stdout.strip(), mountpoint):
            if done.returncode == 0:
                _run("losetup", "-d", done.stdout.strip())
            _cannot("mounting a small file system is not permitted here")
        loop = done.stdout.strip()
    try:
        yield mountpoint
    finally:
        _run("umount", "-l", mountpoint)
        if loop:
            _run("losetup", "-d", loop)


def fill(directory: Path) -> Path:
    """Write a filler file until the file system says ENOSPC."""
    filler = directory / "filler"
    chunk = b"\0" * 65536
    with filler.open("wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
        try:
            while True:  # the last few bytes too
                f.write(b"\0" * 512)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return filler


def test_full_disk_answers_452_and_recovers(small_fs: Path, tmp_path: Path) -> None:
    env = make_env(tmp_path / "conf", data_dir=small_fs / "var")
    env.add_citizen(HETU)
    gateway = InProcessGateway(env).start()
    try:
        store = gateway.store
        before = store.table_counts()
        message = decision(env, RCPT, subject="Taysi levy")
        filler = fill(small_fs)
        answer = send(gateway.port, message, [RCPT])
        assert_refused(answer, 452, "4.3.1", store, before)

        filler.unlink()
        answer = send(gateway.port, message, [RCPT])
        assert (answer.code, answer.status) == (250, "2.0.0"), answer
        citizen = store.active_citizen_id(HETU)
        assert citizen is not None
        entries = store.inbox(citizen)
        assert [e.subject for e in entries] == ["Taysi levy"]
        view = store.read_message(citizen, entries[0].id)
        assert view is not None and "Hei." in view.text
    finally:
        gateway.stop()
