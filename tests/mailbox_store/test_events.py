"""The per-citizen event log is a hash chain: it verifies, and tampering is detected."""

from __future__ import annotations

from mailbox_helpers import make_delivery
from sqlalchemy import create_engine, text

from mailbox_store import MailboxStore


def _citizen_with_history(store: MailboxStore) -> str:
    citizen = store.add_citizen("010101-123N", "A", None, "fi")
    [message_id] = store.store_delivery(make_delivery(citizen)).message_ids
    store.read_message(citizen, message_id)
    store.set_citizen_status(citizen, "passive")
    return citizen


def _tamper(store_url: str, statement: str) -> None:
    engine = create_engine(store_url)
    with engine.begin() as connection:
        connection.execute(text(statement))
    engine.dispose()


def test_chain_links_and_verifies(store: MailboxStore) -> None:
    citizen = _citizen_with_history(store)
    other = store.add_citizen("020202-222C", "B", None, "fi")
    log = store.events(citizen)
    assert [e.kind for e in log] == [
        "citizen.created",
        "message.received",
        "message.opened",
        "citizen.status",
    ]
    assert len({e.hash for e in log}) == 4
    assert store.verify_events(citizen) and store.verify_events(other)
    assert len(store.events(other)) == 1  # chains are per citizen


def test_changed_detail_is_detected(store: MailboxStore, store_url: str) -> None:
    citizen = _citizen_with_history(store)
    _tamper(store_url, "UPDATE events SET detail = '{}' WHERE kind = 'message.opened'")
    assert not store.verify_events(citizen)


def test_removed_event_is_detected(store: MailboxStore, store_url: str) -> None:
    citizen = _citizen_with_history(store)
    _tamper(store_url, "DELETE FROM events WHERE kind = 'message.opened'")
    assert not store.verify_events(citizen)


def test_changed_time_is_detected(store: MailboxStore, store_url: str) -> None:
    citizen = _citizen_with_history(store)
    _tamper(store_url, "UPDATE events SET kind = 'message.received' WHERE kind = 'message.opened'")
    assert not store.verify_events(citizen)
