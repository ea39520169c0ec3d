"""extract()'s byte-level fast path gives exactly the email package's result, or declines.

Both paths run on every corpus file, on messages built with the standard library, on a
seeded random set of generated messages (built with `email` and written by hand, with the
formatting freedom RFC 2045/2046 allows) and on byte-level mutations of those.  Wherever the
fast path does not decline, its ExtractedMessage must equal the slow path's; where the slow
path refuses the input, the fast path must decline.
"""

from __future__ import annotations

import base64
import dataclasses
import random
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import Policy
from pathlib import Path

import pytest
from gatewaytest.corpus import MIME

from mailbox_store.spans import decode_span
from smtp_in._mime_fast import _base64, _mime_value
from smtp_in.extract import (
    ExtractedMessage,
    ExtractError,
    _extract_fast,
    _extract_slow,
    extract,
)

FILES = sorted(p for p in MIME.rglob("*") if p.is_file())
OUTER = b"From: Outer Sender <Clerk@Kunta.EXAMPLE>\r\nSubject: outer\r\nMessage-ID: <outer@x>\r\n"
OUTERS = (b"", OUTER, OUTER + b"\r\n", OUTER.replace(b"\r\n", b"\n") + b"\n")
PDF = b"%PDF-1.7\r\n%\xe2\xe3\xcf\xd3\r\n" + bytes(range(256)) * 40 + b"\n\x00\r\r\n%%EOF\x00"
HETUS = "Henkilötunnus: 131052-308T\nPERSONBETECKNING :  010594Y9032\n\n"


def slow(content: bytes, outer: bytes) -> ExtractedMessage | None:
    """The email package's reading; None where it refuses the message."""
    try:
        return _extract_slow(content, outer)
    except ExtractError:
        return None
    except Exception:  # noqa: BLE001 - extract() turns these into ExtractError too
        return None


def same_or_declined(content: bytes, outer: bytes = b"") -> bool:
    """Assert the fast path agrees with the slow one; return whether it took the message."""
    fast = _extract_fast(content, outer)  # no catching: a fast-path bug must fail here
    if fast is None:
        return False
    assert without_spans(fast, content) == slow(content, outer)
    return True


def without_spans(result: ExtractedMessage, content: bytes) -> ExtractedMessage:
    """The result less the fast path's spans, after checking each span gives back its file
    (the store keeps spans instead of the files: they must decode to exactly the same bytes)."""
    for attachment in result.attachments:
        if attachment.span is not None:
            assert decode_span(content, *attachment.span) == attachment.data
    return dataclasses.replace(
        result,
        attachments=tuple(dataclasses.replace(a, span=None) for a in result.attachments),
    )


# --- the corpus ------------------------------------------------------------------------


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(MIME)) for p in FILES])
def test_corpus_file_gives_the_same_result_on_both_paths(path: Path) -> None:
    raw = path.read_bytes()
    for outer in OUTERS:
        same_or_declined(raw, outer)
        same_or_declined(raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"), outer)


def test_the_fast_path_takes_the_well_formed_corpus_files() -> None:
    taken = {str(p.relative_to(MIME)) for p in FILES if same_or_declined(p.read_bytes())}
    expected = {"flanker/8bitmime.eml", "mimekit/messages-japanese.txt", "mimekit/tnef-ukr.eml"}
    assert expected <= taken
    assert not any("partial" in name for name in taken)


# --- messages built with the standard library -----------------------------------------


def text_only(pol: Policy) -> EmailMessage:
    msg = EmailMessage(policy=pol)
    msg["Subject"] = "Päätös"
    msg["From"] = "Virkailija <Clerk@Kunta.EXAMPLE>"
    msg.set_content("Hei,\n\npäätös on liitteenä.\n")
    return msg


def alternative(pol: Policy) -> EmailMessage:
    msg = text_only(pol)
    msg.add_alternative("<p>Hei,</p><p>päätös on <b>liitteenä</b>.</p>", subtype="html")
    return msg


def with_pdf(pol: Policy) -> EmailMessage:
    msg = text_only(pol)
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="paatos.pdf")
    return msg


def nested(pol: Policy) -> EmailMessage:
    msg = alternative(pol)
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="paatos.pdf")
    msg.add_attachment("liite\n", filename="muistio.txt")
    return msg


