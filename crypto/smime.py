"""Open an inbound S/MIME message: decrypt it with the gateway's keys and verify every signature.

`open_message` is a pure function (no I/O, no logging) meant to run in a process pool; its
inputs and outputs pickle, except the trust anchor and intermediate certificates, which callers
should load once per worker process. It removes layers from the outside in:

- enveloped-data / authEnveloped-data (RFC 5652 / 5083): decrypted with a matching key;
- opaque signed-data (application/pkcs7-mime): verified, then its eContent is the next layer;
- multipart/signed (RFC 8551 section 3.5.3): verified over the exact bytes of the first part;

and stops at the first entity that is none of these. Both orders are accepted (sign then
encrypt, the usual one, and encrypt then sign), nested signatures too, up to `_MAX_LAYERS`.
The result must have been encrypted and signed, every signature valid and trusted.

Failures raise `SmimeError` with a `SmimeFailure` saying which SMTP answer fits:

    SmimeError(failure: SmimeFailure, detail: str)
      NOT_SMIME, MALFORMED                       - not an S/MIME message we can read
      NOT_FOR_GATEWAY, DECRYPT_FAILED            - encryption layer
      NOT_ENCRYPTED, UNSIGNED                    - a required layer is missing
      BAD_SIGNATURE, CONTENT_MISMATCH, WEAK_ALGORITHM, FUTURE_SIGNING_TIME,
      UNTRUSTED_SIGNER, SIGNER_EXPIRED, NOT_FOR_EMAIL - a signature layer
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from asn1crypto import cms as asn1_cms
from asn1crypto import core as asn1_core
from cryptography import x509

from crypto._cms_envelope import (
    decrypt_auth_enveloped,
    decrypt_enveloped,
    detach_encrypted_content,
)
from crypto._cms_mime import (
    Entity,
    canonical_crlf,
    decode_body,
    split_entity,
    split_multipart_signed,
)
from crypto._cms_signed import verify_signed_data
from crypto._cms_types import (
    DecryptionKey,
    OpenedMessage,
    Signer,
    SmimeError,
    SmimeFailure,
)

__all__ = [
    "DecryptionKey",
    "OpenedMessage",
    "Signer",
    "SmimeError",
    "SmimeFailure",
    "open_message",
]

# Real clients produce at most three layers (signed, encrypted, maybe signed again); the limit
# only stops a crafted message from making us peel forever.
_MAX_LAYERS = 8


def _content_info(der: bytes) -> asn1_cms.ContentInfo:
    # Reading the content type makes asn1crypto parse the outer structure now, so bytes that
    # are not CMS at all fail here (as MALFORMED, see open_message) and not somewhere deeper.
    info = asn1_cms.ContentInfo.load(der)
    info["content_type"].native  # noqa: B018
    return info


def _peel_cms(
    entity: Entity,
    keys: Sequence[DecryptionKey],
    trust_anchors: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate],
    now: datetime,
) -> tuple[bytes, tuple[Signer, ...], bool]:
    der, detached = detach_encrypted_content(decode_body(entity))
    info = _content_info(der)
    kind = info["content_type"].native
    if kind == "enveloped_data":
        return decrypt_enveloped(info["content"], keys, detached), (), True
    if kind == "authenticated_enveloped_data":
        return decrypt_auth_enveloped(info["content"], keys, detached), (), True
    if kind != "signed_data":
        raise SmimeError(SmimeFailure.MALFORMED, "unsupported CMS content type")
    signed_data = info["content"]
    econtent = signed_data["encap_content_info"]["content"]
    if isinstance(econtent, asn1_core.Void):
        raise SmimeError(SmimeFailure.MALFORMED, "opaque signed-data without content")
    # .native joins the chunks of a BER constructed OCTET STRING (NSS writes those).
    content = bytes(econtent.native)
    signers = verify_signed_data(signed_data, content, trust_anchors, intermediates, now)
    return content, signers, False


def _peel_multipart_signed(
    entity: Entity,
    trust_anchors: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate],
    now: datetime,
) -> tuple[bytes, tuple[Signer, ...], bool]:
    signed, signature = split_multipart_signed(entity)
    info = _content_info(decode_body(signature))
    if info["content_type"].native != "signed_data":
        raise SmimeError(SmimeFailure.MALFORMED, "signature part is not signed-data")
    signed_data = info["content"]
    if not isinstance(signed_data["encap_content_info"]["content"], asn1_core.Void):
        # A detached signature that also carries content invites a client to show content
        # other than what was verified (the "mismatch-econtent" attack).
        raise SmimeError(SmimeFailure.CONTENT_MISMATCH, "detached signature carries eContent")
    signers = verify_signed_data(signed_data, signed, trust_anchors, intermediates, now)
    return signed, signers, False


def open_message(
    raw: bytes,
    keys: Sequence[DecryptionKey],
    trust_anchors: Sequence[x509.Certificate],
    *,
    now: datetime,
    intermediates: Sequence[x509.Certificate] = (),
) -> OpenedMessage:
    """Decrypt and verify `raw` (a whole RFC 5322 message, LF or CRLF line endings).

    `keys` are the gateway's identities (current and retired); `now` must be timezone-aware.
    Returns the innermost entity with CRLF line endings and the signers, outermost first.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    content = raw
    signers: list[Signer] = []
    encrypted = False
    evidence = b""
    canonical = False

    for depth in range(_MAX_LAYERS + 1):
        entity = split_entity(content)
        if not (entity.is_cms or entity.is_smime_multipart_signed):
            if depth == 0:
                raise SmimeError(SmimeFailure.NOT_SMIME, f"top-level type {entity.content_type}")
            break
        if depth == _MAX_LAYERS:
            raise SmimeError(SmimeFailure.MALFORMED, "too many nested S/MIME layers")
        try:
            if entity.is_cms:
                layer = _peel_cms(entity, keys, trust_anchors, intermediates, now)
            else:
                layer = _peel_multipart_signed(entity, trust_anchors, intermediates, now)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            # asn1crypto parses lazily, so a broken structure surfaces wherever it is first
            # touched; all of those are one answer to the sender.
            raise SmimeError(SmimeFailure.MALFORMED, "unparseable CMS structure") from exc
        if layer[1] and not signers:
            evidence = content
        content, layer_signers, layer_encrypted = layer
        # The signed part of a multipart/signed was canonicalised for its signature already.
        canonical = not entity.is_cms
        signers.extend(layer_signers)
        encrypted = encrypted or layer_encrypted
    if not encrypted:
        raise SmimeError(SmimeFailure.NOT_ENCRYPTED, "message was signed but not encrypted")
    if not signers:
        raise SmimeError(SmimeFailure.UNSIGNED, "decrypted content carries no signature")
    content = content if canonical else canonical_crlf(content)
    return OpenedMessage(content, tuple(signers), encrypted, evidence)
