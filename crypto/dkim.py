"""DKIM signing of outgoing mail: dkimpy's canonicalisation, OpenSSL's RSA.

`DkimSigner(domain=..., selector=..., private_key_pem=...).sign(message)` returns the
`DKIM-Signature:` header field (folded, CRLF-terminated) to prepend to `message`:
rsa-sha256, relaxed/relaxed, signing those of `DEFAULT_SIGNED_HEADERS` the message has.

Why an adapter: dkimpy does the RSA private-key operation in pure Python (big-int `pow`),
which dominates the cost of signing (~95 signatures/s for a 10 KB message, against ~5x that
with OpenSSL). dkimpy has no hook for it, so this module replaces exactly two module-level
names that `dkim.DKIM.sign` / `dkim.DKIM.gen_header` look up at call time:

* `dkim.parse_pem_private_key` - so an already loaded key is not re-parsed by dkimpy's
  pure-Python ASN.1 code on every message;
* `dkim.RSASSA_PKCS1_v1_5_sign` - the RSASSA-PKCS1-v1_5 step over the finished header hash,
  done here by `cryptography` (OpenSSL) with the SHA-256 digest dkimpy computed.

Both replacements dispatch on argument type: only a `_KeyHandle` (which only this module
makes) takes the OpenSSL path; everything else, including other dkimpy users in the
process and ARC signing, goes to dkimpy's original functions unchanged. Everything else -
header parsing, header selection, canonicalisation, body hash, tag list, folding - stays
dkimpy's, so the output is byte-for-byte what stock dkimpy produces (PKCS#1 v1.5 is
deterministic; the tests check this).

The seam is pinned to the dkimpy version it was read from (`_PINNED_DKIMPY`): constructing a
signer under another version raises `DkimError` instead of possibly signing wrongly.
"""

from __future__ import annotations

import importlib.metadata
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

import dkim
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

__all__ = ["DEFAULT_SIGNED_HEADERS", "DkimError", "DkimSigner"]

#: Header fields signed when present, in this order (lower case, as they appear in h=).
DEFAULT_SIGNED_HEADERS: tuple[bytes, ...] = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"reply-to",
    b"in-reply-to",
    b"references",
)

# The dkimpy release whose DKIM.sign/gen_header were read to choose the seam. Any other
# version must be re-reviewed before this pin moves.
_PINNED_DKIMPY = "1.1.8"
_MIN_KEY_BITS = 2048
_SHA256_DIGEST_SIZE = 32

# RFC 6376 d= / s=: dot-separated DNS labels (letters, digits, hyphen; not starting or ending
# with a hyphen). Restricting them also keeps ';', '=' and whitespace out of the tag list.
_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
_DNS_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")


class DkimError(Exception):
    """Signing is impossible: bad key, bad parameters, unusable message or dkimpy version.

    The text never contains key material.
    """


class _KeyHandle(bytes):
    """A loaded RSA key travelling through dkimpy in place of the PEM bytes.

    It subclasses bytes because `DKIM.sign` passes its `privkey` argument straight to
    `parse_pem_private_key`. The byte content is deliberately not a PEM key: if our hook
    were ever bypassed, dkimpy's own parser would reject it (fail loudly, never sign with
    something else).
    """

    key: rsa.RSAPrivateKey

    def __new__(cls, key: rsa.RSAPrivateKey) -> _KeyHandle:
        self = super().__new__(cls, b"asiointitili-dkim-key-handle")
        self.key = key
        return self


_hooks_lock = threading.Lock()
_hooks_installed = False


def _check_dkimpy() -> None:
    """Refuse to run against a dkimpy whose signing path may differ from the one reviewed."""
    try:
        version = importlib.metadata.version("dkimpy")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    if version != _PINNED_DKIMPY:
        raise DkimError(
            f"crypto.dkim is pinned to dkimpy {_PINNED_DKIMPY} but {version} is installed;"
            " re-review the RSA signing seam in dkim.DKIM.gen_header before moving the pin"
        )
    # Belt and braces: the names we replace must still be the ones the signing path looks up.
    if "RSASSA_PKCS1_v1_5_sign" not in dkim.DKIM.gen_header.__code__.co_names:
        raise DkimError("dkim.DKIM.gen_header no longer calls RSASSA_PKCS1_v1_5_sign")
    if "parse_pem_private_key" not in dkim.DKIM.sign.__code__.co_names:
        raise DkimError("dkim.DKIM.sign no longer calls parse_pem_private_key")


