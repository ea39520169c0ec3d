"""OpenID Connect login against the identification broker: the relying party's side.

authlib does the OAuth 2.0 and OpenID Connect parts (discovery metadata checks, PKCE, client
authentication including private_key_jwt, the token request, the ID token's claim checks);
joserfc, authlib's JOSE library, does every signature and decryption. This module only decides
what is acceptable. A refusal is a `LoginRefused` with an i18n key for the citizen and a fixed
reason for the log: never a token, a code, a claim value or a HETU.
"""

from __future__ import annotations

import hmac
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jwe, jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from crypto.oidc_keys import OidcKeys

# Finnish Trust Network levels, weakest first. A level stronger than the weakest one configured
# is accepted too: a citizen may well identify with a "high" method where "substantial" sufficed.
FTN_LEVELS = ("http://ftn.ficora.fi/2017/loa2", "http://ftn.ficora.fi/2017/loa3")

# What a broker may sign and encrypt with: never "none", never HS* (a secret both sides hold),
# never RSA1_5 (padding oracles).
_SIGNING_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
_ENCRYPTION_ALGS = (
    "RSA-OAEP",
    "RSA-OAEP-256",
    "A128CBC-HS256",
    "A192CBC-HS384",
    "A256CBC-HS512",
    "A128GCM",
    "A192GCM",
    "A256GCM",
)
_METADATA_SECONDS = 3600.0  # a discovery document and JWKS are fetched again after this
_LEEWAY_SECONDS = 60  # clock difference tolerated with the broker
_REQUEST_OBJECT_SECONDS = 300
# How long a citizen may take at the broker before the login attempt lapses.
ATTEMPT_SECONDS = 600

_ERROR_CODE = re.compile(r"[a-z_]{1,40}")
# OAuth error codes a broker sends back when the citizen cancelled or could not identify.
_CANCELLED = frozenset({"access_denied", "login_required", "consent_required", "cancelled"})

ClientAuthMethod = Literal["private_key_jwt", "client_secret_basic", "client_secret_post"]


class LoginRefused(Exception):
    """A login that must not go on: `text_key` is shown to the citizen, `reason` is logged."""

    def __init__(self, text_key: str, reason: str, status_code: int = 403) -> None:
        super().__init__(reason)
        self.text_key, self.reason, self.status_code = text_key, reason, status_code


@dataclass(frozen=True)
class OidcSettings:
    """What the portal needs to know about the broker and its registration there."""

    issuer: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    acr_values: tuple[str, ...]
    hetu_claim: str
    name_claim: str
    client_auth: ClientAuthMethod = "private_key_jwt"
    client_secret: str | None = field(default=None, repr=False)
    userinfo: bool = True
    request_object: bool = True
    signing_alg: str = "RS256"
    http_timeout: float = 10.0

    def acceptable_acr(self) -> frozenset[str]:
        accepted = set(self.acr_values)
        for rank, level in enumerate(FTN_LEVELS):
            if level in accepted:
                accepted.update(FTN_LEVELS[rank:])
        return frozenset(accepted)


