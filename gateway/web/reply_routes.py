"""POST /messages/{id}/reply: the citizen answers a message.

The form is only a convenience: every rule (replies allowed, not forbidden by the clerk,
attachment count and size) is enforced again by the reply desk, so a crafted request gets the
same refusal as the form would have shown. A refused reply re-renders the message page with the
reason; a sent one redirects back to it (POST/redirect/GET, so a reload does not send twice).
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway.reply_desk import ReplyOffer, ReplyRefused
from gateway.web.mailbox_routes import message_page
from gateway.web.portal import Portal, current_visitor
from gateway.web.uploads import MAX_TEXT_FIELD, checked_form
from mailbox_store.records import NewAttachment

# Room for the multipart framing and the small fields around the files.
_FORM_OVERHEAD = 64 * 1024


class ReplyRoutes:
    def __init__(self, portal: Portal) -> None:
        self._portal = portal

    def routes(self) -> list[Route]:
        return [Route("/messages/{message_id}/reply", self.submit, methods=["POST"])]

    async def submit(self, request: Request) -> Response:
        portal = self._portal
        visitor = await current_visitor(portal, request)
        if visitor is None:
            return RedirectResponse("/login", status_code=303)
        message_id = request.path_params["message_id"]
        if portal.replies is None:
            raise HTTPException(404)
        if visitor.status != "active":
            raise HTTPException(403)  # a passive account sends nothing until reactivated
        offer: ReplyOffer | None = await run_in_threadpool(
            portal.replies.offer, visitor.citizen_id, message_id
        )
        if offer is None:
            # Not this citizen's message, or one that may not be answered: no difference shown.
            raise HTTPException(403)
        limit = offer.max_attachments * offer.max_attachment_bytes + MAX_TEXT_FIELD
        form = await checked_form(
            portal,
            request,
            visitor,
            max_bytes=limit + _FORM_OVERHEAD,
            max_files=offer.max_attachments + 1,
        )
        attachments = [NewAttachment(f.filename, f.content_type, f.data) for f in form.files]
        try:
            await run_in_threadpool(
                portal.replies.send,
                visitor.citizen_id,
                message_id,
                form.fields.get("text", "").replace("\r\n", "\n"),
                attachments,
            )
        except ReplyRefused as refused:
            message = await run_in_threadpool(
                portal.store.read_message, visitor.citizen_id, message_id
            )
            if message is None:
                raise HTTPException(404) from None
            return await message_page(
                portal, visitor, message, reply_error=refused.reason, status_code=422
            )
        return RedirectResponse(f"/messages/{quote(message_id)}?reply=sent", status_code=303)
