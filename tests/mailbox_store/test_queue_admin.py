"""Operator actions on the queue change only the entries in a state that allows them."""

from __future__ import annotations

from datetime import timedelta

from gatewaytest.clock import Clock
from mailbox_helpers import make_delivery

from mailbox_store import MailboxStore
from mailbox_store._queue_admin import mask_address


def test_hold_release_retry_delete(store: MailboxStore, clock: Clock) -> None:
    citizen = store.add_citizen("131052-308T", "N", "nimi@example.fi", "fi")
    store.store_delivery(make_delivery(citizen, message_id="<a@x>"))
    store.store_delivery(make_delivery(citizen, message_id="<b@x>"))
    first, second = (e.id for e in store.queue_entries())
    assert {e.recipient for e in store.queue_entries()} == {"n***@example.fi"}

    assert store.change_queue_entries("hold", [first]) == 1
    assert store.change_queue_entries("hold", [first]) == 0  # already held
    clock.advance(timedelta(minutes=1))
    claimed = store.claim_due(now=clock.now, limit=10)
    assert [item.id for item in claimed] == [second]  # held mail is never claimed
    store.mark_failed(second, "550 5.1.1", None)
    assert store.change_queue_entries("retry", None) == 1  # the failed one; held stays held
    assert [e.state for e in store.queue_entries(states=["held"])] == ["held"]
    assert store.change_queue_entries("release", None) == 1
    assert {e.state for e in store.queue_entries()} == {"queued"}

    claimed = store.claim_due(now=clock.now, limit=10)
    assert store.delete_queue_entries([first, second]) == 0  # being sent: not deleted
    store.mark_sent(claimed[0].id)
    assert store.delete_queue_entries([claimed[0].id]) == 1
    assert store.verify_events(citizen)


def test_masking_keeps_the_domain_and_one_letter() -> None:
    assert mask_address("maija@example.fi") == "m***@example.fi"
    assert mask_address(None) is None
    assert mask_address("nolocal") == "***"
