"""Thunderbird's OpenPGP messages over real SMTP, with Alice's or Bob's key as the gateway's key.

The corpus keys are copied into keyrings of the tests' own (the corpus is never written). Alice's
gateway decrypts the messages to Alice (and those to both) and trusts Bob's key for the
organisation openpgp.example; Bob's gateway the other way round. Signed-only corpus messages
are first encrypted to the gateway by `gpg`, keeping their outer header fields, because an
unencrypted message is refused before its signature is looked at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from gatewaytest.corpus import PGP as CORPUS
from gatewaytest.env import DOMAIN, GatewayEnv, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.openpgp import Gpg, combined, crlf, require_gpg
from gatewaytest.servers import InProcessGateway
from gatewaytest.smtp_fixtures import Answer, assert_refused, send, use_material_of

HETU = make_hetu("131052", "-", 308)
RCPT = f"{HETU}@{DOMAIN}"
SENDER = "bob@openpgp.example"
ALICE = "EB85BB5FA33A75E15E944E63F231550C4F47E38E"
BOB = "D1A66E1A23B182C9980F788CFBFCC82A015E7330"
_CONTENT_FIELD = re.compile(rb"(?i)(content-[a-z-]+|mime-version)\s*:")


@dataclass
class Corpus:
    # "alice" or "bob": whose secret key the gateway holds
    gateways: dict[str, tuple[GatewayEnv, InProcessGateway]]
    clerk: Gpg  # encrypts to either gateway key


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    require_gpg()
    root = tmp_path_factory.mktemp("pgpc")
    clerk = Gpg(root / "clerk")
    secret = {
        "alice": CORPUS / "alice@openpgp.example-0xf231550c4f47e38e-secret.asc",
        "bob": CORPUS / "bob@openpgp.example-0xfbfcc82a015e7330-secret.asc",
    }
    scratch = Gpg(root / "scratch")
    for path in secret.values():
        scratch.import_key(path.read_bytes())
    clerk.import_key(scratch.export(ALICE, BOB), trusted=[ALICE, BOB])
    gateways = {}
    for holder, signer in (("alice", BOB), ("bob", ALICE)):
        home = Gpg(root / f"{holder}-home")  # the gateway's keyring: the corpus secret key
        home.import_key(secret[holder].read_bytes())
        signer_file = root / f"{holder}-org.asc"
        signer_file.write_bytes(scratch.export(signer))
        env = make_env(
            root / f"{holder}-gw",
            sender_domains=("openpgp.example",),
            keys_toml=f'gnupg_home = "{home.home}"',
            org_toml=f'pgp_keys = ["{signer_file}"]\npgp_fingerprints = ["{signer}"]',
        )
        env.add_citizen(HETU)
        gateways[holder] = (env, InProcessGateway(env).start())
    scratch.stop()
    yield Corpus(gateways, clerk)
    for _, gateway in gateways.values():
        gateway.stop()
    clerk.stop()


def _message(name: str) -> bytes:
    return crlf((CORPUS / name).read_bytes())


def _encrypted_by_us(corpus: Corpus, name: str, recipient: str) -> bytes:
    """The corpus message's MIME entity encrypted to `recipient` (PGP/MIME), outer fields kept."""
    head, _, body = _message(name).partition(b"\r\n\r\n")
    fields = re.split(rb"\r\n(?![ \t])", head)
    outer = b"".join(f + b"\r\n" for f in fields if not _CONTENT_FIELD.match(f))
    entity = b"".join(f + b"\r\n" for f in fields if _CONTENT_FIELD.match(f)) + b"\r\n" + body
    return outer + combined(corpus.clerk, entity, None, recipient)


def _deliver(corpus: Corpus, holder: str, message: bytes) -> Answer:
    env, gateway = corpus.gateways[holder]
    use_material_of(env)  # both gateways run in this process: make this one's keys current
    return send(gateway.port, message, [RCPT], sender=SENDER)


def _subjects(corpus: Corpus, holder: str) -> list[str]:
    gateway = corpus.gateways[holder][1]
    citizen = gateway.store.active_citizen_id(HETU)
    assert citizen is not None
    return [entry.subject for entry in gateway.store.inbox(citizen, limit=500)]


def _refused(corpus: Corpus, holder: str, message: bytes, status: str) -> str:
    gateway = corpus.gateways[holder][1]
    before = gateway.store.table_counts()
    answer = _deliver(corpus, holder, message)
    assert_refused(answer, 550, status, gateway.store, before)
    return answer.text


@pytest.mark.parametrize(
    ("holder", "name", "subject"),
    [
        ("alice", "signed-by-0xfbfcc82a015e7330-encrypted-to-0xf231550c4f47e38e.eml",
         "Signed Encrypted"),
        ("bob", "encrypted-and-signed-alice-to-bob-nonascii.eml", "Re: kod blå"),
    ],
)
def test_signed_and_encrypted_thunderbird_messages_from_an_allowed_key_are_accepted(
    corpus: Corpus, holder: str, name: str, subject: str
) -> None:
    answer = _deliver(corpus, holder, _message(name))
    assert (answer.code, answer.status) == (250, "2.0.0"), answer
    assert subject in _subjects(corpus, holder)


def test_inline_clear_signed_text_encrypted_to_the_gateway_is_accepted(corpus: Corpus) -> None:
    message = _encrypted_by_us(corpus, "alice-signed.eml", BOB)
    answer = _deliver(corpus, "bob", message)
    assert (answer.code, answer.status) == (250, "2.0.0"), answer
    assert "Hello world" in _subjects(corpus, "bob")


@pytest.mark.parametrize(
    "name",
    [
        "unsigned-encrypted-to-0xf231550c4f47e38e-from-0xfbfcc82a015e7330.eml",
        "encrypted-to-alice-as-hidden-recipient.eml",  # trial-decrypted: wildcard key id
        "alice-broken-exchange.eml",  # repaired from Exchange's multipart/mixed
        "bob-enc-inline-nbsp-qp.eml",  # inline, a non-breaking space in the armour
    ],
)
def test_unsigned_thunderbird_messages_decrypt_and_are_refused_as_unsigned(
    corpus: Corpus, name: str
) -> None:
    assert "not signed" in _refused(corpus, "alice", _message(name), "5.7.1")


def test_damaged_and_unknown_signatures_are_refused_each_with_its_own_answer(
    corpus: Corpus,
) -> None:
    damaged = _encrypted_by_us(corpus, "bob-to-alice-signed-damaged-signature.eml", ALICE)
    unknown = _encrypted_by_us(corpus, "inline-signed-latin1.eml", ALICE)
    damaged_text = _refused(corpus, "alice", damaged, "5.7.7")
    unknown_text = _refused(corpus, "alice", unknown, "5.7.7")
    assert "altered" in damaged_text
    assert "not one the organisation has registered" in unknown_text
    unsigned_text = _refused(corpus, "alice", _message("alice-broken-exchange.eml"), "5.7.1")
    assert len({damaged_text, unknown_text, unsigned_text}) == 3
