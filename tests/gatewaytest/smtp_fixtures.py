"""Helpers for the SMTP listener tests: a client that records every reply, and message builders.

Everything goes over real SMTP on loopback to the real listener; messages are made by `openssl`.
"""

from __future__ import annotations

import re
import smtplib
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway import material
from gatewaytest.clerk import clerk_message, crlf, encrypt, envelope, inner_message, openssl, sign
from gatewaytest.env import CLERK, GatewayEnv
from mailbox_store import MailboxStore
from smtp_in.stages import install_material

ENHANCED = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}( |$)")


class RecordingSMTP(smtplib.SMTP):
    """smtplib's client, keeping every reply the server sent as (code, lines)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.replies: list[tuple[int, list[str]]] = []
        self.last_command = ""
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def putcmd(self, cmd: str, args: str = "") -> None:
        self.last_command = cmd.upper()
        super().putcmd(cmd, args)

    def getreply(self) -> tuple[int, bytes]:
        code, text = super().getreply()
        command = self.last_command
        self.replies.append((code, [command, *text.decode("utf-8", "replace").split("\n")]))
        return code, text


def connect(port: int, *, source: str = "127.0.0.1", helo: str = "kunta-mx.test") -> RecordingSMTP:
    client = RecordingSMTP("127.0.0.1", port, timeout=60, source_address=(source, 0))
    client.ehlo(helo)
    return client


def lines_without_enhanced_code(replies: Sequence[tuple[int, list[str]]]) -> list[str]:
    """Reply lines that should carry an RFC 3463 code and do not (greeting/EHLO/354 exempt)."""
    missing = []
    for code, (command, *lines) in replies:
        if code in (220, 354) or command in ("EHLO", "HELO"):
            continue
        missing += [f"{code} {line}" for line in lines if not ENHANCED.match(line)]
    return missing


@dataclass(frozen=True)
class Answer:
    code: int
    text: str

    @property
    def status(self) -> str:
        return self.text.split(" ", 1)[0]


def send(port: int, message: bytes, rcpts: Sequence[str], *, sender: str = CLERK) -> Answer:
    """One SMTP transaction; every RCPT must be accepted. Returns the answer to DATA."""
    with connect(port) as client:
        code, text = client.mail(sender)
        assert code == 250, text
        for rcpt in rcpts:
            code, text = client.rcpt(rcpt)
            assert code == 250, (code, text)
        return data(client, message)


def data(client: smtplib.SMTP, message: bytes) -> Answer:
    code, text = client.data(message)
    return Answer(code, text.decode("utf-8", "replace"))


def assert_refused(
    answer: Answer, code: int, status: str, store: MailboxStore, before: dict[str, int]
) -> None:
    assert (answer.code, answer.status) == (code, status), answer
    assert store.table_counts() == before


def decision(
    env: GatewayEnv,
    to: str,
    *,
    subject: str = "Paatos",
    body: str = "Hei.\n",
    message_id: str | None = None,
    **inner: object,
) -> bytes:
    """A valid clerk message: signed by the demo clerk, encrypted to the gateway."""
    return clerk_message(
        cert=env.clerk_cert,
        key=env.clerk_key,
        gateway_cert=env.gateway_cert,
        sender=CLERK,
        to=to,
        inner=inner_message(subject, body, **inner),  # type: ignore[arg-type]
        message_id=message_id,
    )


def wrap_entity(
    env: GatewayEnv,
    entity: bytes,
    to: str,
    *,
    sender: str = CLERK,
    message_id: str | None = None,
    **encrypt_options: object,
) -> bytes:
    """Any MIME entity as the signed content of a clerk message (sign, then encrypt)."""
    signed = sign(crlf(entity), env.clerk_cert, env.clerk_key)
    return envelope(
        encrypt(signed, env.gateway_cert, **encrypt_options),  # type: ignore[arg-type]
        sender=sender,
        to=to,
        message_id=message_id,
    )


def make_foreign_signer(directory: Path, email: str) -> tuple[Path, Path]:
    """A CA nobody trusts and an e-mail certificate for `email` issued by it (openssl)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = directory / "ca-key.pem", directory / "ca.pem"
    key, csr, cert = directory / "key.pem", directory / "req.csr", directory / "cert.pem"
    ext = directory / "ext.cnf"
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        ca_key,
        "-out",
        ca_cert,
        "-days",
        "30",
        "-subj",
        "/CN=Vieras CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    )
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        key,
        "-out",
        csr,
        "-subj",
        f"/CN=Vieras/emailAddress={email}",
    )
    ext.write_text(
        f"subjectAltName=email:{email}\nextendedKeyUsage=emailProtection\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
    )
    openssl(
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        ca_cert,
        "-CAkey",
        ca_key,
        "-CAcreateserial",
        "-days",
        "30",
        "-out",
        cert,
        "-extfile",
        ext,
    )
    return cert, key


def openssl_supports_gcm_cms(recipient: Path) -> bool:
    done = subprocess.run(
        ["openssl", "cms", "-encrypt", "-binary", "-aes-256-gcm", "-recip", str(recipient)],
        input=b"x",
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def use_material_of(env: GatewayEnv) -> None:
    """InProcessGateway installs its keys process-wide (`install_material`): the most recently
    constructed gateway's keys win. Call this to make `env`'s keys the active ones again."""
    config = env.config
    install_material(*material.crypto_material_args(config))
