"""Rendering the portal's Jinja2 templates into HTML responses, in the visitor's language.

Autoescaping is always on and undefined names are errors, so a template can neither emit
unescaped clerk-supplied text by accident nor silently print an empty value.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.responses import HTMLResponse

from gateway.web.i18n import format_datetime, supported_lang, translator


class Pages:
    """Renders the templates in `gateway/web/templates`."""

    def __init__(self) -> None:
        self._env = Environment(
            loader=PackageLoader("gateway.web", "templates"),
            autoescape=True,
            undefined=StrictUndefined,
        )
        # For the few texts a page shows in a second language (the bilingual test banner).
        self._env.globals["translator"] = translator

    def render(
        self, name: str, *, lang: str, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        """Render template `name` with the translation helpers for `lang`."""
        lang = supported_lang(lang)
        html = self._env.get_template(name).render(
            lang=lang,
            t=translator(lang),
            format_datetime=partial(format_datetime, lang),
            **context,
        )
        return HTMLResponse(html, status_code=status_code)
