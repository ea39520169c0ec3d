"""Thunderbird/NSS S/MIME messages over real SMTP, with Bob's key as the gateway's key.

Signed-only corpus files are first encrypted to Bob by `openssl cms -encrypt`, keeping their outer
From/To headers in front, because an unencrypted message is refused before its signature is read.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from gatewaytest.clerk import crlf, encrypt, inner_message, openssl
from gatewaytest.corpus import SMIME as CORPUS
from gatewaytest.env import DOMAIN, GatewayEnv, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.servers import InProcessGateway
from gatewaytest.smtp_fixtures import Answer, assert_refused, send, use_material_of

from gateway.material import gateway_certificate_pem

HETU = make_hetu("131052", "-", 308)
RCPT = f"{HETU}@{DOMAIN}"
_CONTENT_HEADER = re.compile(rb"^(content-[a-z-]+|mime-version)\s*:", re.IGNORECASE)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Bob's password file and certificate, Alice's certificate and key, as PEM files."""
    root = tmp_path_factory.mktemp("pki")
    pwfile = root / "nss.txt"
    pwfile.write_text("nss\n")
    files = {"pwfile": pwfile, "bob_cert": root / "bob.pem", "alice_cert": root / "alice.pem",
             "alice_key": root / "alice-key.pem"}
    files["bob_cert"].write_bytes(openssl("pkcs12", "-in", CORPUS / "Bob.p12", "-clcerts",
                                          "-nokeys", "-passin", "pass:nss"))
    files["alice_cert"].write_bytes(openssl("pkcs12", "-in", CORPUS / "Alice.p12", "-clcerts",
                                            "-nokeys", "-passin", "pass:nss"))
    files["alice_key"].write_bytes(openssl("pkcs12", "-in", CORPUS / "Alice.p12", "-nocerts",
                                           "-nodes", "-passin", "pass:nss"))
    return files


def bob_env(root: Path, pki: dict[str, Path], sender_domains: tuple[str, ...]) -> GatewayEnv:
    env = make_env(root, smime=((CORPUS / "Bob.p12", None, pki["pwfile"]),),
                   extra_anchors=(CORPUS / "TestCA.pem",), sender_domains=sender_domains)
    env.add_citizen(HETU)
    return env


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, pki: dict[str, Path]
       ) -> Iterator[tuple[GatewayEnv, InProcessGateway]]:
    env = bob_env(tmp_path_factory.mktemp("corpus"), pki, ("example.com",))
    gateway = InProcessGateway(env).start()
    yield env, gateway
    gateway.stop()


def corpus(name: str) -> bytes:
    return crlf((CORPUS / name).read_bytes())


def split_headers(message: bytes) -> tuple[bytes, bytes]:
    """(outer headers, MIME entity): Content-* and MIME-Version go with the entity."""
    head, _, body = message.partition(b"\r\n\r\n")
    fields: list[bytes] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\r\n" + line
        else:
            fields.append(line)
    outer = b"".join(f + b"\r\n" for f in fields if not _CONTENT_HEADER.match(f))
    content = b"".join(f + b"\r\n" for f in fields if _CONTENT_HEADER.match(f))
    return outer, content + b"\r\n" + body


def encrypted_to_bob(message: bytes, pki: dict[str, Path]) -> bytes:
    outer, entity = split_headers(message)
    return outer + encrypt(entity, pki["bob_cert"])


def stored_subjects(gateway: InProcessGateway) -> list[str]:
    citizen = gateway.store.active_citizen_id(HETU)
    assert citizen is not None
    return [entry.subject for entry in gateway.store.inbox(citizen, limit=500)]


def refused(gateway: InProcessGateway, message: bytes, code: int, status: str) -> Answer:
    before = gateway.store.table_counts()
    answer = send(gateway.port, message, [RCPT], sender="Alice@example.com")
    assert_refused(answer, code, status, gateway.store, before)
    return answer


@pytest.mark.parametrize(
    ("name", "subject"),
    [
        ("alice.dsig.SHA256.multipart.env.eml", "clear-signed then enveloped sig.SHA256"),
        ("alice.sig.SHA256.opaque.env.eml", "opaque-signed then enveloped sig.SHA256"),
        ("alice.env.sig.SHA256.opaque.eml", "enveloped then opaque-signed sig.SHA256"),
    ],
)
def test_signed_and_encrypted_thunderbird_messages_are_accepted(
    gw: tuple[GatewayEnv, InProcessGateway], name: str, subject: str,
) -> None:
    _, gateway = gw
    before = len(stored_subjects(gateway))
    answer = send(gateway.port, corpus(name), [RCPT], sender="Alice@example.com")
    assert (answer.code, answer.status) == (250, "2.0.0"), answer
    subjects = stored_subjects(gateway)
    assert len(subjects) == before + 1
    assert subject in subjects


def test_encrypted_only_thunderbird_message_is_refused_as_unsigned(
    gw: tuple[GatewayEnv, InProcessGateway],
) -> None:
    answer = refused(gw[1], corpus("alice.env.eml"), 550, "5.7.1")
    assert "not signed" in answer.text


