"""Bounces in the store: a failed DSN ends the queue row as bounced, every DSN is an event in the
citizen's log, and `unreachable_email` follows the citizen's most recently sent notification."""

from __future__ import annotations

from datetime import timedelta

import pytest
from gatewaytest.clock import Clock
from mailbox_helpers import make_delivery

from mailbox_store import MailboxStore


def sent_notification(store: MailboxStore, clock: Clock, citizen: str, n: int) -> str:
    """Queue a notification for `citizen` (delivery number n), send it, and return its row id."""
    store.store_delivery(make_delivery(citizen, message_id=f"<decision-{n}@city.example>"))
    [item] = store.claim_due(now=clock.now, limit=10)
    store.mark_sent(item.id)
    clock.advance(timedelta(minutes=1))
    return item.id


@pytest.fixture
def citizen(store: MailboxStore) -> str:
    return store.add_citizen("hetu-maija", "Maija", "maija@example.fi", "fi")


def test_a_failed_dsn_bounces_the_row_and_is_logged(
    store: MailboxStore, clock: Clock, citizen: str
) -> None:
    row = sent_notification(store, clock, citizen, 1)
    assert store.record_bounce(row, action="failed", status="5.1.1") is True
    entry = store.queue_entry(row)
    assert entry is not None
    assert (entry.state, entry.last_error) == ("bounced", "bounced 5.1.1")
    last = store.events(citizen)[-1]
    assert last.kind == "notification.bounced"
    assert last.detail == {"queue_id": row, "status": "5.1.1"}
    assert store.verify_events(citizen)


@pytest.mark.parametrize(
    ("action", "kind"),
    [("delayed", "notification.delayed"), ("delivered", "notification.delivered"),
     ("relayed", "notification.relayed"), ("expanded", "notification.expanded")],
)
def test_other_actions_are_only_events(
    store: MailboxStore, clock: Clock, citizen: str, action: str, kind: str
) -> None:
    row = sent_notification(store, clock, citizen, 1)
    assert store.record_bounce(row, action=action, status="4.4.1") is True
    entry = store.queue_entry(row)
    assert entry is not None and (entry.state, entry.last_error) == ("sent", None)
    assert store.events(citizen)[-1].kind == kind
    assert not store.unreachable_email(citizen)


def test_an_unknown_row_changes_nothing(store: MailboxStore, citizen: str) -> None:
    before = store.table_counts()
    assert store.record_bounce("0" * 32, action="failed", status="5.1.1") is False
    assert store.table_counts() == before


@pytest.mark.parametrize(
    ("action", "status"),
    [("failed", "550 5.1.1 <maija@example.fi>: user unknown"), ("failed", ""),
     ("failed", "5.1.1 "), ("bounced", "5.1.1"), ("", "5.1.1")],
)
def test_only_a_known_action_and_a_bare_status_code_are_stored(
    store: MailboxStore, clock: Clock, citizen: str, action: str, status: str
) -> None:
    row = sent_notification(store, clock, citizen, 1)
    before = store.table_counts()
    with pytest.raises(ValueError) as raised:
        store.record_bounce(row, action=action, status=status)
    assert "maija" not in str(raised.value)
    assert store.table_counts() == before
    entry = store.queue_entry(row)
    assert entry is not None and entry.state == "sent"


def test_unreachable_follows_the_most_recently_sent_notification(
    store: MailboxStore, clock: Clock, citizen: str
) -> None:
    assert not store.unreachable_email(citizen)  # nothing sent yet
    first = sent_notification(store, clock, citizen, 1)
    assert not store.unreachable_email(citizen)
    store.record_bounce(first, action="failed", status="5.1.1")
    assert store.unreachable_email(citizen)
    # A new notification waiting in the queue changes nothing; once sent, it is the latest.
    store.store_delivery(make_delivery(citizen, message_id="<decision-2@city.example>"))
    assert store.unreachable_email(citizen)
    [second] = store.claim_due(now=clock.now, limit=10)
    store.mark_sent(second.id)
    assert not store.unreachable_email(citizen)
    store.record_bounce(second.id, action="failed", status="5.2.2")
    assert store.unreachable_email(citizen)


def test_a_late_bounce_of_an_older_notification_does_not_count(
    store: MailboxStore, clock: Clock, citizen: str
) -> None:
    first = sent_notification(store, clock, citizen, 1)
    sent_notification(store, clock, citizen, 2)
    store.record_bounce(first, action="failed", status="5.1.1")
    assert not store.unreachable_email(citizen)


def test_only_the_citizens_own_notifications_count(
    store: MailboxStore, clock: Clock, citizen: str
) -> None:
    other = store.add_citizen("hetu-olli", "Olli", "olli@example.fi", "fi")
    store.record_bounce(sent_notification(store, clock, other, 1), action="failed", status="5.1.1")
    assert store.unreachable_email(other)
    assert not store.unreachable_email(citizen)
