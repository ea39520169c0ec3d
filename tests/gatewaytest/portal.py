"""A citizen in the portal, through its real HTTP interface (test identification)."""

from __future__ import annotations

import re

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
    return client


def message_ids(client: httpx.Client) -> list[str]:
    inbox = client.get("/")
    inbox.raise_for_status()
    return _MESSAGE_LINK.findall(inbox.text)


def attachment_links(page: str) -> list[str]:
    return _ATTACHMENT_LINK.findall(page)
