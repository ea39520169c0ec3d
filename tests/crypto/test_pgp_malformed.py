"""Malformed OpenPGP mail is refused with a reason (PgpError), never with another exception."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from gatewaytest.openpgp import Gpg, combined, encrypted_entity, require_gpg, signed_entity

from crypto import pgp_keys
from crypto.pgp import PgpContext, PgpError, PgpFailure, open_pgp_message

HEAD = b"From: virkailija@kunta.test\r\nTo: viesti@asiointi.test\r\n"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PgpContext, Gpg, str]]:
    require_gpg()
    root = tmp_path_factory.mktemp("pgpbad")
    gateway = Gpg(root / "gw")
    gateway_key = pgp_keys.generate_key(gateway.home, "Yhdyskaytava", "viesti@asiointi.test")
    clerk = Gpg(root / "clerk")
    clerk_key = clerk.new_key("Virkailija <virkailija@kunta.test>")
    clerk.import_key(gateway.export(gateway_key), trusted=[gateway_key])
    gateway.import_key(clerk.export(clerk_key), trusted=[clerk_key])
    pgp_keys.key_states(gateway.home, [clerk_key])  # brings the trust database up to date
    context = PgpContext(gateway.home, {clerk_key: ("virkailija@kunta.test",)}, {})
    yield context, clerk, gateway_key
    gateway.stop()
    clerk.stop()


def _failure(context: PgpContext, raw: bytes) -> PgpFailure:
    with pytest.raises(PgpError) as caught:
        open_pgp_message(raw, context)
    return caught.value.failure


ENCRYPTED_HEAD = b'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"'


@pytest.mark.parametrize(
    ("entity", "failure"),
    [
        (b"", PgpFailure.NOT_PGP),
        (ENCRYPTED_HEAD + b"\r\n\r\nno boundary\r\n", PgpFailure.MALFORMED),
        (ENCRYPTED_HEAD + b'; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n',
         PgpFailure.MALFORMED),  # no closing delimiter
        (ENCRYPTED_HEAD + b'; boundary="b"\r\n\r\n--b\r\nContent-Type: application/pgp-'
         b"encrypted\r\n\r\nVersion: 1\r\n--b--\r\n", PgpFailure.MALFORMED),  # one part only
        (ENCRYPTED_HEAD + b'; boundary="b\xc3\xa4"\r\n\r\n--b\r\n\r\n--b--\r\n',
         PgpFailure.MALFORMED),
        (b'Content-Type: multipart/signed; protocol="application/pgp-signature"; boundary=b'
         b"\r\n\r\n--b\r\n\r\nx\r\n--b\r\n\r\ny\r\n--b\r\n\r\nz\r\n--b--\r\n",
         PgpFailure.MALFORMED),
        (b"Content-Type: text/plain\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n\r\nno end\r\n",
         PgpFailure.NOT_PGP),
        (b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: multipart/'
         b'mixed; boundary="c"\r\n\r\n--c--\r\n--b\r\nContent-Type: application/octet-stream;'
         b' name="x.pgp"\r\n\r\n\x99\x01\r\n--b--\r\n', PgpFailure.NOT_ENCRYPTED),
    ],
)
def test_malformed_structures(
    keys: tuple[PgpContext, Gpg, str], entity: bytes, failure: PgpFailure
) -> None:
    assert _failure(keys[0], HEAD + entity) is failure


def test_armour_that_is_not_openpgp_data(keys: tuple[PgpContext, Gpg, str]) -> None:
    junk = b"-----BEGIN PGP MESSAGE-----\r\n\r\n" + bytes(range(256)) + b"\r\n"
    raw = HEAD + encrypted_entity(junk + b"-----END PGP MESSAGE-----")
    assert _failure(keys[0], raw) is PgpFailure.MALFORMED


def test_a_signed_message_in_place_of_a_detached_signature(
    keys: tuple[PgpContext, Gpg, str],
) -> None:
    context, clerk, _ = keys
    entity = signed_entity(clerk, b"Content-Type: text/plain\r\n\r\nHei.\r\n",
                           "virkailija@kunta.test")
    start = entity.index(b"-----BEGIN PGP SIGNATURE-----")
    end = entity.index(b"-----END PGP SIGNATURE-----") + len(b"-----END PGP SIGNATURE-----")
    other = clerk.run("--armor", "--sign", stdin=b"muu sisalto\r\n")
    assert _failure(context, HEAD + entity[:start] + other + entity[end:]) in (
        PgpFailure.BAD_SIGNATURE, PgpFailure.MALFORMED,
    )


def test_random_damage_gives_a_reason_never_a_crash(keys: tuple[PgpContext, Gpg, str]) -> None:
    context, clerk, gateway_key = keys
    good = HEAD + combined(clerk, b"Content-Type: text/plain\r\n\r\nHei.\r\n",
                           "virkailija@kunta.test", gateway_key)
    assert open_pgp_message(good, context).signers
    rng = random.Random(6)
    for _ in range(40):
        damaged = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        try:
            open_pgp_message(bytes(damaged), context)
        except PgpError:
            pass


def test_inline_parts_outside_encryption_must_be_encrypted(
    keys: tuple[PgpContext, Gpg, str],
) -> None:
    context, clerk, _ = keys
    clearsigned = clerk.run("--clearsign", stdin=b"Allekirjoitettu\r\n")
    entity = b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + clearsigned
    assert _failure(context, HEAD + entity) is PgpFailure.NOT_ENCRYPTED
