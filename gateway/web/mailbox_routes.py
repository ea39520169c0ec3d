"""The logged-in citizen's pages: inbox, one message, and attachment downloads.

Every look-up goes through the store with the logged-in citizen's id, so another citizen's
message or attachment id is simply not found (404): the portal never reveals whether such an id
exists. Without a live session every page redirects to the login page.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway.web.downloads import content_disposition, safe_content_type
from gateway.web.headers import DOWNLOAD_CSP
from gateway.web.portal import Portal, Visitor, current_visitor
from mailbox_store.records import MessageView

PAGE_SIZE = 20
# Far beyond any real mailbox; it only keeps a silly ?page= from becoming a huge SQL offset.
MAX_PAGE = 10_000


def _page_number(raw: str | None) -> int:
    try:
        page = int(raw or "1")
    except ValueError:
        return 1
    return min(max(page, 1), MAX_PAGE)


class Mailbox:
    """GET /, /messages/{id} and /messages/{id}/attachments/{aid}."""

    def __init__(self, portal: Portal) -> None:
        self._portal = portal

    def routes(self) -> list[Route]:
        return [
            Route("/", self.inbox, methods=["GET"]),
            Route("/messages/{message_id}", self.message, methods=["GET"]),
            Route(
                "/messages/{message_id}/attachments/{attachment_id}",
                self.attachment,
                methods=["GET"],
            ),
        ]

    async def inbox(self, request: Request) -> Response:
        visitor = await current_visitor(self._portal, request)
        if visitor is None:
            return _to_login()
        page = _page_number(request.query_params.get("page"))
        # One extra row tells whether an older page exists without a separate count query.
        entries = await run_in_threadpool(
            self._portal.store.inbox,
            visitor.citizen_id,
            offset=(page - 1) * PAGE_SIZE,
            limit=PAGE_SIZE + 1,
        )
        # Notifications that bounce mean the citizen stops hearing of new mail: tell them here.
        unreachable = await run_in_threadpool(
            self._portal.store.unreachable_email, visitor.citizen_id
        )
        return self._portal.pages.render(
            "inbox.html",
            lang=visitor.lang,
            visitor=visitor,
            entries=list(entries)[:PAGE_SIZE],
            organisation_name=self._portal.organisation_names(visitor.lang),
            page=page,
            has_older=len(entries) > PAGE_SIZE,
            unreachable_email=unreachable,
            deleted_notice=request.query_params.get("deleted") == "1",
        )

    async def message(self, request: Request) -> Response:
        visitor = await current_visitor(self._portal, request)
        if visitor is None:
            return _to_login()
        message = await run_in_threadpool(
            self._portal.store.read_message, visitor.citizen_id, request.path_params["message_id"]
        )
        if message is None:
            raise HTTPException(404)
        sent = request.query_params.get("reply") == "sent"
        started = request.query_params.get("sent") == "new"
        return await message_page(
            self._portal, visitor, message, reply_sent=sent, message_sent=started
        )

    async def attachment(self, request: Request) -> Response:
        visitor = await current_visitor(self._portal, request)
        if visitor is None:
            return _to_login()
        attachment = await run_in_threadpool(
            self._portal.store.read_attachment,
            visitor.citizen_id,
            request.path_params["message_id"],
            request.path_params["attachment_id"],
        )
        if attachment is None:
            raise HTTPException(404)
        # Content-Type goes in as a plain header: media_type= would append a charset to text/*
        # types, and the citizen should get exactly the type the sender declared.
        return Response(
            attachment.data,
            headers={
                "Content-Type": safe_content_type(attachment.content_type),
                "Content-Disposition": content_disposition(attachment.filename),
                "Content-Security-Policy": DOWNLOAD_CSP,
            },
        )


async def message_page(
    portal: Portal,
    visitor: Visitor,
    message: MessageView,
    *,
    reply_sent: bool = False,
    message_sent: bool = False,
    reply_error: str | None = None,
    status_code: int = 200,
) -> Response:
    """One message with its thread and, where the message may be answered, the reply form."""
    thread = await run_in_threadpool(portal.store.thread, visitor.citizen_id, message.thread_id)
    offer = None
    # A passive account sends nothing, replies included, until it is reactivated.
    if portal.replies is not None and message.direction == "in" and visitor.status == "active":
        offer = await run_in_threadpool(portal.replies.offer, visitor.citizen_id, message.id)
    return portal.pages.render(
        "message.html",
        lang=visitor.lang,
        status_code=status_code,
        visitor=visitor,
        message=message,
        organisation=portal.organisation_name(message.organisation_id, visitor.lang),
        thread=[entry for entry in thread if entry.id != message.id] if len(thread) > 1 else [],
        offer=offer,
        reply_sent=reply_sent,
        message_sent=message_sent,
        reply_error=reply_error,
        purge_at=message.deleted_at + portal.deleted_retention if message.deleted_at else None,
        retention_days=portal.deleted_retention.days,
    )


def _to_login() -> Response:
    return RedirectResponse("/login", status_code=303)
