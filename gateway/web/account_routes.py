"""The citizen's account pages: settings, passivation, reactivation, closing, the archive.

All of them act on the logged-in citizen only (no ids in their URLs), every POST carries the
session's CSRF token, and every change is an event in the citizen's log (the store appends it
in the same transaction). Passivating, reactivating and closing each go through a page that
says what follows; closing also needs an identification made in the last few minutes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from gateway.web.archive import zip_stream
from gateway.web.contact import normalise_email, normalise_mobile
from gateway.web.headers import DOWNLOAD_CSP
from gateway.web.i18n import CATALOGUE, format_datetime, translator
from gateway.web.portal import Portal, Visitor, current_visitor
from gateway.web.uploads import checked_form
from mailbox_store import AccountSettings, ExportedMessage

# Closing is for good, so a session open for a while (a device left unlocked) is not enough.
FRESH_LOGIN = timedelta(minutes=5)
CLOSE_PATH = "/account/close"
_DONE_NOTICES = ("saved", "passivated", "reactivated")


@dataclass(frozen=True)
class SettingsForm:
    """The settings form's values as shown: stored ones, or what the citizen just sent."""

    email: str
    phone: str
    notify_email: bool
    notify_sms: bool
    lang: str


@dataclass(frozen=True)
class _StatusChange:
    """One confirm-then-post step: passivate or reactivate."""

    path: str
    status: str
    allowed_from: str
    heading: str
    texts: tuple[str, ...]
    button: str
    done: str


_PASSIVATE = _StatusChange(
    "/account/passivate",
    "passive",
    "active",
    "passivate_heading",
    ("passivate_paper", "passivate_no_account_answer", "passivate_old_messages"),
    "passivate_button",
    "passivated",
)
_REACTIVATE = _StatusChange(
    "/account/reactivate",
    "active",
    "passive",
    "reactivate_heading",
    ("reactivate_electronic", "reactivate_paper_before"),
    "reactivate_button",
    "reactivated",
)


class AccountRoutes:
    def __init__(self, portal: Portal) -> None:
        self._portal = portal

    def routes(self) -> list[Route]:
        routes = [
            Route("/account", self.settings, methods=["GET"]),
            Route("/account/settings", self.save_settings, methods=["POST"]),
            Route(CLOSE_PATH, self.close_confirm, methods=["GET"]),
            Route(CLOSE_PATH, self.close, methods=["POST"]),
            Route("/account/export", self.export, methods=["POST"]),
        ]
        for change in (_PASSIVATE, _REACTIVATE):
            routes += [
                Route(change.path, partial(self.status_confirm, change), methods=["GET"]),
                Route(change.path, partial(self.status_change, change), methods=["POST"]),
            ]
        return routes

    # -- settings ---------------------------------------------------------------------------

    async def settings(self, request: Request) -> Response:
        visitor = await current_visitor(self._portal, request)
        if visitor is None:
            return _to_login()
        stored = await run_in_threadpool(
            self._portal.store.account_settings, visitor.citizen_id
        )
        if stored is None:
            raise HTTPException(404)
        form = SettingsForm(
            email=stored.email or "",
            phone=stored.phone or "",
            notify_email=stored.notify_email,
            notify_sms=stored.notify_sms,
            lang=stored.lang,
        )
        done = request.query_params.get("done")
        return self._settings_page(
            visitor, form, {}, done=done if done in _DONE_NOTICES else None
        )

    async def save_settings(self, request: Request) -> Response:
        visitor = await current_visitor(self._portal, request)
        if visitor is None:
            return _to_login()
        fields = await self._checked_form(request, visitor)
        form = SettingsForm(
            email=fields.get("email", ""),
            phone=fields.get("phone", ""),
            notify_email=fields.get("notify_email") == "1",
            notify_sms=fields.get("notify_sms") == "1",
            lang=fields.get("lang", ""),
        )
        wanted, errors = validate_settings(form)
        if wanted is None:
            return self._settings_page(visitor, form, errors, status_code=422)
        await run_in_threadpool(
            self._portal.store.update_account_settings, visitor.citizen_id, wanted
        )
        return RedirectResponse("/account?done=saved", status_code=303)

    def _settings_page(
        self,
        visitor: Visitor,
        form: SettingsForm,
        errors: dict[str, str],
        *,
        done: str | None = None,
        status_code: int = 200,
    ) -> Response:
        return self._portal.pages.render(
            "account.html",
            lang=visitor.lang,
            status_code=status_code,
            visitor=visitor,
            form=form,
            errors=errors,
            done=done,
            languages=[(code, CATALOGUE[code]["language_name"]) for code in CATALOGUE],
        )

    # -- passivate and reactivate -----------------------------------------------------------

    async def status_confirm(self, change: _StatusChange, request: Request) -> Response:
        visitor = await current_visitor(self._portal, request)
        if visitor is None:
            return _to_login()
        if visitor.status != change.allowed_from:
            return RedirectResponse("/account", status_code=303)
        return self._portal.pages.render(
            "confirm.html",
            lang=visitor.lang,
            visitor=visitor,
            heading=change.heading,
            texts=change.texts,
            action=change.path,
            button=change.button,
            offer_export=False,
        )

    async def status_change(self, change: _StatusChange, request: Request) -> Response:
        visitor = await current_visitor(self._portal, request)
        if visitor is None:
            return _to_login()
        await self._checked_form(request, visitor)
        await run_in_threadpool(
            self._portal.store.change_account_status, visitor.citizen_id, change.status
        )
        # Done, or it was already so (a second tab): either way the account page tells.
        return RedirectResponse(f"/account?done={change.done}", status_code=303)

    # -- closing ----------------------------------------------------------------------------

    async def close_confirm(self, request: Request) -> Response:
        visitor = await current_visitor(self._portal, request)
        if visitor is None:
            return _to_login()
        if not await self._fresh(visitor):
            return _to_login(then=CLOSE_PATH)
        return self._portal.pages.render(
            "confirm.html",
            lang=visitor.lang,
            visitor=visitor,
            heading="close_heading",
            texts=("close_paper", "close_no_account_answer", "close_messages", "close_logout"),
            action=CLOSE_PATH,
            button="close_button",
            offer_export=True,
        )

    async def close(self, request: Request) -> Response:
        portal = self._portal
        visitor = await current_visitor(portal, request)
        if visitor is None:
            return _to_login()
        await self._checked_form(request, visitor)
        if not await self._fresh(visitor):
            return _to_login(then=CLOSE_PATH)
        # The store ends every session of the account in the same transaction.
        await run_in_threadpool(portal.store.change_account_status, visitor.citizen_id, "closed")
        response = portal.pages.render("closed.html", lang=visitor.lang, visitor=None)
        portal.delete_cookie(response, portal.session_cookie)
        return response

    async def _fresh(self, visitor: Visitor) -> bool:
        return await run_in_threadpool(
            partial(self._portal.store.session_is_fresh, visitor.session_token, within=FRESH_LOGIN)
        )

    # -- the archive ------------------------------------------------------------------------

    async def export(self, request: Request) -> Response:
        portal = self._portal
        visitor = await current_visitor(portal, request)
        if visitor is None:
            return _to_login()
        await self._checked_form(request, visitor)
        store, citizen_id = portal.store, visitor.citizen_id
        message_ids = await run_in_threadpool(store.export_message_ids, citizen_id)
        await run_in_threadpool(store.record_export, citizen_id, len(message_ids))

        def messages() -> Iterator[ExportedMessage]:
            # Runs in the response's worker thread, one message at a time.
            for message_id in message_ids:
                message = store.exported_message(citizen_id, message_id)
                if message is not None:
                    yield message

        describe = partial(
            describe_message, visitor.lang, portal.organisation_names(visitor.lang)
        )
        today = datetime.now(UTC)
        return StreamingResponse(
            zip_stream(messages(), describe),
            headers={
                "Content-Type": "application/zip",
                "Content-Disposition": (
                    f'attachment; filename="asiointitili-{today:%Y-%m-%d}.zip"'
                ),
                "Content-Security-Policy": DOWNLOAD_CSP,
            },
        )

    async def _checked_form(self, request: Request, visitor: Visitor) -> dict[str, str]:
        return (await checked_form(self._portal, request, visitor)).fields


