"""The citizen's cases, and deleting and restoring messages (the Deleted view).

GET /cases lists each case with its latest status and its messages; GET /deleted lists what
the citizen deleted and when it will be purged. POST /messages/{id}/delete and .../restore need
the session's CSRF token; another citizen's id is simply not found (404), and a verifiable
message not yet acknowledged is refused by the store whatever the request says.
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


class CaseRoutes:
    def __init__(self, portal: Portal) -> None:
        self._portal = portal

    def routes(self) -> list[Route]:
        return [
            Route("/cases", self.cases, methods=["GET"]),
            Route("/deleted", self.deleted, methods=["GET"]),
            Route("/messages/{message_id}/delete", self.delete, methods=["POST"]),
            Route("/messages/{message_id}/restore", self.restore, methods=["POST"]),
        ]

    async def cases(self, request: Request) -> Response:
        visitor = await current_visitor(self._portal, request)
        if visitor is None:
            return _to_login()
        cases = await run_in_threadpool(self._portal.store.cases, visitor.citizen_id)
        return self._portal.pages.render(
            "cases.html",
            lang=visitor.lang,
            visitor=visitor,
            cases=cases,
            organisation_name=self._portal.organisation_names(visitor.lang),
        )

    async def deleted(self, request: Request) -> Response:
        visitor = await current_visitor(self._portal, request)
        if visitor is None:
            return _to_login()
        entries = await run_in_threadpool(self._portal.store.deleted_messages, visitor.citizen_id)
        return self._portal.pages.render(
            "deleted.html",
            lang=visitor.lang,
            visitor=visitor,
            entries=entries,
            retention=self._portal.deleted_retention,
            organisation_name=self._portal.organisation_names(visitor.lang),
        )

    async def delete(self, request: Request) -> Response:
        portal = self._portal
        visitor = await current_visitor(portal, request)
        if visitor is None:
            return _to_login()
        await checked_form(portal, request, visitor)
        deleted = await run_in_threadpool(
            portal.store.delete_message, visitor.citizen_id, request.path_params["message_id"]
        )
        if deleted is None:
            raise HTTPException(404)
        if not deleted:
            # An unacknowledged verifiable message: the form is never offered for one.
            raise HTTPException(409)
        return RedirectResponse("/?deleted=1", status_code=303)

    async def restore(self, request: Request) -> Response:
        portal = self._portal
        visitor = await current_visitor(portal, request)
        if visitor is None:
            return _to_login()
        await checked_form(portal, request, visitor)
        message_id = request.path_params["message_id"]
        restored = await run_in_threadpool(
            portal.store.restore_message, visitor.citizen_id, message_id
        )
        if not restored:
            raise HTTPException(404)
        return RedirectResponse(f"/messages/{quote(message_id)}", status_code=303)


def _to_login() -> Response:
    return RedirectResponse("/login", status_code=303)
