"""Security headers added to every response the portal sends, errors and redirects included.

A pure ASGI middleware rather than per-route code, so that no response (a 404 from the router,
a 405) can leave without them. The one response that passes outside every middleware,
Starlette's 500 page, is made by the portal's own error handler, which adds them with
`add_security_headers`. A route may set its own Content-Security-Policy or Cache-Control
(attachment downloads do, with a stricter policy); the defaults fill in only what a response did
not set.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# frame-src 'self' lets the sandboxed srcdoc iframe that shows a message's HTML body load; the
# iframe inherits this policy, so the clerk's HTML cannot fetch remote images (tracking pixels)
# or run scripts even if the sanitiser upstream missed something.
PAGE_CSP = (
    "default-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

# A downloaded file must never act as a page of ours, whatever its declared type.
DOWNLOAD_CSP = "default-src 'none'; sandbox"

_ALWAYS = {
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cross-origin-opener-policy": "same-origin",
}

_DEFAULTS = {
    "content-security-policy": PAGE_CSP,
    # Nearly every page shows personal data or a CSRF token, so nothing is stored by default.
    "cache-control": "no-store",
}


def add_security_headers(headers: MutableHeaders) -> None:
    """Set the fixed headers and fill in the defaults a response did not choose itself."""
    for name, value in _ALWAYS.items():
        headers[name] = value
    for name, value in _DEFAULTS.items():
        if name not in headers:
            headers[name] = value


class SecurityHeadersMiddleware:
    """Adds the portal's security headers to each HTTP response start message."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_security_headers(MutableHeaders(scope=message))
            await send(message)

        await self.app(scope, receive, send_with_headers)
