"""Shared plumbing of the mailbox store: engine, transactions, sealing, the event chain.

The operation mixins (`_citizens`, `_deliveries`, `_reading`, `_sessions`, `_queue`) build on
`StoreCore`; `MailboxStore` in `store.py` combines them. Content is sealed with the citizen's
data key under associated data `<table>/<row id>/<field>`, where field is the column name
without its `_sealed` suffix (`messages/<id>/subject`); data keys are wrapped by the master key
ring under `citizens/<id>/data_key`.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BindParameter, Connection, and_, bindparam, func, insert, select

from crypto.blind_index import BlindIndex
from crypto.sealing import MasterKeyRing, SealingError, field_aad, open_sealed, seal

from .chain import GENESIS_HASH, canonical_detail, link_hash
from .dek_cache import DataKeyCache
from .engine import WRITE, make_engine, translate_errors
from .errors import StoreCorrupt
from .records import NewAttachment
from .schema import citizens, events

__all__ = ["StoreCore", "new_id", "token_id"]


# Hot-path statements, built once; "ids" is an expanding IN parameter.
_IDS: BindParameter[Any] = bindparam("ids", expanding=True)
_WRAPPED_KEYS = select(citizens.c.id, citizens.c.data_key_wrapped).where(citizens.c.id.in_(_IDS))
_LATEST_SEQ = (
    select(events.c.citizen_id, func.max(events.c.seq).label("seq"))
    .where(events.c.citizen_id.in_(_IDS))
    .group_by(events.c.citizen_id)
    .subquery()
)
_CHAIN_HEADS = select(events.c.citizen_id, events.c.seq, events.c.hash).join(
    _LATEST_SEQ,
    and_(events.c.citizen_id == _LATEST_SEQ.c.citizen_id, events.c.seq == _LATEST_SEQ.c.seq),
)
# One lock order everywhere (by id), so concurrent deliveries cannot deadlock on PostgreSQL;
# FOR UPDATE renders as nothing on SQLite, where BEGIN IMMEDIATE already serialises writers.
_LOCK_CITIZENS = (
    select(citizens.c.id, citizens.c.status)
    .where(citizens.c.id.in_(_IDS))
    .order_by(citizens.c.id)
    .with_for_update()
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class StoreCore:
    """Engine, keys and clock, with the helpers every store operation uses."""

    def __init__(
        self,
        url: str,
        keys: MasterKeyRing,
        index: BlindIndex,
        *,
        clock: Callable[[], datetime] = _utcnow,
        lease: timedelta = timedelta(minutes=5),
        dek_cache_size: int = 4096,
        background_checkpoints: bool = False,
    ) -> None:
        self._engine = make_engine(url, background_checkpoints=background_checkpoints)
        # Same pool, but transactions begin with BEGIN IMMEDIATE on SQLite (see engine.py).
        self._writer = self._engine.execution_options(**WRITE)
        # SQLite has one writer at a time, and a writer that finds the lock taken sleeps in
        # SQLite's busy handler (1, 2, 5, 10... ms). Threads of this process queue here instead,
        # which costs nothing; the busy timeout is left for other processes (the CLI).
        self._write_lock: threading.RLock | contextlib.nullcontext[None] = (
            threading.RLock() if self._engine.dialect.name == "sqlite" else contextlib.nullcontext()
        )
        self._keys = keys
        self._index = index
        self._clock = clock
        self._lease = lease
        self._deks = DataKeyCache(dek_cache_size)

    def __repr__(self) -> str:
        url = self._engine.url.render_as_string(hide_password=True)
        return f"{type(self).__name__}({url!r})"

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)

    @contextmanager
    def _write(self, operation: str) -> Iterator[Connection]:
        with self._write_lock, translate_errors(operation), self._writer.begin() as connection:
            yield connection

    @contextmanager
    def _read(self, operation: str) -> Iterator[Connection]:
        with translate_errors(operation), self._engine.begin() as connection:
            yield connection

    @staticmethod
    def _attachment_rows(
        dek: bytes, message_id: str, files: Sequence[NewAttachment]
    ) -> list[dict[str, Any]]:
        """Sealed `attachments` rows for a message's files, in order."""
        rows = []
        for position, attachment in enumerate(files):
            row_id = new_id()
            rows.append(
                {
                    "id": row_id,
                    "message_id": message_id,
                    "position": position,
                    "filename_sealed": seal(
                        dek,
                        attachment.filename.encode("utf-8"),
                        field_aad("attachments", row_id, "filename"),
                    ),
                    "content_type": attachment.content_type,
                    "size": len(attachment.data),
                    "data_sealed": None
                    if attachment.source
                    else seal(dek, attachment.data, field_aad("attachments", row_id, "data")),
                    "source_start": attachment.source[0] if attachment.source else None,
                    "source_end": attachment.source[1] if attachment.source else None,
                }
            )
        return rows

    @staticmethod
    def _open(dek: bytes, blob: bytes, table: str, row_id: str, field: str) -> bytes:
        try:
            return open_sealed(dek, blob, field_aad(table, row_id, field))
        except SealingError as exc:
            raise StoreCorrupt(f"sealed field {table}.{field} failed to open") from exc

    def _open_text(self, dek: bytes, blob: bytes, table: str, row_id: str, field: str) -> str:
        return self._open(dek, blob, table, row_id, field).decode("utf-8")

    def _unwrap(self, citizen_id: str, wrapped: bytes) -> bytes:
        dek = self._deks.get(citizen_id)
        if dek is None:
            try:
                dek = self._keys.unwrap_data_key(
                    wrapped, field_aad("citizens", citizen_id, "data_key")
                )
            except SealingError as exc:
                raise StoreCorrupt("a citizen data key failed to unwrap") from exc
            self._deks.put(citizen_id, dek)
        return dek

    def _data_keys(self, citizen_ids: Iterable[str]) -> dict[str, bytes]:
        """Data keys of existing citizens: from the cache, else unwrapped from their rows.

        Unknown citizens are simply absent from the result. The database is read only for
        keys not cached, so the usual delivery costs no extra transaction.
        """
        found: dict[str, bytes] = {}
        missing: list[str] = []
        for citizen_id in citizen_ids:
            dek = self._deks.get(citizen_id)
            if dek is None:
                missing.append(citizen_id)
            else:
                found[citizen_id] = dek
        if missing:
            with self._read("data key look-up") as connection:
                rows = connection.execute(_WRAPPED_KEYS, {"ids": missing}).all()
            for citizen_id, wrapped in rows:
                found[citizen_id] = self._unwrap(citizen_id, wrapped)
        return found

    def _data_key(self, citizen_id: str) -> bytes:
        """The data key of a citizen known to exist (their messages reference the row)."""
        dek = self._data_keys([citizen_id]).get(citizen_id)
        if dek is None:
            raise StoreCorrupt("a stored message belongs to no citizen")
        return dek

    def _append_events(
        self,
        connection: Connection,
        entries: Sequence[tuple[str, str, Mapping[str, Any]]],
        at: datetime,
    ) -> None:
        """Append (citizen_id, kind, detail) events, extending each citizen's hash chain.

        Callers either created the citizen in this transaction or locked its row
        (`_lock_citizens`), so no other transaction appends to the same chain meanwhile.
        """
        if not entries:
            return
        citizen_ids = sorted({citizen_id for citizen_id, _, _ in entries})
        heads: dict[str, tuple[int, str]] = {
            citizen_id: (seq, head_hash)
            for citizen_id, seq, head_hash in connection.execute(_CHAIN_HEADS, {"ids": citizen_ids})
        }
        rows: list[dict[str, Any]] = []
        for citizen_id, kind, detail in entries:
            seq, prev_hash = heads.get(citizen_id, (0, GENESIS_HASH))
            event_id, canonical = new_id(), canonical_detail(detail)
            event_hash = link_hash(
                prev_hash,
                id=event_id,
                citizen_id=citizen_id,
                seq=seq + 1,
                kind=kind,
                at=at,
                detail=canonical,
            )
            rows.append(
                {
                    "id": event_id,
                    "citizen_id": citizen_id,
                    "seq": seq + 1,
                    "kind": kind,
                    "at": at,
                    "detail": canonical,
                    "prev_hash": prev_hash,
                    "hash": event_hash,
                }
            )
            heads[citizen_id] = (seq + 1, event_hash)
        connection.execute(insert(events), rows)

    @staticmethod
    def _lock_citizens(connection: Connection, citizen_ids: Iterable[str]) -> dict[str, str]:
        """Lock citizen rows (PostgreSQL; SQLite holds the database write lock) -> status."""
        rows = connection.execute(_LOCK_CITIZENS, {"ids": sorted(set(citizen_ids))})
        return {citizen_id: status for citizen_id, status in rows}
