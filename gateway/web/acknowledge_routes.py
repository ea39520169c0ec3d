"""POST /messages/{id}/acknowledge: the citizen acknowledges receipt of a verifiable message.

Until then the message page shows only a notice (the store withholds the content); the
acknowledgement opens it and sends the sender a signed receipt.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway.web.portal import Portal, current_visitor
from gateway.web.uploads import checked_form


class AcknowledgeRoutes:
    def __init__(self, portal: Portal) -> None:
        self._portal = portal

    def routes(self) -> list[Route]:
        return [Route("/messages/{message_id}/acknowledge", self.submit, methods=["POST"])]

    async def submit(self, request: Request) -> Response:
        portal = self._portal
        visitor = await current_visitor(portal, request)
        if visitor is None:
            return RedirectResponse("/login", status_code=303)
        await checked_form(portal, request, visitor)
        message_id = request.path_params["message_id"]
        if portal.receipts is None or not await run_in_threadpool(
            portal.receipts.acknowledge, visitor.citizen_id, message_id, visitor.identified_by
        ):
            raise HTTPException(404)  # not this citizen's verifiable message
        return RedirectResponse(f"/messages/{quote(message_id)}", status_code=303)
