"""OpenID Connect login: the login page, the start, the broker's redirect back, and the JWKS.

Mounted when `auth.mode = "oidc"`. GET /login shows one link to /login/start, which keeps a new
attempt (state, nonce, PKCE verifier, language) in a signed cookie that lapses after ten minutes
and sends the browser to the broker. The broker sends it back to /login/callback, where the
attempt is used up whatever the outcome; a verified citizen goes on through `identified`
(the terms of use first where needed, then a session), exactly as with test identification.
A refusal is the login page again, in the language the citizen chose, saying why, with a link
to try again.

The code and state come in the callback's URL (OAuth puts them there); the success redirect
drops them from the address bar and Referrer-Policy keeps them from leaving the portal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from gateway.web.auth_routes import after_login, identified
from gateway.web.i18n import CATALOGUE, DEFAULT_LANG, supported_lang
from gateway.web.oidc import (
    ATTEMPT_SECONDS,
    Identification,
    LoginAttempt,
    LoginRefused,
    RelyingParty,
)
from gateway.web.portal import Portal

CALLBACK_PATH = "/login/callback"
JWKS_PATH = "/.well-known/jwks.json"

# Refusals that are the citizen's business, not the operator's.
_ORDINARY = frozenset({"oidc_error_cancelled", "oidc_error_attempt", "error_no_account"})

log = logging.getLogger(__name__)


class OidcLogin:
    """The routes of login by OpenID Connect, over one `RelyingParty`."""

    def __init__(
        self, portal: Portal, relying_party: RelyingParty, hetu_parser: Callable[[str], str]
    ) -> None:
        self._portal = portal
        self._relying_party = relying_party
        self._parse_hetu = hetu_parser
        self._attempt_cookie = portal.cookie_name("asiointi-oidc-attempt")

    def routes(self) -> list[Route]:
        return [
            Route("/login", self.page, methods=["GET"]),
            Route("/login/start", self.start, methods=["GET"]),
            Route(CALLBACK_PATH, self.callback, methods=["GET"]),
            Route(JWKS_PATH, self.jwks, methods=["GET"]),
        ]

    async def page(self, request: Request) -> Response:
        query = request.query_params
        return self._page(supported_lang(query.get("lang")), after_login(query.get("next")))

    async def start(self, request: Request) -> Response:
        # A link, not a form: CSP form-action would stop a form's redirect to the broker. Starting
        # an attempt changes nothing but this browser's own attempt cookie.
        lang = supported_lang(request.query_params.get("lang"))
        then = after_login(request.query_params.get("next"))
        try:
            url, attempt = await self._relying_party.begin(lang, then)
        except LoginRefused as refusal:
            return self._refuse(refusal, lang, then)
        response = RedirectResponse(url, status_code=303)
        sealed = self._portal.tokens.seal_login_attempt(attempt.fields())
        self._portal.set_cookie(response, self._attempt_cookie, sealed)
        return response

    async def callback(self, request: Request) -> Response:
        portal = self._portal
        fields = portal.tokens.open_login_attempt(
            request.cookies.get(self._attempt_cookie), max_age=ATTEMPT_SECONDS
        )
        attempt = LoginAttempt.from_fields(fields) if fields is not None else None
        lang, then = (attempt.lang, attempt.then) if attempt is not None else (DEFAULT_LANG, "/")
        try:
            if attempt is None:
                raise LoginRefused("oidc_error_attempt", "no live login attempt here", 400)
            identity = await self._relying_party.complete(attempt, request.query_params)
            answer = await identified(
                portal,
                request,
                self._hetu(identity),
                name=identity.name,
                identified_by=identity.acr,
                then=then,
                lang=lang,
            )
            if answer is None:
                raise LoginRefused("error_no_account", "the citizen has no open account")
            response = answer
        except LoginRefused as refusal:
            response = self._refuse(refusal, lang, then)
        # An attempt is good for one answer, whatever came of it.
        portal.delete_cookie(response, self._attempt_cookie)
        return response

    async def jwks(self, request: Request) -> Response:
        # Public keys only; brokers fetch this to check our signatures and to encrypt to us.
        return JSONResponse(
            self._relying_party.keys.public_jwks(),
            headers={"Cache-Control": "public, max-age=3600"},
        )

    def _hetu(self, identity: Identification) -> str:
        try:
            return self._parse_hetu(identity.hetu)
        except ValueError:
            raise LoginRefused("oidc_error_no_hetu", "the HETU claim is not a valid HETU") from None

    def _refuse(self, refusal: LoginRefused, lang: str, then: str) -> Response:
        level = logging.INFO if refusal.text_key in _ORDINARY else logging.WARNING
        log.log(level, "OpenID Connect login refused: %s", refusal.reason)
        return self._page(lang, then, refusal.text_key, refusal.status_code)

    def _page(
        self, lang: str, then: str, error_key: str | None = None, status_code: int = 200
    ) -> Response:
        return self._portal.pages.render(
            "oidc_login.html",
            lang=lang,
            status_code=status_code,
            visitor=None,
            error_key=error_key,
            then=then,
            languages=tuple(CATALOGUE),
        )
