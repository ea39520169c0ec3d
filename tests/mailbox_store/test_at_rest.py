"""Security: nothing personal is readable in the database files, and sealed values stay put."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from mailbox_helpers import make_delivery
from sqlalchemy import create_engine, text

from crypto.blind_index import BlindIndex
from crypto.sealing import MasterKeyRing
from mailbox_store import MailboxStore, NewAttachment, StoreCorrupt

MARKERS = {
    "hetu": "131052-308T",
    "name": "NAMEMARKER-Virtanen",
    "email": "emailmarker@example.fi",
    "subject": "SUBJECTMARKER",
    "body": "BODYMARKER text",
    "html": "HTMLMARKER",
    "attachment": "ATTACHMENTMARKER",
    "filename": "FILENAMEMARKER.pdf",
    "original": "ORIGINALMARKER",
    "sender": "sendermarker@city.example",
}


def _raw_files(database: Path) -> bytes:
    files = [database, database.with_name(database.name + "-wal")]
    return b"".join(path.read_bytes() for path in files if path.exists())


def test_no_plaintext_in_sqlite_files(
    tmp_path: Path, keys: MasterKeyRing, index: BlindIndex
) -> None:
    database = tmp_path / "mailbox.db"
    store = MailboxStore(f"sqlite:///{database}", keys, index)
    store.migrate()
    citizen = store.add_citizen(MARKERS["hetu"], MARKERS["name"], MARKERS["email"], "fi")
    delivery = make_delivery(
        citizen,
        organisation_id="ORGMARKER",  # a plain column: proves the scan sees stored rows
        subject=MARKERS["subject"],
        text_body=MARKERS["body"],
        html=MARKERS["html"],
        attachments=(
            NewAttachment(MARKERS["filename"], "application/pdf", MARKERS["attachment"].encode()),
        ),
        original=MARKERS["original"].encode(),
    )
    delivery = type(delivery)(**{**delivery.__dict__, "sender_address": MARKERS["sender"]})
    [message_id] = store.store_delivery(delivery).message_ids
    view = store.read_message(citizen, message_id)
    assert view is not None and view.subject == MARKERS["subject"]
    assert view.sender_address == MARKERS["sender"]

    before_checkpoint = _raw_files(database)
    store.close()  # the last connection checkpoints the WAL into the main file
    after_checkpoint = _raw_files(database)
    assert len(before_checkpoint) > 0 and b"SQLite format 3" in after_checkpoint
    for raw in (before_checkpoint, after_checkpoint):
        for name, marker in MARKERS.items():
            for encoding in ("utf-8", "utf-16-le"):
                assert marker.encode(encoding) not in raw, f"{name} stored in the clear"
        assert b"131052" not in raw


def test_sqlite_is_in_wal_mode(sqlite_url: str, keys: MasterKeyRing, index: BlindIndex) -> None:
    store = MailboxStore(sqlite_url, keys, index)
    store.migrate()
    store.add_citizen("010101-123N", "A", None, "fi")
    store.close()
    connection = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    try:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        connection.close()


def test_sealed_value_swapped_between_rows_fails(store: MailboxStore, store_url: str) -> None:
    citizen = store.add_citizen("010101-123N", "A", None, "fi")
    first = store.store_delivery(make_delivery(citizen, message_id="<1@c>", subject="one"))
    second = store.store_delivery(make_delivery(citizen, message_id="<2@c>", subject="two"))
    engine = create_engine(store_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE messages SET subject_sealed = "
                "(SELECT subject_sealed FROM messages WHERE id = :src) WHERE id = :dst"
            ),
            {"src": first.message_ids[0], "dst": second.message_ids[0]},
        )
    engine.dispose()
    view = store.read_message(citizen, first.message_ids[0])
    assert view is not None and view.subject == "one"
    with pytest.raises(StoreCorrupt) as info:
        store.read_message(citizen, second.message_ids[0])
    assert "one" not in str(info.value)
    with pytest.raises(StoreCorrupt):
        store.inbox(citizen)
    # A message that could not be opened is not logged as read.
    opened = [e.detail["message_id"] for e in store.events(citizen) if e.kind == "message.opened"]
    assert opened == [first.message_ids[0]]


def test_data_key_swapped_between_citizens_fails(
    store_url: str, keys: MasterKeyRing, index: BlindIndex
) -> None:
    store = MailboxStore(store_url, keys, index)
    store.migrate()
    a = store.add_citizen("010101-123N", "A", None, "fi")
    b = store.add_citizen("020202-222C", "B", None, "fi")
    store.close()
    engine = create_engine(store_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE citizens SET data_key_wrapped = "
                "(SELECT data_key_wrapped FROM citizens WHERE id = :src) WHERE id = :dst"
            ),
            {"src": a, "dst": b},
        )
    engine.dispose()
    fresh = MailboxStore(store_url, keys, index)  # empty key cache: must unwrap from the row
    try:
        with pytest.raises(StoreCorrupt):
            fresh.citizen_profile(b)
        profile = fresh.citizen_profile(a)
        assert profile is not None and profile.name == "A"
    finally:
        fresh.close()
