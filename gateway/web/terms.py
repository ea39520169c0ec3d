"""An identified citizen waiting to accept the terms of use, before they are logged in.

Between identification and acceptance there is no session: the citizen's identification waits
in an encrypted cookie (`PortalTokens.seal_pending_login`) that lapses after `PENDING_SECONDS`,
so the HETU of a citizen without an account is never in a URL or readable in a cookie, and no
page of the mailbox is reachable until the terms are accepted (`terms_routes`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.web.portal import Portal, current_visitor

TERMS_PATH = "/welcome"
PENDING_SECONDS = 15 * 60  # time to read the terms and fill in the contact details


@dataclass(frozen=True)
class PendingLogin:
    """Who identified, and how; exactly one of `citizen_id` and `hetu` is set ("" otherwise)."""

    citizen_id: str  # an account whose holder accepted older terms
    hetu: str = field(repr=False)  # no account yet: it is opened on acceptance
    name: str = field(repr=False)  # from the broker; "" with test identification
    identified_by: str
    then: str
    lang: str
    nonce: str = field(repr=False)  # the terms form's CSRF token is made from it


def pending_cookie(portal: Portal) -> str:
    return portal.cookie_name("asiointi-terms")


async def hold_for_terms(portal: Portal, request: Request, pending: PendingLogin) -> Response:
    """Send an identified citizen to the terms of use, ending any session this browser had."""
    previous = await current_visitor(portal, request)
    if previous is not None:
        await run_in_threadpool(portal.store.end_session, previous.session_token)
    response = RedirectResponse(TERMS_PATH, status_code=303)
    portal.delete_cookie(response, portal.session_cookie)
    portal.set_cookie(
        response, pending_cookie(portal), portal.tokens.seal_pending_login(asdict(pending))
    )
    return response


def pending_login(portal: Portal, request: Request) -> PendingLogin | None:
    """The identification waiting in this browser, or None (none, tampered with, too old)."""
    values = portal.tokens.open_pending_login(
        request.cookies.get(pending_cookie(portal)), max_age=PENDING_SECONDS
    )
    names = {f.name for f in fields(PendingLogin)}
    if values is None or set(values) != names:
        return None
    return PendingLogin(**values)
