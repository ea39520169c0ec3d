"""The citizen's messages as one ZIP archive, made while it is being sent.

The archive is written message by message into a buffer that the response drains after each
one, so memory holds one message at a time and nothing ever reaches the disk in plaintext.
ZIP allows this without seeking: every entry's sizes follow its data (a data descriptor).
Each message becomes a folder with `message.txt` (what the portal shows: subject, sender
organisation, dates, text) and its attachments; the stored originals never go in.
"""

from __future__ import annotations

import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

from mailbox_store import ExportedMessage

_LOCAL_ZONE = ZoneInfo("Europe/Helsinki")
# Characters that Windows, macOS or a shell would trip over in a file name.
_UNSAFE = re.compile(r'[\\/:*?"<>|]+')
_MAX_NAME = 80


class _Drain:
    """A write-only file whose contents are taken out as they come (no seek, no tell)."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, data: bytes, /) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data, self._chunks = b"".join(self._chunks), []
        return data


def zip_stream(
    messages: Iterable[ExportedMessage],
    describe: Callable[[ExportedMessage], str],
) -> Iterator[bytes]:
    """The ZIP archive of `messages`, in pieces; `describe` writes a message's message.txt."""
    drain = _Drain()
    with zipfile.ZipFile(drain, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for number, message in enumerate(messages, start=1):
            folder = safe_name(
                f"{number:04d} {_local(message.received_at):%Y-%m-%d} {message.subject}",
                fallback=f"{number:04d}",
            )
            when = _local(message.received_at)
            archive.writestr(_entry(f"{folder}/message.txt", when), describe(message))
            taken = {"message.txt"}
            for attachment in message.attachments:
                name = _unique(safe_name(attachment.filename, fallback="attachment"), taken)
                archive.writestr(_entry(f"{folder}/{name}", when), attachment.data)
            yield drain.take()
    yield drain.take()  # the central directory


def safe_name(text: str, *, fallback: str) -> str:
    """A file or folder name without separators, control characters or surprises."""
    name = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" .")[:_MAX_NAME].strip(" .")
    return name or fallback


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate.lower() in taken:
        n += 1
        stem, dot, suffix = name.rpartition(".")
        candidate = f"{stem} ({n}).{suffix}" if dot and stem else f"{name} ({n})"
    taken.add(candidate.lower())
    return candidate


def _local(moment: datetime) -> datetime:
    return moment.astimezone(_LOCAL_ZONE)


def _entry(name: str, when: datetime) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o600 << 16  # readable by the citizen only, once unpacked
    return info
