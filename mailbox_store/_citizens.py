"""Citizen accounts: creation, look-up by blind index, status, profile, key re-wrapping."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from crypto.sealing import field_aad, seal

from ._core import StoreCore, new_id
from .errors import CitizenExists, CitizenNotActive
from .records import CitizenProfile
from .schema import CITIZEN_STATUSES, citizens

__all__ = ["CitizenOps"]

_REWRAP_BATCH = 500


class CitizenOps(StoreCore):
    """Account operations of MailboxStore."""

    def add_citizen(self, hetu: str, name: str, email: str | None, lang: str) -> str:
        """Create an active account; `hetu` must already be normalised. Returns the id."""
        citizen_id = new_id()
        dek, row = self._new_citizen_row(citizen_id, hetu, name, email, lang)
        now = row["created_at"]
        with self._write("add_citizen") as connection:
            try:
                connection.execute(insert(citizens), row)
            except IntegrityError as exc:
                raise CitizenExists("an account for this identity code already exists") from exc
            self._append_events(connection, [(citizen_id, "citizen.created", {})], now)
        self._deks.put(citizen_id, dek)
        return citizen_id

    def _new_citizen_row(
        self, citizen_id: str, hetu: str, name: str, email: str | None, lang: str
    ) -> tuple[bytes, dict[str, Any]]:
        """A new data key and the sealed `citizens` row of an active account."""
        dek = self._keys.new_data_key()

        def sealed(field: str, value: str) -> bytes:
            return seal(dek, value.encode("utf-8"), field_aad("citizens", citizen_id, field))

        now = self._now()
        row = {
            "id": citizen_id,
            "hetu_index": self._index(hetu, "hetu"),
            "hetu_sealed": sealed("hetu", hetu),
            "name_sealed": sealed("name", name),
            "email_sealed": None if email is None else sealed("email", email),
            "lang": lang,
            "status": "active",
            "data_key_wrapped": self._keys.wrap_data_key(
                dek, field_aad("citizens", citizen_id, "data_key")
            ),
            "created_at": now,
        }
        return dek, row

    def citizen_id(self, hetu: str) -> str | None:
        """The account id for a normalised HETU, whatever the account's status."""
        return self._find_citizen(hetu, active_only=False)

    def active_citizen_id(self, hetu: str) -> str | None:
        """The account id for a normalised HETU if the account may receive mail."""
        return self._find_citizen(hetu, active_only=True)

    def _find_citizen(self, hetu: str, *, active_only: bool) -> str | None:
        query = select(citizens.c.id).where(citizens.c.hetu_index == self._index(hetu, "hetu"))
        if active_only:
            query = query.where(citizens.c.status == "active")
        with self._read("citizen lookup") as connection:
            return connection.execute(query).scalar_one_or_none()

    def set_citizen_status(self, citizen_id: str, status: str) -> None:
        """Passivate, close or reactivate an account; recorded in the citizen's event log."""
        if status not in CITIZEN_STATUSES:
            raise ValueError(f"unknown citizen status {status!r}")
        now = self._now()
        with self._write("set_citizen_status") as connection:
            if citizen_id not in self._lock_citizens(connection, [citizen_id]):
                raise CitizenNotActive("no such citizen")
            connection.execute(
                update(citizens).where(citizens.c.id == citizen_id).values(status=status)
            )
            self._append_events(
                connection, [(citizen_id, "citizen.status", {"status": status})], now
            )

    def citizen_profile(self, citizen_id: str) -> CitizenProfile | None:
        with self._read("citizen_profile") as connection:
            row = connection.execute(
                select(
                    citizens.c.name_sealed,
                    citizens.c.email_sealed,
                    citizens.c.lang,
                    citizens.c.status,
                    citizens.c.notify_email,
                    citizens.c.data_key_wrapped,
                ).where(citizens.c.id == citizen_id)
            ).one_or_none()
        if row is None:
            return None
        dek = self._unwrap(citizen_id, row.data_key_wrapped)
        email = row.email_sealed
        return CitizenProfile(
            id=citizen_id,
            name=self._open_text(dek, row.name_sealed, "citizens", citizen_id, "name"),
            email=None
            if email is None
            else self._open_text(dek, email, "citizens", citizen_id, "email"),
            lang=row.lang,
            status=row.status,
            notify_email=row.notify_email,
        )

    def rewrap_data_keys(self) -> int:
        """Re-wrap every data key not under the current master key; returns how many.

        Master key rotation: add a key line, restart, run this, then drop the old line.
        """
        current = self._keys.current_version
        done = 0
        after = ""
        while True:
            with self._write("rewrap_data_keys") as connection:
                rows = connection.execute(
                    select(citizens.c.id, citizens.c.data_key_wrapped)
                    .where(citizens.c.id > after)
                    .order_by(citizens.c.id)
                    .limit(_REWRAP_BATCH)
                ).all()
                for citizen_id, wrapped in rows:
                    if self._keys.wrapped_version(wrapped) == current:
                        continue
                    aad = field_aad("citizens", citizen_id, "data_key")
                    dek = self._unwrap(citizen_id, wrapped)
                    connection.execute(
                        update(citizens)
                        .where(citizens.c.id == citizen_id)
                        .values(data_key_wrapped=self._keys.wrap_data_key(dek, aad))
                    )
                    done += 1
            if len(rows) < _REWRAP_BATCH:
                return done
            after = rows[-1].id
