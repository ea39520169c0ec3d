"""The citizen's notification is in their language, links to the portal, and reveals nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

import pytest

from smtp_out.notification import SUBJECTS, notification_bytes, render_notification
from smtp_out.transport import message_bytes

LOGIN_URL = "https://asiointitili.example.fi/kirjaudu?from=mail&x=1"
TO = "matti.meikalainen@example.org"
FROM = "Asiointitili <noreply@asiointitili.example.fi>"
NOW = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


def render(lang: str, login_url: str = LOGIN_URL) -> EmailMessage:
    return render_notification(
        lang=lang,
        to_address=TO,
        from_address=FROM,
        login_url=login_url,
        message_id_domain="asiointitili.example.fi",
        now=NOW,
    )


def reparse(message: EmailMessage) -> EmailMessage:
    parsed = message_from_bytes(message_bytes(message), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def bodies(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_each_language_has_text_and_html_with_the_link(lang: str) -> None:
    message = reparse(render(lang))
    assert message.get_content_type() == "multipart/alternative"
    assert message["Subject"] == SUBJECTS[lang]
    assert message["Content-Language"] == lang
    text, html = bodies(message)
    assert LOGIN_URL in text
    assert f'href="{LOGIN_URL.replace("&", "&amp;")}"' in html
    assert f'<html lang="{lang}">' in html


def test_languages_differ_and_unknown_falls_back_to_finnish() -> None:
    texts = {lang: bodies(render(lang))[0] for lang in ("fi", "sv", "en")}
    assert len(set(texts.values())) == 3
    assert bodies(render("de"))[0] == texts["fi"]
    assert render("de")["Subject"] == SUBJECTS["fi"]


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_only_the_envelope_headers_carry_addresses(lang: str) -> None:
    message = reparse(render(lang))
    assert set(message.keys()) == {
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "Auto-Submitted",
        "X-Auto-Response-Suppress",
        "MIME-Version",
        "Content-Type",
        "Content-Language",
    }
    assert message["To"] == TO
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["MIME-Version"] == "1.0"
    assert parsedate_to_datetime(message["Date"]) == NOW
    text, html = bodies(message)
    for body in (text, html):
        assert TO not in body
        assert "matti" not in body.lower()
        assert "noreply@" not in body


def test_message_ids_are_random_and_in_our_domain() -> None:
    ids = {render("fi")["Message-ID"] for _ in range(5)}
    assert len(ids) == 5
    for message_id in ids:
        assert re.fullmatch(r"<[A-Za-z0-9_-]{32}@asiointitili\.example\.fi>", message_id)


def test_wire_form_is_seven_bit_with_crlf() -> None:
    data = message_bytes(render("sv"))
    assert data.isascii()
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")


def test_html_escapes_the_link() -> None:
    hostile = 'https://example.fi/?q="><script>alert(1)</script>'
    _, html = bodies(render("en", hostile))
    assert "<script>" not in html
    assert "&#34;&gt;&lt;script&gt;" in html


def test_non_web_login_url_is_refused() -> None:
    with pytest.raises(ValueError, match="http"):
        render("fi", "javascript:alert(1)")


@pytest.mark.parametrize(
    "address", ["maija.meikalainen@example.fi", "märta@exämple.fi", "Maija <m@example.fi>"]
)
@pytest.mark.parametrize("lang", ["fi", "sv", "en", "xx"])
def test_cached_wire_bytes_read_the_same_as_the_composed_message(lang: str, address: str) -> None:
    """notification_bytes reuses the rendered text; what a client reads must not change."""
    now = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
    common = {"lang": lang, "to_address": address, "from_address": "Asiointitili <noreply@a.test>",
              "login_url": "https://asiointi.test/login", "message_id_domain": "a.test", "now": now}
    fast = message_from_bytes(notification_bytes(**common), policy=policy.default)
    slow = message_from_bytes(message_bytes(render_notification(**common)), policy=policy.default)
    for name in ("From", "To", "Subject", "Date", "Auto-Submitted", "Content-Language"):
        assert str(fast[name]) == str(slow[name]), name
    assert fast["Message-ID"] != slow["Message-ID"]  # fresh for every mail
    assert [p.get_content() for p in fast.walk() if not p.is_multipart()] == [
        p.get_content() for p in slow.walk() if not p.is_multipart()
    ]
    assert notification_bytes(**common).isascii()


def test_cached_wire_bytes_cannot_be_given_extra_header_fields() -> None:
    # Not a plain address: the long way, where the email package refuses the line break.
    with pytest.raises(ValueError):
        notification_bytes(
            lang="fi", to_address="m@example.fi\r\nBcc: x@evil.test", from_address="n@a.test",
            login_url="https://a.test/", message_id_domain="a.test",
        )