def validate_settings(form: SettingsForm) -> tuple[AccountSettings | None, dict[str, str]]:
    """The settings to store, or None and an error text key for each field that is wrong."""
    errors: dict[str, str] = {}
    email = phone = None
    try:
        email = normalise_email(form.email)
    except ValueError:
        errors["email"] = "error_email"
    try:
        phone = normalise_mobile(form.phone)
    except ValueError:
        errors["phone"] = "error_phone"
    if form.notify_email and email is None and "email" not in errors:
        errors["notify_email"] = "error_notify_email"
    if form.notify_sms and phone is None and "phone" not in errors:
        errors["notify_sms"] = "error_notify_sms"
    if form.lang not in CATALOGUE:
        errors["lang"] = "error_lang"
    if errors:
        return None, errors
    return AccountSettings(email, phone, form.notify_email, form.notify_sms, form.lang), {}


def describe_message(
    lang: str, organisation_name: Callable[[str], str], message: ExportedMessage
) -> str:
    """`message.txt` of one message in the archive: what the portal shows of it."""
    t = translator(lang)
    organisation = organisation_name(message.organisation_id)
    if message.direction == "out":
        sender, dated = f"{t('thread_yours')} → {organisation}", t("archive_sent")
    else:
        sender, dated = organisation, t("received")
    opened = message.opened_at
    lines = [
        f"{t('col_subject')}: {message.subject}",
        f"{t('sender')}: {sender}",
        f"{dated}: {format_datetime(lang, message.received_at)}",
        f"{t('archive_opened')}: "
        + (format_datetime(lang, opened) if opened else t("archive_not_opened")),
    ]
    if message.attachments:
        names = ", ".join(attachment.filename for attachment in message.attachments)
        lines.append(f"{t('attachments')}: {names}")
    body = t("archive_withheld") if message.withheld else message.text
    return "\n".join(lines) + "\n\n" + body + "\n"


def _to_login(*, then: str | None = None) -> Response:
    return RedirectResponse(f"/login?next={then}" if then else "/login", status_code=303)
