"""The portal's pure helpers hold: download headers cannot be broken by hostile names or types,
every language has every text, and signed cookies and CSRF tokens refuse anything forged."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from string import Formatter
from urllib.parse import unquote

import pytest
from babel.messages.pofile import read_po

from gateway.web.downloads import content_disposition, safe_content_type
from gateway.web.i18n import CATALOGUE, DEFAULT_LANG, LANGUAGES, format_datetime, translator
from gateway.web.tokens import PortalTokens

LOCALE_DIR = Path(__file__).parents[2] / "gateway" / "web" / "locale"

SECRET = b"s" * 32


def _filename_star(header: str) -> str:
    return unquote(header.split("filename*=UTF-8''", 1)[1], encoding="utf-8")


def test_content_disposition_keeps_unicode_name_and_gives_ascii_fallback() -> None:
    header = content_disposition("Päätös 2024 (liite).pdf")
    assert header.startswith('attachment; filename="Paatos 2024 (liite).pdf"; ')
    assert _filename_star(header) == "Päätös 2024 (liite).pdf"
    assert header.isascii()


@pytest.mark.parametrize(
    "hostile",
    ['a"; filename="evil.exe', "x\r\nSet-Cookie: a=b", "../../etc/passwd", "C:\\temp\\x.txt"],
)
def test_content_disposition_cannot_be_broken_out_of(hostile: str) -> None:
    header = content_disposition(hostile)
    assert "\r" not in header and "\n" not in header
    fallback = header.split('filename="', 1)[1].split('"', 1)[0]
    assert '"' not in fallback and "/" not in fallback and "\\" not in fallback
    assert "/" not in _filename_star(header) and "\\" not in _filename_star(header)


def test_content_disposition_of_an_empty_or_unprintable_name_uses_a_fallback() -> None:
    assert 'filename="attachment"' in content_disposition("\x00\x07")
    assert 'filename="attachment"' in content_disposition("日本語")
    assert _filename_star(content_disposition("日本語")) == "日本語"


@pytest.mark.parametrize(
    ("declared", "served"),
    [
        ("application/pdf", "application/pdf"),
        ("text/plain; charset=iso-8859-1", "text/plain; charset=iso-8859-1"),
        ('text/plain; charset="utf-8"', 'text/plain; charset="utf-8"'),
        ("text/html\r\nX-Evil: 1", "application/octet-stream"),
        ("not a type", "application/octet-stream"),
        ("", "application/octet-stream"),
    ],
)
def test_safe_content_type(declared: str, served: str) -> None:
    assert safe_content_type(declared) == served


def _po_texts() -> dict[str, dict[str, str]]:
    """Every language's portal.po as written, fuzzy and empty entries included."""
    texts: dict[str, dict[str, str]] = {}
    for path in sorted(LOCALE_DIR.glob("*/LC_MESSAGES/portal.po")):
        lang = path.parent.parent.name
        with path.open("rb") as po:
            catalog = read_po(po, locale=lang, domain="portal")
        texts[lang] = {}
        for message in catalog:
            if not message.id:
                continue
            assert not message.fuzzy, (lang, message.id)
            assert isinstance(message.id, str) and isinstance(message.string, str)
            texts[lang][message.id] = message.string
    return texts


def test_every_language_has_every_text() -> None:
    po_texts = _po_texts()
    assert DEFAULT_LANG == "fi"
    assert set(po_texts) == set(LANGUAGES) == {"fi", "sv", "en"}
    keys = set(po_texts[DEFAULT_LANG])
    for lang, texts in po_texts.items():
        assert set(texts) == keys, lang
        assert all(texts.values()), [key for key, text in texts.items() if not text]
        assert CATALOGUE[lang] == texts, lang


def test_every_language_has_the_same_placeholders() -> None:
    po_texts = _po_texts()

    def placeholders(text: str) -> set[str]:
        return {field for _, field, _, _ in Formatter().parse(text) if field is not None}

    for key, text in po_texts[DEFAULT_LANG].items():
        for lang, texts in po_texts.items():
            assert placeholders(texts[key]) == placeholders(text), (lang, key)


def test_unknown_language_falls_back_to_finnish() -> None:
    assert translator("de")("unread") == "lukematon"
    assert translator("sv")("unread") == "oläst"


def test_dates_are_shown_in_finnish_local_time() -> None:
    summer = datetime(2024, 6, 30, 21, 5, tzinfo=UTC)
    assert format_datetime("fi", summer) == "1.7.2024 klo 00.05"
    assert format_datetime("en", summer.replace(tzinfo=None)) == "1.7.2024 00:05"


def test_session_cookie_round_trips_and_refuses_tampering() -> None:
    tokens = PortalTokens(SECRET)
    sealed = tokens.seal_session("token-123", "http://ftn.ficora.fi/2017/loa3")
    assert tokens.open_session(sealed) == ("token-123", "http://ftn.ficora.fi/2017/loa3")
    assert tokens.open_session(sealed[:-1] + ("A" if sealed[-1] != "A" else "B")) is None
    assert tokens.open_session("token-123") is None
    assert tokens.open_session(None) is None
    assert PortalTokens(b"t" * 32).open_session(sealed) is None


def test_csrf_tokens_are_bound_to_their_nonce_session_and_purpose() -> None:
    tokens = PortalTokens(SECRET)
    nonce = tokens.new_login_nonce()
    assert tokens.check_login_csrf(nonce, tokens.login_csrf(nonce))
    assert not tokens.check_login_csrf(tokens.new_login_nonce(), tokens.login_csrf(nonce))
    assert not tokens.check_login_csrf(None, tokens.login_csrf(nonce))
    assert not tokens.check_login_csrf(nonce, None)
    assert tokens.check_session_csrf("s1", tokens.session_csrf("s1"))
    assert not tokens.check_session_csrf("s2", tokens.session_csrf("s1"))
    # A login token is never accepted as a session token for the same value, and vice versa.
    assert not tokens.check_session_csrf(nonce, tokens.login_csrf(nonce))


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        PortalTokens(b"short")
