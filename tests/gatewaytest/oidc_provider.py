"""A small OpenID provider on loopback that behaves like a Finnish identification broker, with
switches to misbehave; and a thread that runs any ASGI app (the provider, the portal) on loopback.

Built from authlib's and joserfc's pieces: discovery; a JWKS; an authorize endpoint that checks
the signed request object and PKCE, "identifies" `provider.person` at once and redirects back
with a code; a token endpoint that checks private_key_jwt client assertions (or a client secret),
the code's single use, its redirect URI and the PKCE verifier; and userinfo. Client signatures
are checked, and tokens encrypted, with the keys in the client's published JWKS, fetched from its
jwks_uri as a broker does. Every request the provider accepted is recorded for the tests.
"""

from __future__ import annotations

import base64
import binascii
import json
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import uvicorn
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core.util import create_half_hash
from joserfc import jwe, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey
from joserfc.jwt import JWTClaimsRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

LOA2 = "http://ftn.ficora.fi/2017/loa2"
LOA3 = "http://ftn.ficora.fi/2017/loa3"
HETU_CLAIM = "urn:oid:1.2.246.21"
SUBJECT = "broker-subject-7f3a"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class LoopbackServer:
    """An ASGI app served by uvicorn in a thread, on a port bound before the app exists (so the
    app may know its own URL)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://{host}:{self._socket.getsockname()[1]}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, app: ASGIApp) -> LoopbackServer:
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline and self._thread.is_alive(), "server did not start"
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._socket.close()


@dataclass
class Person:
    hetu: str
    name: str = "Maija Meikäläinen"


@dataclass
class Behaviour:
    """How the provider answers; each switch is one way a broker (or an attacker) goes wrong."""

    acr: str = LOA3
    sign_with_wrong_key: bool = False  # same kid, another key: a forged signature
    audience: str | None = None  # an ID token for another client
    issuer: str | None = None  # an ID token from another issuer
    expired: bool = False
    nonce: str | None = None  # an ID token with another nonce (an old one replayed)
    omit_hetu: bool = False
    hetu_in_userinfo_only: bool = False
    encrypt_id_token: bool = False  # JWE to the client's "enc" key
    userinfo: Literal["json", "signed", "encrypted"] = "json"
    error: str | None = None  # redirect back with this OAuth error instead of a code


@dataclass
class Client:
    client_id: str
    redirect_uri: str
    jwks_uri: str
    secret: str | None = None  # for client_secret_basic / client_secret_post
    require_request_object: bool = True


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    nonce: str | None
    code_challenge: str | None
    person: Person


@dataclass
class Records:
    """What the provider accepted, for tests to inspect."""

    request_objects: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[dict[str, str]] = field(default_factory=list)
    client_assertions: list[dict[str, Any]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)


class Provider:
    """The provider's state and its Starlette app (`app`), served at `issuer`."""

    def __init__(self, issuer: str, signing_key: RSAKey, wrong_key: RSAKey) -> None:
        self.issuer = issuer
        self.signing_key = signing_key
        self.wrong_key = wrong_key
        self.person = Person("010190-123M")
        self.behaviour = Behaviour()
        self.records = Records()
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, Grant] = {}
        self.access_tokens: dict[str, tuple[Client, Grant]] = {}
        self._assertion_ids: set[str] = set()
        self.app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/jwks", self.jwks),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
                Route("/userinfo", self.userinfo),
            ]
        )

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/token"

    def register(self, client: Client) -> None:
        self.clients[client.client_id] = client

    def issue_code(self, client_id: str, *, nonce: str, code_challenge: str | None) -> str:
        """A code as the authorize endpoint would issue it (for code-injection tests)."""
        client = self.clients[client_id]
        code: str = generate_token(32)
        self.codes[code] = Grant(client_id, client.redirect_uri, nonce, code_challenge, self.person)
        return code

    # --- endpoints ---------------------------------------------------------------------------

    async def discovery(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": self.token_endpoint,
                "userinfo_endpoint": f"{self.issuer}/userinfo",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "id_token_encryption_alg_values_supported": ["RSA-OAEP-256"],
                "id_token_encryption_enc_values_supported": ["A256GCM"],
                "userinfo_signing_alg_values_supported": ["RS256"],
                "request_object_signing_alg_values_supported": ["RS256", "PS256"],
                "token_endpoint_auth_methods_supported": [
                    "private_key_jwt",
                    "client_secret_basic",
                    "client_secret_post",
                ],
                "token_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256"],
                "code_challenge_methods_supported": ["S256"],
                "acr_values_supported": [LOA2, LOA3],
                "request_parameter_supported": True,
                "ui_locales_supported": ["fi", "sv", "en"],
            }
        )

    async def jwks(self, request: Request) -> Response:
        return JSONResponse(KeySet([self.signing_key]).as_dict(private=False))

    async def authorize(self, request: Request) -> Response:
        query = request.query_params
        client = self.clients.get(query.get("client_id", ""))
        if client is None:
            return PlainTextResponse("unknown client", status_code=400)
        params = dict(query)
        if "request" in query:
            try:
                token = jwt.decode(
                    query["request"], await self._client_keys(client), algorithms=["RS256", "PS256"]
                )
                JWTClaimsRegistry(
                    iss={"essential": True, "value": client.client_id},
                    aud={"essential": True, "value": self.issuer},
                    exp={"essential": True},
                ).validate(token.claims)
            except JoseError as exc:
                return PlainTextResponse(f"bad request object: {exc}", status_code=400)
            self.records.request_objects.append(token.claims)
            # OpenID Connect Core 6.3.3: the request object's parameters supersede the query's.
            params.update({k: v for k, v in token.claims.items() if isinstance(v, str)})
        elif client.require_request_object:
            return PlainTextResponse("a signed request object is required", status_code=400)
        # Never redirect anywhere but the registered URI.
        if params.get("redirect_uri") != client.redirect_uri:
            return PlainTextResponse("unregistered redirect_uri", status_code=400)
        self.records.authorizations.append(params)
        state = params.get("state")

        def back(**values: str | None) -> Response:
            answer = {k: v for k, v in {**values, "state": state}.items() if v is not None}
            return RedirectResponse(add_params_to_uri(client.redirect_uri, answer), 302)

        if self.behaviour.error:
            return back(error=self.behaviour.error)
        if params.get("response_type") != "code" or "openid" not in params.get("scope", ""):
            return back(error="invalid_request")
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return back(error="invalid_request", error_description="PKCE S256 is required")
        code = self.issue_code(
            client.client_id, nonce=params.get("nonce", ""), code_challenge=params["code_challenge"]
        )
        return back(code=code)

    async def token(self, request: Request) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        self.records.token_requests.append(form)
        client = await self._authenticate(request, form)
        if client is None:
            return _oauth_error("invalid_client", 401)
        grant = self.codes.pop(form.get("code", ""), None)  # a code is good once
        if grant is None or grant.client_id != client.client_id:
            return _oauth_error("invalid_grant")
        if form.get("redirect_uri") != grant.redirect_uri:
            return _oauth_error("invalid_grant")
        verifier = form.get("code_verifier")
        if grant.code_challenge is None:
            # RFC 9700 2.1.1: a verifier for a code issued without a challenge is a downgrade.
            if verifier is not None:
                return _oauth_error("invalid_grant")
        elif verifier is None or create_s256_code_challenge(verifier) != grant.code_challenge:
            return _oauth_error("invalid_grant")
        access_token = generate_token(32)
        self.access_tokens[access_token] = (client, grant)
        id_token = await self._id_token(client, grant, access_token)
        return JSONResponse(
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token,
            },
            headers={"Cache-Control": "no-store"},
        )

    async def userinfo(self, request: Request) -> Response:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        found = self.access_tokens.get(value) if scheme == "Bearer" else None
        if found is None:
            return _oauth_error("invalid_token", 401)
        client, grant = found
        claims: dict[str, Any] = {"sub": SUBJECT}
        if not self.behaviour.omit_hetu:
            claims |= {HETU_CLAIM: grant.person.hetu, "name": grant.person.name}
        mode = self.behaviour.userinfo
        if mode == "json":
            return JSONResponse(claims)
        signed = self._sign({**claims, "iss": self.issuer, "aud": client.client_id})
        if mode == "encrypted":
            signed = await self._encrypt(client, signed)
        return Response(signed, media_type="application/jwt")

    # --- helpers ------------------------------------------------------------------------------

    async def _client_keys(self, client: Client) -> KeySet:
        # Fetched each time, as the client's keys may rotate; the portal serves them.
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.get(client.jwks_uri)
        response.raise_for_status()
        return KeySet.import_key_set(response.json())

    async def _authenticate(self, request: Request, form: Mapping[str, str]) -> Client | None:
        if form.get("client_assertion_type") == ASSERTION_TYPE:
            return await self._check_assertion(form.get("client_assertion", ""))
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme == "Basic":
            client_id, _, secret = base64.b64decode(value).decode().partition(":")
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        client = self.clients.get(client_id)
        if client is None or client.secret is None or secret != client.secret:
            return None
        return client

    async def _check_assertion(self, assertion: str) -> Client | None:
        try:
            payload = assertion.split(".")[1]
            unverified = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (IndexError, ValueError, binascii.Error):
            return None
        client = self.clients.get(unverified.get("iss", ""))
        if client is None:
            return None
        try:
            token = jwt.decode(
                assertion, await self._client_keys(client), algorithms=["RS256", "PS256"]
            )
            JWTClaimsRegistry(
                iss={"essential": True, "value": client.client_id},
                sub={"essential": True, "value": client.client_id},
                aud={"essential": True, "values": [self.token_endpoint, self.issuer]},
                exp={"essential": True},
                jti={"essential": True},
            ).validate(token.claims)
        except JoseError:
            return None
        if token.claims["jti"] in self._assertion_ids:  # RFC 7523 3: no replayed assertions
            return None
        self._assertion_ids.add(token.claims["jti"])
        self.records.client_assertions.append({"header": token.header, "claims": token.claims})
        return client

    async def _id_token(self, client: Client, grant: Grant, access_token: str) -> str:
        behaviour, now = self.behaviour, int(time.time())
        claims: dict[str, Any] = {
            "iss": behaviour.issuer or self.issuer,
            "sub": SUBJECT,
            "aud": behaviour.audience or client.client_id,
            "iat": now - 700 if behaviour.expired else now,
            "exp": now - 600 if behaviour.expired else now + 300,
            "auth_time": now,
            "nonce": behaviour.nonce or grant.nonce,
            "acr": behaviour.acr,
            "at_hash": create_half_hash(access_token, "RS256").decode(),
        }
        if not (behaviour.omit_hetu or behaviour.hetu_in_userinfo_only):
            claims |= {HETU_CLAIM: grant.person.hetu, "name": grant.person.name}
        token = self._sign(claims)
        return await self._encrypt(client, token) if behaviour.encrypt_id_token else token

    def _sign(self, claims: dict[str, Any]) -> str:
        key = self.wrong_key if self.behaviour.sign_with_wrong_key else self.signing_key
        return jwt.encode({"alg": "RS256", "kid": self.signing_key.kid}, claims, key)

    async def _encrypt(self, client: Client, token: str) -> str:
        keys = await self._client_keys(client)
        key = next(k for k in keys if k.get("use") == "enc")
        header = {"alg": "RSA-OAEP-256", "enc": "A256GCM", "cty": "JWT", "kid": key.kid}
        return jwe.encrypt_compact(header, token, key, algorithms=["RSA-OAEP-256", "A256GCM"])


def _oauth_error(error: str, status_code: int = 400) -> Response:
    return JSONResponse({"error": error}, status_code=status_code)
