"""The citizen's reply as the organisation receives it, opened with the real openssl CLI.

Certificates come from `openssl` (gatewaytest's `make_foreign_signer`: a CA of its own and an
e-mail certificate below it): the gateway signs as its submission address, two organisation
mailboxes receive. Each reply is decrypted by `openssl cms -decrypt`, verified by
`openssl cms -verify`, parsed by the `email` package, opened by the gateway's own
`crypto.smime.open_message` and read by the inbound extractor.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from gatewaytest.clerk import openssl
from gatewaytest.env import ORG_DOMAIN, SUBMISSION
from gatewaytest.hetus import make_hetu
from gatewaytest.smtp_fixtures import make_foreign_signer, openssl_supports_gcm_cms

from crypto.certs import certificate_emails, load_decryption_key
from crypto.smime import open_message
from smtp_in.extract import extract
from smtp_out.reply import SUBJECTS, OutgoingReply, ReplyAttachment, compose_reply

HETU = make_hetu("150385", "-", 234)
NAME = "Matti Meikäläinen"
REAL_SUBJECT = "Re: Päätös rakennusluvasta"
ORIGINAL_SUBJECT = "Päätös rakennusluvasta"
TEXT = "Hyvä vastaanottaja,\n\nkiitos päätöksestä. Liitteenä pyytämänne selvitys 🙂\n\nMatti"
# Outlook-style Message-IDs are longer than a header line: folding must not encode them.
LONG_ID = "<AM0PR07MB1234567890ABCDEFGHIJ1234567890ABCDEF@AM0PR07MB1234.eurprd07.prod.outlook.com>"
ORIGINAL_ID = f"<paatos-17@{ORG_DOMAIN}>"
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40
CSV = "nimi;summa\r\nÄänekoski;12\r\n".encode()
ATTACHMENTS = (
    ReplyAttachment("Selvitys äänestä.pdf", "application/pdf", PDF),
    ReplyAttachment("taulukko.csv", "text/csv", CSV),
)
# What must never be readable outside the encryption (or in a repr).
SECRETS = (NAME, *NAME.split(), HETU, REAL_SUBJECT, ORIGINAL_SUBJECT, "Selvitys äänestä")
MODES = pytest.mark.parametrize("aes_gcm", [False, True], ids=["aes-256-cbc", "aes-256-gcm"])


@dataclass(frozen=True)
class Party:
    cert: Path
    key: Path

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert.read_bytes())

    @property
    def private_key(self) -> rsa.RSAPrivateKey:
        key = load_pem_private_key(self.key.read_bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key

    @property
    def ca(self) -> Path:
        return self.cert.parent / "ca.pem"


@dataclass(frozen=True)
class Parties:
    gateway: Party
    registry: Party
    archive: Party


@pytest.fixture(scope="module")
def parties(tmp_path_factory: pytest.TempPathFactory) -> Parties:
    root = tmp_path_factory.mktemp("reply-pki")
    return Parties(
        gateway=Party(*make_foreign_signer(root / "gateway", SUBMISSION)),
        registry=Party(*make_foreign_signer(root / "registry", f"kirjaamo@{ORG_DOMAIN}")),
        archive=Party(*make_foreign_signer(root / "archive", f"arkisto@{ORG_DOMAIN}")),
    )


def make_reply(**changes: object) -> OutgoingReply:
    reply = OutgoingReply(
        from_address=SUBMISSION,
        to_addresses=(f"kirjaamo@{ORG_DOMAIN}", f"arkisto@{ORG_DOMAIN}"),
        reply_to=SUBMISSION,
        message_id="<r-5f2c9a@asiointi.test>",
        in_reply_to=ORIGINAL_ID,
        references=(LONG_ID, ORIGINAL_ID),
        date=datetime(2026, 3, 2, 9, 30, tzinfo=ZoneInfo("Europe/Helsinki")),
        subject=REAL_SUBJECT,
        text=TEXT,
        attachments=ATTACHMENTS,
        citizen_name=NAME,
        hetu=HETU,
        original_subject=ORIGINAL_SUBJECT,
        original_received_at=datetime(2026, 2, 27, 6, 5, tzinfo=UTC),
        original_message_id=ORIGINAL_ID,
        lang="fi",
    )
    return replace(reply, **changes)  # type: ignore[arg-type]


def compose(parties: Parties, reply: OutgoingReply, *, aes_gcm: bool = False) -> bytes:
    return compose_reply(
        reply,
        signer_certificate=parties.gateway.certificate,
        signer_key=parties.gateway.private_key,
        recipient_certificates=[parties.registry.certificate, parties.archive.certificate],
        aes_gcm=aes_gcm,
    )


def require_gcm_cms(recipient: Path) -> None:
    """Skip when this openssl cannot do AES-GCM CMS; in CI that is a failure, not a skip."""
    if openssl_supports_gcm_cms(recipient):
        return
    if os.environ.get("CI") == "true":
        pytest.fail("openssl without AES-GCM CMS (AuthEnvelopedData) support in CI")
    pytest.skip("this openssl cannot do AES-GCM CMS (AuthEnvelopedData)")


def run_openssl(directory: Path, data: bytes, *args: str | Path) -> bytes:
    """`openssl cms ARGS` with `data` as input file; the bytes written to the output file."""
    source, out = directory / "in.eml", directory / "out.eml"
    source.write_bytes(data)
    openssl("cms", *args, "-in", source, "-out", out)
    return out.read_bytes()


def decrypt(directory: Path, message: bytes, party: Party) -> bytes:
    return run_openssl(
        directory, message, "-decrypt", "-binary", "-inkey", party.key, "-recip", party.cert
    )


def verify(directory: Path, signed: bytes, ca: Path) -> tuple[bytes, x509.Certificate]:
    """`openssl cms -verify` against `ca`: (the content it outputs, the signer certificate)."""
    signer = directory / "signer.pem"
    content = run_openssl(directory, signed, "-verify", "-CAfile", ca, "-signer", signer)
    return content, x509.load_pem_x509_certificate(signer.read_bytes())


def first_part(signed: bytes) -> bytes:
    """The signed part of a multipart/signed, cut exactly at its delimiter lines."""
    boundary = message_from_bytes(signed, policy=default_policy).get_boundary()
    delimiter = f"\r\n--{boundary}\r\n".encode()
    start = signed.index(delimiter) + len(delimiter)
    return signed[start : signed.index(delimiter, start)]


def outer_header_block(message: bytes) -> bytes:
    return message.partition(b"\r\n\r\n")[0] + b"\r\n"


def opened_inner(directory: Path, parties: Parties, message: bytes) -> bytes:
    """Decrypt for the registry, verify against the gateway's CA; the protected entity."""
    content, _ = verify(
        directory, decrypt(directory, message, parties.registry), parties.gateway.ca
    )
    return content


