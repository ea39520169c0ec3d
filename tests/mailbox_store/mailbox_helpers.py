"""Test data for the mailbox store tests (a plain module, importable from the test files)."""

from __future__ import annotations

from datetime import UTC, datetime

from mailbox_store import Delivery, NewAttachment


def make_delivery(
    *citizen_ids: str,
    message_id: str = "<decision-1@city.example>",
    organisation_id: str = "city",
    subject: str = "Päätös",
    text_body: str = "Hei, liitteenä päätös.",
    html: str | None = "<p>Hei</p>",
    attachments: tuple[NewAttachment, ...] = (
        NewAttachment("päätös.pdf", "application/pdf", b"%PDF-1.7 decision"),
    ),
    original: bytes = b"MIME-Version: 1.0\r\n\r\noriginal",
    received_at: datetime = datetime(2025, 3, 1, 11, 59, tzinfo=UTC),
) -> Delivery:
    return Delivery(
        organisation_id=organisation_id,
        message_id=message_id,
        sender_address="clerk@city.example",
        subject=subject,
        text=text_body,
        html=html,
        attachments=attachments,
        original_mime=original,
        citizen_ids=citizen_ids,
        received_at=received_at,
    )
