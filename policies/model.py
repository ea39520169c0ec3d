"""The routing-policy model: organisations that may send, and how they are recognised.

Pure data, compiled once from ``gateway.toml`` by ``gateway.config``; no SMTP, no SQL.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Organisation:
    """A sending organisation (a municipality or another authority)."""

    id: str
    name: str
    sender_domains: tuple[str, ...]
    networks: tuple[IPNetwork, ...]
    trust_anchors: tuple[Path, ...]
    replies_allowed: bool
    reply_address: str
    demo: bool = False

    def allows_sender(self, address: str) -> bool:
        """True when the address belongs to one of the organisation's sender domains."""
        _, _, domain = address.rpartition("@")
        return domain.lower() in self.sender_domains


@dataclass(frozen=True)
class Decision:
    """A policy decision and the trace of the rules that led to it, in order."""

    allowed: bool
    organisation: Organisation | None
    trace: tuple[str, ...]
    reason: str = ""  # a stable name for a refusal, which the SMTP layer maps to its reply
