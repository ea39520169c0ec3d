"""extract() turns real mail into subject, sender, bodies, attachments and HETUs, or ExtractError.

Inputs are the interop corpus (mail made by other people's software) and messages built here
with the standard library around corpus parts; nothing of extract() itself is replaced.
"""

from __future__ import annotations

import base64
import pickle
import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser
from pathlib import Path

import pytest
from gatewaytest.corpus import MIME

from mailbox_store.spans import decode_span
from smtp_in.extract import (
    MAX_DEPTH,
    MAX_PARTS,
    ExtractedMessage,
    ExtractError,
    ExtractFailure,
    extract,
)

CORPUS = MIME
MIME_FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file())
OUTER = b"From: Outer Sender <Clerk@Kunta.EXAMPLE>\r\nSubject: outer\r\nMessage-ID: <outer@x>\r\n"


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def message(text: str = "Hei\n", **headers: str) -> EmailMessage:
    msg = EmailMessage(policy=policy.SMTP)
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(text)
    return msg


@pytest.mark.parametrize("path", MIME_FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_every_corpus_file_gives_a_message_or_extract_error_quickly(path: Path) -> None:
    started = time.perf_counter()
    try:
        result = extract(path.read_bytes(), b"")
    except ExtractError as exc:
        assert isinstance(exc.failure, ExtractFailure)
    else:
        assert isinstance(result, ExtractedMessage)
        assert len(result.subject) <= 998
        pickle.loads(pickle.dumps(result))  # it crosses a process-pool boundary
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize("name", ["mimekit/partial-rfc2046.0.eml", "mimekit/partial-rfc2046.1.eml"])
def test_message_partial_is_refused(name: str) -> None:
    with pytest.raises(ExtractError) as info:
        extract(corpus(name), b"")
    assert info.value.failure is ExtractFailure.PARTIAL


def test_message_partial_inside_an_enclosed_message_is_refused() -> None:
    msg = message()
    parser = BytesParser(policy=policy.default)
    fragment = parser.parsebytes(corpus("mimekit/partial-rfc2046.0.eml"))
    msg.add_attachment(fragment)
    with pytest.raises(ExtractError) as info:
        extract(msg.as_bytes(), b"")
    assert info.value.failure is ExtractFailure.PARTIAL


def test_extract_error_survives_pickling_with_its_failure() -> None:
    error = pickle.loads(pickle.dumps(ExtractError(ExtractFailure.TOO_COMPLEX, "deep")))
    assert (error.failure, error.detail) == (ExtractFailure.TOO_COMPLEX, "deep")


def test_8bit_cyrillic_body_is_decoded() -> None:
    result = extract(corpus("flanker/8bitmime.eml"), b"")
    assert result.text.startswith("Превел")
    assert result.html is not None and "<b>Превел</b>" in result.html


def test_iso_2022_jp_subject_and_body_are_decoded() -> None:
    result = extract(corpus("mimekit/messages-japanese.txt"), b"")
    assert result.subject == "日本語メールテスト (testing Japanese emails)"
    assert "日本語が\n正常に\n送れているか" in result.text


def test_koi8r_text_wins_over_the_tnef_body_and_the_empty_tnef_leaves_no_attachment() -> None:
    # tnefparse finds no files in ukr.eml's winmail.dat, only Outlook's HTML copy of the body.
    result = extract(corpus("mimekit/tnef-ukr.eml"), b"")
    assert result.text.startswith("шостий\n")
    assert result.attachments == ()
    assert result.subject == "rr test 7"
    assert result.from_address == "rrtest1@xink.io"


def test_tnef_body_is_used_when_there_is_no_other_text() -> None:
    source = BytesParser(policy=policy.default).parsebytes(corpus("mimekit/tnef-ukr.eml"))
    winmail = next(p for p in source.walk() if p.get_content_type() == "application/ms-tnef")
    msg = EmailMessage(policy=policy.SMTP)
    msg["Subject"] = "only tnef"
    msg.set_content(winmail.get_payload(decode=True), maintype="application", subtype="ms-tnef")
    result = extract(msg.as_bytes(), b"")
    assert "шостий" in result.text
    assert result.html is not None and "шостий" in result.html
    assert "<style" not in result.html


@pytest.mark.parametrize(
    ("filename", "maintype", "subtype"),
    [("winmail.dat", "application", "ms-tnef"), ("WINMAIL.DAT", "application", "octet-stream")],
)
def test_tnef_attachment_is_unpacked_into_its_files(
    filename: str, maintype: str, subtype: str
) -> None:
    msg = message("Liitteenä kaksi tiedostoa.\n")
    msg.add_attachment(
        corpus("mimekit/tnef-two-files.tnef"), maintype=maintype, subtype=subtype, filename=filename
    )
    result = extract(msg.as_bytes(), b"")
    assert [a.filename for a in result.attachments] == ["AUTHORS", "README"]
    authors, readme = result.attachments
    assert authors.data.startswith(b"\n                              Authors of tnef\n")
    assert len(authors.data) == 244 and len(readme.data) == 893
    assert authors.content_type == "application/octet-stream"
    assert result.text == "Liitteenä kaksi tiedostoa.\n"


def test_undecodable_winmail_dat_is_kept_as_received() -> None:
    broken = corpus("mimekit/tnef-two-files.tnef")[:4] + b"\xff" * 9 + b"garbage" * 3
    msg = message()
    msg.add_attachment(broken, maintype="application", subtype="ms-tnef", filename="winmail.dat")
    (attachment,) = extract(msg.as_bytes(), b"").attachments
    assert (attachment.filename, attachment.content_type) == ("winmail.dat", "application/ms-tnef")
    assert attachment.data == broken


def test_rfc2047_subject_and_binary_attachment_survive_byte_identical() -> None:
    pdf = b"%PDF-1.7\r\n%\xe2\xe3\xcf\xd3\r\n" + bytes(range(256)) * 40 + b"\n\x00\r\r\n%%EOF\x00"
    msg = message(Subject="Päätös: rakennuslupa myönnetty – §12")
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename="päätös 12.pdf")
    raw = msg.as_bytes()
    assert b"=?utf-8?" in raw  # the subject really went through RFC 2047
    result = extract(raw, b"")
    assert result.subject == "Päätös: rakennuslupa myönnetty – §12"
    (attachment,) = result.attachments
    assert (attachment.filename, attachment.content_type) == ("päätös 12.pdf", "application/pdf")
    assert attachment.data == pdf
    # The base64 body's span in the entity decodes to the same bytes (what the store keeps).
    assert attachment.span is not None and decode_span(raw, *attachment.span) == pdf


