"""`asiointitili demo-send`: what a clerk's mail client does, as the demo clerk.

Builds a message, signs it (detached, SHA-256) with the demo clerk's certificate, encrypts it to
the gateway's S/MIME certificate, and submits it over SMTP, printing the server's answer.
"""

from __future__ import annotations

import mimetypes
import smtplib
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from gateway import material
from gateway.config import Config
from gateway.init import demo_clerk_address


def build_inner(subject: str, body: str, attachments: Sequence[Path]) -> bytes:
    """The clerk's message as a MIME entity, CRLF line endings."""
    inner = EmailMessage()
    inner["Subject"] = subject
    inner.set_content(body)
    for path in attachments:
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        maintype, _, subtype = ctype.partition("/")
        inner.add_attachment(
            path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name
        )
    return inner.as_bytes(policy=inner.policy.clone(linesep="\r\n"))


def sign_then_encrypt(
    inner: bytes,
    signer_cert: x509.Certificate,
    signer_key: object,
    recipient: x509.Certificate,
) -> bytes:
    """S/MIME sign (multipart/signed) then encrypt (enveloped-data); returns a MIME entity."""
    signed = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(inner)
        .add_signer(signer_cert, signer_key, hashes.SHA256())  # type: ignore[arg-type]
        .sign(serialization.Encoding.SMIME, [pkcs7.PKCS7Options.DetachedSignature])
    )
    return (
        pkcs7.PKCS7EnvelopeBuilder()
        .set_data(signed)
        .add_recipient(recipient)
        .encrypt(serialization.Encoding.SMIME, [])
    )


def build_demo_message(
    config: Config, hetu: str, subject: str, body: str, attachments: Sequence[Path]
) -> tuple[str, str, bytes]:
    """Returns (sender, recipient, message bytes)."""
    demo = config.demo_dir
    sender = demo_clerk_address(config)
    recipient = f"{hetu}@{config.domain}"
    entity = sign_then_encrypt(
        build_inner(subject, body, attachments),
        x509.load_pem_x509_certificate((demo / "clerk-cert.pem").read_bytes()),
        serialization.load_pem_private_key((demo / "clerk-key.pem").read_bytes(), None),
        x509.load_pem_x509_certificate(material.gateway_certificate_pem(config)),
    )
    # The outer headers say nothing personal: the real subject is inside the encryption.
    outer = (
        f"From: {sender}\r\nTo: {recipient}\r\nSubject: Viesti / Message\r\n"
        f"Date: {format_datetime(datetime.now(UTC))}\r\n"
        f"Message-ID: {make_msgid(domain=sender.partition('@')[2])}\r\n"
    ).encode()
    return sender, recipient, outer + entity.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def send(host: str, port: int, sender: str, recipient: str, message: bytes) -> str:
    """Submit over SMTP (STARTTLS when offered); return the server's answer as text."""
    with smtplib.SMTP(host, port, timeout=60) as client:
        client.ehlo()
        if client.has_extn("starttls"):
            context = ssl.create_default_context()
            # The development listener has a self-signed certificate.
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            client.starttls(context=context)
            client.ehlo()
        for code, text in (client.mail(sender), client.rcpt(recipient)):
            if code >= 400:
                return f"{code} {text.decode()}"
        code, text = client.data(message)
        return f"{code} {text.decode()}"
