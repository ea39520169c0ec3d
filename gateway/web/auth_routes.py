"""Test identification (login by typing a HETU), logout, and `identified` and `start_session`,
which every login method (this one and OpenID Connect in `oidc_routes`) ends with.

Test identification stands in for the national identification service during development; it is
mounted only when `auth.mode = "test"`, and its page says so in a banner. The HETU travels only
in a POST body: it never appears in a URL, a redirect, a cookie or a log line, and the form is
not refilled with it.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway.web.account_routes import CLOSE_PATH
from gateway.web.i18n import DEFAULT_LANG
from gateway.web.portal import Portal, current_visitor
from gateway.web.terms import PendingLogin, hold_for_terms

# Pages that send the citizen to identify again, and get them back after login.
_RETURN_PATHS = frozenset({CLOSE_PATH})

# Our forms have at most two short fields. Starlette applies no size limit to url-encoded
# bodies, so anything without a small declared length is refused before it is read.
_MAX_FORM_BYTES = 4096


async def _small_form(request: Request) -> FormData:
    length = request.headers.get("content-length", "")
    if not length.isdigit() or int(length) > _MAX_FORM_BYTES:
        raise HTTPException(413)
    return await request.form(max_files=0, max_fields=4, max_part_size=_MAX_FORM_BYTES)


def _text_field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def after_login(requested: str | None) -> str:
    """Where a login leads: the inbox, or a page that asked the citizen to identify again.

    Only known paths are followed, so a crafted link cannot send anyone elsewhere.
    """
    return requested if requested in _RETURN_PATHS else "/"


async def start_session(
    portal: Portal, request: Request, citizen_id: str, *, identified_by: str, then: str = "/"
) -> Response:
    """Log an identified citizen in and send them to the inbox; every login method ends here.

    `identified_by` (the broker's acr, or "test") goes into the store's login event and, in the
    signed session cookie, on to whatever later in the session records how the citizen
    identified (`Visitor.identified_by`).
    """
    # Rotate: whatever session this browser had ends now, and a fresh token is issued, so a
    # token planted or seen before login is worthless afterwards.
    previous = await current_visitor(portal, request)
    if previous is not None:
        await run_in_threadpool(portal.store.end_session, previous.session_token)
    token = await run_in_threadpool(
        portal.store.create_session,
        citizen_id,
        lifetime=portal.session_lifetime,
        method=identified_by,
    )
    response = RedirectResponse(after_login(then), status_code=303)
    portal.set_cookie(
        response, portal.session_cookie, portal.tokens.seal_session(token, identified_by)
    )
    return response


async def identified(
    portal: Portal,
    request: Request,
    hetu: str,
    *,
    name: str | None,
    identified_by: str,
    then: str,
    lang: str = DEFAULT_LANG,
) -> Response | None:
    """Where an identified citizen goes next; None when they may not log in (closed account).

    A citizen without an account, or who accepted older terms of use, first sees the terms
    (`gateway.web.terms`); nothing else until they accept. Everyone else gets a session.
    """
    account = await run_in_threadpool(portal.store.login_account, hetu)
    if account is not None and account.status not in ("active", "passive"):
        return None
    if portal.terms_version is None:
        # Without terms of use, accounts are the operator's to make.
        if account is None:
            return None
    elif account is None or (account.terms_version or 0) < portal.terms_version:
        pending = PendingLogin(
            citizen_id=account.id if account is not None else "",
            hetu="" if account is not None else hetu,
            name=name or "",
            identified_by=identified_by,
            then=then,
            lang=lang,
            nonce=portal.tokens.new_login_nonce(),
        )
        return await hold_for_terms(portal, request, pending)
    # Passive accounts too: their holders come in to read, export or reactivate.
    return await start_session(portal, request, account.id, identified_by=identified_by, then=then)


class DevelopmentLogin:
    """GET and POST /login: the development-only identification form."""

    def __init__(self, portal: Portal, hetu_parser: Callable[[str], str]) -> None:
        self._portal = portal
        self._parse_hetu = hetu_parser

    def routes(self) -> list[Route]:
        return [
            Route("/login", self.form, methods=["GET"]),
            Route("/login", self.submit, methods=["POST"]),
        ]

    async def form(self, request: Request) -> Response:
        then = after_login(request.query_params.get("next"))
        return self._form_page(request, error_key=None, status_code=200, then=then)

    async def submit(self, request: Request) -> Response:
        portal = self._portal
        form = await _small_form(request)
        nonce = request.cookies.get(portal.login_csrf_cookie)
        if not portal.tokens.check_login_csrf(nonce, _text_field(form, "csrf_token")):
            raise HTTPException(403)
        then = after_login(_text_field(form, "next"))
        try:
            hetu = self._parse_hetu(_text_field(form, "hetu") or "")
        except ValueError:
            return self._form_page(
                request, error_key="error_invalid_hetu", status_code=400, then=then
            )
        # Test identification has no name to give: a new account's holder types it.
        response = await identified(
            portal, request, hetu, name=None, identified_by="test", then=then
        )
        if response is None:
            return self._form_page(
                request, error_key="error_no_account", status_code=403, then=then
            )
        portal.delete_cookie(response, portal.login_csrf_cookie)
        return response

    def _form_page(
        self, request: Request, *, error_key: str | None, status_code: int, then: str
    ) -> Response:
        portal = self._portal
        # Keep the visitor's nonce if it has one, so a second tab's form stays valid.
        nonce = request.cookies.get(portal.login_csrf_cookie) or portal.tokens.new_login_nonce()
        response = portal.pages.render(
            "login.html",
            lang=DEFAULT_LANG,
            status_code=status_code,
            visitor=None,
            error_key=error_key,
            csrf_token=portal.tokens.login_csrf(nonce),
            then=then,
        )
        portal.set_cookie(response, portal.login_csrf_cookie, nonce)
        return response


class Logout:
    """POST /logout: ends the session in the database, not just in the browser."""

    def __init__(self, portal: Portal) -> None:
        self._portal = portal

    def routes(self) -> list[Route]:
        return [Route("/logout", self.submit, methods=["POST"])]

    async def submit(self, request: Request) -> Response:
        portal = self._portal
        visitor = await current_visitor(portal, request)
        if visitor is not None:
            form = await _small_form(request)
            if not portal.tokens.check_session_csrf(
                visitor.session_token, _text_field(form, "csrf_token")
            ):
                raise HTTPException(403)
            await run_in_threadpool(portal.store.end_session, visitor.session_token)
        # Without a live session there is nothing to end; clearing the cookie is harmless.
        response = RedirectResponse("/login", status_code=303)
        portal.delete_cookie(response, portal.session_cookie)
        return response