@dataclass(frozen=True)
class LoginAttempt:
    """What ties the broker's answer to the browser that asked (kept in a signed cookie), and
    where the citizen goes after login (the inbox, or a page that asked them to identify again).
    """

    state: str
    nonce: str
    code_verifier: str = field(repr=False)
    lang: str
    then: str

    @classmethod
    def new(cls, lang: str, then: str) -> LoginAttempt:
        return cls(generate_token(43), generate_token(43), generate_token(64), lang, then)

    def fields(self) -> dict[str, str]:
        return {
            "s": self.state,
            "n": self.nonce,
            "v": self.code_verifier,
            "l": self.lang,
            "t": self.then,
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> LoginAttempt | None:
        values = [fields.get(name) for name in ("s", "n", "v", "l", "t")]
        if not all(isinstance(value, str) and value for value in values):
            return None
        return cls(*values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Identification:
    """Who the broker says the citizen is. The HETU is as sent, not yet validated."""

    hetu: str = field(repr=False)
    name: str | None = field(repr=False)
    acr: str


@dataclass
class _Provider:
    metadata: OpenIDProviderMetadata
    keys: KeySet
    fetched_at: float


class RelyingParty:
    """Starts logins (the authorization URL) and completes them (code -> verified identity)."""

    def __init__(
        self,
        settings: OidcSettings,
        keys: OidcKeys,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.keys = keys
        self._transport = transport
        self._provider: _Provider | None = None

    def _http(self) -> httpx.AsyncClient:
        # One client per login: logins are rare, and a client must not outlive its event loop.
        return httpx.AsyncClient(
            transport=self._transport, timeout=self.settings.http_timeout, follow_redirects=False
        )

    async def begin(self, lang: str, then: str = "/") -> tuple[str, LoginAttempt]:
        """Return the broker's authorization URL for a new attempt, and the attempt.

        A login that leads anywhere but the inbox re-authenticates for a sensitive step, so the
        broker is asked (`prompt=login`) not to reuse a session of its own.
        """
        async with self._http() as http:
            provider = await self._load_provider(http)
        settings, attempt = self.settings, LoginAttempt.new(lang, then)
        params = {
            "response_type": "code",
            "client_id": settings.client_id,
            "redirect_uri": settings.redirect_uri,
            "scope": " ".join(settings.scopes),
            "state": attempt.state,
            "nonce": attempt.nonce,
            "code_challenge": create_s256_code_challenge(attempt.code_verifier),
            "code_challenge_method": "S256",
            "acr_values": " ".join(settings.acr_values),
            "ui_locales": lang,
        }
        if then != "/":
            params["prompt"] = "login"
        endpoint = provider.metadata["authorization_endpoint"]
        if not settings.request_object:
            return prepare_grant_uri(endpoint, **params), attempt
        now = int(time.time())
        request = jwt.encode(
            {"alg": settings.signing_alg, "kid": self.keys.signing.kid},
            {
                **params,
                "iss": settings.client_id,
                "aud": settings.issuer,
                "iat": now,
                "nbf": now,
                "exp": now + _REQUEST_OBJECT_SECONDS,
                "jti": generate_token(32),
            },
            self.keys.signing,
            algorithms=[settings.signing_alg],
        )
        # OpenID Connect Core 6.1: these three stand outside the request object as well.
        return (
            prepare_grant_uri(
                endpoint,
                settings.client_id,
                "code",
                scope=params["scope"],
                request=request,
            ),
            attempt,
        )

    async def complete(
        self, attempt: LoginAttempt, answer: Mapping[str, str]
    ) -> Identification:
        """Check the broker's redirect against the attempt, redeem the code, verify the ID
        token (and userinfo), and return the identity; raise LoginRefused otherwise."""
        if not hmac.compare_digest(answer.get("state", "").encode(), attempt.state.encode()):
            raise LoginRefused("oidc_error_attempt", "state does not match the attempt", 400)
        error = answer.get("error")
        if error is not None:
            known = error if error in _CANCELLED else "another error"
            raise LoginRefused(
                "oidc_error_cancelled" if error in _CANCELLED else "oidc_error_failed",
                f"the broker answered {known}",
            )
        code = answer.get("code")
        if not code:
            raise LoginRefused("oidc_error_failed", "the broker sent no code", 400)
        async with self._http() as http:
            provider = await self._load_provider(http)
            tokens = await self._redeem(http, provider, code, attempt.code_verifier)
            id_token = await self._id_token(http, provider, tokens, attempt.nonce)
            claims: Mapping[str, Any] = id_token
            if self.settings.userinfo and provider.metadata.get("userinfo_endpoint"):
                userinfo = await self._userinfo(http, provider, tokens["access_token"])
                if userinfo.get("sub") != id_token["sub"]:
                    raise LoginRefused("oidc_error_failed", "userinfo is about another subject")
                # The ID token's own claims win: it is signed, userinfo may not be.
                claims = {**userinfo, **id_token}
        acr = id_token.get("acr")
        if not isinstance(acr, str) or acr not in self.settings.acceptable_acr():
            raise LoginRefused("oidc_error_weak_method", "the identification level is too low")
        hetu = claims.get(self.settings.hetu_claim)
        if not isinstance(hetu, str) or not hetu:
            raise LoginRefused("oidc_error_no_hetu", "the HETU claim is missing")
        name = claims.get(self.settings.name_claim)
        return Identification(hetu=hetu, name=name if isinstance(name, str) else None, acr=acr)

    # --- the broker's metadata and keys -----------------------------------------------------

    async def _load_provider(self, http: httpx.AsyncClient, *, refresh: bool = False) -> _Provider:
        cached = self._provider
        if cached and not refresh and time.monotonic() - cached.fetched_at < _METADATA_SECONDS:
            return cached
        issuer = self.settings.issuer
        document = await _get_json(http, issuer.rstrip("/") + "/.well-known/openid-configuration")
        metadata = OpenIDProviderMetadata(document)
        try:
            metadata.validate()
        except (ValueError, TypeError):
            raise LoginRefused(
                "oidc_error_unavailable", "the discovery document is not valid", 502
            ) from None
        # OpenID Connect Discovery 4.3: the document must name exactly the configured issuer.
        if metadata["issuer"] != issuer:
            raise LoginRefused("oidc_error_unavailable", "discovery names another issuer", 502)
        jwks = await _get_json(http, metadata["jwks_uri"])
        try:
            keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        except (JoseError, ValueError, KeyError, TypeError):
            raise LoginRefused(
                "oidc_error_unavailable", "the broker's JWKS is unusable", 502
            ) from None
        self._provider = _Provider(metadata, keys, time.monotonic())
        return self._provider

    # --- the token endpoint ------------------------------------------------------------------

    def _client_auth(self, token_endpoint: str) -> ClientAuth:
        settings = self.settings
        if settings.client_auth == "private_key_jwt":
            method = PrivateKeyJWT(
                token_endpoint, headers={"kid": self.keys.signing.kid}, alg=settings.signing_alg
            )
            return ClientAuth(settings.client_id, self.keys.signing, method)
        return ClientAuth(settings.client_id, settings.client_secret, settings.client_auth)

    async def _redeem(
        self, http: httpx.AsyncClient, provider: _Provider, code: str, verifier: str
    ) -> dict[str, Any]:
        endpoint = provider.metadata["token_endpoint"]
        body = prepare_token_request(
            "authorization_code",
            code=code,
            redirect_uri=self.settings.redirect_uri,
            code_verifier=verifier,
        )
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        url, headers, body = self._client_auth(endpoint).prepare("POST", endpoint, headers, body)
        try:
            response = await http.post(url, content=body, headers=headers)
        except httpx.HTTPError:
            raise LoginRefused(
                "oidc_error_unavailable", "the token endpoint is unreachable", 502
            ) from None
        tokens = _json_object(response)
        if response.status_code != 200 or tokens is None:
            error = tokens.get("error") if tokens else None
            # Only a well-formed OAuth error code goes into the log, never arbitrary text.
            code_text = error if isinstance(error, str) and _ERROR_CODE.fullmatch(error) else "-"
            raise LoginRefused(
                "oidc_error_failed",
                f"the token endpoint refused the code ({response.status_code}, {code_text})",
            )
        if not isinstance(tokens.get("id_token"), str):
            raise LoginRefused("oidc_error_failed", "the token response has no ID token")
        if not isinstance(tokens.get("access_token"), str):
            raise LoginRefused("oidc_error_failed", "the token response has no access token")
        return tokens

    # --- ID token and userinfo ---------------------------------------------------------------

    def _unwrap(self, value: str) -> str | bytes:
        """The plaintext of a compact JWE (five parts) to the portal's key; anything else as is."""
        if value.count(".") != 4:
            return value
        try:
            decrypted = jwe.decrypt_compact(
                value, self.keys.encryption, algorithms=_ENCRYPTION_ALGS
            )
        except (JoseError, ValueError):
            raise LoginRefused("oidc_error_failed", "an encrypted token did not decrypt") from None
        assert decrypted.plaintext is not None
        return decrypted.plaintext

    async def _verify(
        self, http: httpx.AsyncClient, provider: _Provider, value: str | bytes, allowed: Any
    ) -> jwt.Token:
        """A JWS signed by the broker, with one of the algorithms it announces and we accept."""
        algorithms = [alg for alg in (allowed or ["RS256"]) if alg in _SIGNING_ALGS]
        try:
            try:
                return jwt.decode(value, provider.keys, algorithms=algorithms)
            except InvalidKeyIdError:
                # The broker may have rotated its keys since we fetched them.
                provider = await self._load_provider(http, refresh=True)
                return jwt.decode(value, provider.keys, algorithms=algorithms)
        except (JoseError, ValueError):
            raise LoginRefused(
                "oidc_error_failed", "a signature by the broker did not verify"
            ) from None

    async def _id_token(
        self, http: httpx.AsyncClient, provider: _Provider, tokens: Mapping[str, Any], nonce: str
    ) -> CodeIDToken:
        token = await self._verify(
            http,
            provider,
            self._unwrap(tokens["id_token"]),
            provider.metadata.get("id_token_signing_alg_values_supported"),
        )
        claims = CodeIDToken(
            token.claims,
            token.header,
            {
                "iss": {"essential": True, "value": self.settings.issuer},
                "aud": {"essential": True, "value": self.settings.client_id},
                "exp": {"essential": True},
            },
            {
                "nonce": nonce,
                "client_id": self.settings.client_id,
                "access_token": tokens["access_token"],
            },
        )
        try:
            claims.validate(leeway=_LEEWAY_SECONDS)
        except JoseError as exc:
            # The exception names only the claim (iss, aud, exp, nonce...), never its value.
            raise LoginRefused(
                "oidc_error_failed", f"the ID token was refused: {type(exc).__name__}"
            ) from None
        return claims

    async def _userinfo(
        self, http: httpx.AsyncClient, provider: _Provider, access_token: str
    ) -> Mapping[str, Any]:
        try:
            response = await http.get(
                provider.metadata["userinfo_endpoint"],
                headers={
                    "Authorization": f"Bearer {access_token}",
                    "Accept": "application/jwt, application/json",
                },
            )
        except httpx.HTTPError:
            raise LoginRefused("oidc_error_unavailable", "userinfo is unreachable", 502) from None
        if response.status_code != 200:
            raise LoginRefused("oidc_error_failed", f"userinfo answered {response.status_code}")
        media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/jwt":
            info = _json_object(response)
            if info is None:
                raise LoginRefused("oidc_error_failed", "userinfo is not a JSON object")
            return info
        # OpenID Connect Core 5.3.2: signed, encrypted, or signed and then encrypted.
        value = self._unwrap(response.text.strip())
        if isinstance(value, bytes) and value.lstrip().startswith(b"{"):
            return _loads_object(value, "decrypted userinfo is not a JSON object")
        token = await self._verify(
            http, provider, value, provider.metadata.get("userinfo_signing_alg_values_supported")
        )
        # A signed userinfo response carries iss and aud (5.3.2), and they must be ours.
        if token.claims.get("iss") != self.settings.issuer or not _names(
            token.claims.get("aud"), self.settings.client_id
        ):
            raise LoginRefused("oidc_error_failed", "signed userinfo names another party")
        return token.claims


def _names(audience: object, client_id: str) -> bool:
    return audience == client_id or (isinstance(audience, list) and client_id in audience)


async def _get_json(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    try:
        response = await http.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError:
        raise LoginRefused("oidc_error_unavailable", "the broker is unreachable", 502) from None
    document = _json_object(response)
    if response.status_code != 200 or document is None:
        raise LoginRefused(
            "oidc_error_unavailable", f"the broker answered {response.status_code}", 502
        )
    return document


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        value = json.loads(response.content)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _loads_object(data: bytes, reason: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise LoginRefused("oidc_error_failed", reason)
    return value
