"""The citizen's event log in words, and its export as CSV and JSON with the hash chain.

Each event kind reads as a sentence in the citizen's language; a kind without a sentence of
its own (an operator's queue action, something a later version adds) is shown generically, so
the log never hides an event. The export carries every link of the chain exactly as hashed
(`mailbox_store.chain`), so whoever keeps an earlier export can check that a later one still
holds the same events with the same hashes, and a signature over the head by the gateway's
key when the portal has one.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from gateway.web.i18n import CATALOGUE, supported_lang, translator
from mailbox_store import NewAttachment, ServiceMessage
from mailbox_store.chain import ChainLink

EXPORT_FORMAT = "asiointitili-event-log/1"
HASH_RULE = (
    "hash = hex(SHA-256(prev_hash + '\\n' + JSON [id, citizen_id, seq, kind, at, detail] "
    "without spaces, ASCII)); the first prev_hash is 64 zeros"
)

# Returns a DER CMS SignedData (detached, with the signer's certificate) over the given bytes.
ChainSigner = Callable[[bytes], bytes]

_CSV_COLUMNS = ("seq", "at", "event", "kind", "detail", "id", "citizen_id", "prev_hash", "hash")


def describe_event(
    lang: str, kind: str, detail: Mapping[str, Any], organisation_name: Callable[[str], str]
) -> str:
    """One event as a sentence in `lang`."""
    t = translator(lang)
    texts = CATALOGUE[supported_lang(lang)]
    key = "event_" + kind.replace(".", "_")
    if kind == "citizen.status":
        key += "_" + str(detail.get("status", ""))
    if key not in texts:
        return t("event_other", kind=kind)
    organisation = detail.get("organisation_id")
    values = {
        "organisation": organisation_name(organisation) if isinstance(organisation, str) else "",
        "method": _method(texts, detail.get("method")),
        "count": detail.get("messages", ""),
        "version": detail.get("version", ""),
        "fields": ", ".join(
            texts.get(f"setting_{name}", str(name)) for name in detail.get("fields", ())
        ),
    }
    return t(key, **values)


def _method(texts: Mapping[str, str], method: object) -> str:
    # Anything but test identification is the broker's acr: a strong identification, which the
    # portal refuses at any lower level.
    return texts.get(f"login_method_{method}", texts["login_method_strong"])


def head_statement(citizen_id: str, head: ChainLink, exported_at: datetime) -> bytes:
    """The exact bytes the gateway signs: which chain, how long, ending in which hash, when."""
    return (
        f"asiointitili event log head\ncitizen: {citizen_id}\nseq: {head.seq}\n"
        f"hash: {head.hash}\nexported: {exported_at.isoformat()}\n"
    ).encode("ascii")


def export_message(
    lang: str,
    citizen_id: str,
    chain: Sequence[ChainLink],
    exported_at: datetime,
    *,
    organisation_name: Callable[[str], str],
    format_datetime: Callable[[datetime], str],
    signer: ChainSigner | None,
) -> ServiceMessage:
    """The message that brings the log into the citizen's mailbox: CSV and JSON attached."""
    t = translator(lang)
    head = chain[-1]
    document: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "citizen_id": citizen_id,
        "exported_at": exported_at.isoformat(),
        "hash_rule": HASH_RULE,
        "events": [
            {
                "seq": link.seq,
                "id": link.id,
                "kind": link.kind,
                "at": link.at.isoformat(),
                "detail": link.detail,  # the canonical JSON text, exactly as hashed
                "prev_hash": link.prev_hash,
                "hash": link.hash,
            }
            for link in chain
        ],
        "head": {"seq": head.seq, "hash": head.hash},
    }
    if signer is not None:
        statement = head_statement(citizen_id, head, exported_at)
        document["head"]["statement"] = statement.decode("ascii")
        document["head"]["signature"] = base64.b64encode(signer(statement)).decode("ascii")
    as_json = json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")
    name = f"{t('events_export_filename')}-{exported_at:%Y-%m-%d}"
    text = t(
        "events_export_text",
        count=len(chain),
        at=format_datetime(exported_at),
        seq=head.seq,
        hash=head.hash,
    )
    if signer is not None:
        text += "\n\n" + t("events_export_signed")
    return ServiceMessage(
        subject=t("events_export_subject"),
        text=text,
        attachments=(
            NewAttachment(f"{name}.csv", "text/csv", _csv(lang, chain, organisation_name)),
            NewAttachment(f"{name}.json", "application/json", as_json),
        ),
        original=as_json,
    )


def _csv(lang: str, chain: Sequence[ChainLink], organisation_name: Callable[[str], str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_CSV_COLUMNS)
    for link in chain:
        sentence = describe_event(lang, link.kind, json.loads(link.detail), organisation_name)
        writer.writerow(
            [
                link.seq,
                link.at.isoformat(),
                sentence,
                link.kind,
                link.detail,
                link.id,
                link.citizen_id,
                link.prev_hash,
                link.hash,
            ]
        )
    # A byte order mark, so spreadsheet programs read the sentences as UTF-8.
    return "\ufeff".encode() + out.getvalue().encode("utf-8")
