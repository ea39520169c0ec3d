"""The per-citizen event hash chain.

Each event's hash is SHA-256 over the previous event's hash and a canonical JSON encoding of
the event (id, citizen, sequence number, kind, time, detail). Changing, removing or reordering
any stored event breaks every later link, so `verify_chain` detects tampering by anyone who
cannot also recompute the rest of the chain from that point (an append-only export or an
external anchor of the head hash makes even that evident).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "GENESIS_HASH",
    "ChainLink",
    "canonical_detail",
    "first_break",
    "link_hash",
    "verify_chain",
]

GENESIS_HASH = "0" * 64


def canonical_detail(detail: Mapping[str, Any]) -> str:
    return json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


@dataclass(frozen=True)
class ChainLink:
    id: str
    citizen_id: str
    seq: int
    kind: str
    at: datetime
    detail: str  # canonical JSON, exactly as stored
    prev_hash: str
    hash: str


def link_hash(
    prev_hash: str, *, id: str, citizen_id: str, seq: int, kind: str, at: datetime, detail: str
) -> str:
    body = json.dumps(
        [id, citizen_id, seq, kind, at.isoformat(), detail],
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(f"{prev_hash}\n{body}".encode("ascii")).hexdigest()


def verify_chain(links: Iterable[ChainLink]) -> bool:
    """True when the links, in sequence order, form one unbroken chain from the genesis."""
    return first_break(links) is None


def first_break(links: Iterable[ChainLink]) -> int | None:
    """The sequence number where the chain first breaks (a link missing, out of order, or not
    hashing to what is stored), or None when it is unbroken from the genesis."""
    expected_prev = GENESIS_HASH
    for expected_seq, link in enumerate(links, start=1):
        if link.seq != expected_seq or link.prev_hash != expected_prev:
            return expected_seq
        recomputed = link_hash(
            link.prev_hash,
            id=link.id,
            citizen_id=link.citizen_id,
            seq=link.seq,
            kind=link.kind,
            at=link.at,
            detail=link.detail,
        )
        if recomputed != link.hash:
            return expected_seq
        expected_prev = link.hash
    return None
