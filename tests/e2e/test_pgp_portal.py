"""OpenPGP messages made by the real `gpg` tool reach the citizen through a real `serve`.

Each kind goes to its own citizen, who reads in the portal exactly what was sent: the
non-ASCII text, and the binary attachment byte for byte.
"""

from __future__ import annotations

import html
import smtplib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from gatewaytest.clerk import envelope, inner_message
from gatewaytest.env import CLERK, DOMAIN, GatewayEnv, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.openpgp import (
    Gpg,
    combined,
    exchange_mangled,
    inline_entity,
    require_gpg,
    sign_then_encrypt,
)
from gatewaytest.portal import attachment_links, login, message_ids
from gatewaytest.servers import ServeProcess

from crypto import pgp_keys

pytestmark = pytest.mark.e2e

BODY = "Hyvä vastaanottaja,\n\nohessa päätös. Åäö € MERKKIRUNKO\n"
ATTACHMENT = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)) * 40 + b"\x00\r\n%%EOF\n"


@dataclass
class Served:
    env: GatewayEnv
    clerk: Gpg
    clerk_key: str
    gateway_key: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    require_gpg()
    root = tmp_path_factory.mktemp("pgpe2e")
    clerk = Gpg(root / "clerk")
    clerk_key = clerk.new_key(f"Virkailija <{CLERK}>")
    key_file = root / "demokunta.asc"
    key_file.write_bytes(clerk.export(clerk_key))
    env = make_env(
        root / "gw",
        org_toml=f'pgp_keys = ["{key_file}"]\npgp_fingerprints = ["{clerk_key}"]',
    )
    home = env.config.keys.gnupg_home
    gateway_key = pgp_keys.secret_fingerprints(home)[-1]
    clerk.import_key(pgp_keys.public_key(home).encode(), trusted=[gateway_key])
    process = ServeProcess(env, env.root / "serve.log").start()
    yield Served(env, clerk, clerk_key, gateway_key)
    process.stop()
    clerk.stop()


def _pgp_mime(kind: Callable[[Gpg, bytes, str, str], bytes]) -> Callable[[Served, str], bytes]:
    def build(served: Served, subject: str) -> bytes:
        entity = inner_message(subject, BODY, attachments=(("liite.pdf", "application/pdf",
                                                            ATTACHMENT),))
        wrapped = kind(served.clerk, entity, served.clerk_key, served.gateway_key)
        return envelope(wrapped, sender=CLERK, to=f"kansalainen@{DOMAIN}")

    return build


def _inline(served: Served, subject: str) -> bytes:
    entity = inline_entity(served.clerk, BODY, [("liite.pdf", ATTACHMENT)], served.clerk_key,
                           served.gateway_key)
    return envelope(entity, sender=CLERK, to=f"kansalainen@{DOMAIN}", subject=subject)


def _exchange(served: Served, subject: str) -> bytes:
    return exchange_mangled(_pgp_mime(combined)(served, subject))


KINDS = {
    "combined": (make_hetu("131052", "-", 308), _pgp_mime(combined)),
    "sign-then-encrypt": (make_hetu("240399", "A", 917), _pgp_mime(sign_then_encrypt)),
    "inline": (make_hetu("010203", "Y", 123), _inline),
    "exchange": (make_hetu("150585", "-", 912), _exchange),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_gpg_made_message_is_read_in_the_portal(served: Served, kind: str) -> None:
    hetu, build = KINDS[kind]
    served.env.add_citizen(hetu)
    subject = f"Paatos {kind}"
    message = build(served, subject)
    with smtplib.SMTP("127.0.0.1", served.env.config.smtp.listen_port, timeout=60) as client:
        client.ehlo("kunta-mx.test")
        client.starttls()
        client.ehlo("kunta-mx.test")
        assert client.mail(CLERK)[0] == 250
        assert client.rcpt(f"{hetu}@{DOMAIN}")[0] == 250
        code, text = client.data(message)
    assert code == 250, text

    portal = login(served.env.config.portal.public_url, hetu)
    try:
        (message_id,) = message_ids(portal)
        page = portal.get(f"/messages/{message_id}")
        page.raise_for_status()
        files = [portal.get(link).content for link in attachment_links(page.text)]
    finally:
        portal.close()
    shown = html.unescape(page.text)
    assert subject in shown
    assert "ohessa päätös. Åäö € MERKKIRUNKO" in shown
    assert "liite.pdf" in shown
    assert files == [ATTACHMENT]
