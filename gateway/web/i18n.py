"""The portal's user-interface texts in Finnish, Swedish and English, and date formatting.

One small catalogue keeps the three languages side by side so that a missing translation is
visible in review (and caught by a test that every language has every key). Finnish is the
default: it is used before login and for any language code we do not know.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

DEFAULT_LANG = "fi"

# Citizens read dates in Finnish local time whatever the server's clock zone is.
_LOCAL_ZONE = ZoneInfo("Europe/Helsinki")

CATALOGUE: Mapping[str, Mapping[str, str]] = {
    "fi": {
        "site_title": "Asiointitili",
        "skip_to_content": "Siirry sisältöön",
        "test_banner": "Testitunnistautuminen — vain kehityskäyttöön",
        "login_heading": "Tunnistaudu",
        "hetu_label": "Henkilötunnus",
        "hetu_hint": "Muoto ppkkvvTnnnT, esimerkiksi 010101-123N.",
        "login_button": "Kirjaudu",
        "error_invalid_hetu": "Henkilötunnus ei ole kelvollinen. Tarkista se ja yritä uudelleen.",
        "error_no_account": "Tällä henkilötunnuksella ei ole käytössä olevaa asiointitiliä.",
        "logout_button": "Kirjaudu ulos",
        "signed_in_as": "Kirjautuneena",
        "inbox_heading": "Saapuneet viestit",
        "inbox_empty": "Sinulla ei ole viestejä.",
        "email_unreachable": (
            "Emme saaneet viestiä perille sähköpostiosoitteeseesi. Tarkista yhteystietosi."
        ),
        "col_subject": "Aihe",
        "col_sender": "Lähettäjä",
        "col_received": "Saapunut",
        "unread": "lukematon",
        "pagination": "Sivut",
        "newer": "Uudemmat viestit",
        "older": "Vanhemmat viestit",
        "page_n": "Sivu {n}",
        "back_to_inbox": "Takaisin saapuneisiin",
        "sender": "Lähettäjä",
        "received": "Saapunut",
        "message_text": "Viestin teksti",
        "message_html": "Viestin muotoiltu versio",
        "attachments": "Liitteet",
        "bytes": "tavua",
        "error_heading": "Virhe",
        "error_not_found": "Sivua ei löytynyt.",
        "error_forbidden": "Pyyntö hylättiin. Lataa sivu uudelleen ja yritä uudelleen.",
        "error_other": "Pyyntöä ei voitu käsitellä.",
        "thread_heading": "Keskustelun muut viestit",
        "thread_yours": "Sinun vastauksesi",
        "delivery_queued": "lähtee pian",
        "delivery_sending": "lähetetään",
        "delivery_sent": "lähetetty",
        "delivery_failed": "ei voitu toimittaa",
        "delivery_bounced": "ei voitu toimittaa",
        "delivery_held": "odottaa",
        "reply_heading": "Vastaa viestiin",
        "reply_text_label": "Vastauksesi",
        "reply_files_label": "Liitteet",
        "reply_files_hint": "Enintään {count} tiedostoa, kukin enintään {size} Mt.",
        "reply_send_button": "Lähetä vastaus",
        "reply_sent_notice": "Vastauksesi on tallennettu ja lähetetään organisaatiolle.",
        "reply_forbidden_by_sender": "Lähettäjä on pyytänyt, ettei tähän viestiin vastata.",
        "reply_not_allowed": "Tähän viestiin ei voi vastata asiointitilin kautta.",
        "reply_not_found": "Viestiä ei löytynyt.",
        "reply_empty": "Kirjoita vastaus tai liitä tiedosto.",
        "reply_text_too_long": "Vastaus on liian pitkä. Lähetä pitkä teksti liitteenä.",
        "reply_too_many_attachments": "Liitteitä on liikaa.",
        "reply_attachment_too_large": "Liite on liian suuri.",
        "datetime_format": "{d}.{m}.{y} klo {H}.{M}",
    },
    "sv": {
        "site_title": "e-Tjänstekonto",
        "skip_to_content": "Gå till innehållet",
        "test_banner": "Testidentifiering — endast för utveckling",
        "login_heading": "Identifiera dig",
        "hetu_label": "Personbeteckning",
        "hetu_hint": "Formen ddmmååTnnnT, till exempel 010101-123N.",
        "login_button": "Logga in",
        "error_invalid_hetu": "Personbeteckningen är inte giltig. Kontrollera den och försök igen.",
        "error_no_account": "Det finns inget aktivt e-tjänstekonto för denna personbeteckning.",
        "logout_button": "Logga ut",
        "signed_in_as": "Inloggad som",
        "inbox_heading": "Inkorg",
        "inbox_empty": "Du har inga meddelanden.",
        "email_unreachable": (
            "Vi kunde inte nå din e-postadress. Kontrollera dina kontaktuppgifter."
        ),
        "col_subject": "Ämne",
        "col_sender": "Avsändare",
        "col_received": "Mottaget",
        "unread": "oläst",
        "pagination": "Sidor",
        "newer": "Nyare meddelanden",
        "older": "Äldre meddelanden",
        "page_n": "Sida {n}",
        "back_to_inbox": "Tillbaka till inkorgen",
        "sender": "Avsändare",
        "received": "Mottaget",
        "message_text": "Meddelandets text",
        "message_html": "Meddelandets formaterade version",
        "attachments": "Bilagor",
        "bytes": "byte",
        "error_heading": "Fel",
        "error_not_found": "Sidan hittades inte.",
        "error_forbidden": "Begäran avvisades. Ladda om sidan och försök igen.",
        "error_other": "Begäran kunde inte behandlas.",
        "thread_heading": "Övriga meddelanden i konversationen",
        "thread_yours": "Ditt svar",
        "delivery_queued": "skickas snart",
        "delivery_sending": "skickas",
        "delivery_sent": "skickat",
        "delivery_failed": "kunde inte levereras",
        "delivery_bounced": "kunde inte levereras",
        "delivery_held": "väntar",
        "reply_heading": "Svara på meddelandet",
        "reply_text_label": "Ditt svar",
        "reply_files_label": "Bilagor",
        "reply_files_hint": "Högst {count} filer, högst {size} MB var.",
        "reply_send_button": "Skicka svaret",
        "reply_sent_notice": "Ditt svar har sparats och skickas till organisationen.",
        "reply_forbidden_by_sender": "Avsändaren har bett att detta meddelande inte besvaras.",
        "reply_not_allowed": "Detta meddelande kan inte besvaras via e-tjänstkontot.",
        "reply_not_found": "Meddelandet hittades inte.",
        "reply_empty": "Skriv ett svar eller bifoga en fil.",
        "reply_text_too_long": "Svaret är för långt. Skicka lång text som bilaga.",
        "reply_too_many_attachments": "För många bilagor.",
        "reply_attachment_too_large": "En bilaga är för stor.",
        "datetime_format": "{d}.{m}.{y} kl. {H}.{M}",
    },
    "en": {
        "site_title": "eAccount",
        "skip_to_content": "Skip to content",
        "test_banner": "Test identification — development only",
        "login_heading": "Identify yourself",
        "hetu_label": "Personal identity code",
        "hetu_hint": "Format ddmmyyCnnnX, for example 010101-123N.",
        "login_button": "Log in",
        "error_invalid_hetu": "The personal identity code is not valid. Check it and try again.",
        "error_no_account": "There is no active eAccount for this personal identity code.",
        "logout_button": "Log out",
        "signed_in_as": "Logged in as",
        "inbox_heading": "Inbox",
        "inbox_empty": "You have no messages.",
        "email_unreachable": "We could not reach your email address. Check your contact details.",
        "col_subject": "Subject",
        "col_sender": "Sender",
        "col_received": "Received",
        "unread": "unread",
        "pagination": "Pages",
        "newer": "Newer messages",
        "older": "Older messages",
        "page_n": "Page {n}",
        "back_to_inbox": "Back to inbox",
        "sender": "Sender",
        "received": "Received",
        "message_text": "Message text",
        "message_html": "Formatted version of the message",
        "attachments": "Attachments",
        "bytes": "bytes",
        "error_heading": "Error",
        "error_not_found": "Page not found.",
        "error_forbidden": "The request was refused. Reload the page and try again.",
        "error_other": "The request could not be processed.",
        "thread_heading": "Other messages in this conversation",
        "thread_yours": "Your reply",
        "delivery_queued": "about to be sent",
        "delivery_sending": "being sent",
        "delivery_sent": "sent",
        "delivery_failed": "could not be delivered",
        "delivery_bounced": "could not be delivered",
        "delivery_held": "waiting",
        "reply_heading": "Reply to this message",
        "reply_text_label": "Your reply",
        "reply_files_label": "Attachments",
        "reply_files_hint": "At most {count} files, each at most {size} MB.",
        "reply_send_button": "Send reply",
        "reply_sent_notice": "Your reply has been saved and is being sent to the organisation.",
        "reply_forbidden_by_sender": "The sender has asked that this message not be answered.",
        "reply_not_allowed": "This message cannot be answered through the eAccount.",
        "reply_not_found": "The message was not found.",
        "reply_empty": "Write a reply or attach a file.",
        "reply_text_too_long": "The reply is too long. Send long text as an attachment.",
        "reply_too_many_attachments": "Too many attachments.",
        "reply_attachment_too_large": "An attachment is too large.",
        "datetime_format": "{d}.{m}.{y} {H}:{M}",
    },
}


def supported_lang(lang: str | None) -> str:
    """Return `lang` if the catalogue has it, else the default language."""
    return lang if lang is not None and lang in CATALOGUE else DEFAULT_LANG


def translator(lang: str) -> Callable[..., str]:
    """Return `t(key, **values)` for one language; unknown keys raise KeyError (a bug to see)."""
    texts = CATALOGUE[supported_lang(lang)]

    def translate(key: str, **values: object) -> str:
        text = texts[key]
        return text.format(**values) if values else text

    return translate


def format_datetime(lang: str, moment: datetime) -> str:
    """Format a datetime in Finnish local time, in the language's usual style."""
    # SQLite hands back naive datetimes; the store writes UTC, so naive means UTC here.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(_LOCAL_ZONE)
    return CATALOGUE[supported_lang(lang)]["datetime_format"].format(
        d=local.day, m=local.month, y=local.year, H=f"{local.hour:02d}", M=f"{local.minute:02d}"
    )