def test_signed_only_thunderbird_message_is_refused_as_not_encrypted(
    gw: tuple[GatewayEnv, InProcessGateway],
) -> None:
    answer = refused(gw[1], corpus("alice.dsig.SHA256.multipart.eml"), 550, "5.7.1")
    assert "not S/MIME encrypted" in answer.text


def test_good_detached_signature_encrypted_by_us_is_accepted(
    gw: tuple[GatewayEnv, InProcessGateway], pki: dict[str, Path],
) -> None:
    _, gateway = gw
    message = encrypted_to_bob(corpus("alice.dsig.SHA256.multipart.eml"), pki)
    answer = send(gateway.port, message, [RCPT], sender="Alice@example.com")
    assert (answer.code, answer.status) == (250, "2.0.0"), answer


def test_bad_signatures_are_refused_each_with_its_own_reason(
    gw: tuple[GatewayEnv, InProcessGateway], pki: dict[str, Path],
) -> None:
    texts = {}
    for name, words in [
        ("alice.dsig.SHA1.multipart.eml", "SHA-1"),
        ("alice.dsig.SHA256.multipart.bad.eml", "altered"),
        ("alice.dsig.SHA256.multipart.mismatch-econtent.eml", "content other than"),
    ]:
        answer = refused(gw[1], encrypted_to_bob(corpus(name), pki), 550, "5.7.7")
        assert words in answer.text, (name, answer)
        texts[name] = answer.text
    assert len(set(texts.values())) == 3


def test_nested_signers_the_outer_signer_dave_is_the_sender(
    gw: tuple[GatewayEnv, InProcessGateway], pki: dict[str, Path],
) -> None:
    _, gateway = gw
    original = corpus("alice.plain.dsig.SHA256.multipart.dave.dsig.SHA256.multipart.eml")
    assert b"\r\nFrom: Dave@example.com\r\n" in original
    # From names Alice, the inner signer: the outer signer (Dave) is the one checked.
    as_alice = original.replace(b"\r\nFrom: Dave@example.com\r\n",
                                b"\r\nFrom: Alice@example.com\r\n", 1)
    answer = refused(gateway, encrypted_to_bob(as_alice, pki), 550, "5.7.1")
    assert "does not match the From" in answer.text
    # From names Dave, whose domain is allowed: accepted.
    before = len(stored_subjects(gateway))
    answer = send(gateway.port, encrypted_to_bob(original, pki), [RCPT],
                  sender="Dave@example.com")
    assert (answer.code, answer.status) == (250, "2.0.0"), answer
    assert len(stored_subjects(gateway)) == before + 1


def test_nested_signers_refused_when_daves_domain_is_not_allowed(
    gw: tuple[GatewayEnv, InProcessGateway], pki: dict[str, Path], tmp_path: Path,
) -> None:
    env = bob_env(tmp_path / "other", pki, ("kunta.test",))
    gateway = InProcessGateway(env).start()
    try:
        original = corpus("alice.plain.dsig.SHA256.multipart.dave.dsig.SHA256.multipart.eml")
        answer = refused(gateway, encrypted_to_bob(original, pki), 550, "5.7.1")
        assert "sender domains" in answer.text
    finally:
        gateway.stop()
        use_material_of(gw[0])


def faketime_available() -> bool:
    if shutil.which("faketime"):
        return True
    if os.environ.get("CI") == "true":
        pytest.fail("faketime is required in CI (apt-get install faketime)")
    pytest.skip("faketime is not installed")
    return False


def test_future_signing_time_is_refused(
    gw: tuple[GatewayEnv, InProcessGateway], pki: dict[str, Path], tmp_path: Path,
) -> None:
    faketime_available()
    content = tmp_path / "inner.eml"
    content.write_bytes(inner_message("Tulevaisuudesta", "Hei.\n"))
    done = subprocess.run(
        ["faketime", "-f", "+2d", "openssl", "cms", "-sign", "-in", str(content), "-signer",
         str(pki["alice_cert"]), "-inkey", str(pki["alice_key"]), "-md", "sha256", "-binary"],
        capture_output=True, check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    entity = crlf(done.stdout)
    message = (b"From: Alice@example.com\r\nTo: " + RCPT.encode() + b"\r\nSubject: x\r\n"
               + encrypt(entity, pki["bob_cert"]))
    answer = refused(gw[1], message, 550, "5.7.7")
    assert "in the future" in answer.text
    # The same content signed now is accepted: the signing time alone made the difference.
    now = crlf(openssl("cms", "-sign", "-in", content, "-signer", pki["alice_cert"], "-inkey",
                       pki["alice_key"], "-md", "sha256", "-binary"))
    message = (b"From: Alice@example.com\r\nTo: " + RCPT.encode() + b"\r\nSubject: x\r\n"
               + encrypt(now, pki["bob_cert"]))
    answer = send(gw[1].port, message, [RCPT], sender="Alice@example.com")
    assert (answer.code, answer.status) == (250, "2.0.0"), answer



def test_keys_show_smime_prints_pem_for_a_pkcs12_identity(
    gw: tuple[GatewayEnv, InProcessGateway],
) -> None:
    env, _ = gw
    shown = x509.load_pem_x509_certificate(gateway_certificate_pem(env.config))
    assert "bob@example.com" in shown.subject.rfc4514_string().lower()