def non_ascii_names(pol: Policy) -> EmailMessage:
    msg = text_only(pol)
    del msg["Subject"]
    msg["Subject"] = "Päätös: rakennuslupa myönnetty – §12 / Beslut: bygglov beviljat"
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="päätös 12.pdf")
    msg.add_attachment(b"x", maintype="application", subtype="octet-stream",
                       filename="ääkköset_" + "ö" * 80 + ".bin")
    return msg


def hetu_lines(pol: Policy) -> EmailMessage:
    msg = EmailMessage(policy=pol)
    msg.set_content(HETUS + "Hyvä vastaanottaja,\nHenkilötunnus: 280264-051U\n")
    msg.add_alternative(
        "<p>Henkil&ouml;tunnus: 131052-308T</p><p>Hyvä vastaanottaja,</p>", subtype="html"
    )
    return msg


def quoted_printable(pol: Policy) -> EmailMessage:
    msg = EmailMessage(policy=pol)
    msg.set_content(HETUS + "Pitkä rivi " * 30 + "\nloppu = 1\n", cte="quoted-printable")
    return msg


def latin1_8bit(pol: Policy) -> EmailMessage:
    msg = EmailMessage(policy=pol)
    msg["Subject"] = "Hyvää päivää"
    msg.set_content("Hyvää päivää, Åsa!\n".encode("latin-1"), maintype="text",
                    subtype="plain", cte="8bit", params={"charset": "iso-8859-1"})
    return msg


BUILDERS: list[Callable[[Policy], EmailMessage]] = [
    text_only, alternative, with_pdf, nested, non_ascii_names, hetu_lines, quoted_printable,
    latin1_8bit,
]


@pytest.mark.parametrize("build", BUILDERS, ids=[b.__name__ for b in BUILDERS])
@pytest.mark.parametrize("pol", [policy.SMTP, policy.default], ids=["crlf", "lf"])
def test_built_message_takes_the_fast_path_with_the_same_result(
    build: Callable[[Policy], EmailMessage], pol: Policy
) -> None:
    raw = build(pol).as_bytes()
    for outer in OUTERS:
        assert same_or_declined(raw, outer), "a well-formed message fell back"
        assert without_spans(extract(raw, outer), raw) == _extract_slow(raw, outer)


def test_non_ascii_names_really_use_rfc2047_and_rfc2231() -> None:
    raw = non_ascii_names(policy.SMTP).as_bytes()
    assert b"Subject: =?utf-8?" in raw and b"filename*=utf-8''" in raw
    result = _extract_fast(raw, b"")
    assert result is not None
    assert result.subject.startswith("Päätös: rakennuslupa")
    assert [a.filename for a in result.attachments][0] == "päätös 12.pdf"


@pytest.mark.parametrize("charset", ["utf-8\x00", "idna", "punycode"])
def test_a_charset_that_fails_the_slow_path_makes_the_fast_path_decline(charset: str) -> None:
    # get_payload() decodes 8-bit bodies in their charset and lets such errors out.
    for head in (b"", b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'):
        entity = (head + f"Content-Type: text/plain; charset={charset}\r\n\r\n".encode()
                  + "Hyvää päivää\r\n".encode() + (b"--b--\r\n" if head else b""))
        assert _extract_fast(entity, b"") is None
        with pytest.raises(ExtractError):
            extract(entity, b"")


def test_a_header_the_default_policy_cannot_parse_makes_the_fast_path_decline() -> None:
    entity = b"Content-Type: text/plain; name*=\x00utf-8''%e4\r\n\r\nHei\r\n"
    assert _extract_fast(entity, b"") is None
    with pytest.raises(ExtractError):
        extract(entity, b"")


# --- seeded random messages -------------------------------------------------------------

WORDS = ["Hei", "päätös", "Åsa", "§12", "--", "-- ", "From nobody", "=", "=?utf-8?q?x?=",
         "<b>", "&amp;", "\t", " ", ".", "Henkilötunnus: 131052-308T", "x" * 90, "€", "ü"]
CHARSETS = ["utf-8", "iso-8859-1", "us-ascii", "koi8-r", "x-unknown"]


def random_text(rng: random.Random) -> str:
    lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 8)))
             for _ in range(rng.randint(0, 12))]
    prefix = HETUS if rng.random() < 0.3 else ""
    return prefix + "\n".join(lines) + ("\n" if rng.random() < 0.8 else "")