def parse(entity: bytes) -> EmailMessage:
    parsed = message_from_bytes(entity, policy=default_policy)
    assert isinstance(parsed, EmailMessage)
    return parsed


# --- the cryptographic layers, checked by openssl ----------------------------------------


@MODES
def test_each_recipient_decrypts_and_the_gateway_signature_verifies(
    aes_gcm: bool, parties: Parties, tmp_path: Path
) -> None:
    if aes_gcm:
        require_gcm_cms(parties.registry.cert)
    message = compose(parties, make_reply(), aes_gcm=aes_gcm)
    # 7-bit with CRLF line ends throughout: nothing a relay would rewrite under DKIM.
    assert message.isascii() and b"\n" not in message.replace(b"\r\n", b"")

    entities = []
    for party in (parties.registry, parties.archive):
        signed = decrypt(tmp_path, message, party)
        assert parse(signed).get_content_type() == "multipart/signed"
        content, signer = verify(tmp_path, signed, parties.gateway.ca)
        assert content == first_part(signed)
        assert certificate_emails(signer) == (SUBMISSION,)
        entities.append(content)
    assert entities[0] == entities[1]
    inner_from = parse(entities[0])["From"].addresses[0].addr_spec
    outer_from = parse(outer_header_block(message))["From"].addresses[0].addr_spec
    assert inner_from == outer_from == SUBMISSION


