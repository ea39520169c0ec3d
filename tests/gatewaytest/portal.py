"""A citizen in the portal, through its real HTTP interface (test identification), accepting
the terms of use where the portal asks for them."""

from __future__ import annotations

import re
from typing import Any

import httpx

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_MESSAGE_LINK = re.compile(r'href="/messages/([0-9a-f]+)"')
_ATTACHMENT_LINK = re.compile(r'href="(/messages/[0-9a-f]+/attachments/[0-9a-f]+)"')


def login(base_url: str, hetu: str) -> httpx.Client:
    client = httpx.Client(base_url=base_url, timeout=30)
    page = client.get("/login")
    page.raise_for_status()
    token = _CSRF.search(page.text)
    assert token, "login page has no CSRF token"
    answer = client.post("/login", data={"hetu": hetu, "csrf_token": token.group(1)})
    assert answer.status_code == 303, answer.text
    if answer.headers["location"] == "/welcome":
        terms = client.get("/welcome")
        answer = client.post("/welcome", data=_accepting(terms.text))
        assert answer.status_code == 303, answer.text
    return client


def message_ids(client: httpx.Client) -> list[str]:
    inbox = client.get("/")
    inbox.raise_for_status()
    return _MESSAGE_LINK.findall(inbox.text)


def attachment_links(page: str) -> list[str]:
    return _ATTACHMENT_LINK.findall(page)


async def asgi_login(app: Any, hetu: str) -> httpx.AsyncClient:
    """A client logged in to the portal `app` in-process (test identification)."""
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal")
    page = await client.get("/login")
    token = _CSRF.search(page.text)
    assert token, "login page has no CSRF token"
    answer = await client.post("/login", data={"hetu": hetu, "csrf_token": token.group(1)})
    assert answer.status_code == 303, answer.text
    if answer.headers["location"] == "/welcome":
        terms = await client.get("/welcome")
        answer = await client.post("/welcome", data=_accepting(terms.text))
        assert answer.status_code == 303, answer.text
    return client


def _accepting(terms_page: str) -> dict[str, str]:
    """The terms form, accepted; the name is used only where the account is new."""
    return {"csrf_token": csrf_token(terms_page), "accept": "1", "name": "Testi Kansalainen"}


def csrf_token(page: str) -> str:
    """The last CSRF token on a page (forms of the content come after the header's logout)."""
    tokens = _CSRF.findall(page)
    assert tokens, "the page has no CSRF token"
    return str(tokens[-1])