def random_built(rng: random.Random) -> bytes:
    """A message made with EmailMessage: bodies, alternatives, attachments, encodings."""
    msg = EmailMessage(policy=rng.choice([policy.SMTP, policy.default]))
    if rng.random() < 0.8:
        msg["Subject"] = rng.choice(["Päätös", "Beslut", "x" * 120, "a\tb", "Re: =?x?="])
    if rng.random() < 0.5:
        msg["From"] = rng.choice(["a@B.example", "Virkailija <clerk@Kunta.example>"])
    text = random_text(rng)
    charset = rng.choice(CHARSETS[:3])
    cte = rng.choice(["8bit", "quoted-printable", "base64", None])
    try:
        msg.set_content(text, charset=charset, cte=cte)
    except (ValueError, UnicodeError):
        msg.set_content(text)
    if rng.random() < 0.4:
        msg.add_alternative("<div>" + random_text(rng) + "</div>", subtype="html")
    for _ in range(rng.choice([0, 0, 1, 2, 3])):
        data = rng.randbytes(rng.randint(0, 3000))
        name = rng.choice(["liite.pdf", "päätös.pdf", 'a"b;c.txt', "winmail.dat", None])
        msg.add_attachment(data, maintype="application", subtype=rng.choice(["pdf", "zip"]),
                           filename=name, cte=rng.choice(["base64", "quoted-printable"]))
    return msg.as_bytes()


def random_entity(rng: random.Random, eol: bytes, depth: int) -> bytes:
    """A hand-written entity using the formatting freedom the RFCs allow."""
    headers: list[bytes] = []
    if depth < 3 and rng.random() < 0.35:
        boundary = rng.choice([b"b1", b"=_Part_0.1", b"a b", b"x" * 60, b"--dash--"])
        quoted = b'"' + boundary + b'"' if b" " in boundary or rng.random() < 0.5 else boundary
        subtype = rng.choice([b"mixed", b"alternative", b"related", b"signed"])
        headers.append(b"Content-Type: multipart/" + subtype + b";" +
                       rng.choice([b" ", eol + b"\t", b""]) + b"boundary=" + quoted)
        parts = [random_entity(rng, eol, depth + 1) for _ in range(rng.randint(1, 3))]
        padding = rng.choice([b"", b" ", b"\t "])
        body = rng.choice([b"", b"This is a MIME message." + eol, b"--b1x" + eol])
        for part in parts:
            body += b"--" + boundary + padding + eol + part + eol
        body += b"--" + boundary + b"--" + padding + rng.choice([b"", eol, eol + b"epilogue" + eol])
    else:
        ctype = rng.choice([b"text/plain", b"TEXT/HTML", b"application/pdf", b"text/plain"])
        charset = rng.choice(CHARSETS).encode()
        params = rng.choice([b"", b"; charset=" + charset, b'; charset="' + charset + b'"',
                             b" ;charset=" + charset + b";", b"; format=flowed; delsp=yes"])
        headers.append(rng.choice([b"Content-Type: ", b"content-type:", b"CONTENT-TYPE:\t"])
                       + ctype + params)
        if rng.random() < 0.4:
            headers.append(b"Content-Disposition: " + rng.choice([
                b"attachment", b"inline", b'attachment; filename="liite.pdf"',
                b"attachment; filename=liite.txt", b"attachment; filename*=utf-8''%C3%A4.txt",
                b'inline; filename="=?utf-8?q?=C3=A4?=.txt"', b"attachment;" + eol + b" name=x",
            ]))
        text = random_text(rng)
        encoded = text.encode("utf-8")
        cte = rng.choice([b"", b"8bit", b"base64", b"Base64", b"quoted-printable", b"7bit"])
        if cte.lower() == b"base64":
            encoded = base64.encodebytes(encoded)
        elif cte == b"quoted-printable":
            encoded = encoded.replace(b"=", b"=3D")
        if cte:
            headers.append(b"Content-Transfer-Encoding: " + cte)
        body = encoded.replace(b"\n", eol)
    if rng.random() < 0.3:
        headers.append(b"X-Folded: one" + eol + b" two")
    rng.shuffle(headers)
    return eol.join(headers) + eol + eol + body


