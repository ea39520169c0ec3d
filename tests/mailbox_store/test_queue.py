"""The outbound queue: due rows are claimed once, leases expire, outcomes become events."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from mailbox_helpers import make_delivery

from mailbox_store import MailboxStore


def _queue_notifications(store: MailboxStore, count: int) -> list[str]:
    citizens = [store.add_citizen(f"hetu-{n}", "A", None, "fi") for n in range(count)]
    store.store_delivery(make_delivery(*citizens))
    return citizens


def test_claim_send_and_fail(store: MailboxStore, clock) -> None:
    [citizen] = _queue_notifications(store, 1)
    assert store.claim_due(now=clock.now - timedelta(minutes=1), limit=10) == []  # not yet due
    [item] = store.claim_due(now=clock.now, limit=10)
    assert (item.kind, item.citizen_id, item.attempts) == ("notification", citizen, 1)
    assert store.claim_due(now=clock.now, limit=10) == []  # leased

    store.mark_failed(item.id, "451 4.3.0 relay busy", clock.now + timedelta(minutes=2))
    assert store.claim_due(now=clock.now + timedelta(minutes=1), limit=10) == []
    [retry] = store.claim_due(now=clock.now + timedelta(minutes=2), limit=10)
    assert retry.id == item.id and retry.attempts == 2
    store.mark_sent(retry.id)
    assert store.claim_due(now=clock.now + timedelta(days=1), limit=10) == []
    kinds = [e.kind for e in store.events(citizen)]
    assert kinds[-2:] == ["notification.deferred", "notification.sent"]


def test_permanent_failure_is_not_retried(store: MailboxStore, clock) -> None:
    [citizen] = _queue_notifications(store, 1)
    [item] = store.claim_due(now=clock.now, limit=1)
    store.mark_failed(item.id, "550 5.1.1 no such user", None)
    assert store.claim_due(now=clock.now + timedelta(days=30), limit=10) == []
    assert store.events(citizen)[-1].kind == "notification.failed"


def test_crashed_worker_lease_expires(store: MailboxStore, clock) -> None:
    _queue_notifications(store, 2)
    claimed = store.claim_due(now=clock.now, limit=10)
    assert len(claimed) == 2
    # The worker died without marking anything: after the lease the rows come back.
    assert store.claim_due(now=clock.now + timedelta(minutes=4), limit=10) == []
    again = store.claim_due(now=clock.now + timedelta(minutes=5), limit=10)
    assert sorted(i.id for i in again) == sorted(i.id for i in claimed)
    assert {i.attempts for i in again} == {2}


def test_concurrent_claims_never_share_a_row(store: MailboxStore, clock) -> None:
    _queue_notifications(store, 40)
    claimed: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def worker() -> None:
        try:
            start.wait()
            while batch := store.claim_due(now=clock.now, limit=3):
                claimed.extend(item.id for item in batch)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(claimed) == 40 and len(set(claimed)) == 40


def test_a_claims_deliveries_are_recorded_together(store: MailboxStore, clock) -> None:
    citizens = _queue_notifications(store, 3)
    claimed = store.claim_due(now=clock.now, limit=10)
    assert len(claimed) == 3
    store.mark_sent(*(item.id for item in claimed))
    assert store.claim_due(now=clock.now + timedelta(days=30), limit=10) == []
    sent = [e for c in citizens for e in store.events(c) if e.kind == "notification.sent"]
    assert sorted(e.detail["queue_id"] for e in sent) == sorted(item.id for item in claimed)


def test_recording_with_an_unknown_row_records_nothing(store: MailboxStore, clock) -> None:
    [citizen] = _queue_notifications(store, 1)
    [item] = store.claim_due(now=clock.now, limit=10)
    with pytest.raises(KeyError):
        store.mark_sent(item.id, "0" * 32)
    assert not [e for e in store.events(citizen) if e.kind == "notification.sent"]
