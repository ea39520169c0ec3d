"""A citizen uses the portal in headless Chromium against a real `asiointitili serve`: logs in,
reads a clerk's message, downloads its attachment, replies, changes settings, exports the event
log and the archive, passivates and reactivates, and closes the account. Every page is checked
with axe-core and photographed into test-artifacts/screenshots/.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from gatewaytest.browser import ARTIFACTS, AXE_CORE_JS, CHROMIUM, PageChecks, require_browser
from gatewaytest.env import DOMAIN, GatewayEnv, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.servers import ServeProcess
from gatewaytest.smtp_fixtures import decision, send

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

READER = make_hetu("120385", "-", 234)
CLOSER = make_hetu("230477", "-", 345)
NEWCOMER = make_hetu("110690", "-", 456)  # no account until the first login
ATTACHMENT = b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"


@dataclass
class Portal:
    env: GatewayEnv
    url: str
    browser: Any


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    require_browser()
    from playwright.sync_api import sync_playwright

    env = make_env(tmp_path_factory.mktemp("browser"))
    for hetu, name in ((READER, "Maija Meikäläinen"), (CLOSER, "Kalle Sulkija")):
        env.add_citizen(hetu, name=name, email="kansalainen@example.fi")
    process = ServeProcess(env, env.root / "serve.log").start()
    try:
        for hetu, subject in ((READER, "Päätös rakennusluvasta"), (CLOSER, "Tiedote")):
            answer = send(
                env.config.smtp.listen_port,
                decision(
                    env,
                    f"{hetu}@{DOMAIN}",
                    subject=subject,
                    body="Hyvä vastaanottaja,\n\nohessa päätös.\n",
                    attachments=(("paatos.pdf", "application/pdf", ATTACHMENT),),
                ),
                [f"{hetu}@{DOMAIN}"],
            )
            assert answer.code == 250, answer
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
            try:
                yield Portal(env, f"http://127.0.0.1:{env.config.portal.listen_port}", browser)
            finally:
                browser.close()
    finally:
        process.stop()


@pytest.fixture
def checks() -> PageChecks:
    return PageChecks(ARTIFACTS / "screenshots")


def _page(portal: Portal, checks: PageChecks) -> Any:
    context = portal.browser.new_context(accept_downloads=True, base_url=portal.url)
    # Through the DevTools protocol, not a <script>: the pages' CSP stays as it is served.
    context.add_init_script(path=str(AXE_CORE_JS))
    page = context.new_page()
    checks.watch(page)
    return page


def _log_in(page: Any, checks: PageChecks, hetu: str, *, name: str | None = None) -> None:
    page.goto("/login")
    if name:
        checks.check(page, name)
    # Keyboard first: the skip link is the first thing a Tab reaches.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('href')") == "#main"
    page.fill("#hetu", hetu)
    page.click("main form button[type=submit]")
    # Accounts made by the operator have accepted no terms of use yet: the first login asks.
    page.wait_for_url("**/welcome")
    if name:
        checks.check(page, "terms")
    page.check("#accept")
    page.click("form[action='/welcome'] button[type=submit]")
    page.wait_for_url("**/")


def test_read_download_reply_settings_log_and_passivation(
    portal: Portal, checks: PageChecks
) -> None:
    page = _page(portal, checks)
    _log_in(page, checks, READER, name="login")
    checks.check(page, "inbox")
    page.click("text=Päätös rakennusluvasta")
    page.wait_for_url("**/messages/*")
    assert "ohessa päätös" in page.inner_text(".message-text")
    checks.check(page, "message")

    with page.expect_download() as download:
        page.click("a[download]")
    assert download.value.suggested_filename == "paatos.pdf"
    with open(download.value.path(), "rb") as file:
        assert file.read() == ATTACHMENT

    page.fill("#reply-text", "Kiitos päätöksestä.")
    page.click("form[action$='/reply'] button[type=submit]")
    page.wait_for_url("**?reply=sent")
    assert page.is_visible("text=Vastauksesi on tallennettu")
    checks.check(page, "message-replied")

    # Settings: a wrong number first, then a good one and English.
    page.click("nav >> text=Tilin asetukset")
    checks.check(page, "account")
    page.fill("#phone", "12345")
    page.click("form[action='/account/settings'] button[type=submit]")
    assert page.get_attribute("#phone", "aria-invalid") == "true"
    checks.check(page, "account-error")
    page.fill("#phone", "040 123 4567")
    page.check("#notify_sms")
    page.select_option("#lang", "en")
    page.click("form[action='/account/settings'] button[type=submit]")
    page.wait_for_url("**/account?done=saved")
    assert page.is_visible("text=Your settings have been saved.")
    assert page.input_value("#phone") == "+358401234567"

    # The event log, and its export into the mailbox.
    page.click("nav >> text=Event log")
    assert page.is_visible("text=You logged in (test identification).")
    checks.check(page, "events")
    page.fill("#since", "2000-01-01")
    page.fill("#until", "1999-01-01")
    page.click("form[action='/events'] button[type=submit]")
    assert page.get_attribute("#until", "aria-invalid") == "true"
    checks.check(page, "events-error")
    page.click("form[action='/events/export'] button[type=submit]")
    page.wait_for_url("**/messages/*")
    assert page.inner_text("h1") == "Event log"
    checks.check(page, "events-exported")

    # The archive of all messages.
    page.click("nav >> text=Account settings")
    with page.expect_download() as download:
        page.click("form[action='/account/export'] button[type=submit]")
    with open(download.value.path(), "rb") as file:
        names = zipfile.ZipFile(io.BytesIO(file.read())).namelist()
    assert any(name.endswith("/paatos.pdf") for name in names)

    # Passivate, then come back.
    page.click("a[href='/account/passivate']")
    checks.check(page, "passivate-confirm")
    page.click("form[action='/account/passivate'] button[type=submit]")
    page.wait_for_url("**/account?done=passivated")
    assert page.is_visible("text=Your eAccount is not in use")
    checks.check(page, "account-passive")
    page.click("p.notice a[href='/account/reactivate']")
    checks.check(page, "reactivate-confirm")
    page.click("form[action='/account/reactivate'] button[type=submit]")
    page.wait_for_url("**/account?done=reactivated")
    page.context.close()


def test_first_login_opens_an_account(portal: Portal, checks: PageChecks) -> None:
    page = _page(portal, checks)
    page.goto("/login")
    page.fill("#hetu", NEWCOMER)
    page.click("main form button[type=submit]")
    page.wait_for_url("**/welcome")
    checks.check(page, "terms-new-account")
    page.fill("#name", "Nelli Uusi")
    page.fill("#email", "ei osoite")
    page.click("form[action='/welcome'] button[type=submit]")
    assert page.is_visible("#accept-error") and page.is_visible("#email-error")
    checks.check(page, "terms-errors")
    page.fill("#email", "nelli@example.fi")
    page.check("#notify_email")
    page.check("#accept")
    page.click("form[action='/welcome'] button[type=submit]")
    page.wait_for_url("**/")
    assert page.is_visible("text=Tervetuloa asiointitilin käyttäjäksi")
    page.click("nav >> text=Liittyneet palvelut")
    assert page.inner_text("h1") == "Liittyneet palvelut"
    checks.check(page, "services")
    page.context.close()


def test_close_the_account(portal: Portal, checks: PageChecks) -> None:
    page = _page(portal, checks)
    _log_in(page, checks, CLOSER)
    page.click("nav >> text=Tilin asetukset")
    page.click("a[href='/account/close']")
    checks.check(page, "close-confirm")
    page.click("form[action='/account/close'] button[type=submit]")
    assert page.inner_text("h1") == "Asiointitili on suljettu"
    checks.check(page, "closed")
    page.goto("/")
    assert page.url.endswith("/login")
    page.fill("#hetu", CLOSER)
    page.click("main form button[type=submit]")
    assert page.is_visible("text=ei ole käytössä olevaa asiointitiliä")
    checks.check(page, "login-refused")
    page.context.close()
