"""The portal's shared parts (store, tokens, pages, settings) and who the visitor is.

`Portal` is built once by `create_app` and handed to the route classes. `current_visitor`
resolves the signed session cookie to a logged-in citizen through the database, so a session
ended anywhere (logout, expiry, another node) stops working here at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from gateway.web.i18n import DEFAULT_LANG
from gateway.web.organisations import OrganisationProfile
from gateway.web.pages import Pages
from gateway.web.store_port import PortalStore, ReceiptPort, ReplyPort
from gateway.web.tokens import PortalTokens


@dataclass(frozen=True)
class Portal:
    """Everything the routes share; immutable after start."""

    store: PortalStore
    tokens: PortalTokens
    pages: Pages
    organisations: Mapping[str, OrganisationProfile]
    secure_cookies: bool
    idle_timeout: timedelta
    session_lifetime: timedelta
    replies: ReplyPort | None = None  # None: the portal offers no replies at all
    receipts: ReceiptPort | None = None  # None: verifiable messages cannot be acknowledged
    # Signs the head of an exported event log (DER CMS); None: exports go unsigned.
    chain_signer: Callable[[bytes], bytes] | None = None
    # The terms of use citizens accept, opening their account at first login; None: no terms
    # are asked and only accounts the operator made may log in.
    terms_version: int | None = None
    # How long a deleted message stays in the Deleted view (the purge is serve's task).
    deleted_retention: timedelta = timedelta(days=30)

    def cookie_name(self, base: str) -> str:
        # The __Host- prefix makes browsers refuse the cookie unless it is Secure, has Path=/
        # and no Domain, so a sibling subdomain cannot plant or overwrite it.
        return f"__Host-{base}" if self.secure_cookies else base

    @property
    def session_cookie(self) -> str:
        return self.cookie_name("asiointi-session")

    @property
    def login_csrf_cookie(self) -> str:
        return self.cookie_name("asiointi-login-csrf")

    def set_cookie(self, response: Response, name: str, value: str) -> None:
        """Set a session-scoped, HttpOnly, SameSite=Lax cookie (Secure when configured)."""
        response.set_cookie(
            name, value, path="/", httponly=True, samesite="lax", secure=self.secure_cookies
        )

    def delete_cookie(self, response: Response, name: str) -> None:
        response.delete_cookie(
            name, path="/", httponly=True, samesite="lax", secure=self.secure_cookies
        )

    def organisation_name(self, organisation_id: str, lang: str = DEFAULT_LANG) -> str:
        profile = self.organisations.get(organisation_id)
        return organisation_id if profile is None else profile.name(lang)

    def organisation_names(self, lang: str) -> Callable[[str], str]:
        """`organisation_name` in one language, for code that names organisations in passing."""
        return partial(self.organisation_name, lang=lang)


@dataclass(frozen=True)
class Visitor:
    """A logged-in citizen, as far as the pages need to know."""

    citizen_id: str
    session_token: str
    name: str
    lang: str
    csrf_token: str
    identified_by: str  # how the citizen identified at login: the broker's acr, or "test"
    status: str  # "active", or "passive": no new mail, no replies, until reactivated


async def current_visitor(portal: Portal, request: Request) -> Visitor | None:
    """Return the logged-in citizen for this request, or None."""
    cookie = portal.tokens.open_session(request.cookies.get(portal.session_cookie))
    if cookie is None:
        return None
    token = cookie.token
    citizen_id = await run_in_threadpool(
        portal.store.session_citizen, token, idle_timeout=portal.idle_timeout
    )
    if citizen_id is None:
        return None
    profile = await run_in_threadpool(portal.store.citizen_profile, citizen_id)
    # A passive account's holder may still come in (to read, export, reactivate); a session
    # must not outlive closure.
    if profile is None or profile.status not in ("active", "passive"):
        return None
    visitor = Visitor(
        citizen_id=citizen_id,
        session_token=token,
        name=profile.name,
        lang=profile.lang,
        csrf_token=portal.tokens.session_csrf(token),
        identified_by=cookie.identified_by,
        status=profile.status,
    )
    # Error pages rendered later in this request use the citizen's language too.
    request.state.lang = visitor.lang
    return visitor
