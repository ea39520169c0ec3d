"""OpenPGP mail made by the real `gpg` tool, over SMTP to the real listener on loopback.

The clerk's keys: one that signs with its primary key, one that signs with a subkey, one whose
signing subkey had expired, one whose signing subkey was revoked (all allowed for Demokunta),
one allowed only for another organisation, and one the gateway has never seen. Every refusal
has its own answer and leaves the store as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from gatewaytest.clerk import envelope, inner_message
from gatewaytest.env import CLERK, DOMAIN, GatewayEnv, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.openpgp import (
    Gpg,
    combined,
    encrypted_entity,
    exchange_mangled,
    require_gpg,
    sign_then_encrypt,
    signed_entity,
)
from gatewaytest.servers import InProcessGateway
from gatewaytest.smtp_fixtures import Answer, assert_refused, send, use_material_of

from crypto import pgp_keys
from smtp_in.pipeline import Inbound, Recipient, Stage, run_stages
from smtp_in.stages import parse, unwrap, verify

HETU = make_hetu("131052", "-", 308)
RCPT = f"{HETU}@{DOMAIN}"
UID = f"Virkailija <{CLERK}>"
PAST = "20200101T120000"


@dataclass
class World:
    env: GatewayEnv
    gateway: InProcessGateway
    clerk: Gpg
    gateway_key: str
    keys: dict[str, str]  # role -> fingerprint ("subkey-fingerprint!" to sign with that subkey)
    revoked_signed: bytes  # signed by a subkey before it was revoked


def _entity(subject: str) -> bytes:
    return inner_message(subject, "Hei.\n")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    require_gpg()
    root = tmp_path_factory.mktemp("pgp")
    clerk = Gpg(root / "clerk")
    keys = {
        "clerk": clerk.new_key(UID),
        "subkey": clerk.new_key(UID, signing_subkey=True),
        "other": clerk.new_key(UID),
        "stranger": clerk.new_key(UID),
        "old": clerk.new_key(UID, faked_time="20190101T000000"),
        "revoked": clerk.new_key(UID, signing_subkey=True),
    }
    # A signing subkey valid for one day in 2020 only, and one revoked after it signed.
    keys["old_subkey"] = clerk.add_signing_subkey(
        keys["old"], expire="1d", faked_time="20200101T000000"
    ) + "!"
    keys["revoked_subkey"] = clerk.subkeys(keys["revoked"])[-1] + "!"
    revoked_signed = signed_entity(clerk, _entity("Mitatoity"), keys["revoked_subkey"])
    clerk.revoke_subkey(keys["revoked"], 2)
    allowed = [keys[k] for k in ("clerk", "subkey", "old", "revoked")]
    demokunta, toinen = root / "demokunta.asc", root / "toinen.asc"
    demokunta.write_bytes(clerk.export(*allowed))
    toinen.write_bytes(clerk.export(keys["other"]))
    env = make_env(
        root / "gw",
        org_toml=f'pgp_keys = ["{demokunta}"]\npgp_fingerprints = {allowed!r}\n'.replace(
            "'", '"'
        ),
        extra_toml=(
            '[[organisations]]\nid = "toinenkunta"\nname = "Toinen kunta"\n'
            'sender_domains = ["toinenkunta.test"]\nnetworks = ["127.0.0.2/32"]\n'
            'reply_address = "kirjaamo@toinenkunta.test"\n'
            f'pgp_keys = ["{toinen}"]\npgp_fingerprints = ["{keys["other"]}"]\n'
        ),
    )
    env.add_citizen(HETU)
    home = env.config.keys.gnupg_home
    gateway_key = pgp_keys.secret_fingerprints(home)[-1]
    clerk.import_key(pgp_keys.public_key(home).encode(), trusted=[gateway_key])
    gateway = InProcessGateway(env).start()
    yield World(env, gateway, clerk, gateway_key, keys, revoked_signed)
    gateway.stop()
    clerk.stop()


def _send(world: World, entity: bytes, *, sender: str = CLERK) -> Answer:
    return send(world.gateway.port, envelope(entity, sender=sender, to=RCPT), [RCPT])


def _refused(world: World, entity: bytes, code: int, status: str, *, sender: str = CLERK) -> str:
    store = world.gateway.store
    before = store.table_counts()
    answer = _send(world, entity, sender=sender)
    assert_refused(answer, code, status, store, before)
    return answer.text


def _subjects(world: World) -> list[str]:
    store = world.gateway.store
    citizen = store.active_citizen_id(HETU)
    assert citizen is not None
    return [entry.subject for entry in store.inbox(citizen, limit=500)]


def _accepted(world: World, entity: bytes, subject: str) -> None:
    answer = _send(world, entity)
    assert (answer.code, answer.status) == (250, "2.0.0"), answer
    assert subject in _subjects(world)


def test_signed_by_a_subkey_counts_for_the_primary_fingerprint(world: World) -> None:
    subkey = world.clerk.subkeys(world.keys["subkey"])[-1]
    assert subkey not in world.env.config.organisations[0].pgp.fingerprints
    entity = combined(world.clerk, _entity("Aliavaimella"), subkey + "!", world.gateway_key)
    _accepted(world, entity, "Aliavaimella")


def test_exchange_mangled_signed_message_is_repaired_and_accepted(world: World) -> None:
    entity = combined(world.clerk, _entity("Exchangen kautta"), world.keys["clerk"],
                      world.gateway_key)
    mangled = exchange_mangled(envelope(entity, sender=CLERK, to=RCPT))
    assert b"multipart/encrypted" not in mangled
    answer = send(world.gateway.port, mangled, [RCPT])
    assert (answer.code, answer.status) == (250, "2.0.0"), answer
    assert "Exchangen kautta" in _subjects(world)


def test_unsigned_message_is_refused(world: World) -> None:
    entity = combined(world.clerk, _entity("Allekirjoittamaton"), None, world.gateway_key)
    assert "not signed" in _refused(world, entity, 550, "5.7.1")


@pytest.mark.parametrize("signer", ["other", "stranger"])
def test_signer_not_allowed_for_the_organisation_is_refused(world: World, signer: str) -> None:
    # "other" is trusted, but for another organisation; "stranger" the gateway never saw.
    entity = combined(world.clerk, _entity("Vieras"), world.keys[signer], world.gateway_key)
    assert "not one the organisation has registered" in _refused(world, entity, 550, "5.7.7")


def test_signature_by_an_expired_signing_subkey_is_refused(world: World) -> None:
    signed = signed_entity(world.clerk, _entity("Vanhentunut"), world.keys["old_subkey"],
                           faked_time=PAST)
    entity = encrypted_entity(world.clerk.sign_encrypt(signed, None, world.gateway_key))
    assert "has expired" in _refused(world, entity, 550, "5.7.7")


def test_signature_by_a_revoked_signing_subkey_is_refused(world: World) -> None:
    entity = encrypted_entity(
        world.clerk.sign_encrypt(world.revoked_signed, None, world.gateway_key)
    )
    assert "has been revoked" in _refused(world, entity, 550, "5.7.7")


def test_message_encrypted_to_another_key_is_refused(world: World) -> None:
    entity = combined(world.clerk, _entity("Vaaralle"), world.keys["clerk"], world.keys["other"])
    assert "not the gateway's" in _refused(world, entity, 550, "5.7.5")


def test_user_id_not_matching_from_is_refused(world: World) -> None:
    entity = sign_then_encrypt(world.clerk, _entity("Toinen lahettaja"), world.keys["clerk"],
                               world.gateway_key)
    text = _refused(world, entity, 550, "5.7.1", sender="joku.muu@demokunta.test")
    assert "No user id of the signer's OpenPGP key matches the From address" in text


def test_signed_but_not_encrypted_is_refused(world: World) -> None:
    entity = signed_entity(world.clerk, _entity("Salaamaton"), world.keys["clerk"])
    assert "not OpenPGP encrypted" in _refused(world, entity, 550, "5.7.1")


def test_altered_signed_content_is_refused(world: World) -> None:
    signed = signed_entity(world.clerk, _entity("Muutettu"), world.keys["clerk"])
    altered = signed.replace(b"Hei.", b"Moi.", 1)
    entity = encrypted_entity(world.clerk.sign_encrypt(altered, None, world.gateway_key))
    assert "altered" in _refused(world, entity, 550, "5.7.7")


def test_garbage_instead_of_openpgp_data_is_refused_as_malformed(world: World) -> None:
    entity = encrypted_entity(b"-----BEGIN PGP MESSAGE-----\r\n\r\nbm90IHBncA==\r\n"
                              b"-----END PGP MESSAGE-----\r\n")
    assert "OpenPGP structure is malformed" in _refused(world, entity, 550, "5.6.0")


def test_inline_text_outside_the_armour_is_refused(world: World) -> None:
    armoured = world.clerk.sign_encrypt(b"Salattu osa\n", world.keys["clerk"],
                                        world.gateway_key)
    entity = (b"Content-Type: text/plain; charset=UTF-8\r\n\r\nLisatty teksti\r\n\r\n"
              + armoured.replace(b"\n", b"\r\n"))
    assert "not OpenPGP encrypted" in _refused(world, entity, 550, "5.7.1")


def test_evidence_is_the_signed_entity_under_the_outer_fields(world: World) -> None:
    signed = signed_entity(world.clerk, _entity("Todiste"), world.keys["clerk"])
    entity = encrypted_entity(world.clerk.sign_encrypt(signed, None, world.gateway_key))
    raw = envelope(entity, sender=CLERK, to=RCPT, message_id="<todiste-pgp@demokunta.test>")
    use_material_of(world.env)
    message = Inbound(raw=raw, organisation_id="demokunta", recipients=(Recipient(None),),
                      received_at=datetime.now(UTC))
    run_stages([Stage(f.__name__, f, True) for f in (parse, unwrap, verify)], message)
    # The clerk's signed entity, byte for byte: its signature checks with public keys alone.
    assert message.evidence.endswith(signed)
    head = message.evidence[: -len(signed)].decode()
    assert f"From: {CLERK}" in head and "<todiste-pgp@demokunta.test>" in head
    assert "content-type" not in head.lower()
