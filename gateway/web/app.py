"""Builds the citizen portal: a Starlette application over the mailbox store.

`create_app` is the only entry point; it wires the routes, the security-header middleware and
the error pages. Test identification is mounted only when `auth_mode == "test"`; otherwise the
OpenID Connect login (`oidc_routes`) is, when a relying party is given, and without one `/login`
does not exist at all.
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

from gateway.web.account_routes import AccountRoutes
from gateway.web.acknowledge_routes import AcknowledgeRoutes
from gateway.web.auth_routes import DevelopmentLogin, Logout
from gateway.web.case_routes import CaseRoutes
from gateway.web.event_routes import EventRoutes
from gateway.web.headers import SecurityHeadersMiddleware, add_security_headers
from gateway.web.i18n import DEFAULT_LANG
from gateway.web.mailbox_routes import Mailbox
from gateway.web.new_message_routes import NewMessageRoutes
from gateway.web.oidc import RelyingParty
from gateway.web.oidc_routes import OidcLogin
from gateway.web.organisations import OrganisationProfile, service_profile
from gateway.web.pages import Pages
from gateway.web.portal import Portal
from gateway.web.reply_routes import ReplyRoutes
from gateway.web.services_routes import ServicesRoutes
from gateway.web.store_port import PortalStore, ReceiptPort, ReplyPort
from gateway.web.terms_routes import TermsRoutes
from gateway.web.tokens import PortalTokens
from mailbox_store import SERVICE_ORGANISATION

_ERROR_TEXT_KEYS = {403: "error_forbidden", 404: "error_not_found"}


def create_app(
    store: PortalStore,
    *,
    secret_key: bytes,
    auth_mode: str,
    organisations: Mapping[str, str | OrganisationProfile],
    secure_cookies: bool,
    hetu_parser: Callable[[str], str],
    idle_timeout: timedelta = timedelta(minutes=30),
    session_lifetime: timedelta = timedelta(hours=8),
    replies: ReplyPort | None = None,
    receipts: ReceiptPort | None = None,
    oidc: RelyingParty | None = None,
    chain_signer: Callable[[bytes], bytes] | None = None,
    terms_version: int | None = None,
    deleted_retention: timedelta = timedelta(days=30),
) -> Starlette:
    """Return the portal application.

    `organisations` maps organisation ids to their names in fi/sv/en and services (or to just a
    Finnish name); `hetu_parser` returns the normalised HETU or raises ValueError. `secret_key`
    (at least 32 bytes) signs cookies and CSRF tokens. `oidc` logs citizens in through the
    identification broker when `auth_mode` is not "test". `chain_signer` signs the head of event
    log exports with the gateway's key. With `terms_version`, a citizen without an account opens
    one at first login by accepting the terms of use, and that version is asked of everyone;
    without it, only accounts the operator made may log in.
    """
    pages = Pages()
    portal = Portal(
        store=store,
        tokens=PortalTokens(secret_key),
        pages=pages,
        # Messages the service itself delivers (welcome, event log exports) come from it.
        organisations={
            SERVICE_ORGANISATION: service_profile(),
            **{
                org_id: OrganisationProfile({DEFAULT_LANG: org}) if isinstance(org, str) else org
                for org_id, org in organisations.items()
            },
        },
        secure_cookies=secure_cookies,
        idle_timeout=idle_timeout,
        session_lifetime=session_lifetime,
        replies=replies,
        receipts=receipts,
        chain_signer=chain_signer,
        terms_version=terms_version,
        deleted_retention=deleted_retention,
    )
    routes = [
        *Mailbox(portal).routes(),
        *NewMessageRoutes(portal).routes(),
        *ReplyRoutes(portal).routes(),
        *AcknowledgeRoutes(portal).routes(),
        *CaseRoutes(portal).routes(),
        *AccountRoutes(portal).routes(),
        *EventRoutes(portal).routes(),
        *ServicesRoutes(portal).routes(),
        *Logout(portal).routes(),
        _stylesheet_route(),
    ]
    if terms_version is not None:
        routes += TermsRoutes(portal, terms_version).routes()
    if auth_mode == "test":
        routes += DevelopmentLogin(portal, hetu_parser).routes()
    elif oidc is not None:
        routes += OidcLogin(portal, oidc, hetu_parser).routes()

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
