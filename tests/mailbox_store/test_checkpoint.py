"""With background checkpoints, commits leave the WAL alone and `checkpoint()` copies it over."""

from __future__ import annotations

from pathlib import Path

from mailbox_helpers import make_delivery

from crypto.blind_index import BlindIndex
from crypto.sealing import MasterKeyRing
from mailbox_store import MailboxStore, NewAttachment


def test_commits_do_not_checkpoint_and_checkpoint_does(
    tmp_path: Path, keys: MasterKeyRing, index: BlindIndex
) -> None:
    database = tmp_path / "mailbox.db"
    store = MailboxStore(f"sqlite:///{database}", keys, index, background_checkpoints=True)
    store.migrate()
    store.checkpoint()
    citizen = store.add_citizen("131052-308T", "N", None, "fi")
    before = database.stat().st_size
    big = NewAttachment("a.bin", "application/octet-stream", b"\1" * 2_000_000)
    for i in range(4):  # 8 MB: far past SQLite's own 1000-page autocheckpoint
        store.store_delivery(make_delivery(citizen, message_id=f"<{i}@x>", attachments=(big,)))
    assert database.stat().st_size == before  # everything still waits in the WAL
    store.checkpoint()
    # All 8 MB are in the database file now (free pages left by migrations may hold some).
    assert database.stat().st_size > 8_000_000
    assert len(store.inbox(citizen)) == 4
    store.close()
