"""Cases, a request for more information and the Deleted view in headless Chromium against a
real `asiointitili serve`, each page checked with axe-core and photographed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from gatewaytest.browser import ARTIFACTS, AXE_CORE_JS, CHROMIUM, PageChecks, require_browser
from gatewaytest.env import DOMAIN, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.servers import ServeProcess
from gatewaytest.smtp_fixtures import decision, send

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CITIZEN = make_hetu("150680", "-", 246)


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    require_browser()
    from playwright.sync_api import sync_playwright

    env = make_env(tmp_path_factory.mktemp("case-browser"))
    env.add_citizen(CITIZEN, name="Maija Meikäläinen")
    process = ServeProcess(env, env.root / "serve.log").start()
    try:
        for number, subject in enumerate(
            (
                "[asia: HEL 2024/77] Päätös rakennusluvasta",
                "[asia: HEL 2024/77] [tila: Käsittelyssä] Hakemus on käsittelyssä",
                "[lisätietopyyntö] [asia: HEL 2024/77] Täydennyspyyntö",
                "Tiedote",
            )
        ):
            rcpt = f"{CITIZEN}@{DOMAIN}"
            message = decision(
                env, rcpt, subject=subject, message_id=f"<case-browser-{number}@demokunta.test>"
            )
            answer = send(env.config.smtp.listen_port, message, [rcpt])
            assert answer.code == 250, answer
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
            try:
                yield f"http://127.0.0.1:{env.config.portal.listen_port}", browser
            finally:
                browser.close()
    finally:
        process.stop()


def test_cases_a_request_and_the_deleted_view(portal: tuple[str, Any]) -> None:
    url, browser = portal
    checks = PageChecks(ARTIFACTS / "screenshots")
    context = browser.new_context(base_url=url)
    context.add_init_script(path=str(AXE_CORE_JS))
    page = context.new_page()
    checks.watch(page)
    page.goto("/login")
    page.fill("#hetu", CITIZEN)
    page.click("main form button[type=submit]")
    page.wait_for_url("**/welcome")
    page.check("#accept")
    page.click("form[action='/welcome'] button[type=submit]")
    page.wait_for_url("**/")
    assert page.is_visible("text=Lisätietopyyntö · Asia: HEL 2024/77")
    checks.check(page, "inbox-cases")

    page.click("nav >> text=Asiat")
    assert page.inner_text("main h2") == "Asia: HEL 2024/77"
    assert page.is_visible("text=Käsittelyssä")
    checks.check(page, "cases")

    page.click("main >> text=Täydennyspyyntö")
    page.wait_for_url("**/messages/*")
    assert page.evaluate(
        "document.querySelector('#reply-heading').compareDocumentPosition("
        "document.querySelector('.message-text')) & Node.DOCUMENT_POSITION_FOLLOWING"
    )
    checks.check(page, "message-request")

    page.goto("/")
    page.click("text=Tiedote")
    page.wait_for_url("**/messages/*")
    page.click("form[action$='/delete'] button[type=submit]")
    page.wait_for_url("**/?deleted=1")
    assert not page.is_visible("main >> text=Tiedote")
    page.click("nav >> text=Poistetut")
    assert page.is_visible("main >> text=Tiedote")
    checks.check(page, "deleted")
    page.click("form[action$='/restore'] button[type=submit]")
    page.wait_for_url("**/messages/*")
    checks.check(page, "message-restored")
    context.close()
