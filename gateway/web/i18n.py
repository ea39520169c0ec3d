"""The portal's user-interface texts in Finnish, Swedish and English, and date formatting.

The texts live in one gettext catalogue per language, `locale/<lang>/LC_MESSAGES/portal.po`,
managed with Babel; the msgid is the key the templates pass to `t()`. The catalogues are read
from the .po files at import, so there is no compile step and a fresh clone runs as it is. A test
checks that every language has every key. Finnish is the default: it is used before login and
for any language code we do not know.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from importlib.resources import files
from types import MappingProxyType
from zoneinfo import ZoneInfo

from babel.messages.pofile import read_po

DEFAULT_LANG = "fi"

# The order in which the language choices are offered.
LANGUAGES = ("fi", "sv", "en")

# Citizens read dates in Finnish local time whatever the server's clock zone is.
_LOCAL_ZONE = ZoneInfo("Europe/Helsinki")


def _read_catalogue(lang: str) -> Mapping[str, str]:
    """The texts of one language, key -> text, from its portal.po."""
    path = files("gateway.web") / "locale" / lang / "LC_MESSAGES" / "portal.po"
    with path.open("rb") as po:
        catalog = read_po(po, locale=lang, domain="portal")
    # Untranslated and fuzzy entries are left out, as gettext would, so they surface as KeyError.
    return MappingProxyType(
        {
            message.id: message.string
            for message in catalog
            if isinstance(message.id, str)
            and isinstance(message.string, str)
            and message.id
            and message.string
            and not message.fuzzy
        }
    )


# language -> key -> text, read once at import from the .po files.
CATALOGUE: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {lang: _read_catalogue(lang) for lang in LANGUAGES}
)


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
