"""The citizen's own account in the store: settings sealed and logged, status changes the
citizen may make, the archive's view of a message, the event page and the log export."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest
from gatewaytest.clock import Clock
from mailbox_helpers import make_delivery
from sqlalchemy import create_engine, text

from mailbox_store import (
    SERVICE_ORGANISATION,
    AccountSettings,
    CitizenNotActive,
    LoginAccount,
    MailboxStore,
    NewAttachment,
    ServiceMessage,
)
from mailbox_store.chain import ChainLink, verify_chain

HETU = "010101-123N"
IDLE = timedelta(minutes=30)


def test_settings_round_trip_sealed_and_only_changes_are_logged(
    store: MailboxStore, store_url: str
) -> None:
    citizen = store.add_citizen(HETU, "Maija", "maija@example.fi", "fi")
    assert store.account_settings(citizen) == AccountSettings(
        "maija@example.fi", None, True, False, "fi"
    )
    wanted = AccountSettings("uusi@example.fi", "+358401234567", False, True, "en")
    assert store.update_account_settings(citizen, wanted) == (
        "email", "phone", "notify_email", "notify_sms", "lang"
    )
    assert store.account_settings(citizen) == wanted
    assert store.update_account_settings(citizen, wanted) == ()
    profile = store.citizen_profile(citizen)
    assert profile is not None and profile.lang == "en" and profile.notify_email is False
    settings_events = [e for e in store.events(citizen) if e.kind == "account.settings"]
    assert len(settings_events) == 1 and "uusi" not in str(settings_events[0].detail)
    assert "+358" not in repr(wanted)

    engine = create_engine(store_url)
    with engine.connect() as connection:
        phone = connection.execute(text("SELECT phone_sealed FROM citizens")).scalar_one()
    engine.dispose()
    assert b"401234567" not in phone


def test_the_citizen_moves_between_active_passive_and_closed(store: MailboxStore) -> None:
    citizen = store.add_citizen(HETU, "Maija", None, "fi")
    assert store.change_account_status(citizen, "active") is False  # already active
    assert store.change_account_status(citizen, "passive") is True
    assert store.active_citizen_id(HETU) is None
    assert store.login_account(HETU) == LoginAccount(citizen, "passive", None)
    assert store.change_account_status(citizen, "active") is True
    token = store.create_session(citizen, lifetime=timedelta(hours=8), method="test")
    assert store.change_account_status(citizen, "closed") is True
    assert store.session_citizen(token, idle_timeout=IDLE) is None
    assert store.login_account(HETU) == LoginAccount(citizen, "closed", None)
    # Closed is final here: neither the citizen nor a second tab can undo it.
    for status in ("active", "passive", "closed"):
        assert store.change_account_status(citizen, status) is False
    statuses = [e.detail["status"] for e in store.events(citizen) if e.kind == "citizen.status"]
    assert statuses == ["passive", "active", "closed"]
    with pytest.raises(ValueError):
        store.change_account_status(citizen, "deleted")


def test_a_session_is_fresh_only_for_a_while_after_login(
    store: MailboxStore, clock: Clock
) -> None:
    citizen = store.add_citizen(HETU, "Maija", None, "fi")
    token = store.create_session(citizen, lifetime=timedelta(hours=8), method="test")
    assert store.session_is_fresh(token, within=timedelta(minutes=5))
    clock.advance(timedelta(minutes=5, seconds=1))
    store.session_citizen(token, idle_timeout=IDLE)  # activity does not make it fresh again
    assert not store.session_is_fresh(token, within=timedelta(minutes=5))
    assert not store.session_is_fresh("no such token", within=timedelta(minutes=5))


def test_the_archive_view_opens_nothing_and_never_carries_the_original(
    store: MailboxStore,
) -> None:
    citizen = store.add_citizen(HETU, "Maija", None, "fi")
    other = store.add_citizen("020202-222C", "Matti", None, "fi")
    [message_id] = store.store_delivery(make_delivery(citizen)).message_ids
    assert store.export_message_ids(other) == []
    assert store.export_message_ids(citizen) == [message_id]
    assert store.exported_message(other, message_id) is None
    exported = store.exported_message(citizen, message_id)
    assert exported is not None and exported.opened_at is None and not exported.withheld
    assert (exported.subject, exported.text) == ("Päätös", "Hei, liitteenä päätös.")
    assert [(a.filename, a.data) for a in exported.attachments] == [
        ("päätös.pdf", b"%PDF-1.7 decision")
    ]
    assert "message.opened" not in [e.kind for e in store.events(citizen)]
    store.record_export(citizen, 1)
    assert store.events(citizen)[-1].detail == {"messages": 1}


def test_the_event_page_is_newest_first_within_the_range(
    store: MailboxStore, clock: Clock
) -> None:
    citizen = store.add_citizen(HETU, "Maija", None, "fi")
    start = clock.now
    for n in range(5):
        clock.now = start + timedelta(days=n + 1)
        store.store_delivery(make_delivery(citizen, message_id=f"<m{n}@city.example>"))
    page = store.event_page(citizen, offset=0, limit=3)
    assert [e.at for e in page] == [start + timedelta(days=d) for d in (5, 4, 3)]
    ranged = store.event_page(
        citizen, since=start + timedelta(days=2), until=start + timedelta(days=4)
    )
    assert [e.at for e in ranged] == [start + timedelta(days=3), start + timedelta(days=2)]
    assert [e.kind for e in store.event_page(citizen, offset=5)] == ["citizen.created"]


def test_the_log_export_is_delivered_with_the_chain_it_ends_at(store: MailboxStore) -> None:
    citizen = store.add_citizen(HETU, "Maija", None, "fi")
    seen: list[Sequence[ChainLink]] = []

    def build(chain: Sequence[ChainLink], now: datetime) -> ServiceMessage:
        seen.append(chain)
        return ServiceMessage(
            "Tapahtumaloki",
            f"{len(chain)} tapahtumaa",
            (NewAttachment("loki.json", "application/json", b"{}"),),
            b"{}",
        )

    message_id = store.deliver_event_export(citizen, build)
    [chain] = seen
    assert verify_chain(chain) and [link.kind for link in chain] == ["citizen.created"]
    last = store.events(citizen)[-1]
    assert last.kind == "events.exported"
    assert last.detail == {"message_id": message_id, "seq": 1, "hash": chain[0].hash}
    assert store.verify_events(citizen)
    [entry] = store.inbox(citizen)
    assert (entry.id, entry.organisation_id, entry.subject) == (
        message_id, SERVICE_ORGANISATION, "Tapahtumaloki"
    )
    view = store.read_message(citizen, message_id)
    assert view is not None and view.text == "1 tapahtumaa"
    [file] = view.attachments
    attachment = store.read_attachment(citizen, message_id, file.id)
    assert attachment is not None and attachment.data == b"{}"


def test_a_closed_account_gets_no_export(store: MailboxStore) -> None:
    citizen = store.add_citizen(HETU, "Maija", None, "fi")
    store.change_account_status(citizen, "closed")
    before = store.table_counts()
    with pytest.raises(CitizenNotActive):
        store.deliver_event_export(citizen, lambda chain, now: pytest.fail("built"))
    assert store.table_counts() == before
