"""A delivery is stored for all recipients in one transaction, de-duplicated, and read back."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from mailbox_helpers import make_delivery
from sqlalchemy import create_engine, text

from mailbox_store import CitizenNotActive, MailboxStore, NewAttachment, StoreUnavailable


def test_round_trip_of_a_delivery(store: MailboxStore) -> None:
    a = store.add_citizen("010101-123N", "A", "a@example.fi", "fi")
    b = store.add_citizen("020202-222C", "B", None, "en")
    delivery = make_delivery(
        a,
        b,
        attachments=(
            NewAttachment("päätös.pdf", "application/pdf", b"%PDF one"),
            NewAttachment("liite.txt", "text/plain", b"two"),
        ),
    )
    stored = store.store_delivery(delivery)
    assert len(stored.message_ids) == 2 and stored.duplicate_citizen_ids == ()

    for citizen, message_id in zip((a, b), stored.message_ids, strict=True):
        [entry] = store.inbox(citizen)
        assert (entry.id, entry.subject, entry.organisation_id, entry.opened) == (
            message_id,
            "Päätös",
            "city",
            False,
        )
        assert entry.received_at == delivery.received_at
        view = store.read_message(citizen, message_id)
        assert view is not None
        assert (view.subject, view.text, view.html, view.sender_address) == (
            "Päätös",
            "Hei, liitteenä päätös.",
            "<p>Hei</p>",
            "clerk@city.example",
        )
        assert [(f.filename, f.content_type, f.size) for f in view.attachments] == [
            ("päätös.pdf", "application/pdf", 8),
            ("liite.txt", "text/plain", 3),
        ]
        first = store.read_attachment(citizen, message_id, view.attachments[0].id)
        assert first is not None and first.data == b"%PDF one"
        assert first.filename == "päätös.pdf" and first.content_type == "application/pdf"
    counts = store.table_counts()
    assert (counts["messages"], counts["attachments"], counts["outbound_queue"]) == (2, 4, 2)


def test_no_html_and_no_attachments(store: MailboxStore) -> None:
    citizen = store.add_citizen("010101-123N", "A", None, "fi")
    [message_id] = store.store_delivery(
        make_delivery(citizen, html=None, attachments=())
    ).message_ids
    view = store.read_message(citizen, message_id)
    assert view is not None and view.html is None and view.attachments == ()


def test_other_citizens_cannot_read(store: MailboxStore) -> None:
    a = store.add_citizen("010101-123N", "A", None, "fi")
    b = store.add_citizen("020202-222C", "B", None, "fi")
    [message_id] = store.store_delivery(make_delivery(a)).message_ids
    view = store.read_message(a, message_id)
    assert view is not None
    assert store.read_message(b, message_id) is None
    assert store.read_attachment(b, message_id, view.attachments[0].id) is None
    assert store.read_attachment(a, "0" * 32, view.attachments[0].id) is None
    assert store.inbox(b) == []


def test_duplicate_delivery_is_reported_per_citizen(store: MailboxStore) -> None:
    a = store.add_citizen("010101-123N", "A", None, "fi")
    b = store.add_citizen("020202-222C", "B", None, "fi")
    first = store.store_delivery(make_delivery(a))
    before = store.table_counts()
    again = store.store_delivery(make_delivery(a, b))
    assert again.duplicate_citizen_ids == (a,)
    assert len(again.message_ids) == 1
    assert store.inbox(a)[0].id == first.message_ids[0] and len(store.inbox(a)) == 1
    after = store.table_counts()
    assert after["messages"] == before["messages"] + 1
    # Same Message-ID from another organisation is a different message.
    other = store.store_delivery(make_delivery(a, organisation_id="county"))
    assert other.duplicate_citizen_ids == () and len(other.message_ids) == 1


def test_inbox_is_newest_first_and_paged(store: MailboxStore) -> None:
    citizen = store.add_citizen("010101-123N", "A", None, "fi")
    base = make_delivery(citizen).received_at
    for n in range(5):
        store.store_delivery(
            make_delivery(
                citizen,
                message_id=f"<{n}@city>",
                subject=f"S{n}",
                received_at=base + timedelta(minutes=n),
            )
        )
    assert [e.subject for e in store.inbox(citizen, limit=2)] == ["S4", "S3"]
    assert [e.subject for e in store.inbox(citizen, offset=2, limit=2)] == ["S2", "S1"]
    assert [e.subject for e in store.inbox(citizen, offset=4)] == ["S0"]


def test_first_read_marks_opened_once(store: MailboxStore, clock) -> None:
    citizen = store.add_citizen("010101-123N", "A", None, "fi")
    [message_id] = store.store_delivery(make_delivery(citizen)).message_ids
    first = store.read_message(citizen, message_id)
    clock.advance(timedelta(hours=1))
    second = store.read_message(citizen, message_id)
    assert first is not None and second is not None
    assert first.opened_at == second.opened_at == clock.now - timedelta(hours=1)
    assert store.inbox(citizen)[0].opened
    kinds = [e.kind for e in store.events(citizen)]
    assert kinds == ["citizen.created", "message.received", "message.opened"]
    opened = store.events(citizen)[-1]
    assert opened.detail == {"message_id": message_id, "organisation_id": "city"}


def test_inactive_or_unknown_recipient_stores_nothing(store: MailboxStore) -> None:
    a = store.add_citizen("010101-123N", "A", None, "fi")
    b = store.add_citizen("020202-222C", "B", None, "fi")
    store.set_citizen_status(b, "closed")
    before = store.table_counts()
    with pytest.raises(CitizenNotActive):
        store.store_delivery(make_delivery(a, b))
    with pytest.raises(CitizenNotActive):
        store.store_delivery(make_delivery(a, "f" * 32))
    assert store.table_counts() == before


def test_failure_late_in_the_transaction_leaves_nothing(
    store: MailboxStore, store_url: str
) -> None:
    """A database trigger makes the last insert (the event) fail: nothing may remain."""
    a = store.add_citizen("010101-123N", "A", None, "fi")
    b = store.add_citizen("020202-222C", "B", None, "fi")
    before = store.table_counts()
    engine = create_engine(store_url)
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.execute(
                text(
                    "CREATE TRIGGER fail_events BEFORE INSERT ON events "
                    "BEGIN SELECT RAISE(ABORT, 'forced failure'); END"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE FUNCTION fail_events() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'forced failure'; END $$"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER fail_events BEFORE INSERT ON events "
                    "FOR EACH ROW EXECUTE FUNCTION fail_events()"
                )
            )
    try:
        with pytest.raises(StoreUnavailable) as info:
            store.store_delivery(make_delivery(a, b))
        assert "Päätös" not in str(info.value) and "forced" not in str(info.value)
        assert store.table_counts() == before
    finally:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "DROP TRIGGER fail_events"
                    + ("" if engine.dialect.name == "sqlite" else " ON events")
                )
            )
            if engine.dialect.name != "sqlite":
                connection.execute(text("DROP FUNCTION fail_events()"))
        engine.dispose()
    # The store still works afterwards.
    assert len(store.store_delivery(make_delivery(a, b)).message_ids) == 2


def test_concurrent_deliveries_keep_every_chain_intact(store: MailboxStore) -> None:
    a = store.add_citizen("010101-123N", "A", None, "fi")
    b = store.add_citizen("020202-222C", "B", None, "fi")
    errors: list[BaseException] = []

    def sender(worker: int) -> None:
        try:
            for n in range(8):
                store.store_delivery(make_delivery(a, b, message_id=f"<{worker}-{n}@city>"))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for citizen in (a, b):
        assert len(store.inbox(citizen, limit=100)) == 32
        assert store.verify_events(citizen)
        assert len(store.events(citizen)) == 33
