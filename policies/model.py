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
class PgpPolicy:
    """An organisation that sends OpenPGP: its public key files and who may sign for it."""

    # Public key files (ASCII-armoured or binary), imported into the gateway's keyring at start.
    key_files: tuple[Path, ...] = ()
    # Full primary-key fingerprints (40 hex digits, upper case) allowed to sign for the
    # organisation; a signature by one of their subkeys counts for the primary key.
    fingerprints: tuple[str, ...] = ()
    # The key replies to the organisation are encrypted to ("" when none is set).
    reply_key: str = ""


@dataclass(frozen=True)
class DeliveryPolicy:
    """Verifiable delivery (todisteellinen tiedoksianto, Act 13/2003 s18) for an organisation."""

    # A clerk asks for verifiable delivery by this subject tag (removed before the citizen sees
    # the subject), or the organisation asks for it for every message.
    verifiable_tag: str = "[todisteellinen]"
    verifiable_by_default: bool = False
    # Unacknowledged after this many days, the sender gets a signed notice to serve it on paper.
    acknowledge_days: int = 7


@dataclass(frozen=True)
class CasePolicy:
    """Subject tags that place a message in a case (asia) and say what kind of message it is.

    Each tag is removed from the subject before the citizen sees it.
    """

    # A request for more information: the portal puts the reply form first.
    request_tag: str = "[lisätietopyyntö]"
    # `[<case_label>: REFERENCE]` names the case; `[<status_label>: STATUS]` updates its status.
    case_label: str = "asia"
    status_label: str = "tila"


@dataclass(frozen=True)
class SmtpLogin:
    """An SMTP AUTH user of an organisation's mail servers; the password only as a salted hash."""

    username: str
    password_hash: str  # crypto.passwords format: $scrypt$ln=..,r=..,p=..$salt$key


@dataclass(frozen=True)
class ServerAuthPolicy:
    """How an organisation's mail servers prove who they are besides their networks."""

    # CA certificates (PEM) that issue the servers' TLS client certificates; a certificate
    # must be issued directly by one of them.
    tls_client_ca: Path | None = None
    # SHA-256 fingerprints (64 hex digits, upper case) of the only client certificates accepted.
    tls_client_fingerprints: tuple[str, ...] = ()
    logins: tuple[SmtpLogin, ...] = ()
    # MAIL without STARTTLS is refused for the organisation.
    require_tls: bool = False


@dataclass(frozen=True)
class SignerPolicy:
    """Who may sign for an organisation, beyond its trust anchors and sender domains."""

    # CRL files (PEM or DER) of the organisation's CAs, re-read when they change.
    crl_files: tuple[Path, ...] = ()
    # SHA-256 fingerprints (64 hex digits, upper case): when set, only these certificates sign.
    fingerprints: tuple[str, ...] = ()
    # fnmatch patterns ("*@kirjaamo.kunta.fi", lower case) the From address must also match.
    sender_addresses: tuple[str, ...] = ()
    # Relaxed only for servers that must use TLS and a pinned client certificate or AUTH.
    signature_required: bool = True
    encryption_required: bool = True


@dataclass(frozen=True)
class ContentPolicy:
    """What an organisation's mail may contain; the defaults allow everything."""

    max_message_size: int | None = None  # bytes, below the global limit
    max_attachments: int | None = None
    # Content types (as sniffed from the bytes) attachments may have; empty allows every type.
    allowed_attachment_types: tuple[str, ...] = ()
    keep_html: bool = True


@dataclass(frozen=True)
class RateLimits:
    """How much one organisation's mail servers may send (`[limits]`, per-organisation overrides).

    Counted in the memory of each `serve` process: with several nodes sharing the database,
    each node allows this much on its own.
    """

    # Generous defaults (a city's batch run of decisions must not stall); tighten per sender.
    messages_per_connection: int = 1000
    messages_per_minute: int = 3000
    concurrent_connections: int = 50


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
    delivery: DeliveryPolicy = DeliveryPolicy()
    pgp: PgpPolicy = PgpPolicy()
    cases: CasePolicy = CasePolicy()
    # Networks the organisation's servers share with others (Microsoft 365, regional relays):
    # a peer in one is identified by no organisation through its address alone.
    shared_networks: tuple[IPNetwork, ...] = ()
    server_auth: ServerAuthPolicy = ServerAuthPolicy()
    # The name in Swedish and English for the portal ("" shows `name`, the Finnish one), and
    # the services through which the organisation sends (shown to citizens as they are).
    name_sv: str = ""
    name_en: str = ""
    services: tuple[str, ...] = ()
    signers: SignerPolicy = SignerPolicy()
    content: ContentPolicy = ContentPolicy()
    # The global [limits] with this organisation's own `limits` table over them.
    limits: RateLimits = RateLimits()
    # Citizens may start a new message to the organisation (to `reply_address`, encrypted to
    # `replies.certificate` or `pgp.reply_key`), choosing one of `topics` as its subject.
    new_messages: bool = False
    topics: tuple[str, ...] = ()

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
    # On a shared network: the organisations the signature may name at DATA.
    candidates: tuple[Organisation, ...] = ()
