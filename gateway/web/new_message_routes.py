"""GET /compose, GET and POST /compose/{organisation_id}: the citizen writes first.

The first page lists the organisations that accept new messages; the second is the form for
one of them (topic, text, attachments within its reply limits). As with replies, the form is
only a convenience: the reply desk checks the organisation, the topic and the content again,
so a crafted post gets the same refusal. A sent message redirects to itself, the start of a
new thread (POST/redirect/GET).
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway.reply_desk import NewMessageOffer, ReplyRefused
from gateway.web.portal import Portal, Visitor, current_visitor
from gateway.web.uploads import MAX_TEXT_FIELD, checked_form
from mailbox_store.records import NewAttachment

# Room for the multipart framing and the small fields around the files.
_FORM_OVERHEAD = 64 * 1024


class NewMessageRoutes:
    def __init__(self, portal: Portal) -> None:
        self._portal = portal

    def routes(self) -> list[Route]:
        return [
            Route("/compose", self.choose, methods=["GET"]),
            Route("/compose/{organisation_id}", self.form, methods=["GET"]),
            Route("/compose/{organisation_id}", self.submit, methods=["POST"]),
        ]

    async def choose(self, request: Request) -> Response:
        portal = self._portal
        visitor = await current_visitor(portal, request)
        if visitor is None:
            return RedirectResponse("/login", status_code=303)
        offers = [] if portal.replies is None else portal.replies.new_message_offers()
        listed = sorted(
            (
                (
                    offer.organisation_id,
                    portal.organisation_name(offer.organisation_id, visitor.lang),
                )
                for offer in offers
            ),
            key=lambda entry: entry[1].casefold(),
        )
        return portal.pages.render(
            "new_message.html",
            lang=visitor.lang,
            visitor=visitor,
            organisations=listed,
            offer=None,
        )

    async def form(self, request: Request) -> Response:
        portal = self._portal
        visitor = await current_visitor(portal, request)
        if visitor is None:
            return RedirectResponse("/login", status_code=303)
        offer = self._offer(visitor, request.path_params["organisation_id"])
        return self._render(visitor, offer)

    async def submit(self, request: Request) -> Response:
        portal = self._portal
        visitor = await current_visitor(portal, request)
        if visitor is None:
            return RedirectResponse("/login", status_code=303)
        offer = self._offer(visitor, request.path_params["organisation_id"])
        limit = offer.max_attachments * offer.max_attachment_bytes + MAX_TEXT_FIELD
        form = await checked_form(
            portal,
            request,
            visitor,
            max_bytes=limit + _FORM_OVERHEAD,
            max_files=offer.max_attachments + 1,
        )
        assert portal.replies is not None  # _offer found one
        topic = form.fields.get("topic", "")
        text = form.fields.get("text", "").replace("\r\n", "\n")
        try:
            row_id = await run_in_threadpool(
                portal.replies.start,
                visitor.citizen_id,
                offer.organisation_id,
                topic,
                text,
                [NewAttachment(f.filename, f.content_type, f.data) for f in form.files],
            )
        except ReplyRefused as refused:
            return self._render(
                visitor, offer, error=refused.reason, topic=topic, text=text, status_code=422
            )
        return RedirectResponse(f"/messages/{quote(row_id)}?sent=new", status_code=303)

    def _offer(self, visitor: Visitor, organisation_id: str) -> NewMessageOffer:
        """The organisation's offer; 404 when it takes no new messages (or is unknown), 403
        for a passive account, which sends nothing until reactivated."""
        replies = self._portal.replies
        offer: NewMessageOffer | None = (
            None if replies is None else replies.new_message_offer(organisation_id)
        )
        if offer is None:
            raise HTTPException(404)
        if visitor.status != "active":
            raise HTTPException(403)
        return offer

    def _render(
        self,
        visitor: Visitor,
        offer: NewMessageOffer,
        *,
        error: str | None = None,
        topic: str = "",
        text: str = "",
        status_code: int = 200,
    ) -> Response:
        return self._portal.pages.render(
            "new_message.html",
            lang=visitor.lang,
            status_code=status_code,
            visitor=visitor,
            offer=offer,
            organisation=self._portal.organisation_name(offer.organisation_id, visitor.lang),
            error=error,
            topic=topic,
            text=text,
        )
