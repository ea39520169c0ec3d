"""A clerk's answer to a citizen's reply: which thread it continues, found by the reply token.

The citizen's reply left under a Message-ID holding a token (crypto.reply_tokens). The clerk's
client cites it in In-Reply-To/References, so the answer needs no HETU line: the token names
the citizen and the thread. The first token cited decides; a token that does not check out is
refused with its own reason rather than ignored, so a clerk never wonders where it went.
"""

from __future__ import annotations

from datetime import datetime

from crypto.reply_tokens import ReplyTokens, ThreadRef
from mailbox_store import MailboxStore
from smtp_in import replies
from smtp_in.pipeline import Reject

__all__ = ["answered_thread"]


def answered_thread(
    store: MailboxStore,
    tokens: ReplyTokens,
    organisation_id: str,
    references: tuple[str, ...],
    now: datetime,
) -> tuple[str, str] | None:
    """(citizen id, thread id) this message answers, or None when it cites no token of ours."""
    claims = tokens.claims(references)
    if not claims:
        return None
    claim = claims[0]
    owner = store.thread_owner(claim.message_row_id)
    if owner is None or not tokens.verify(
        claim,
        ThreadRef(owner.message_row_id, owner.citizen_id, owner.thread_id, owner.organisation_id),
    ):
        raise Reject(replies.REPLY_REFERENCE_FORGED)
    if owner.organisation_id != organisation_id:
        raise Reject(replies.REPLY_REFERENCE_OTHER_ORGANISATION)
    if claim.expires_at <= now:
        raise Reject(replies.REPLY_REFERENCE_EXPIRED)
    if not owner.active:
        raise Reject(replies.NO_ACCOUNT)
    return owner.citizen_id, owner.thread_id