def test_signature_by_another_ca_does_not_verify(parties: Parties, tmp_path: Path) -> None:
    signed = decrypt(tmp_path, compose(parties, make_reply()), parties.registry)
    source = tmp_path / "signed.eml"
    source.write_bytes(signed)
    done = subprocess.run(
        ["openssl", "cms", "-verify", "-CAfile", str(parties.archive.ca), "-in", str(source)],
        capture_output=True,
        check=False,
    )
    assert done.returncode != 0


@MODES
def test_the_gateways_own_reader_opens_the_reply(aes_gcm: bool, parties: Parties) -> None:
    message = compose(parties, make_reply(), aes_gcm=aes_gcm)
    registry = load_decryption_key(
        parties.registry.cert.read_bytes(), parties.registry.key.read_bytes()
    )
    anchor = x509.load_pem_x509_certificate(parties.gateway.ca.read_bytes())

    opened = open_message(message, [registry], [anchor], now=datetime.now(UTC))
    assert opened.encrypted
    (signer,) = opened.signers
    assert signer.email_addresses == (SUBMISSION,)
    inner = parse(opened.content)
    assert inner["Subject"] == REAL_SUBJECT
    assert inner.get_param("hp") == "cipher"


# --- what is inside ------------------------------------------------------------------------


def test_protected_headers_carry_the_real_values_and_hp_outer(
    parties: Parties, tmp_path: Path
) -> None:
    reply = make_reply()
    message = compose(parties, reply)
    inner = parse(opened_inner(tmp_path, parties, message))
    outer = parse(outer_header_block(message))

    assert inner.get_content_type() == "multipart/mixed"
    assert inner.get_param("hp") == "cipher"
    (sender,) = inner["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (f"{NAME} (Asiointitili)", SUBMISSION)
    assert inner["Subject"] == REAL_SUBJECT
    assert [a.addr_spec for a in inner["To"].addresses] == list(reply.to_addresses)
    assert inner["Reply-To"].addresses[0].addr_spec == SUBMISSION
    assert inner["Date"].datetime == reply.date
    assert inner["Message-ID"] == reply.message_id
    assert inner["In-Reply-To"] == ORIGINAL_ID
    assert inner["References"].split() == [LONG_ID, ORIGINAL_ID]

    recorded = dict(str(value).split(": ", 1) for value in inner.get_all("HP-Outer", []))
    assert {"From", "To", "Subject", "Date", "Message-ID"} <= recorded.keys()
    for name, outer_value in recorded.items():
        assert outer_value == str(outer[name]), name


def test_legacy_display_details_block_and_attachments(parties: Parties, tmp_path: Path) -> None:
    message = compose(parties, make_reply())
    inner = parse(opened_inner(tmp_path, parties, message))
    legacy, body, *files = inner.iter_parts()

    assert legacy.get_content_type() == "text/plain"
    assert legacy.get_param("hp-legacy-display") == "1"
    assert legacy.get_content().splitlines() == [
        f"Subject: {REAL_SUBJECT}",
        f"From: {NAME} (Asiointitili) <{SUBMISSION}>",
        "",
    ]
    assert body.get_content_type() == "text/plain"
    assert body.get_content_charset() == "utf-8"
    assert body["Content-Transfer-Encoding"] == "quoted-printable"
    text = body.get_content().replace("\r\n", "\n")
    assert text.startswith(TEXT + "\n\n")
    details = text[len(TEXT) :].splitlines()
    assert f"Lähettäjä: {NAME}" in details
    assert f"Lähettäjän henkilötunnus: {HETU}" in details
    assert f"Vastaus viestiin: {ORIGINAL_SUBJECT}" in details
    assert "Alkuperäinen viesti vastaanotettu: 27.2.2026 klo 08.05" in details  # Helsinki time
    assert f"Alkuperäisen viestin tunniste (Message-ID): {ORIGINAL_ID}" in details
    assert not any(line.lower().startswith("henkilötunnus") for line in text.splitlines())

    decoded = [(f.get_filename(), f.get_content_type(), f.get_payload(decode=True)) for f in files]
    assert decoded == [(a.filename, a.content_type, a.data) for a in ATTACHMENTS]
    assert all(f.get_content_disposition() == "attachment" for f in files)


def test_the_inbound_extractor_reads_the_reply_without_recipient_instructions(
    parties: Parties, tmp_path: Path
) -> None:
    message = compose(parties, make_reply())
    extracted = extract(opened_inner(tmp_path, parties, message), outer_header_block(message))

    assert extracted.hetus == ()
    assert extracted.subject == REAL_SUBJECT
    assert extracted.text.startswith(TEXT)  # the legacy display block is not shown twice
    assert HETU in extracted.text
    assert [(a.filename, a.data) for a in extracted.attachments] == [
        (a.filename, a.data) for a in ATTACHMENTS
    ]


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_nothing_personal_in_the_clear(lang: str, parties: Parties, tmp_path: Path) -> None:
    reply = make_reply(lang=lang)
    message = compose(parties, reply)
    head = outer_header_block(message)
    outer = parse(head)
    decoded = "\n".join(f"{name}: {value}" for name, value in outer.items())

    for secret in (*SECRETS, "taulukko.csv"):
        assert secret not in decoded
        assert secret.encode() not in head
    assert HETU.encode() not in message  # its "-" never occurs in base64
    assert [name for name, _ in outer.items()] == [
        "From", "Subject", "To", "Reply-To", "Date", "Message-ID", "In-Reply-To",
        "References", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
        "Content-Disposition",
    ]  # fmt: skip
    (sender,) = outer["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Asiointitili", SUBMISSION)
    assert outer["Subject"] == SUBJECTS[lang]
    assert outer["References"].split() == [LONG_ID, ORIGINAL_ID]
    assert outer.get_filename() == "smime.p7m"

    _, body, *_ = parse(opened_inner(tmp_path, parties, message)).iter_parts()
    label = {
        "fi": "Lähettäjän henkilötunnus",
        "sv": "Avsändarens personbeteckning",
        "en": "Sender's personal identity code",
    }[lang]
    assert f"{label}: {HETU}" in body.get_content()


def test_portal_input_cannot_add_header_fields(parties: Parties, tmp_path: Path) -> None:
    reply = make_reply(
        citizen_name="Matti\r\nBcc: vakoilija@example.test", subject="Re: x\nBcc: v@example.test"
    )
    inner = parse(opened_inner(tmp_path, parties, compose(parties, reply)))

    assert inner["Bcc"] is None
    assert inner["From"].addresses[0].display_name == (
        "Matti Bcc: vakoilija@example.test (Asiointitili)"
    )
    assert inner["Subject"] == "Re: x Bcc: v@example.test"


def test_bad_message_id_and_naive_date_are_refused(parties: Parties) -> None:
    with pytest.raises(ValueError):
        compose(parties, make_reply(message_id="r-5f2c9a@asiointi.test"))
    with pytest.raises(ValueError):
        compose(parties, make_reply(date=datetime(2026, 3, 2, 9, 30)))


def test_odd_threading_ids_from_other_mail_are_left_out(parties: Parties) -> None:
    reply = make_reply(in_reply_to="<päätös@kunta>", references=("<a@b> <c@d>", ORIGINAL_ID))
    outer = parse(outer_header_block(compose(parties, reply)))

    assert outer["In-Reply-To"] is None
    assert outer["References"] == ORIGINAL_ID


def test_repr_shows_no_personal_data() -> None:
    shown = repr(make_reply())
    for secret in (*SECRETS, TEXT[:20]):
        assert secret not in shown
    assert "r-5f2c9a@asiointi.test" in shown
