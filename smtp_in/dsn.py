"""Reading the delivery status notifications (RFC 3464) that come back to our bounce addresses.

A DSN is a multipart/report whose message/delivery-status part holds one block of fields about
the message and one block per recipient (Action, Status, Diagnostic-Code). The bounce address
already names the queue row, so all we need from the report is what happened: the action and
its RFC 3463 status code. Diagnostic texts echo addresses, so they never leave this module; a
Diagnostic-Code is read only for the status code inside it when the Status field is unusable.

Only the stdlib email package reads the bytes, and only the first `MAX_PARSED` of them: the
report comes before the returned message (RFC 3464 section 2), which is all a longer one adds.
Anything else ends in `NotADsn` or `MalformedDsn`, never in another exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser

__all__ = ["MAX_PARSED", "DeliveryReport", "DsnError", "MalformedDsn", "NotADsn", "parse_dsn"]

MAX_PARSED = 1 << 20
# Worst first: a report about several recipients of one mail counts as its worst outcome.
_ACTION_RANK = {"failed": 0, "delayed": 1, "delivered": 2, "relayed": 2, "expanded": 2}
# The class-generic code (RFC 3463 section 3.1) when a block gives no usable status.
_DEFAULT_STATUS = {"failed": "5.0.0", "delayed": "4.0.0"}
_STATUS = re.compile(r"\s*([245]\.\d{1,3}\.\d{1,3})(?![\d.])", re.ASCII)
# In a diagnostic such as "smtp; 550 5.1.1 <x@y>... user unknown"; not inside an IP address.
_STATUS_IN_TEXT = re.compile(r"(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?![\d.])", re.ASCII)


@dataclass(frozen=True)
class DeliveryReport:
    action: str  # failed, delayed, delivered, relayed or expanded (RFC 3464 section 2.3.3)
    status: str  # RFC 3463 enhanced status code, e.g. "5.1.1"


class DsnError(ValueError):
    """The message cannot be read as a DSN (the text never quotes the message)."""


class NotADsn(DsnError):
    """No multipart/report with a delivery-status part: some other kind of mail."""


class MalformedDsn(DsnError):
    """It says it is a delivery status report, but no per-recipient block can be read."""


def parse_dsn(raw: bytes) -> DeliveryReport:
    """The outcome a DSN reports; raises NotADsn or MalformedDsn."""
    try:
        message = BytesParser().parsebytes(raw[:MAX_PARSED])
        report = _delivery_status(message)
        blocks = report.get_payload() if report is not None else None
        outcomes = (
            [o for o in map(_outcome, blocks) if o is not None] if isinstance(blocks, list) else []
        )
    except Exception:  # noqa: BLE001 - the email package is lenient, not total (deep nesting
        # raises RecursionError); junk from the Internet must end in a refusal, not a traceback
        raise MalformedDsn("the message could not be parsed") from None
    if report is None:
        raise NotADsn("not a delivery status notification")
    if not outcomes:
        raise MalformedDsn("no readable per-recipient block")
    return min(outcomes, key=lambda o: _ACTION_RANK[o.action])


def _delivery_status(message: Message) -> Message | None:
    """The message/delivery-status part of a multipart/report, if this is one."""
    if message.get_content_type() != "multipart/report":
        return None
    # Some MTAs leave out report-type (Sun's SIMS did); one that names another report is not ours.
    report_type = message.get_param("report-type")
    if isinstance(report_type, str) and report_type.strip().lower() != "delivery-status":
        return None
    parts = message.get_payload()
    if not isinstance(parts, list):
        return None
    return next(
        (
            p
            for p in parts
            if isinstance(p, Message) and p.get_content_type() == "message/delivery-status"
        ),
        None,
    )


def _outcome(block: Message) -> DeliveryReport | None:
    """The action and status of a per-recipient block; None for the per-message block."""
    words = str(block.get("Action", "")).split()
    action = words[0].lower() if words else ""
    if action not in _ACTION_RANK:
        return None
    status = _STATUS.match(str(block.get("Status", "")))
    if status is None:
        status = _STATUS_IN_TEXT.search(str(block.get("Diagnostic-Code", "")))
    if status is not None:
        return DeliveryReport(action, status.group(1))
    return DeliveryReport(action, _DEFAULT_STATUS.get(action, "2.0.0"))
