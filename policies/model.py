"""The routing-policy model: organisations that may send, and how they are recognised.

Pure data, compiled once from ``gateway.toml`` by ``gateway.config``; no SMTP, no SQL.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


ReplyRecipients = Literal["sender", "registry", "both"]


@dataclass(frozen=True)
class ReplyPolicy:
    """What citizens may send back to an organisation, and how it reaches the organisation."""

    # Where a citizen's reply goes: the clerk who sent the message, the registry address
    # (`Organisation.reply_address`), or both.
    recipients: ReplyRecipients = "sender"
    # A clerk forbids replies to one message by putting this tag in its subject; the citizen
    # sees the subject without it.
    no_reply_tag: str = "[ei vastausta]"
    max_attachments: int = 5
    max_attachment_bytes: int = 10 * 1024 * 1024
    # Whether the organisation's mail clients read AES-GCM (authEnveloped-data); CBC otherwise.
    aes_gcm: bool = False
    # The organisation's own certificate (PEM), to which replies are encrypted as well: needed
    # when replies go to a registry mailbox that the clerk's certificate cannot open.
    certificate: Path | None = None
    # How long a clerk may answer a citizen's reply into the same thread.
    thread_days: int = 365


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
    replies: ReplyPolicy = ReplyPolicy()

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
