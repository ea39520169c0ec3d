"""The content-free "you have a new message" e-mail sent to a citizen.

The notification deliberately says nothing about the message itself (no sender, subject,
name or identity code): ordinary e-mail is not confidential, and the point of the eAccount is
that only the citizen, after strong identification, learns what arrived. It carries only the
login link, in the citizen's language (Finnish, Swedish or English; Finnish when unknown), as
plain text with an HTML alternative rendered from `smtp_out/templates/`.
"""

from __future__ import annotations

import email.policy
import re
import secrets
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

SUPPORTED_LANGUAGES = ("fi", "sv", "en")
DEFAULT_LANGUAGE = "fi"

SUBJECTS = {
    "fi": "Sinulle on saapunut uusi viesti Asiointitilille",
    "sv": "Du har fått ett nytt meddelande i e-tjänstkontot",
    "en": "You have received a new message in your eAccount",
}


@lru_cache(maxsize=1)
def template_environment() -> Environment:
    """The one Jinja2 environment for outbound templates, built on first use.

    Autoescaping is on for `.html` templates; `StrictUndefined` makes a missing variable an
    error instead of a silently empty link.
    """
    return Environment(
        loader=PackageLoader("smtp_out", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


@lru_cache(maxsize=32)
def _fixed_part(lang: str, from_address: str, login_url: str) -> bytes:
    """Everything of a notification but To, Date and Message-ID, as it goes on the wire.

    The text is the same for every citizen of a language, so it is rendered and serialised once
    (a full EmailMessage costs ~2.7 ms, most of it in the email package's header registry).
    """
    message = _compose(lang, from_address, login_url)
    return message.as_bytes(policy=email.policy.SMTP)


# An addr-spec that needs no quoting or encoding in a header field (RFC 5322 dot-atom text).
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+", re.ASCII)


def notification_bytes(
    *,
    lang: str,
    to_address: str,
    from_address: str,
    login_url: str,
    message_id_domain: str,
    now: datetime | None = None,
) -> bytes:
    """`render_notification` as wire bytes (CRLF), the citizen's fields put in front of the
    cached rest. An address that is not plain ASCII goes the long way, through `email`."""
    if lang not in SUPPORTED_LANGUAGES:
        lang = DEFAULT_LANGUAGE
    if not _PLAIN_ADDRESS.fullmatch(to_address):
        message = render_notification(
            lang=lang,
            to_address=to_address,
            from_address=from_address,
            login_url=login_url,
            message_id_domain=message_id_domain,
            now=now,
        )
        return message.as_bytes(policy=email.policy.SMTP)
    fields = (
        f"To: {to_address}\r\n"
        f"Date: {format_datetime(now or datetime.now(UTC))}\r\n"
        f"Message-ID: {_message_id(message_id_domain)}\r\n"
    )
    return fields.encode("ascii") + _fixed_part(lang, from_address, login_url)


def _message_id(domain: str) -> str:
    return f"<{secrets.token_urlsafe(24)}@{domain}>"


def render_notification(
    *,
    lang: str,
    to_address: str,
    from_address: str,
    login_url: str,
    message_id_domain: str,
    now: datetime | None = None,
) -> EmailMessage:
    """Compose the notification for one citizen; `now` (aware) sets the Date header."""
    if lang not in SUPPORTED_LANGUAGES:
        lang = DEFAULT_LANGUAGE
    message = _compose(lang, from_address, login_url)
    message["To"] = to_address
    message["Date"] = format_datetime(now or datetime.now(UTC))
    message["Message-ID"] = _message_id(message_id_domain)
    return message


def _compose(lang: str, from_address: str, login_url: str) -> EmailMessage:
    """The notification without its per-citizen fields (To, Date, Message-ID)."""
    scheme = urlsplit(login_url).scheme
    if scheme not in ("https", "http"):
        raise ValueError("login_url must be an http(s) URL")
    env = template_environment()
    context = {"login_url": login_url}
    text = env.get_template(f"notification.{lang}.txt").render(context)
    html = env.get_template(f"notification.{lang}.html").render(context)

    message = EmailMessage()
    message["From"] = from_address
    message["Subject"] = SUBJECTS[lang]
    # RFC 3834: auto-responders must not answer this, and Outlook honours its own header.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    # Quoted-printable keeps the body 7-bit, so relays without 8BITMIME pass it unchanged.
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    # Set after the content: set_content() clears every Content-* header.
    message["Content-Language"] = lang
    return message
