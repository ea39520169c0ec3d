"""Builds the citizen portal: a Starlette application over the mailbox store.

`create_app` is the only entry point; it wires the routes, the security-header middleware and
the error pages. Test identification is mounted only when `auth_mode == "test"`; in any other
mode `/login` does not exist here (the OpenID Connect login belongs to its own module).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from importlib.resources import files

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.web.auth_routes import DevelopmentLogin, Logout
from gateway.web.headers import SecurityHeadersMiddleware, add_security_headers
from gateway.web.i18n import DEFAULT_LANG
from gateway.web.mailbox_routes import Mailbox
from gateway.web.pages import Pages
from gateway.web.portal import Portal
from gateway.web.reply_routes import ReplyRoutes
from gateway.web.store_port import PortalStore, ReplyPort
from gateway.web.tokens import PortalTokens

_ERROR_TEXT_KEYS = {403: "error_forbidden", 404: "error_not_found"}


def create_app(
    store: PortalStore,
    *,
    secret_key: bytes,
    auth_mode: str,
    organisations: Mapping[str, str],
    secure_cookies: bool,
    hetu_parser: Callable[[str], str],
    idle_timeout: timedelta = timedelta(minutes=30),
    session_lifetime: timedelta = timedelta(hours=8),
    replies: ReplyPort | None = None,
) -> Starlette:
    """Return the portal application.

    `organisations` maps organisation ids to display names; `hetu_parser` returns the normalised
    HETU or raises ValueError. `secret_key` (at least 32 bytes) signs cookies and CSRF tokens.
    """
    pages = Pages()
    portal = Portal(
        store=store,
        tokens=PortalTokens(secret_key),
        pages=pages,
        organisations=dict(organisations),
        secure_cookies=secure_cookies,
        idle_timeout=idle_timeout,
        session_lifetime=session_lifetime,
        replies=replies,
    )
    routes = [
        *Mailbox(portal).routes(),
        *ReplyRoutes(portal).routes(),
        *Logout(portal).routes(),
        _stylesheet_route(),
    ]
    if auth_mode == "test":
        routes += DevelopmentLogin(portal, hetu_parser).routes()

    async def error_page(request: Request, exc: Exception) -> Response:
        # Never the exception's text: it could name what the citizen must not see.
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        response = pages.render(
            "error.html",
            lang=getattr(request.state, "lang", DEFAULT_LANG),
            status_code=status,
            visitor=None,
            text_key=_ERROR_TEXT_KEYS.get(status, "error_other"),
        )
        # The 500 handler runs outside all middleware, so it adds the headers itself.
        add_security_headers(response.headers)
        return response

    return Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeadersMiddleware)],
        exception_handlers={HTTPException: error_page, Exception: error_page},
    )


def _stylesheet_route() -> Route:
    # Served from our own origin so that the Content-Security-Policy needs no inline styles.
    css = files("gateway.web").joinpath("templates/portal.css").read_bytes()

    async def stylesheet(request: Request) -> Response:
        return Response(
            css, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"}
        )

    return Route("/static/portal.css", stylesheet, methods=["GET"])
