"""Master key rotation re-wraps data keys only; content sealed before stays readable."""

from __future__ import annotations

from mailbox_helpers import make_delivery

from crypto.blind_index import BlindIndex
from crypto.sealing import MasterKeyRing
from mailbox_store import MailboxStore


def test_rotation_rewraps_data_keys(store_url: str, index: BlindIndex) -> None:
    v1_text = MasterKeyRing.generate_file_text()
    old = MasterKeyRing.from_text(v1_text)
    store = MailboxStore(store_url, old, index)
    store.migrate()
    citizen = store.add_citizen("010101-123N", "A", None, "fi")
    [message_id] = store.store_delivery(make_delivery(citizen)).message_ids
    store.close()

    v2_line = MasterKeyRing.generate_file_text(version=2).splitlines()[-1]
    both = MasterKeyRing.from_text(v1_text + v2_line + "\n")
    store = MailboxStore(store_url, both, index)
    assert store.rewrap_data_keys() == 1
    assert store.rewrap_data_keys() == 0  # already current
    store.close()

    only_v2 = MasterKeyRing.from_text(v2_line + "\n")
    store = MailboxStore(store_url, only_v2, index)  # the old key is gone
    try:
        view = store.read_message(citizen, message_id)
        assert view is not None and view.subject == "Päätös"
    finally:
        store.close()
