"""Open an inbound OpenPGP message: decrypt it with the gateway's keys and verify every signature.

The OpenPGP counterpart of `crypto.smime.open_message`, with the same result (`OpenedMessage`),
so that the later stages need not know which was used. gpg does the cryptography, one process
per call (`crypto._pgp_gpg`); this module removes layers from the outside in:

- PGP/MIME encrypted (RFC 3156, or Exchange's multipart/mixed form of it): decrypted, and its
  signatures verified in the same call when it was signed and encrypted at once;
- PGP/MIME signed: the detached signature verified over the exact bytes of the first part;
- inline PGP, only while no signature has been verified: an armoured text body and `.pgp` files,
  each decrypted and verified (hidden recipients are tried against every key by gpg itself).

The result must have been encrypted and signed, every signature valid and by a key the gateway
trusts. Which organisation a key may sign for is the policy's question (`check_signer`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from crypto._cms_mime import Entity, canonical_crlf, split_entity
from crypto._cms_types import OpenedMessage, Signer
from crypto._pgp_gpg import GpgKeyring
from crypto._pgp_mime import (
    InlinePart,
    encrypted_payload,
    inline_parts,
    rebuild,
    signed_parts,
)
from crypto._pgp_status import GoodSignature, PgpError, PgpFailure, decryption, signatures

__all__ = ["PgpContext", "PgpError", "PgpFailure", "is_smime_shaped", "open_pgp_message"]

_MAX_LAYERS = 8


@dataclass(frozen=True)
class PgpContext:
    """What a crypto worker needs for OpenPGP, prepared once at start (`gateway.material`)."""

    home: Path  # the gateway's GNUPGHOME
    # Primary fingerprint -> the e-mail addresses of that key's valid user ids.
    addresses: Mapping[str, tuple[str, ...]]
    # Organisation id -> why its configured OpenPGP keys are unusable ("missing", "expired",
    # "revoked"); such an organisation's mail is refused until its keys are fixed.
    disabled: Mapping[str, str]


@dataclass(frozen=True)
class _Layer:
    content: bytes
    signatures: tuple[GoodSignature, ...]
    encrypted: bool


def is_smime_shaped(raw: bytes) -> bool:
    """Whether the top-level entity is S/MIME (those messages keep the S/MIME path)."""
    entity = split_entity(raw)
    return entity.is_cms or entity.is_smime_multipart_signed


@functools.cache
def _keyring(home: Path) -> GpgKeyring:
    # Made once per worker process: python-gnupg runs gpg once just to learn its version.
    return GpgKeyring(home)


def open_pgp_message(raw: bytes, context: PgpContext) -> OpenedMessage:
    """Decrypt and verify `raw` (a whole RFC 5322 message). Returns the innermost entity with
    CRLF line endings and the signers, outermost first; raises `PgpError`."""
    keyring = _keyring(context.home)
    content = raw
    found: list[GoodSignature] = []
    encrypted = False
    evidence = b""
    for depth in range(_MAX_LAYERS + 1):
        layer = _peel(split_entity(content), keyring, signed=bool(found), encrypted=encrypted)
        if layer is None:
            if depth == 0:
                raise PgpError(PgpFailure.NOT_PGP, "no OpenPGP layer")
            break
        if depth == _MAX_LAYERS:
            raise PgpError(PgpFailure.MALFORMED, "too many nested OpenPGP layers")
        if layer.signatures and not found:
            # The entity that carried the first signature is what proves it later (the message
            # as received when it was signed and encrypted in one pass).
            evidence = content
        content = layer.content
        found.extend(layer.signatures)
        encrypted = encrypted or layer.encrypted
    if not encrypted:
        raise PgpError(PgpFailure.NOT_ENCRYPTED, "message was not encrypted")
    if not found:
        raise PgpError(PgpFailure.UNSIGNED, "decrypted content carries no signature")
    return OpenedMessage(canonical_crlf(content), _signers(found, context), True, evidence)


def _peel(entity: Entity, keyring: GpgKeyring, *, signed: bool, encrypted: bool) -> _Layer | None:
    payload = encrypted_payload(entity)
    if payload is not None:
        run = keyring.decrypt(payload)
        was_encrypted = decryption(run.statuses)
        return _Layer(canonical_crlf(run.data), signatures(run.statuses), was_encrypted)
    detached = signed_parts(entity)
    if detached is not None:
        run = keyring.verify_detached(*detached)
        if any(key == "PLAINTEXT" for key, _ in run.statuses):
            raise PgpError(PgpFailure.BAD_SIGNATURE, "signature part carries content")
        good = signatures(run.statuses)
        if not good:
            raise PgpError(PgpFailure.BAD_SIGNATURE, "no readable signature")
        return _Layer(detached[0], good, False)
    if signed:
        return None  # signed content is the clerk's mail: armour in it is not ours to open
    found = inline_parts(entity)
    return None if found is None else _inline(entity, found, keyring, encrypted)


def _inline(
    entity: Entity, found: list[InlinePart], keyring: GpgKeyring, encrypted: bool
) -> _Layer:
    """Every part must be OpenPGP, signed, and encrypted unless an outer layer was."""
    plaintexts: list[bytes] = []
    good: list[GoodSignature] = []
    all_encrypted = True
    for part in found:
        if part.kind == "unprotected":
            failure = PgpFailure.UNSIGNED if encrypted else PgpFailure.NOT_ENCRYPTED
            raise PgpError(failure, "a part is neither encrypted nor signed")
        if part.kind == "ignored":
            continue
        run = keyring.decrypt(part.data)
        part_encrypted = decryption(run.statuses)
        part_signatures = signatures(run.statuses)
        if not (part_encrypted or encrypted):
            raise PgpError(PgpFailure.NOT_ENCRYPTED, "an inline part is not encrypted")
        if not part_signatures:
            raise PgpError(PgpFailure.UNSIGNED, "an inline part is not signed")
        all_encrypted = all_encrypted and part_encrypted
        plaintexts.append(run.data)
        good.extend(part_signatures)
    return _Layer(rebuild(entity, found, plaintexts), tuple(good), all_encrypted)


def _signers(found: list[GoodSignature], context: PgpContext) -> tuple[Signer, ...]:
    """One signer per key, outermost first (inline parts are usually all signed by one key)."""
    signers: dict[str, Signer] = {}
    for signature in found:
        fingerprint = signature.fingerprint
        if fingerprint not in signers:
            signers[fingerprint] = Signer(
                certificate_der=b"",
                email_addresses=context.addresses.get(fingerprint, ()),
                signing_time=signature.signing_time,
                subject=f"OpenPGP key {fingerprint}",
                pgp_fingerprint=fingerprint,
            )
    return tuple(signers.values())
