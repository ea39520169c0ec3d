"""OutboxDirTransport leaves exactly one complete, owner-only .eml per message, nothing else."""

from __future__ import annotations

import re
import stat
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from smtp_out.transport import OutboxDirTransport, TransientDeliveryError, message_bytes


def sample(subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "noreply@gateway.example"
    message["To"] = "citizen@example.org"
    message["Subject"] = subject
    message.set_content("Hei!\n")
    return message


async def test_writes_the_exact_bytes_with_mode_0600(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    data = message_bytes(sample("Testi"))
    await OutboxDirTransport(outbox).send(
        data, envelope_from="noreply@gateway.example", recipients=["citizen@example.org"]
    )
    files = list(outbox.iterdir())
    assert len(files) == 1
    written = files[0]
    assert re.fullmatch(r"\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{16}\.eml", written.name)
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert written.read_bytes() == data
    assert b"\r\n" in data
    parsed = message_from_bytes(data, policy=policy.default)
    assert parsed["Subject"] == "Testi"


async def test_each_message_gets_its_own_file_and_no_temp_files_remain(tmp_path: Path) -> None:
    transport = OutboxDirTransport(tmp_path)
    for n in range(3):
        await transport.send(
            message_bytes(sample(f"n{n}")), envelope_from="a@b.example", recipients=["c@d.fi"]
        )
    names = sorted(path.name for path in tmp_path.iterdir())
    assert len(names) == 3
    assert all(name.endswith(".eml") and not name.startswith(".") for name in names)


async def test_unwritable_outbox_is_a_transient_failure(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with pytest.raises(TransientDeliveryError) as caught:
        await OutboxDirTransport(blocker).send(
            message_bytes(sample("x")), envelope_from="a@b.example", recipients=["c@d.fi"]
        )
    assert "@" not in str(caught.value)
