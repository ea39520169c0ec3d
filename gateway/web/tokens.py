"""Signed session cookies and CSRF tokens for the citizen portal.

The session itself lives in the database (so logout is real and nodes share it); the cookie only
carries the store's random session token, signed so that a tampered cookie is refused before any
database look-up. CSRF protection has two forms:

- before login, a signed double-submit token: a random nonce in a cookie and, in the form, an HMAC
  of that nonce that only the server can compute;
- after login, a per-session token: an HMAC of the session token, so it changes whenever the
  session is rotated and needs no storage.

The session cookie also carries how the citizen identified (the broker's acr, or "test"), signed
with the token, for whatever later needs to record it. An OpenID Connect login attempt (state,
nonce, PKCE verifier) waits in its own signed, short-lived cookie. An identified citizen who
has still to accept the terms of use waits in an encrypted one: it may carry the HETU.

Each use gets its own key derived from the one configured secret, so a value made for one purpose
is never accepted for another.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from itsdangerous import BadSignature, Signer, URLSafeTimedSerializer

MIN_SECRET_BYTES = 32
_PENDING_AAD = b"asiointitili.web.pending-login"


def _derive(secret_key: bytes, purpose: bytes) -> bytes:
    return hmac.new(secret_key, b"asiointitili.web." + purpose, hashlib.sha256).digest()


class SessionCookie(NamedTuple):
    token: str
    identified_by: str  # the broker's acr, or "test" for test identification


class PortalTokens:
    """Makes and checks the portal's session cookies and CSRF tokens."""

    def __init__(self, secret_key: bytes) -> None:
        if len(secret_key) < MIN_SECRET_BYTES:
            raise ValueError(f"the web secret key must be at least {MIN_SECRET_BYTES} bytes")
        self._cookie_signer = Signer(
            _derive(secret_key, b"session-cookie"), digest_method=hashlib.sha256
        )
        self._login_csrf_key = _derive(secret_key, b"login-csrf")
        self._session_csrf_key = _derive(secret_key, b"session-csrf")
        self._attempt_serializer = URLSafeTimedSerializer(
            _derive(secret_key, b"login-attempt"),
            salt=b"asiointitili.web.login-attempt",
            signer_kwargs={"digest_method": hashlib.sha256},
        )
        self._pending = AESGCM(_derive(secret_key, b"pending-login"))

    def seal_session(self, session_token: str, identified_by: str) -> str:
        """Return the cookie value carrying `session_token` and how the citizen identified."""
        method = base64.urlsafe_b64encode(identified_by.encode()).decode("ascii")
        # Store tokens are URL-safe base64 text, so the first "." separates the two.
        return self._cookie_signer.sign(f"{session_token}.{method}").decode("ascii")

    def open_session(self, cookie_value: str | None) -> SessionCookie | None:
        """Return what a cookie value carries, or None if absent or tampered with."""
        if not cookie_value:
            return None
        try:
            value = self._cookie_signer.unsign(cookie_value).decode("ascii")
            token, _, method = value.partition(".")
            return SessionCookie(token, base64.urlsafe_b64decode(method).decode())
        except (BadSignature, UnicodeDecodeError, binascii.Error):
            return None

    def seal_login_attempt(self, fields: Mapping[str, str]) -> str:
        """Return the cookie value for a pending OpenID Connect login attempt."""
        return self._attempt_serializer.dumps(dict(fields))

    def open_login_attempt(
        self, cookie_value: str | None, max_age: int
    ) -> Mapping[str, Any] | None:
        """Return an attempt's fields, or None if absent, tampered with or older than max_age."""
        if not cookie_value:
            return None
        try:
            fields = self._attempt_serializer.loads(cookie_value, max_age=max_age)
        except BadSignature:  # also SignatureExpired
            return None
        return fields if isinstance(fields, dict) else None

    def seal_pending_login(self, fields: Mapping[str, str]) -> str:
        """Return the encrypted cookie value for a citizen identified but not yet logged in."""
        nonce = secrets.token_bytes(12)
        plain = json.dumps({"at": int(time.time()), "fields": dict(fields)}).encode()
        sealed = nonce + self._pending.encrypt(nonce, plain, _PENDING_AAD)
        return base64.urlsafe_b64encode(sealed).decode("ascii")

    def open_pending_login(self, cookie_value: str | None, max_age: int) -> dict[str, str] | None:
        """Return the fields, or None if absent, tampered with or older than max_age seconds."""
        if not cookie_value:
            return None
        try:
            sealed = base64.urlsafe_b64decode(cookie_value.encode("ascii"))
            plain = self._pending.decrypt(sealed[:12], sealed[12:], _PENDING_AAD)
            value = json.loads(plain)
        except (InvalidTag, ValueError, UnicodeError, binascii.Error):
            return None
        age = int(time.time()) - int(value["at"])
        fields = value["fields"]
        if not 0 <= age <= max_age or not isinstance(fields, dict):
            return None
        return {str(k): str(v) for k, v in fields.items()}

    @staticmethod
    def new_login_nonce() -> str:
        """Return a fresh random nonce for the pre-login CSRF cookie."""
        return secrets.token_urlsafe(32)

    def login_csrf(self, nonce: str) -> str:
        """Return the form token that matches a pre-login nonce."""
        return _mac(self._login_csrf_key, nonce)

    def session_csrf(self, session_token: str) -> str:
        """Return the form token for one logged-in session."""
        return _mac(self._session_csrf_key, session_token)

    def check_login_csrf(self, nonce: str | None, supplied: str | None) -> bool:
        """True if `supplied` is the form token for the nonce in the visitor's cookie."""
        return bool(nonce) and _same(self.login_csrf(nonce or ""), supplied)

    def check_session_csrf(self, session_token: str, supplied: str | None) -> bool:
        """True if `supplied` is the form token for this session."""
        return _same(self.session_csrf(session_token), supplied)


def _mac(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def _same(expected: str, supplied: str | None) -> bool:
    # Constant-time comparison, so response timing does not reveal how much of a guess was right.
    return supplied is not None and hmac.compare_digest(expected.encode(), supplied.encode())