def test_hetu_lines_at_the_top_are_collected_and_removed_from_text_and_html() -> None:
    text = (
        "\n"
        "Henkilötunnus: 131052-308t\n"
        "PERSONBETECKNING :  010594Y9032\n"
        "henkilotunnus:131052-308T\n"
        "\n"
        "Hyvä vastaanottaja,\n"
        "Henkilötunnus: 280264-051U\n"
    )
    html = (
        "<html><body><p>Henkil&ouml;tunnus: 131052-308T</p>"
        "<div>Personbeteckning:&nbsp;010594Y9032<br>Hyvä vastaanottaja,</div>"
        "<p>Hakemuksenne <b>Henkilötunnus</b> on kirjattu.</p>"
        "<p>Henkilötunnus: <b>280264-051U</b></p></body></html>"
    )
    msg = message(text)
    msg.add_alternative(html, subtype="html")
    result = extract(msg.as_bytes(), b"")
    assert result.hetus == ("131052-308T", "010594Y9032", "131052-308T")
    # Lines further down are content, not recipients.
    assert result.text == "Hyvä vastaanottaja,\nHenkilötunnus: 280264-051U\n"
    assert result.html is not None
    for code in ("131052-308T", "010594Y9032", "280264-051U"):
        assert code not in result.html
    assert "Hyvä vastaanottaja," in result.html
    assert "<b>Henkilötunnus</b> on kirjattu." in result.html
    assert_balanced(result.html)


def test_text_without_hetu_lines_is_left_alone() -> None:
    body = "Hei,\n\nHenkilötunnus: 131052-308T mainittiin puhelussa.\n"
    result = extract(message(body).as_bytes(), b"")
    assert (result.hetus, result.text) == ((), body)


def test_html_only_mail_gets_a_derived_text_and_a_sanitised_html() -> None:
    msg = EmailMessage(policy=policy.SMTP)
    msg.set_content(
        "<p>Henkilötunnus: 131052-308T</p><p>Päätös <b>liitteenä</b>.</p>"
        "<script>alert(1)</script><ul><li>yksi</li><li>kaksi</li></ul>",
        subtype="html",
    )
    result = extract(msg.as_bytes(), b"")
    assert result.hetus == ("131052-308T",)
    assert result.text == "Päätös liitteenä.\n\n- yksi\n- kaksi\n"
    assert result.html is not None
    assert "script" not in result.html and "alert" not in result.html
    assert "<b>liitteenä</b>" in result.html


def test_protected_inner_subject_and_from_win_over_the_outer_headers() -> None:
    inner = message(
        "Hei\n", Subject="Päätös 2024/17", From="Virkailija <Clerk@Kunta.EXAMPLE>"
    )
    inner.set_param("protected-headers", "v1")
    result = extract(inner.as_bytes(), b"Subject: ...\r\nFrom: other@example.com\r\n")
    assert result.subject == "Päätös 2024/17"
    assert result.from_address == "Clerk@kunta.example"


