"""The routing policy one SMTP connection runs under, from its start to its end.

`asiointitili reload` (SIGHUP) gives the handler a new snapshot; each connection keeps the one
it started with (smtp_in.server.GatewaySMTP.policy), so a reload never changes the rules in the
middle of a conversation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cryptography import x509

from policies.model import Organisation, RateLimits


@dataclass(frozen=True)
class ListenerPolicy:
    organisations: tuple[Organisation, ...]
    # Each organisation's tls_client_ca certificates (gateway.material.tls_client_cas).
    client_cas: Mapping[str, Sequence[x509.Certificate]]
    # The global [limits], for connections no organisation is identified on (shared networks).
    limits: RateLimits = RateLimits()
    logins: Mapping[str, tuple[Organisation, str]] = field(init=False)

    def __post_init__(self) -> None:
        logins = {
            login.username: (org, login.password_hash)
            for org in self.organisations
            for login in org.server_auth.logins
        }
        object.__setattr__(self, "logins", logins)
