"""Citizens are found by HETU only through the blind index; status controls delivery."""

from __future__ import annotations

import pytest

from mailbox_store import CitizenExists, MailboxStore


def test_add_and_find_citizen(store: MailboxStore) -> None:
    citizen = store.add_citizen("010101-123N", "Maija Meikäläinen", "maija@example.fi", "fi")
    assert store.citizen_id("010101-123N") == citizen
    assert store.active_citizen_id("010101-123N") == citizen
    assert store.citizen_id("010101-0101") is None
    profile = store.citizen_profile(citizen)
    assert profile is not None
    assert (profile.id, profile.name, profile.email, profile.lang, profile.status) == (
        citizen,
        "Maija Meikäläinen",
        "maija@example.fi",
        "fi",
        "active",
    )
    assert "Maija" not in repr(profile)
    assert store.citizen_profile("0" * 32) is None


def test_citizen_without_email(store: MailboxStore) -> None:
    citizen = store.add_citizen("010101-123N", "Matti", None, "sv")
    profile = store.citizen_profile(citizen)
    assert profile is not None and profile.email is None and profile.lang == "sv"


def test_duplicate_hetu_is_refused_and_stores_nothing(store: MailboxStore) -> None:
    store.add_citizen("010101-123N", "A", None, "fi")
    before = store.table_counts()
    with pytest.raises(CitizenExists) as info:
        store.add_citizen("010101-123N", "B", None, "fi")
    assert isinstance(info.value, ValueError)
    assert "010101" not in str(info.value)
    assert store.table_counts() == before


def test_passive_citizen_is_not_active(store: MailboxStore) -> None:
    citizen = store.add_citizen("010101-123N", "A", None, "fi")
    store.set_citizen_status(citizen, "passive")
    assert store.active_citizen_id("010101-123N") is None
    assert store.citizen_id("010101-123N") == citizen
    store.set_citizen_status(citizen, "active")
    assert store.active_citizen_id("010101-123N") == citizen
    with pytest.raises(ValueError):
        store.set_citizen_status(citizen, "deleted")
    assert [e.kind for e in store.events(citizen)] == [
        "citizen.created",
        "citizen.status",
        "citizen.status",
    ]


def test_migrate_is_idempotent(store: MailboxStore) -> None:
    store.migrate()
    store.migrate()
    assert set(store.table_counts()) == {
        "citizens",
        "messages",
        "attachments",
        "events",
        "outbound_queue",
        "sessions",
    }