TOKENS = [b"\r", b"\n", b"\r\n", b"--", b"--b1", b"\r\n--b1\r\n", b"\n--b1--\n", b"=", b" ",
          b"Content-Type: message/rfc822\r\n", b"Content-Transfer-Encoding: base64\r\n",
          b"boundary=b1", b";", b'"', b"\xff", b"=?utf-8?b?w6Q=?=", b"*", b"'"]


def mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        pos = rng.randrange(len(buf) + 1)
        choice = rng.random()
        if choice < 0.3 and buf:
            buf[min(pos, len(buf) - 1)] = rng.randrange(256)
        elif choice < 0.7:
            buf[pos:pos] = rng.choice(TOKENS)
        else:
            del buf[pos : pos + rng.randint(1, 16)]
    return bytes(buf)


def test_random_messages_give_the_same_result_on_both_paths() -> None:
    rng = random.Random(20250101)
    taken = 0
    samples = 0
    for _ in range(500):
        raw = random_built(rng) if rng.random() < 0.5 else random_entity(
            rng, rng.choice([b"\r\n", b"\n"]), 0)
        outer = rng.choice(OUTERS)
        taken += same_or_declined(raw, outer)
        samples += 1
        for _ in range(2):
            same_or_declined(mutate(rng, raw), outer)
    assert taken > samples * 0.6  # most well-formed mail really takes the fast path
    corpus = [p.read_bytes() for p in FILES if p.stat().st_size < 20_000]
    for _ in range(150):
        same_or_declined(mutate(rng, rng.choice(corpus)), rng.choice(OUTERS))


# --- the pieces that stand in for the email package -------------------------------------

LEADS = ["text/plain", " text/plain ", "TEXT/Plain", "multipart/mixed", "application/x-a.b+c",
         "attachment", "Inline", "text", "text/", "/plain", "text/pl ain", "tëxt/plain",
         "text/x-a'b*c%d", "\ttext/plain"]
NAMES = ["charset", "Charset", "name", "filename", "boundary", "format", "filename*",
         "filename*0", "x'y", "a%b", ""]
VALUES = ["utf-8", '"utf-8"', '""', '"a b"', '"a;b"', '"=?utf-8?q?x?="', '"a\\"b"', "'x'",
          "O'Brien", "%41", "a*b", "utf-8''%C3%A4", '"ä"', "x=y", '"x"y', "", '"(c)"']
SEPARATORS = [";", "; ", " ;", ";\r\n\t", ";\r\n ", "", " ; "]


def test_content_header_values_equal_what_policy_default_shows() -> None:
    rng = random.Random(5)
    for _ in range(3000):
        value = rng.choice(LEADS)
        for _ in range(rng.randint(0, 3)):
            value += rng.choice(SEPARATORS) + rng.choice(NAMES) + rng.choice(["=", " = ", "="])
            value += rng.choice(VALUES) + rng.choice(["", " ", "\t"])
        value += rng.choice(["", ";", "; ", " "])
        raw = value.encode().decode("ascii", "surrogateescape")
        for name in ("content-type", "content-disposition"):
            assert _mime_value(name, raw) == str(policy.default.header_fetch_parse(name, raw))
    for cte in ("base64", "Base64", "8bit", " base64", "base64 ", "quoted-printable", "x-uue"):
        expected = str(policy.default.header_fetch_parse("content-transfer-encoding", cte))
        assert _mime_value("content-transfer-encoding", cte) == expected


def test_base64_decoding_equals_get_payload() -> None:
    rng = random.Random(11)
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    extras = [b"=", b"==", b"\r\n", b"\n", b"\r", b" ", b"!", b"-", b"===", b"\t"]
    parser = BytesParser(policy=policy.default)
    for _ in range(3000):
        if rng.random() < 0.5:
            encoded = base64.encodebytes(rng.randbytes(rng.randint(0, 200)))
        else:
            encoded = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        for _ in range(rng.randint(0, 3)):
            pos = rng.randrange(len(encoded) + 1)
            encoded = encoded[:pos] + rng.choice(extras) + encoded[pos:]
        entity = parser.parsebytes(b"Content-Transfer-Encoding: base64\n\n" + encoded)
        decoded, strict = _base64(encoded, 0, len(encoded))
        assert decoded == entity.get_payload(decode=True)
        if strict:
            assert not encoded.translate(None, alphabet + b"=\r\n")