def _install_hooks() -> None:
    """Wrap dkimpy's key parsing and RSA signing once per process (idempotent, thread-safe)."""
    global _hooks_installed
    with _hooks_lock:
        if _hooks_installed:
            return
        original_parse: Callable[[bytes], Any] = dkim.parse_pem_private_key
        original_sign: Callable[[Any, Any], Any] = dkim.RSASSA_PKCS1_v1_5_sign

        def parse_pem_private_key(data: bytes) -> Any:
            if isinstance(data, _KeyHandle):
                return data
            return original_parse(data)

        def rsassa_pkcs1_v1_5_sign(hash_: Any, private_key: Any) -> Any:
            if not isinstance(private_key, _KeyHandle):
                return original_sign(hash_, private_key)
            # dkimpy hands over the hash object of the canonicalised, selected headers plus
            # the b=-less signature header; DkimSigner only ever asks for rsa-sha256.
            if hash_.name.lower() != "sha256":
                raise DkimError("the DKIM adapter only signs rsa-sha256")
            digest = hash_.digest()
            if len(digest) != _SHA256_DIGEST_SIZE:
                raise DkimError("unexpected digest length from dkimpy")
            return private_key.key.sign(
                digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())
            )

        dkim.parse_pem_private_key = parse_pem_private_key
        dkim.RSASSA_PKCS1_v1_5_sign = rsassa_pkcs1_v1_5_sign
        _hooks_installed = True


def _load_key(private_key_pem: bytes) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(private_key_pem, password=None)
    except (ValueError, TypeError):
        # `from None`: keep the parser's context (and anything it echoed) out of logs.
        raise DkimError("the DKIM private key is not an unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise DkimError("the DKIM private key is not an RSA key")
    if key.key_size < _MIN_KEY_BITS:
        raise DkimError(f"the DKIM RSA key has {key.key_size} bits; at least 2048 required")
    return key


def _dns_name(what: str, value: str) -> bytes:
    if not isinstance(value, str) or _DNS_NAME.fullmatch(value) is None or len(value) > 253:
        raise DkimError(f"the DKIM {what} {value!r} is not a valid DNS name")
    return value.lower().encode("ascii")


class DkimSigner:
    """Signs messages for one domain/selector with one RSA key (thread-safe, reusable)."""

    def __init__(
        self,
        *,
        domain: str,
        selector: str,
        private_key_pem: bytes,
        headers: Sequence[bytes] = DEFAULT_SIGNED_HEADERS,
    ) -> None:
        _check_dkimpy()
        self._domain = _dns_name("domain", domain)
        self._selector = _dns_name("selector", selector)
        wanted = [h.lower() for h in headers]
        if b"from" not in wanted:
            raise DkimError("the From header field must be signed (RFC 6376 5.4)")
        self._headers = tuple(dict.fromkeys(wanted))  # de-duplicated, order kept
        # Load (and let OpenSSL validate) the key once, not per message.
        self._key = _KeyHandle(_load_key(private_key_pem))
        _install_hooks()

    @property
    def domain(self) -> str:
        return self._domain.decode("ascii")

    @property
    def selector(self) -> str:
        return self._selector.decode("ascii")

    def sign(self, message: bytes) -> bytes:
        """Return the `DKIM-Signature:` header field (CRLF line ends) to prepend to `message`.

        `message` is the complete RFC 5322 message, CRLF or LF line ends.
        """
        try:
            signer = dkim.DKIM(message, signature_algorithm=b"rsa-sha256", linesep=b"\r\n")
            present: dict[bytes, int] = {}
            for name, _value in signer.headers:
                present[name.lower()] = present.get(name.lower(), 0) + 1
            # Name each field once per occurrence so that every instance is signed
            # (dkimpy selects instances bottom-up); absent fields are left out.
            include = [h for h in self._headers for _ in range(present.get(h, 0))]
            if b"from" not in include:
                raise DkimError("the message has no From header field")
            signature: bytes = signer.sign(
                self._selector,
                self._domain,
                self._key,
                canonicalize=(b"relaxed", b"relaxed"),
                include_headers=include,
            )
        except dkim.DKIMException as exc:
            raise DkimError(f"dkimpy could not sign the message: {exc}") from None
        return signature
