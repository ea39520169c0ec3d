"""What gpg's status lines (doc/DETAILS in GnuPG) say about one decrypt or verify call.

Pure functions over the `(keyword, arguments)` pairs python-gnupg hands over; each failure
raises `PgpError` with the `PgpFailure` that picks the SMTP answer.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

Status = tuple[str, str]

_SIGNATURE_OUTCOMES = frozenset({"GOODSIG", "EXPSIG", "EXPKEYSIG", "REVKEYSIG", "BADSIG", "ERRSIG"})
_TRUSTED = frozenset({"TRUST_FULLY", "TRUST_ULTIMATE"})
# RFC 4880 hash algorithm ids: MD5, SHA-1, RIPEMD-160.
_WEAK_HASHES = frozenset({"1", "2", "3"})
# Signature classes over data: binary document, canonical text document.
_DATA_CLASSES = frozenset({"00", "01"})
_NO_PUBLIC_KEY = "9"  # ERRSIG's return code for "no public key"


class PgpFailure(enum.Enum):
    """Why an OpenPGP message was refused; each member has its own SMTP answer."""

    NOT_PGP = "not-pgp"
    MALFORMED = "malformed"
    NOT_ENCRYPTED = "not-encrypted"
    NOT_FOR_GATEWAY = "not-for-gateway"
    DECRYPT_FAILED = "decrypt-failed"
    UNSIGNED = "unsigned"
    BAD_SIGNATURE = "bad-signature"
    WEAK_ALGORITHM = "weak-algorithm"
    UNKNOWN_SIGNER = "unknown-signer"
    SIGNER_REVOKED = "signer-revoked"
    SIGNER_EXPIRED = "signer-expired"


class PgpError(Exception):
    """An OpenPGP message could not be opened; `detail` never quotes content or keys."""

    def __init__(self, failure: PgpFailure, detail: str = "") -> None:
        super().__init__(failure, detail)
        self.failure = failure
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.failure.name}: {self.detail}" if self.detail else self.failure.name


@dataclass(frozen=True)
class GoodSignature:
    """A valid signature by a trusted key: the primary key's fingerprint, even when a
    subkey made it."""

    fingerprint: str
    signing_time: datetime | None


def decryption(statuses: Sequence[Status]) -> bool:
    """Whether the data was encrypted; raises when it was and could not be decrypted."""
    keys = {key for key, _ in statuses}
    if not keys & {"ENC_TO", "BEGIN_DECRYPTION", "DECRYPTION_FAILED", "NEED_PASSPHRASE_SYM"}:
        if "PLAINTEXT" not in keys:
            raise PgpError(PgpFailure.MALFORMED, "no OpenPGP data")
        return False
    if "DECRYPTION_OKAY" in keys and not keys & {"DECRYPTION_FAILED", "BADMDC"}:
        return True
    if "DECRYPTION_KEY" in keys:
        raise PgpError(PgpFailure.DECRYPT_FAILED, "decryption with the gateway's key failed")
    raise PgpError(PgpFailure.NOT_FOR_GATEWAY, "no secret key for any recipient")


def signatures(statuses: Sequence[Status]) -> tuple[GoodSignature, ...]:
    """Every signature in the output, each valid and by a trusted key, or the first problem."""
    good = tuple(_judge(record) for record in _signature_records(statuses))
    if any(key in ("ERROR", "FAILURE") for key, _ in statuses):
        # gpg refused something no signature outcome explains (several plaintexts, say).
        raise PgpError(PgpFailure.MALFORMED, "gpg reported an error")
    return good


def _signature_records(statuses: Sequence[Status]) -> list[dict[str, str]]:
    """One record per signature: its outcome, VALIDSIG arguments and trust, by keyword."""
    records: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for key, value in statuses:
        starts = current is None or "outcome" in current
        if key == "NEWSIG" or (key in _SIGNATURE_OUTCOMES and starts):
            current = {}
            records.append(current)
        if current is None:
            continue
        if key in _SIGNATURE_OUTCOMES:
            current["outcome"], current["arguments"] = key, value
        elif key == "VALIDSIG":
            current["valid"] = value
        elif key.startswith("TRUST_"):
            current["trust"] = key
    return records


def _judge(record: dict[str, str]) -> GoodSignature:
    outcome = record.get("outcome", "")
    arguments = record.get("arguments", "").split()
    if outcome == "REVKEYSIG":
        raise PgpError(PgpFailure.SIGNER_REVOKED, "signing key is revoked")
    if outcome in ("EXPKEYSIG", "EXPSIG"):
        raise PgpError(PgpFailure.SIGNER_EXPIRED, "signing key or signature has expired")
    if outcome == "ERRSIG":
        if len(arguments) > 5 and arguments[5] == _NO_PUBLIC_KEY:
            raise PgpError(PgpFailure.UNKNOWN_SIGNER, "signing key is not in the keyring")
        if len(arguments) > 2 and arguments[2] in _WEAK_HASHES:
            raise PgpError(PgpFailure.WEAK_ALGORITHM, "signature uses a weak hash")
        raise PgpError(PgpFailure.BAD_SIGNATURE, "signature could not be checked")
    valid = record.get("valid", "").split()
    if outcome != "GOODSIG" or len(valid) < 10:
        raise PgpError(PgpFailure.BAD_SIGNATURE, "signature does not verify")
    if valid[7] in _WEAK_HASHES:
        raise PgpError(PgpFailure.WEAK_ALGORITHM, "signature uses a weak hash")
    if valid[8] not in _DATA_CLASSES:
        raise PgpError(PgpFailure.BAD_SIGNATURE, "not a signature over data")
    if record.get("trust") not in _TRUSTED:
        raise PgpError(PgpFailure.UNKNOWN_SIGNER, "signing key is not trusted by the gateway")
    return GoodSignature(valid[9].upper(), _timestamp(valid[2]))


def _timestamp(value: str) -> datetime | None:
    # --fixed-list-mode (python-gnupg's default) gives seconds since the epoch.
    return datetime.fromtimestamp(int(value), UTC) if value.isdigit() else None
