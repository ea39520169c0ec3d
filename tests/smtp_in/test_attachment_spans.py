"""A clerk's file is stored once: as its base64 body inside the sealed original, not again as
a decoded copy, and the citizen still downloads exactly the bytes that were sent."""

from __future__ import annotations

import os
from pathlib import Path

from gatewaytest.env import DOMAIN, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.servers import InProcessGateway
from gatewaytest.smtp_fixtures import decision, send
from sqlalchemy import select

from mailbox_store.schema import attachments

HETU = make_hetu("131052", "-", 308)


def test_attachments_are_spans_of_the_original_and_download_byte_identical(
    tmp_path: Path,
) -> None:
    env = make_env(tmp_path)
    citizen = env.add_citizen(HETU)
    files = (
        ("päätös.pdf", "application/pdf", os.urandom(200_000)),
        ("liite.txt", "text/plain", "Åäö\r\nrivi\r\n".encode() * 50),
    )
    gateway = InProcessGateway(env).start()
    try:
        answer = send(
            gateway.port,
            decision(env, f"{HETU}@{DOMAIN}", attachments=files),
            [f"{HETU}@{DOMAIN}"],
        )
        assert answer.code == 250, answer
        store = gateway.store
        [entry] = store.inbox(citizen)
        view = store.read_message(citizen, entry.id)
        assert view is not None
        got = {
            a.filename: store.read_attachment(citizen, entry.id, a.id) for a in view.attachments
        }
        for name, content_type, data in files:
            stored = got[name]
            assert stored is not None and stored.data == data
            assert stored.content_type == content_type
        with store._engine.connect() as connection:  # noqa: SLF001 - what is on disk
            rows = connection.execute(
                select(attachments.c.data_sealed, attachments.c.source_start)
            ).all()
        # The PDF travelled as base64: kept only as a span. The text may be either.
        assert any(row.data_sealed is None and row.source_start is not None for row in rows)
    finally:
        gateway.stop()
