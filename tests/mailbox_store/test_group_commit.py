"""Concurrent deliveries share commits, yet each caller gets exactly its own outcome."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from mailbox_helpers import make_delivery

from mailbox_store import CitizenNotActive, MailboxStore, StoredDelivery


def test_concurrent_deliveries_are_each_stored_once(store: MailboxStore) -> None:
    # The store takes HETUs as given (validation is the caller's); distinct strings suffice.
    citizens = [store.add_citizen(f"01010{i}A123N", f"C{i}", None, "fi") for i in range(4)]
    passive = store.add_citizen("131052-308T", "P", None, "fi")
    store.set_citizen_status(passive, "passive")
    before = store.table_counts()
    jobs = [make_delivery(citizens[i % 4], message_id=f"<m{i}@x>") for i in range(60)]
    jobs += [make_delivery(citizens[0], message_id="<m0@x>")]  # a resend racing the original
    jobs += [make_delivery(passive, citizens[1], message_id="<p@x>")]
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(_attempt(store), jobs))

    stored = [o for o in outcomes if isinstance(o, StoredDelivery)]
    assert sum(len(o.message_ids) for o in stored) == 60
    assert sum(len(o.duplicate_citizen_ids) for o in stored) == 1
    assert isinstance(outcomes[-1], CitizenNotActive)  # all or nothing: citizens[1] got nothing
    after = store.table_counts()
    assert after["messages"] - before["messages"] == 60
    assert after["outbound_queue"] - before["outbound_queue"] == 60
    for citizen in citizens:
        assert len(store.inbox(citizen, limit=100)) == 15
        assert store.verify_events(citizen)


def _attempt(store: MailboxStore):  # type: ignore[no-untyped-def]
    def run(delivery):  # type: ignore[no-untyped-def]
        try:
            return store.store_delivery(delivery)
        except CitizenNotActive as exc:
            return exc
    return run

