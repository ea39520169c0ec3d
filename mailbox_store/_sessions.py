"""Login sessions: random tokens, only their SHA-256 stored, lifetime and idle expiry."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import delete, insert, select, update

from ._core import StoreCore, token_id
from .errors import CitizenNotActive
from .schema import sessions

__all__ = ["SessionOps"]


class SessionOps(StoreCore):
    """Session operations of MailboxStore."""

    def create_session(self, citizen_id: str, *, lifetime: timedelta, method: str) -> str:
        """A new login session; returns the token (only its SHA-256 is stored).

        `method` says how the citizen identified ("test", "oidc", ...); the "login" event keeps it.
        """
        token = secrets.token_urlsafe(32)
        now = self._now()
        with self._write("create_session") as connection:
            if self._lock_citizens(connection, [citizen_id]).get(citizen_id) is None:
                raise CitizenNotActive("no such citizen")
            connection.execute(
                insert(sessions),
                {
                    "id": token_id(token),
                    "citizen_id": citizen_id,
                    "created_at": now,
                    "last_seen_at": now,
                    "expires_at": now + lifetime,
                },
            )
            self._append_events(connection, [(citizen_id, "login", {"method": method})], now)
        return token

    def session_citizen(self, token: str, *, idle_timeout: timedelta) -> str | None:
        """The citizen of a live session, touching it; expired or idle sessions are deleted."""
        session_id = token_id(token)
        now = self._now()
        with self._write("session_citizen") as connection:
            row = connection.execute(
                select(sessions.c.citizen_id, sessions.c.last_seen_at, sessions.c.expires_at).where(
                    sessions.c.id == session_id
                )
            ).one_or_none()
            if row is None:
                return None
            if now >= row.expires_at or now - row.last_seen_at > idle_timeout:
                connection.execute(delete(sessions).where(sessions.c.id == session_id))
                return None
            connection.execute(
                update(sessions).where(sessions.c.id == session_id).values(last_seen_at=now)
            )
            citizen_id: str = row.citizen_id
            return citizen_id

    def end_session(self, token: str) -> None:
        with self._write("end_session") as connection:
            connection.execute(delete(sessions).where(sessions.c.id == token_id(token)))
