"""GET /events: the citizen's event log; POST /events/export: the log into their mailbox.

The log is shown newest first, a page at a time, optionally between two dates (days in
Finnish time, both included). The export arrives as a message from the service itself with
the log as CSV and JSON, carrying the hash chain (see `event_log`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import partial
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway.web.event_log import describe_event, export_message
from gateway.web.i18n import format_datetime
from gateway.web.mailbox_routes import _page_number
from gateway.web.portal import Portal, current_visitor
from gateway.web.uploads import checked_form
from mailbox_store import ServiceMessage
from mailbox_store.chain import ChainLink

PAGE_SIZE = 50
_LOCAL_ZONE = ZoneInfo("Europe/Helsinki")


@dataclass(frozen=True)
class EventLine:
    at: datetime
    text: str


@dataclass(frozen=True)
class DateFilter:
    """The range as typed (to fill the form again) and as times (None: open at that end)."""

    since_text: str
    until_text: str
    since: datetime | None
    until: datetime | None
    errors: dict[str, str]

    def query(self, **extra: object) -> str:
        values = {"since": self.since_text, "until": self.until_text, **extra}
        return urlencode({k: v for k, v in values.items() if v})


def date_filter(since_text: str, until_text: str) -> DateFilter:
    """Parse the form's two dates; a wrong one is reported and left out of the filter."""
    errors: dict[str, str] = {}
    since = until = None
    start = _parse_day(since_text)
    if start is None and since_text:
        errors["since"] = "error_date"
    elif start is not None:
        since = datetime.combine(start, time(), _LOCAL_ZONE)
    end = _parse_day(until_text)
    if end is None and until_text:
        errors["until"] = "error_date"
    elif end is not None:
        if start is not None and end < start:
            errors["until"] = "error_date_order"
        else:
            until = datetime.combine(end + timedelta(days=1), time(), _LOCAL_ZONE)
    return DateFilter(since_text, until_text, since, until, errors)


def _parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


class EventRoutes:
    def __init__(self, portal: Portal) -> None:
        self._portal = portal

    def routes(self) -> list[Route]:
        return [
            Route("/events", self.log, methods=["GET"]),
            Route("/events/export", self.export, methods=["POST"]),
        ]

    async def log(self, request: Request) -> Response:
        portal = self._portal
        visitor = await current_visitor(portal, request)
        if visitor is None:
            return RedirectResponse("/login", status_code=303)
        params = request.query_params
        filters = date_filter(params.get("since", "")[:20], params.get("until", "")[:20])
        page = _page_number(params.get("page"))
        events = await run_in_threadpool(
            partial(
                portal.store.event_page,
                visitor.citizen_id,
                since=filters.since,
                until=filters.until,
                offset=(page - 1) * PAGE_SIZE,
                limit=PAGE_SIZE + 1,
            )
        )
        names = portal.organisation_names(visitor.lang)
        lines = [
            EventLine(
                event.at,
                describe_event(visitor.lang, event.kind, event.detail, names),
            )
            for event in list(events)[:PAGE_SIZE]
        ]
        return portal.pages.render(
            "events.html",
            lang=visitor.lang,
            status_code=422 if filters.errors else 200,
            visitor=visitor,
            lines=lines,
            filters=filters,
            page=page,
            has_older=len(events) > PAGE_SIZE,
        )

    async def export(self, request: Request) -> Response:
        portal = self._portal
        visitor = await current_visitor(portal, request)
        if visitor is None:
            return RedirectResponse("/login", status_code=303)
        await checked_form(portal, request, visitor)

        def build(chain: Sequence[ChainLink], now: datetime) -> ServiceMessage:
            return export_message(
                visitor.lang,
                visitor.citizen_id,
                chain,
                now,
                organisation_name=portal.organisation_names(visitor.lang),
                format_datetime=partial(format_datetime, visitor.lang),
                signer=portal.chain_signer,
            )

        message_id = await run_in_threadpool(
            portal.store.deliver_event_export, visitor.citizen_id, build
        )
        return RedirectResponse(f"/messages/{quote(message_id)}", status_code=303)