def test_outer_headers_are_used_when_the_inner_entity_has_none() -> None:
    inner = b"Content-Type: text/plain; charset=utf-8\r\n\r\nHei\r\n"
    result = extract(inner, OUTER)
    assert result.subject == "outer"
    assert result.from_address == "Clerk@kunta.example"
    assert result.message_id == "outer@x"


def test_rfc9788_legacy_display_is_not_shown() -> None:
    msg = EmailMessage(policy=policy.SMTP)
    msg["Subject"] = "Suojattu"
    msg.make_mixed()
    legacy = EmailMessage(policy=policy.SMTP)
    legacy.set_content("Subject: Suojattu\r\n", subtype="rfc822-headers")
    body = EmailMessage(policy=policy.SMTP)
    body.set_content("Subject: Suojattu\n\nVarsinainen viesti\n")
    body.set_param("hp-legacy-display", "1")
    msg.attach(legacy)
    msg.attach(body)
    result = extract(msg.as_bytes(), b"")
    assert result.attachments == ()
    assert result.text == "Varsinainen viesti\n"


@pytest.mark.parametrize(
    ("name", "filename"),
    [
        ("flanker/enclosed-bad-encoding.eml", "thanks.eml"),  # CRLF line endings
        ("flanker/torture-part.eml", "liite-1.eml"),
        ("flanker/bounce-office365.eml", "liite-1.eml"),
    ],
)
def test_enclosed_message_is_attached_as_eml_byte_for_byte(name: str, filename: str) -> None:
    raw = corpus(name)
    (attachment,) = extract(raw, b"").attachments
    assert (attachment.filename, attachment.content_type) == (filename, "message/rfc822")
    assert len(attachment.data) > 1000 and attachment.data in raw


def test_unsafe_attachment_names_are_made_safe() -> None:
    msg = message()
    unsafe = ("../../etc/passwd", "lasku\u202efdp.exe", "a" * 300 + ".pdf", "..", "c:\\x\\y.doc")
    for name in unsafe:
        msg.add_attachment(b"x", maintype="application", subtype="octet-stream", filename=name)
    names = [a.filename for a in extract(msg.as_bytes(), b"").attachments]
    assert names[:2] == ["passwd", "laskufdp.exe"]
    assert len(names[2]) == 200 and names[2].endswith(".pdf")
    assert names[3:] == ["liite-4", "y.doc"]


def test_unknown_and_non_text_charsets_fall_back_without_crashing() -> None:
    for charset, raw, expected in (
        ("x-unknown", "Hyvää päivää".encode(), "Hyvää päivää"),
        ("zlib", "Hyvää".encode("latin-1"), "Hyvää"),
    ):
        entity = f"Content-Type: text/plain; charset={charset}\r\n\r\n".encode() + raw
        assert extract(entity, b"").text == expected


def test_deep_nesting_is_too_complex() -> None:
    entity = b"Content-Type: text/plain\r\n\r\nHei\r\n"
    for level in range(MAX_DEPTH + 2):
        entity = (
            f'Content-Type: multipart/mixed; boundary="b{level}"\r\n\r\n--b{level}\r\n'.encode()
            + entity
            + f"\r\n--b{level}--\r\n".encode()
        )
    with pytest.raises(ExtractError) as info:
        extract(entity, b"")
    assert info.value.failure is ExtractFailure.TOO_COMPLEX


def test_too_many_parts_is_too_complex() -> None:
    part = b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n"
    head = b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
    entity = head + part * MAX_PARTS + b"--b--\r\n"
    with pytest.raises(ExtractError) as info:
        extract(entity, b"")
    assert info.value.failure is ExtractFailure.TOO_COMPLEX


def test_huge_subject_is_decoded_and_truncated() -> None:
    result = extract(corpus("flanker/long-header.eml"), b"")
    assert result.subject.startswith("Die heiße Zypernsonne quälte Max und Victoria ja böse")
    assert len(result.subject) == 998


def test_error_text_never_quotes_content() -> None:
    hetu = "131052-308T"
    entity = (
        "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n"
        "Content-Type: message/partial; id=x\r\n\r\n"
        f"Henkilötunnus: {hetu}\r\n--b--\r\n"
    ).encode()
    with pytest.raises(ExtractError) as info:
        extract(entity, b"")
    assert hetu not in str(info.value)
    assert base64.b64encode(hetu.encode()).decode() not in str(info.value)


class _Balance(HTMLParser):
    VOID = frozenset({"br", "img", "hr", "wbr", "col", "area"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack.pop() == tag


def assert_balanced(html: str) -> None:
    checker = _Balance()
    checker.feed(html)
    checker.close()
    assert checker.stack == []
