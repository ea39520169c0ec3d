"""An organisation whose configured OpenPGP key is missing, expired or revoked is disabled, with
a loud report and its own answer to its mail; every other organisation goes on as before."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from gatewaytest.clerk import envelope, inner_message
from gatewaytest.env import DOMAIN, GatewayEnv, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.openpgp import Gpg, combined, require_gpg
from gatewaytest.servers import InProcessGateway
from gatewaytest.smtp_fixtures import Answer, connect, data, decision

from crypto import pgp_keys
from gateway import material

HETU = make_hetu("131052", "-", 308)
RCPT = f"{HETU}@{DOMAIN}"
# organisation -> (its network's address, the state its configured key is in)
ORGANISATIONS = {
    "hyvakunta": ("127.0.0.2", "valid"),
    "vanhakunta": ("127.0.0.3", "expired"),
    "mitatoitykunta": ("127.0.0.4", "revoked"),
    "puuttuvakunta": ("127.0.0.5", "missing"),
}


@dataclass
class Setup:
    env: GatewayEnv
    gateway: InProcessGateway
    clerk: Gpg
    keys: dict[str, str]
    gateway_key: str


def _organisation(org: str, address: str, key_file: str, fingerprint: str) -> str:
    return (
        f'[[organisations]]\nid = "{org}"\nname = "{org}"\nsender_domains = ["{org}.test"]\n'
        f'networks = ["{address}/32"]\nreply_address = "kirjaamo@{org}.test"\n'
        f'pgp_keys = ["{key_file}"]\npgp_fingerprints = ["{fingerprint}"]\n'
    )


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    require_gpg()
    root = tmp_path_factory.mktemp("pgpoff")
    clerk = Gpg(root / "clerk")
    keys = {org: clerk.new_key(f"Virkailija <virkailija@{org}.test>") for org in ORGANISATIONS
            if org != "vanhakunta"}
    keys["vanhakunta"] = clerk.new_key("Virkailija <virkailija@vanhakunta.test>", expire="1d",
                                       faked_time="20190101T000000")
    clerk.revoke(keys["mitatoitykunta"])
    tables = []
    for org, (address, _) in ORGANISATIONS.items():
        key_file = root / f"{org}.asc"
        # The missing one's file holds another key than the one configured.
        exported = keys["hyvakunta"] if org == "puuttuvakunta" else keys[org]
        key_file.write_bytes(clerk.export(exported))
        tables.append(_organisation(org, address, str(key_file), keys[org]))
    env = make_env(root / "gw", extra_toml="\n".join(tables))
    env.add_citizen(HETU)
    home = env.config.keys.gnupg_home
    gateway_key = pgp_keys.secret_fingerprints(home)[-1]
    clerk.import_key(pgp_keys.public_key(home).encode(), trusted=[gateway_key])
    gateway = InProcessGateway(env).start()
    yield Setup(env, gateway, clerk, keys, gateway_key)
    gateway.stop()
    clerk.stop()


def _send(setup: Setup, source: str, message: bytes, sender: str) -> Answer:
    with connect(setup.gateway.port, source=source) as client:
        assert client.mail(sender)[0] == 250
        assert client.rcpt(RCPT)[0] == 250
        return data(client, message)


def _message(setup: Setup, org: str) -> bytes:
    sender = f"virkailija@{org}.test"
    # Expired and revoked keys cannot sign any more; the refusal comes before any signature.
    signer = setup.keys[org if ORGANISATIONS[org][1] == "valid" else "hyvakunta"]
    entity = combined(setup.clerk, inner_message(f"Viesti {org}", "Hei.\n"), signer,
                      setup.gateway_key)
    return envelope(entity, sender=sender, to=RCPT)


def test_unusable_keys_disable_their_organisations_loudly(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="gateway.material"):
        context = material.pgp_context(setup.env.config)
    assert context is not None
    assert context.disabled == {
        org: state for org, (_, state) in ORGANISATIONS.items() if state != "valid"
    }
    reported = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    for org, (_, state) in ORGANISATIONS.items():
        if state != "valid":
            assert f"organisation {org} is DISABLED" in reported
            assert f"{setup.keys[org]} (organisations[" in reported and f"is {state}" in reported


@pytest.mark.parametrize(
    ("org", "words"),
    [
        ("vanhakunta", "key has expired; supply a new key"),
        ("mitatoitykunta", "key has been revoked; supply a new key"),
        ("puuttuvakunta", "key is missing at the gateway"),
    ],
)
def test_mail_from_a_disabled_organisation_is_refused_with_the_reason(
    setup: Setup, org: str, words: str
) -> None:
    store = setup.gateway.store
    before = store.table_counts()
    address = ORGANISATIONS[org][0]
    answer = _send(setup, address, _message(setup, org), f"virkailija@{org}.test")
    assert (answer.code, answer.status) == (550, "5.7.1"), answer
    assert words in answer.text
    assert store.table_counts() == before


def test_the_other_organisations_are_not_affected(setup: Setup) -> None:
    answer = _send(setup, "127.0.0.2", _message(setup, "hyvakunta"), "virkailija@hyvakunta.test")
    assert (answer.code, answer.status) == (250, "2.0.0"), answer
    smime = decision(setup.env, RCPT, subject="S/MIME edelleen")
    answer = _send(setup, "127.0.0.1", smime, "virkailija@demokunta.test")
    assert (answer.code, answer.status) == (250, "2.0.0"), answer
