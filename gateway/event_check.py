"""An operator's check of a citizen's event log: the stored hash chain and, optionally, an
export the citizen (or anyone) kept.

The stored chain must be unbroken from the genesis. An export must be unbroken too, its head
signed by one of the gateway's certificates (current or earlier) over exactly the statement
the portal signs, and its links must be the stored chain's first links, hash for hash: a
stored chain that was rewritten and re-hashed after the export verifies on its own, but no
longer matches what the export holds.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509

from crypto.smime import SmimeError
from crypto.smime_out import verify_detached_signature
from gateway.web.event_log import EXPORT_FORMAT, head_statement
from mailbox_store.chain import ChainLink, first_break

__all__ = ["ChainReport", "check_events"]


@dataclass
class ChainReport:
    """What was checked, a line each, and whether everything held."""

    lines: list[str] = field(default_factory=list)
    ok: bool = True

    def good(self, line: str) -> None:
        self.lines.append(line)

    def bad(self, line: str) -> None:
        self.lines.append(line)
        self.ok = False


def check_events(
    citizen_id: str,
    stored: Sequence[ChainLink],
    export: bytes | None,
    certificates: Sequence[x509.Certificate],
) -> ChainReport:
    """Check the stored chain, and the export (the JSON file's bytes) when one is given."""
    report = ChainReport()
    head = stored[-1].hash if stored else "-"
    broken = first_break(stored)
    state = "OK" if broken is None else f"BROKEN at seq {broken}"
    line = f"stored chain: {len(stored)} events, head {head}, {state}"
    report.good(line) if broken is None else report.bad(line)
    if export is not None:
        _check_export(report, citizen_id, stored, export, certificates)
    report.lines.append("result: OK" if report.ok else "result: FAILED")
    return report


def _check_export(
    report: ChainReport,
    citizen_id: str,
    stored: Sequence[ChainLink],
    export: bytes,
    certificates: Sequence[x509.Certificate],
) -> None:
    try:
        document = json.loads(export)
        if document.get("format") != EXPORT_FORMAT:
            raise ValueError(f"not an {EXPORT_FORMAT} document")
        links = [_link(document["citizen_id"], event) for event in document["events"]]
        head = document["head"]
        exported_at = datetime.fromisoformat(document["exported_at"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        report.bad(f"export: unreadable ({type(exc).__name__}: {exc})")
        return
    if document["citizen_id"] != citizen_id:
        report.bad("export: of another account")
        return
    broken = first_break(links)
    if not links or broken is not None:
        report.bad(f"export chain: {len(links)} events, BROKEN at seq {broken or 1}")
        return
    last = links[-1]
    if head.get("seq") != last.seq or head.get("hash") != last.hash:
        report.bad("export chain: its head is not its last event")
        return
    report.good(f"export chain: {len(links)} events, head {last.hash}, OK")
    _check_signature(report, citizen_id, last, exported_at, head, certificates)
    _check_prefix(report, stored, links)


def _link(citizen_id: str, event: dict[str, Any]) -> ChainLink:
    return ChainLink(
        id=event["id"],
        citizen_id=citizen_id,
        seq=event["seq"],
        kind=event["kind"],
        at=datetime.fromisoformat(event["at"]),
        detail=event["detail"],
        prev_hash=event["prev_hash"],
        hash=event["hash"],
    )


def _check_signature(
    report: ChainReport,
    citizen_id: str,
    last: ChainLink,
    exported_at: datetime,
    head: dict[str, Any],
    certificates: Sequence[x509.Certificate],
) -> None:
    signature = head.get("signature")
    if not isinstance(signature, str):
        report.bad("export signature: MISSING")
        return
    # What the signature covers must say this chain ends in this head, or it proves nothing.
    statement = head_statement(citizen_id, last, exported_at)
    if head.get("statement") != statement.decode("ascii"):
        report.bad("export signature: the signed statement does not name this head")
        return
    try:
        signer = verify_detached_signature(
            base64.b64decode(signature, validate=True), statement, certificates
        )
    except (binascii.Error, ValueError, SmimeError) as exc:
        report.bad(f"export signature: INVALID ({exc})")
        return
    report.good(f"export signature: OK, by {signer.subject.rfc4514_string()}")


def _check_prefix(
    report: ChainReport, stored: Sequence[ChainLink], links: Sequence[ChainLink]
) -> None:
    for link in links:
        if link.seq > len(stored):
            report.bad(f"REWRITTEN HISTORY: the stored chain ends before seq {link.seq}")
            return
        if stored[link.seq - 1].hash != link.hash:
            report.bad(
                f"REWRITTEN HISTORY: the stored chain differs from the export at seq {link.seq}"
            )
            return
    report.good(f"export matches the stored chain: OK, {len(stored) - len(links)} later events")
