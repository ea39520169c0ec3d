"""A citizen's reply to an OpenPGP organisation is PGP/MIME: the clerk's own `gpg` decrypts it
and finds a good signature by the gateway's key, the citizen's text and the attachment."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from gatewaytest.clerk import envelope, inner_message
from gatewaytest.env import CLERK, DOMAIN, GatewayEnv, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.openpgp import Gpg, combined, require_gpg
from gatewaytest.servers import InProcessGateway
from gatewaytest.smtp_fixtures import send

from crypto import pgp_keys
from gateway.serve import reply_desk
from mailbox_store import NewAttachment

HETU = make_hetu("131052", "-", 308)
REPLY = "Kiitos, liitteenä selvitys. Åäö MERKKIpgp"
FILE = b"%PDF-1.4\n" + bytes(range(256)) * 8


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayEnv, Gpg, str]]:
    require_gpg()
    root = tmp_path_factory.mktemp("pgpreply")
    clerk = Gpg(root / "clerk")
    clerk_key = clerk.new_key(f"Virkailija <{CLERK}>")
    key_file = root / "demokunta.asc"
    key_file.write_bytes(clerk.export(clerk_key))
    env = make_env(
        root / "gw",
        org_toml=(
            f'pgp_keys = ["{key_file}"]\npgp_fingerprints = ["{clerk_key}"]\n'
            f'pgp_reply_key = "{clerk_key}"'
        ),
    )
    gateway_key = pgp_keys.secret_fingerprints(env.config.keys.gnupg_home)[-1]
    clerk.import_key(
        pgp_keys.public_key(env.config.keys.gnupg_home).encode(), trusted=[gateway_key]
    )
    yield env, clerk, gateway_key
    clerk.stop()


def test_reply_to_an_openpgp_organisation(
    world: tuple[GatewayEnv, Gpg, str], tmp_path: Path
) -> None:
    env, clerk, gateway_key = world
    citizen = env.add_citizen(HETU)
    gateway = InProcessGateway(env).start()
    try:
        entity = inner_message("Päätös", "Hei.\n")
        clerk_key = env.config.organisations[0].pgp.reply_key
        message = envelope(
            combined(clerk, entity, clerk_key, gateway_key),
            sender=CLERK,
            to=f"{HETU}@{DOMAIN}",
            message_id="<pgp-decision@demokunta.test>",
        )
        answer = send(gateway.port, message, [f"{HETU}@{DOMAIN}"])
        assert answer.code == 250, answer
        [entry] = gateway.store.inbox(citizen)
        desk = reply_desk(env.config, gateway.store)
        assert desk.offer(citizen, entry.id) is not None
        attachment = NewAttachment("selvitys.pdf", "application/pdf", FILE)
        desk.send(citizen, entry.id, REPLY, [attachment])
        due = gateway.store.claim_due(now=datetime.now(UTC) + timedelta(seconds=1), limit=10)
        [mail] = [item.payload for item in due if item.kind == "reply" and item.payload]
    finally:
        gateway.stop()

    assert mail.recipients == (CLERK,)
    outer = email.message_from_bytes(mail.data, policy=email.policy.default)
    assert outer.get_content_type() == "multipart/encrypted"
    assert outer["In-Reply-To"] == "<pgp-decision@demokunta.test>"
    head = mail.data.split(b"\r\n\r\n", 1)[0]
    assert HETU.encode() not in head and b"Testi" not in head
    armoured = outer.get_payload()[1].get_payload(decode=True)
    status = tmp_path / "status.txt"
    plain = clerk.run("--status-file", str(status), "--decrypt", stdin=armoured)
    statuses = status.read_text()
    assert re.search(rf"VALIDSIG {gateway_key}\b", statuses) or re.search(
        rf"VALIDSIG [0-9A-F]{{40}} .* {gateway_key}$", statuses, re.MULTILINE
    ), statuses
    inner = email.message_from_bytes(plain, policy=email.policy.default)
    texts = [p.get_content() for p in inner.walk() if p.get_content_type() == "text/plain"]
    assert any(REPLY in text and HETU in text for text in texts)
    [attachment] = [p for p in inner.walk() if p.get_filename() == "selvitys.pdf"]
    assert attachment.get_content() == FILE
