"""The mailbox store's error tree.

    StoreError                  base of everything the store raises on purpose
    ├── StoreFull               the disk or database is full (SMTP: 452 4.3.1, try later)
    ├── StoreUnavailable        any other database failure (SMTP: 451 4.3.0, try later)
    ├── StoreCorrupt            a sealed value failed authentication (tampering or wrong keys)
    ├── CitizenExists           add_citizen for a HETU that already has an account (ValueError)
    └── CitizenNotActive        a delivery names a citizen who is unknown or not active

Database library exceptions are converted at the boundary (`raise ... from exc`); no message
here ever carries a HETU, content, a key or a token.
"""

from __future__ import annotations

__all__ = [
    "CitizenExists",
    "CitizenNotActive",
    "StoreCorrupt",
    "StoreError",
    "StoreFull",
    "StoreUnavailable",
]


class StoreError(Exception):
    """Base class of the mailbox store's own errors."""


class StoreFull(StoreError):
    """The disk or the database is full; nothing was stored."""


class StoreUnavailable(StoreError):
    """The database failed; nothing was stored and the caller should try again later."""


class StoreCorrupt(StoreError):
    """A sealed value could not be opened: tampered data or the wrong key files."""


class CitizenExists(StoreError, ValueError):
    """An account for this HETU already exists."""


class CitizenNotActive(StoreError):
    """A citizen named in a delivery does not exist or is not active; nothing was stored."""
