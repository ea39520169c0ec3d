"""GET /services: the connected services, the organisations that send to the eAccount.

Names are in the citizen's language (`OrganisationProfile`), sorted; under each, the services
through which it sends, as the policy lists them.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway.web.portal import Portal, current_visitor
from mailbox_store import SERVICE_ORGANISATION


class ServicesRoutes:
    def __init__(self, portal: Portal) -> None:
        self._portal = portal

    def routes(self) -> list[Route]:
        return [Route("/services", self.page, methods=["GET"])]

    async def page(self, request: Request) -> Response:
        portal = self._portal
        visitor = await current_visitor(portal, request)
        if visitor is None:
            return RedirectResponse("/login", status_code=303)
        listed = sorted(
            (
                (profile.name(visitor.lang), profile.services)
                for organisation_id, profile in portal.organisations.items()
                if organisation_id != SERVICE_ORGANISATION
            ),  # the service itself is not one
            key=lambda entry: entry[0].casefold(),
        )
        return portal.pages.render(
            "services.html", lang=visitor.lang, visitor=visitor, organisations=listed
        )
