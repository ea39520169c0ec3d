"""Rate limits of organisations' mail servers: concurrent connections, messages per minute.

Counted in this process's memory, so each `serve` node enforces the limits on its own; the
per-connection message limit lives on the connection (smtp_in.server). Every check happens at
MAIL, before any content is sent, so a refusal never touches a message already accepted.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict, deque
from collections.abc import Callable

from policies.model import Organisation

_WINDOW = 60.0  # seconds: messages_per_minute counts the MAIL commands of the last minute


class RateLimiter:
    """One node's counts by organisation id; the limits come with each organisation, so a
    reloaded policy applies to the next check while the counts carry on."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._connections: defaultdict[str, int] = defaultdict(int)
        self._messages: defaultdict[str, deque[float]] = defaultdict(deque)

    def open_connection(self, organisation: Organisation) -> bool:
        """Take a connection slot; False (nothing taken) when the organisation has them all."""
        if self._connections[organisation.id] >= organisation.limits.concurrent_connections:
            return False
        self._connections[organisation.id] += 1
        return True

    def close_connection(self, organisation_id: str) -> None:
        self._connections[organisation_id] -= 1
        if self._connections[organisation_id] <= 0:
            del self._connections[organisation_id]

    def connections(self, organisation_id: str) -> int:
        """The connection slots the organisation holds now."""
        return self._connections.get(organisation_id, 0)

    def take_message(self, organisation: Organisation) -> int:
        """Count one message; 0 when allowed, otherwise the seconds until one will be."""
        now = self.clock()
        sent = self._messages[organisation.id]
        while sent and sent[0] <= now - _WINDOW:
            sent.popleft()
        if len(sent) >= organisation.limits.messages_per_minute:
            return max(1, math.ceil(sent[0] + _WINDOW - now))
        sent.append(now)
        return 0
