"""What an organisation's mail may contain: size, number of attachments and their types.

Types are judged as sniffed from the bytes (the caller sniffs); the declared type only counts
where the bytes carry no signature. Traces name positions and types, never file names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from policies.model import Decision, Organisation


@dataclass(frozen=True)
class ContentDecision(Decision):
    # The refused attachment's position, 1-based (0: none), for the clerk's reply.
    attachment: int = 0


def check_size(organisation: Organisation, size: int) -> Decision:
    limit = organisation.content.max_message_size
    if limit is None:
        return Decision(True, organisation, ())
    org_id = organisation.id
    if size > limit:
        trace = (f"max_message_size: {size} bytes exceeds organisation {org_id}'s {limit}",)
        return Decision(False, organisation, trace, "too_big")
    return Decision(True, organisation, (f"max_message_size: {size} bytes is within {limit}",))


def check_attachments(organisation: Organisation, types: Sequence[str]) -> ContentDecision:
    """`types` holds each attachment's real (sniffed) content type, in order."""
    policy = organisation.content
    org_id = organisation.id
    trace: list[str] = []
    if policy.max_attachments is not None:
        limit = policy.max_attachments
        if len(types) > limit:
            trace.append(
                f"max_attachments: {len(types)} attachments exceed organisation {org_id}'s {limit}"
            )
            return ContentDecision(False, organisation, tuple(trace), "too_many_attachments")
        trace.append(f"max_attachments: {len(types)} attachments, at most {limit}")
    if policy.allowed_attachment_types:
        allowed = ", ".join(policy.allowed_attachment_types)
        for position, ctype in enumerate(types, 1):
            if not any(fnmatchcase(ctype, p) for p in policy.allowed_attachment_types):
                trace.append(
                    f"allowed_attachment_types: attachment {position} is {ctype}, not one of "
                    f"organisation {org_id}'s ({allowed})"
                )
                return ContentDecision(
                    False, organisation, tuple(trace), "attachment_type", attachment=position
                )
        trace.append(f"allowed_attachment_types: every attachment is one of ({allowed})")
    return ContentDecision(True, organisation, tuple(trace))
