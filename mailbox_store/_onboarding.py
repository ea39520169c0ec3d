"""Opening an account at first login, and the terms of use it is opened under.

A citizen whose HETU has no account opens one by accepting the terms of use; the account, its
contact details, the acceptance and a welcome message from the service are one transaction,
each recorded as an event. A new version of the terms is accepted again by the holder of an
existing account before they reach their mailbox.
"""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from crypto.sealing import field_aad, seal

from ._account import _PORTAL_STATUSES, SERVICE_ORGANISATION, AccountOps
from ._citizens import CitizenOps
from ._core import new_id
from .errors import CitizenExists
from .records import LoginAccount, NewAccount, ServiceMessage
from .schema import citizens

__all__ = ["OnboardingOps"]


class OnboardingOps(CitizenOps, AccountOps):
    """First-login operations of MailboxStore."""

    def login_account(self, hetu: str) -> LoginAccount | None:
        """The account behind a normalised HETU, whatever its status; None when there is none."""
        query = select(citizens.c.id, citizens.c.status, citizens.c.terms_version).where(
            citizens.c.hetu_index == self._index(hetu, "hetu")
        )
        with self._read("login_account") as connection:
            row = connection.execute(query).one_or_none()
        if row is None:
            return None
        return LoginAccount(id=row.id, status=row.status, terms_version=row.terms_version)

    def open_account(self, account: NewAccount, welcome: ServiceMessage) -> str:
        """Create the account with its settings, the acceptance and the welcome message.

        Raises CitizenExists when the HETU already has an account (a second tab was quicker).
        Returns the new account's id.
        """
        citizen_id = new_id()
        settings = account.settings
        dek, row = self._new_citizen_row(
            citizen_id, account.hetu, account.name, settings.email, settings.lang
        )
        now = row["created_at"]
        row.update(
            phone_sealed=None
            if settings.phone is None
            else seal(
                dek, settings.phone.encode("utf-8"), field_aad("citizens", citizen_id, "phone")
            ),
            notify_email=settings.notify_email,
            notify_sms=settings.notify_sms,
            terms_version=account.terms_version,
            terms_accepted_at=now,
        )
        message_id = new_id()
        with self._write("open_account") as connection:
            try:
                connection.execute(insert(citizens), row)
            except IntegrityError as exc:
                raise CitizenExists("an account for this identity code already exists") from exc
            self._insert_service_message(connection, dek, citizen_id, message_id, welcome, now)
            created = {"by": "citizen", "method": account.method}
            received = {"message_id": message_id, "organisation_id": SERVICE_ORGANISATION}
            self._append_events(
                connection,
                [
                    (citizen_id, "account.created", created),
                    (citizen_id, "terms.accepted", {"version": account.terms_version}),
                    (citizen_id, "message.received", received),
                ],
                now,
            )
        self._deks.put(citizen_id, dek)
        return citizen_id

    def accept_terms(self, citizen_id: str, version: int) -> bool:
        """Record that the holder of an open account accepted `version` of the terms.

        False when the account is closed (or gone) by now.
        """
        now = self._now()
        with self._write("accept_terms") as connection:
            if self._lock_citizens(connection, [citizen_id]).get(citizen_id) not in (
                _PORTAL_STATUSES
            ):
                return False
            connection.execute(
                update(citizens)
                .where(citizens.c.id == citizen_id)
                .values(terms_version=version, terms_accepted_at=now)
            )
            self._append_events(
                connection, [(citizen_id, "terms.accepted", {"version": version})], now
            )
        return True
