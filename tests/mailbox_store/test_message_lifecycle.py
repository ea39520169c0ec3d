"""Cases, deletion, purging and unread reminders in the store, on an injectable clock."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

from gatewaytest.clock import Clock
from mailbox_helpers import make_delivery
from sqlalchemy import select

from crypto.blind_index import BlindIndex
from mailbox_store import MailboxStore
from mailbox_store.schema import attachments, messages, outbound_queue

RETENTION = timedelta(days=30)


def _deliver(store: MailboxStore, citizen: str, clock: Clock, number: int, **fields: object) -> str:
    delivery = dataclasses.replace(
        make_delivery(citizen, message_id=f"<m{number}@city.example>", received_at=clock.now),
        **fields,  # type: ignore[arg-type]
    )
    [message_id] = store.store_delivery(delivery).message_ids
    return message_id


def _kinds(store: MailboxStore, citizen: str) -> list[str]:
    return [event.kind for event in store.events(citizen)]


def test_case_fields_are_sealed_and_indexed_by_organisation_and_reference(
    store: MailboxStore, index: BlindIndex, clock: Clock
) -> None:
    citizen = store.add_citizen("131052-308T", "Maija", "m@example.fi", "fi")
    first = _deliver(store, citizen, clock, 1, kind="request", case_reference="HEL 2024/7")
    clock.advance(timedelta(hours=1))
    _deliver(
        store, citizen, clock, 2, kind="status", case_reference="HEL 2024/7", case_status="Valmis"
    )
    clock.advance(timedelta(hours=1))
    _deliver(store, citizen, clock, 3, case_reference="OTHER-1")
    _deliver(store, citizen, clock, 4)  # in no case
    with store._engine.connect() as connection:  # noqa: SLF001 - what lies at rest
        row = connection.execute(select(messages).where(messages.c.id == first)).one()
    assert row.kind == "request"
    assert row.case_index == index(json.dumps(["city", "HEL 2024/7"]), "case")
    assert b"HEL 2024/7" not in row.case_sealed
    view = store.read_message(citizen, first)
    assert view is not None and view.kind == "request" and view.case_reference == "HEL 2024/7"

    other, hel = store.cases(citizen)  # the case with the newest message first
    assert other.reference == "OTHER-1" and other.status is None
    assert hel.reference == "HEL 2024/7" and hel.status == "Valmis"
    assert [m.kind for m in hel.messages] == ["status", "request"]


def test_deleted_messages_wait_in_the_deleted_view_and_are_then_purged(
    store: MailboxStore, clock: Clock
) -> None:
    citizen = store.add_citizen("131052-308T", "Maija", "m@example.fi", "fi")
    kept = _deliver(store, citizen, clock, 1)
    gone = _deliver(store, citizen, clock, 2, case_reference="A-1")
    assert store.delete_message(citizen, gone) is True
    assert store.delete_message(citizen, gone) is True  # again: no second event
    assert [e.id for e in store.inbox(citizen)] == [kept]
    assert store.cases(citizen) == []
    [deleted] = store.deleted_messages(citizen)
    assert deleted.id == gone and deleted.deleted_at == clock.now

    assert store.restore_message(citizen, gone)
    assert {e.id for e in store.inbox(citizen)} == {kept, gone}
    store.delete_message(citizen, gone)

    clock.advance(RETENTION - timedelta(minutes=1))
    assert store.purge_deleted(clock.now, retention=RETENTION) == 0
    clock.advance(timedelta(minutes=2))
    assert store.purge_deleted(clock.now, retention=RETENTION) == 1
    assert store.deleted_messages(citizen) == []
    assert store.read_message(citizen, gone) is None
    with store._engine.connect() as connection:  # noqa: SLF001
        left = connection.execute(
            select(attachments.c.message_id).where(attachments.c.message_id == gone)
        ).all()
    assert left == []
    assert _kinds(store, citizen).count("message.deleted") == 2
    assert "message.restored" in _kinds(store, citizen)
    assert "message.purged" in _kinds(store, citizen)
    assert store.verify_events(citizen)


def test_an_unacknowledged_verifiable_message_cannot_be_deleted(
    store: MailboxStore, clock: Clock
) -> None:
    citizen = store.add_citizen("131052-308T", "Maija", "m@example.fi", "fi")
    message = _deliver(store, citizen, clock, 1, acknowledge_by=clock.now + timedelta(days=7))
    assert store.delete_message(citizen, message) is False
    assert [e.id for e in store.inbox(citizen)] == [message]
    assert "message.deleted" not in _kinds(store, citizen)


def test_another_citizens_message_is_not_found(store: MailboxStore, clock: Clock) -> None:
    owner = store.add_citizen("131052-308T", "Maija", "m@example.fi", "fi")
    other = store.add_citizen("010101A123N", "Matti", "t@example.fi", "fi")
    message = _deliver(store, owner, clock, 1)
    assert store.delete_message(other, message) is None
    assert store.restore_message(other, message) is False
    assert store.deleted_messages(other) == []


def test_an_unread_message_brings_one_reminder(store: MailboxStore, clock: Clock) -> None:
    citizen = store.add_citizen("131052-308T", "Maija", "m@example.fi", "fi")
    _deliver(store, citizen, clock, 1)
    _deliver(store, citizen, clock, 2)
    read = _deliver(store, citizen, clock, 3)
    store.read_message(citizen, read)

    def notifications() -> int:
        with store._engine.connect() as connection:  # noqa: SLF001
            return len(
                connection.execute(
                    select(outbound_queue.c.id).where(outbound_queue.c.kind == "notification")
                ).all()
            )

    before = notifications()
    week = timedelta(days=7)
    clock.advance(week - timedelta(minutes=1))
    assert store.remind_unread(clock.now, after=week) == 0
    clock.advance(timedelta(minutes=2))
    assert store.remind_unread(clock.now, after=week) == 2  # the two unread ones
    assert notifications() == before + 1  # one notice for the citizen
    clock.advance(week)
    assert store.remind_unread(clock.now, after=week) == 0  # once only
    assert notifications() == before + 1
    assert _kinds(store, citizen).count("message.reminded") == 2
