"""Benchmark messages: the demo clerk's mail, signed then encrypted (RSA-2048) with cryptography.

One encrypted entity is built per size and reused behind different outer headers: the gateway
deduplicates by Message-ID, so a fresh Message-ID makes each copy a new delivery.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from gatewaytest.env import GatewayEnv

from gateway.demo import sign_then_encrypt
from gateway.init import demo_clerk_address

_LINE = "Päätös koskee hakemustanne, joka on saapunut kuntaan. Lisätiedot alla.\n"


@dataclass(frozen=True)
class Clerk:
    """Who sends, to whom, and the keys needed to build what they send."""

    sender: str
    recipient: str
    cert: x509.Certificate
    key: object
    gateway_cert: x509.Certificate

    @classmethod
    def from_env(cls, env: GatewayEnv, hetu: str) -> Clerk:
        return cls(
            sender=demo_clerk_address(env.config),
            recipient=f"{hetu}@{env.config.domain}",
            cert=x509.load_pem_x509_certificate(env.clerk_cert.read_bytes()),
            key=serialization.load_pem_private_key(env.clerk_key.read_bytes(), None),
            gateway_cert=x509.load_pem_x509_certificate(env.gateway_cert.read_bytes()),
        )


def text_of_size(size: int) -> str:
    """Finnish-looking text of `size` characters, in short lines."""
    return (_LINE * (size // len(_LINE) + 1))[:size]


def inner(body_size: int, attachment_size: int = 0) -> bytes:
    """The clerk's content entity: a text body, and a binary attachment when asked (CRLF)."""
    msg = EmailMessage()
    msg["Subject"] = "Päätös / Beslut"
    msg.set_content(text_of_size(body_size))
    if attachment_size:
        data = random.Random(attachment_size).randbytes(attachment_size)
        msg.add_attachment(data, maintype="application", subtype="pdf", filename="liite.pdf")
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def entity(clerk: Clerk, body_size: int, attachment_size: int = 0) -> bytes:
    """Sign (detached, SHA-256) then encrypt to the gateway; CRLF line endings."""
    encrypted = sign_then_encrypt(
        inner(body_size, attachment_size), clerk.cert, clerk.key, clerk.gateway_cert
    )
    return encrypted.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def entity_of_wire_size(clerk: Clerk, wire_size: int) -> bytes:
    """An entity whose message is about `wire_size` bytes: a short body and an attachment,
    its size found by one linear correction (base64 twice makes the wire ~1.85x the file)."""
    guess = int(wire_size / 1.85)
    built = entity(clerk, 2000, guess)
    guess = max(1, int(guess * wire_size / (len(built) + 300)))
    return entity(clerk, 2000, guess)


def wrap(clerk: Clerk, encrypted: bytes, serial: str) -> bytes:
    """Outer headers (nothing personal: the subject is inside) in front of the entity."""
    domain = clerk.sender.partition("@")[2]
    head = (
        f"From: {clerk.sender}\r\nTo: {clerk.recipient}\r\nSubject: Viesti / Message\r\n"
        f"Date: {format_datetime(datetime.now(UTC))}\r\n"
        f"Message-ID: <bench.{serial}@{domain}>\r\n"
    )
    return head.encode() + encrypted


def batch(clerk: Clerk, encrypted: bytes, prefix: str, count: int) -> list[bytes]:
    return [wrap(clerk, encrypted, f"{prefix}.{i}") for i in range(count)]
