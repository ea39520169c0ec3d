"""The portal's own OpenID Connect keys: one signs, one decrypts; both published as a JWKS.

The signing key signs request objects and private_key_jwt client assertions; the identification
broker encrypts ID tokens and userinfo to the encryption key. Each carries its RFC 7638
thumbprint as `kid`, so the broker can tell them apart. Kept apart from the web package so
that loading them (`gateway.material`) needs nothing of the portal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from joserfc.jwk import KeySet, RSAKey


def private_key(pem: bytes, use: Literal["sig", "enc"]) -> RSAKey:
    """A PEM RSA private key for one use; ValueError (or a JoseError) when it is unusable."""
    key = RSAKey.import_key(pem, {"use": use})
    if not key.is_private:
        raise ValueError("not a private key")
    key.ensure_kid()
    return key


@dataclass(frozen=True)
class OidcKeys:
    signing: RSAKey = field(repr=False)
    encryption: RSAKey = field(repr=False)

    def public_jwks(self) -> dict[str, Any]:
        """The JWKS the portal publishes: public parts only."""
        return dict(KeySet([self.signing, self.encryption]).as_dict(private=False))
