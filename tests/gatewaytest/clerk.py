"""Messages as a clerk's client would send them, signed and encrypted by the real `openssl cms`."""

from __future__ import annotations

import subprocess
import tempfile
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path


def openssl(*args: str | Path, stdin: bytes | None = None) -> bytes:
    done = subprocess.run(
        ["openssl", *map(str, args)], input=stdin, capture_output=True, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"openssl {args[:2]} failed: {done.stderr.decode(errors='replace')}")
    return done.stdout


def crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def inner_message(
    subject: str,
    body: str,
    *,
    hetu_lines: tuple[str, ...] = (),
    attachments: tuple[tuple[str, str, bytes], ...] = (),
    html: str | None = None,
) -> bytes:
    """The clerk's content entity (what gets signed), with CRLF line endings."""
    msg = EmailMessage()
    msg["Subject"] = subject
    text = "".join(f"Henkilötunnus: {h}\n" for h in hetu_lines)
    msg.set_content((text + "\n" if text else "") + body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for name, ctype, data in attachments:
        maintype, _, subtype = ctype.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    # `email` leaves bare LFs inside enclosed message/* parts even with linesep CRLF.
    return crlf(msg.as_bytes(policy=msg.policy.clone(linesep="\r\n")))


def _cms(content: bytes, *args: str | Path) -> bytes:
    """`openssl cms ARGS -in FILE -binary` on `content`; the output with CRLF line endings."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.eml"
        src.write_bytes(content)
        return crlf(openssl("cms", *args, "-in", src, "-binary"))


def sign(
    content: bytes, cert: Path, key: Path, *, detached: bool = True, digest: str = "sha256"
) -> bytes:
    extra = () if detached else ("-nodetach",)
    return _cms(content, "-sign", "-signer", cert, "-inkey", key, "-md", digest, *extra)


def encrypt(
    content: bytes, recipient: Path, *, cipher: str = "-aes256", oaep: bool = False
) -> bytes:
    extra = ("-keyopt", "rsa_padding_mode:oaep") if oaep else ()
    return _cms(content, "-encrypt", cipher, "-recip", recipient, *extra)


def envelope(
    entity: bytes, *, sender: str, to: str, message_id: str | None = None, subject: str = "Viesti"
) -> bytes:
    """Outer headers in front of a MIME entity, as the clerk's mail server sends it."""
    mid = message_id or make_msgid(domain=sender.partition("@")[2])
    head = (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Date: {format_datetime(datetime.now(UTC))}\r\nMessage-ID: {mid}\r\n"
    )
    return head.encode() + entity


def clerk_message(
    *,
    cert: Path,
    key: Path,
    gateway_cert: Path,
    sender: str,
    to: str,
    inner: bytes,
    message_id: str | None = None,
    detached: bool = True,
) -> bytes:
    """Sign, then encrypt to the gateway: the shape Outlook and Thunderbird send."""
    signed = sign(inner, cert, key, detached=detached)
    return envelope(encrypt(signed, gateway_cert), sender=sender, to=to, message_id=message_id)
