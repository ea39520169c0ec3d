"""The ingest pipeline: one ordered tuple of named stages, and the driver that runs it.

Each stage takes the typed message context and either enriches it or raises a terminal outcome
(Reject or TempFail) that carries the SMTP reply. Only the driver catches those. Stages marked
``in_pool`` are CPU-bound (decryption, verification, MIME parsing); consecutive ones run together
in one call to the process pool so that the event loop stays free and the message bytes cross the
process boundary once.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from crypto.smime import OpenedMessage
from smtp_in.extract import ExtractedMessage
from smtp_in.replies import Reply

T = TypeVar("T")


class Outcome(Exception):  # noqa: N818 - an outcome, not an error
    """A terminal outcome: the message is answered with `reply` and no further stage runs."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply)
        self.reply = reply


class Reject(Outcome):
    """A permanent refusal (5xx): the sender must not retry as is."""


class TempFail(Outcome):
    """A temporary failure (4xx): nothing was stored; the sender retries."""


@dataclass(frozen=True)
class Recipient:
    """One accepted RCPT: a citizen named in the address, or the submission address."""

    citizen_id: str | None  # None for the submission address: HETUs stand in the body
    # On a shared network RCPT reveals nothing: the HETU is looked up only at the policy stage.
    hetu: str = ""


@dataclass
class Inbound:
    """Everything the pipeline knows about one message, filled in stage by stage."""

    raw: bytes
    # The organisation itself is looked up, not shipped to the pool. Empty on a shared network:
    # the unwrap stage sets it to the candidate whose trust anchors verify the signature.
    organisation_id: str
    recipients: tuple[Recipient, ...]
    received_at: datetime
    header_block: bytes = b""
    evidence: bytes = b""  # what is kept of the original: see stages.unwrap
    content_offset: int = -1  # where the opened content lies in `evidence`, if verbatim
    fallback_id: str = ""  # identifies a message without a Message-ID (its digest)
    opened: OpenedMessage | None = None
    extracted: ExtractedMessage | None = None
    citizen_ids: tuple[str, ...] = ()
    no_reply: bool = False  # the clerk's subject carried the organisation's no-reply tag
    # Verifiable delivery (by subject tag or policy): the deadline to acknowledge receipt.
    acknowledge_by: datetime | None = None
    # From the case tags: "message", "request" (for more information) or "status", and the
    # case reference and status named there ("" when absent).
    kind: str = "message"
    case_reference: str = ""
    case_status: str = ""
    threads: dict[str, str] = field(default_factory=dict)  # citizen -> thread continued
    duplicate: bool = False
    trace: list[str] = field(default_factory=list)
    candidates: tuple[str, ...] = ()  # organisation ids, when organisation_id is empty
    tls: bool = False  # whether the connection used STARTTLS (require_tls of a candidate)

    def slimmed(self) -> Inbound:
        """The context without its bulky bytes, for the trip back from the process pool."""
        opened = self.opened and dataclasses.replace(self.opened, content=b"", evidence=b"")
        return dataclasses.replace(self, raw=b"", opened=opened)


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[Inbound], None]
    in_pool: bool


class StagePool(Protocol):
    """Runs a picklable call in another process (smtp_in.workers.StageWorkers)."""

    def run(self, func: Callable[..., T], *args: Any) -> Awaitable[T]:
        """Take the call's arguments now (pickled at once); the awaitable gives its result."""
        ...


async def run_pipeline(
    stages: Sequence[Stage], message: Inbound, pool: StagePool | None
) -> Inbound:
    """Run the stages in order: pool stages in `pool` (inline when None), the others, which do
    blocking I/O such as database look-ups and the commit, in a thread."""
    i = 0
    while i < len(stages):
        j = i + 1
        while j < len(stages) and stages[j].in_pool == stages[i].in_pool:
            j += 1
        batch = tuple(stages[i:j])
        if not batch[0].in_pool:
            await asyncio.to_thread(run_stages, batch, message)
        elif pool is None:
            run_stages(batch, message)
        else:
            pending = pool.run(run_stages_slimmed, batch, message)
            # The workers have the message now; later stages need only what they return, so
            # a large message is not held here twice over.
            message.raw = b""
            message = await pending
        i = j
    return message


def run_stages(stages: Sequence[Stage], message: Inbound) -> None:
    for stage in stages:
        stage.run(message)
        message.trace.append(stage.name)


def run_stages_slimmed(stages: Sequence[Stage], message: Inbound) -> Inbound:
    """Run CPU-bound stages in a pool worker and return the context without its bulky bytes."""
    run_stages(stages, message)
    return message.slimmed()
