"""GET and POST /welcome: the terms of use, between identification and the first page.

A citizen identified without an account reads the terms, may give contact details and choose
notices, and on acceptance the account is opened with a welcome message from the service; a
holder of an account who accepted older terms accepts the current ones. Only then does the
login end in a session (`start_session`). POST /welcome/decline forgets the identification.
Every POST carries a token made from the waiting identification's own nonce.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway.web.account_routes import SettingsForm, validate_settings
from gateway.web.auth_routes import start_session
from gateway.web.i18n import CATALOGUE, supported_lang, translator
from gateway.web.portal import Portal
from gateway.web.terms import TERMS_PATH, PendingLogin, pending_cookie, pending_login
from gateway.web.uploads import SMALL_FORM_BYTES, read_form
from mailbox_store import AccountSettings, CitizenExists, NewAccount, ServiceMessage

MAX_NAME_LENGTH = 200


class TermsRoutes:
    def __init__(self, portal: Portal, terms_version: int) -> None:
        self._portal = portal
        self._version = terms_version

    def routes(self) -> list[Route]:
        return [
            Route(TERMS_PATH, self.page, methods=["GET"]),
            Route(TERMS_PATH, self.accept, methods=["POST"]),
            Route(TERMS_PATH + "/decline", self.decline, methods=["POST"]),
        ]

    async def page(self, request: Request) -> Response:
        pending = pending_login(self._portal, request)
        if pending is None:
            return _to_login()
        lang = supported_lang(request.query_params.get("lang") or pending.lang)
        form = SettingsForm(email="", phone="", notify_email=False, notify_sms=False, lang=lang)
        return self._page(pending, lang, form, name="", accepted=False, errors={})

    async def accept(self, request: Request) -> Response:
        portal = self._portal
        pending = pending_login(portal, request)
        if pending is None:
            return _to_login()
        fields = (await read_form(request, max_bytes=SMALL_FORM_BYTES, max_files=0)).fields
        if not portal.tokens.check_login_csrf(pending.nonce, fields.get("csrf_token")):
            raise HTTPException(403)
        accepted = fields.get("accept") == "1"
        errors = {} if accepted else {"accept": "error_terms_accept"}
        if pending.citizen_id:
            if errors:
                return self._page(
                    pending,
                    pending.lang,
                    None,
                    name="",
                    accepted=False,
                    errors=errors,
                    status_code=422,
                )
            ok = await run_in_threadpool(
                portal.store.accept_terms, pending.citizen_id, self._version
            )
            return await self._logged_in(request, pending, pending.citizen_id if ok else None)
        form = SettingsForm(
            email=fields.get("email", ""),
            phone=fields.get("phone", ""),
            notify_email=fields.get("notify_email") == "1",
            notify_sms=fields.get("notify_sms") == "1",
            lang=fields.get("lang") or pending.lang,
        )
        settings, setting_errors = validate_settings(form)
        name = pending.name or fields.get("name", "").strip()
        if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
            errors["name"] = "error_name"
        errors = {**setting_errors, **errors}
        if settings is None or errors:
            lang = supported_lang(form.lang)
            return self._page(
                pending, lang, form, name=name, accepted=accepted, errors=errors, status_code=422
            )
        citizen_id = await self._open_account(pending, name, settings)
        return await self._logged_in(request, pending, citizen_id)

    async def decline(self, request: Request) -> Response:
        portal = self._portal
        pending = pending_login(portal, request)
        if pending is None:
            return _to_login()
        fields = (await read_form(request, max_bytes=SMALL_FORM_BYTES, max_files=0)).fields
        if not portal.tokens.check_login_csrf(pending.nonce, fields.get("csrf_token")):
            raise HTTPException(403)
        response = portal.pages.render(
            "terms_declined.html",
            lang=pending.lang,
            visitor=None,
            new_account=not pending.citizen_id,
        )
        portal.delete_cookie(response, pending_cookie(portal))
        return response

    async def _open_account(
        self, pending: PendingLogin, name: str, settings: AccountSettings
    ) -> str | None:
        """The new account's id; None when the HETU's account turned out to be closed."""
        store = self._portal.store
        account = NewAccount(
            hetu=pending.hetu,
            name=name,
            settings=settings,
            terms_version=self._version,
            method=pending.identified_by,
        )
        t = translator(settings.lang)
        text = t("welcome_text")
        welcome = ServiceMessage(
            subject=t("welcome_subject"), text=text, attachments=(), original=text.encode()
        )
        try:
            return await run_in_threadpool(store.open_account, account, welcome)
        except CitizenExists:
            # Opened a moment ago in another tab: this acceptance counts for that account.
            existing = await run_in_threadpool(store.login_account, pending.hetu)
            if existing is None:
                return None
            ok = await run_in_threadpool(store.accept_terms, existing.id, self._version)
            return existing.id if ok else None

    async def _logged_in(
        self, request: Request, pending: PendingLogin, citizen_id: str | None
    ) -> Response:
        portal = self._portal
        if citizen_id is None:
            # Closed while the terms were on screen: refused like any login to a closed account.
            response: Response = portal.pages.render(
                "error.html",
                lang=pending.lang,
                status_code=403,
                visitor=None,
                text_key="error_no_account",
            )
        else:
            response = await start_session(
                portal,
                request,
                citizen_id,
                identified_by=pending.identified_by,
                then=pending.then,
            )
        portal.delete_cookie(response, pending_cookie(portal))
        return response

    def _page(
        self,
        pending: PendingLogin,
        lang: str,
        form: SettingsForm | None,
        *,
        name: str,
        accepted: bool,
        errors: dict[str, str],
        status_code: int = 200,
    ) -> Response:
        return self._portal.pages.render(
            "terms.html",
            lang=lang,
            status_code=status_code,
            visitor=None,
            new_account=not pending.citizen_id,
            ask_name=not pending.name,
            typed_name=name,
            form=form,
            accepted=accepted,
            errors=errors,
            version=self._version,
            csrf_token=self._portal.tokens.login_csrf(pending.nonce),
            languages=[(code, CATALOGUE[code]["language_name"]) for code in CATALOGUE],
        )


def _to_login() -> Response:
    # No identification waits here (never made, used, declined or lapsed): identify again.
    return RedirectResponse("/login", status_code=303)
