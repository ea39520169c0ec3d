"""Live SMTP: an organisation's CRL, size, attachment and HTML rules, with messages made by the
real `openssl cms` and CRLs made by the real `openssl ca -gencrl`.

Every refusal asserts its code, its RFC 3463 status and that the store did not change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gatewaytest.clerk import openssl
from gatewaytest.env import DOMAIN, GatewayEnv, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.servers import InProcessGateway
from gatewaytest.smtp_fixtures import Answer, assert_refused, decision, send, use_material_of

from gateway.config import load_config

HETU = make_hetu("131052", "-", 308)
RCPT = f"{HETU}@{DOMAIN}"
ORG_LIMIT = 40_000
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(17)

_CA_CONFIG = """\
[ca]
default_ca = demo
[demo]
database = {dir}/index.txt
crlnumber = {dir}/crlnumber
default_md = sha256
default_crl_days = 30
"""


class DemoCrl:
    """The demo CA's revocation list, kept by `openssl ca` as a CA would."""

    def __init__(self, demo: Path, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "index.txt").write_text("")
        (directory / "crlnumber").write_text("01\n")
        self.config = directory / "ca.cnf"
        self.config.write_text(_CA_CONFIG.format(dir=directory))
        self.ca = ("-cert", demo / "ca.pem", "-keyfile", demo / "ca-key.pem")
        self.path = directory / "demo.crl"

    def revoke(self, cert: Path) -> None:
        """Record the revocation in the CA's database only; the CRL file stays as it was."""
        openssl("ca", "-batch", "-config", self.config, *self.ca, "-revoke", cert)

    def publish(self, *, der: bool = False) -> None:
        openssl("ca", "-batch", "-gencrl", "-config", self.config, *self.ca, "-out", self.path)
        if der:
            openssl("crl", "-in", self.path, "-outform", "DER", "-out", self.path)


@pytest.fixture(scope="module")
def gw(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[GatewayEnv, InProcessGateway, DemoCrl]]:
    root = tmp_path_factory.mktemp("signer-content")
    base = make_env(root)
    crl = DemoCrl(base.data_dir / "demo", root / "crl")
    crl.publish(der=True)
    # The organisation's rules need the CRL, which needs the demo CA that init made.
    text = base.config_path.read_text().replace(
        "demo = true\n",
        "demo = true\n"
        f'crl_files = ["{crl.path}"]\n'
        f"max_message_size = {ORG_LIMIT}\n"
        "max_attachments = 2\n"
        'allowed_attachment_types = ["application/pdf", "text/plain"]\n'
        "keep_html = false\n",
    )
    base.config_path.write_text(text)
    env = GatewayEnv(base.root, base.config_path, load_config(base.config_path))
    env.add_citizen(HETU)
    gateway = InProcessGateway(env).start()
    yield env, gateway, crl
    gateway.stop()


def _send(
    gw: tuple[GatewayEnv, InProcessGateway, DemoCrl], subject: str, **inner: object
) -> Answer:
    env, gateway, _ = gw
    use_material_of(env)
    return send(gateway.port, decision(env, RCPT, subject=subject, **inner), [RCPT])


def _refused(
    gw: tuple[GatewayEnv, InProcessGateway, DemoCrl],
    code: int,
    status: str,
    subject: str,
    **inner: object,
) -> Answer:
    store = gw[1].store
    before = store.table_counts()
    answer = _send(gw, subject, **inner)
    assert_refused(answer, code, status, store, before)
    return answer


def _accepted(
    gw: tuple[GatewayEnv, InProcessGateway, DemoCrl], subject: str, **inner: object
) -> str:
    """Send, expect 250; the stored message's id."""
    answer = _send(gw, subject, **inner)
    assert (answer.code, answer.status) == (250, "2.0.0"), answer
    store = gw[1].store
    citizen = store.active_citizen_id(HETU)
    assert citizen is not None
    found: str = next(e.id for e in store.inbox(citizen, limit=500) if e.subject == subject)
    return found


def test_sniffed_pdf_declared_as_png_is_judged_as_pdf(
    gw: tuple[GatewayEnv, InProcessGateway, DemoCrl],
) -> None:
    _accepted(gw, "Liite PDF", attachments=(("kuva.png", "image/png", PDF),))


def test_png_declared_as_pdf_is_refused_by_position_without_its_name(
    gw: tuple[GatewayEnv, InProcessGateway, DemoCrl], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="smtp_in.handler")
    attachments = (
        ("muistio.txt", "text/plain", b"Muistio\n"),
        ("paatos.pdf", "application/pdf", PNG),
    )
    answer = _refused(gw, 550, "5.7.1", "Liite PNG", attachments=attachments)
    assert "Attachment 2 " in answer.text and "paatos" not in answer.text
    assert (
        "allowed_attachment_types: attachment 2 is image/png, not one of organisation "
        "demokunta's (application/pdf, text/plain)"
    ) in caplog.text
    assert "paatos" not in caplog.text and HETU not in caplog.text


def test_too_many_attachments_refused(gw: tuple[GatewayEnv, InProcessGateway, DemoCrl]) -> None:
    files = tuple((f"liite{i}.pdf", "application/pdf", PDF) for i in range(3))
    answer = _refused(gw, 550, "5.7.1", "Kolme liitetta", attachments=files)
    assert "more attachments than the organisation allows" in answer.text


def test_too_big_for_the_organisation_refused_below_the_global_limit(
    gw: tuple[GatewayEnv, InProcessGateway, DemoCrl],
) -> None:
    env = gw[0]
    assert env.config.smtp.max_message_size > 3 * ORG_LIMIT
    big = (("iso.pdf", "application/pdf", PDF + b"%" * ORG_LIMIT),)
    answer = _refused(gw, 552, "5.3.4", "Iso", attachments=big)
    assert "organisation's maximum" in answer.text


def test_html_is_dropped_and_the_text_kept(
    gw: tuple[GatewayEnv, InProcessGateway, DemoCrl],
) -> None:
    message_id = _accepted(gw, "HTML", body="Tekstiosa.\n", html="<p><b>HTML-osa</b></p>")
    store = gw[1].store
    citizen = store.active_citizen_id(HETU)
    assert citizen is not None
    view = store.read_message(citizen, message_id)
    assert view is not None and view.html is None and "Tekstiosa." in view.text


def test_revoked_signer_refused_once_the_crl_file_changes_without_restart(
    gw: tuple[GatewayEnv, InProcessGateway, DemoCrl], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="smtp_in.handler")
    env, _, crl = gw
    _accepted(gw, "Ennen peruutusta")
    crl.revoke(env.clerk_cert)
    # Revoked at the CA, but the published CRL is still the old one: still accepted.
    _accepted(gw, "Peruutettu, CRL vanha")
    crl.publish()  # now PEM: both encodings are read
    answer = _refused(gw, 550, "5.7.7", "Peruutuksen jalkeen")
    assert "has been revoked" in answer.text
    assert "CRL: demo.crl lists the signer's certificate as revoked" in caplog.text


@pytest.mark.parametrize(
    ("lines", "code", "status", "trace"),
    [
        pytest.param(
            lambda pin: 'sender_addresses = ["*@kirjaamo.demokunta.test"]\n',
            550,
            "5.7.1",
            "sender addresses: the From address matches none of organisation demokunta's",
            id="address-pattern",
        ),
        pytest.param(
            lambda pin: f'signer_fingerprints = ["{"00" * 32}"]\n',
            550,
            "5.7.7",
            "is not in organisation demokunta's signer_fingerprints",
            id="unpinned-signer",
        ),
        pytest.param(
            lambda pin: f'signer_fingerprints = ["{pin}"]\nsender_addresses = ["virkailija@*"]\n',
            250,
            "2.0.0",
            "stored for 1 citizen",
            id="pinned-signer-and-pattern-pass",
        ),
    ],
)
def test_signer_pins_and_address_patterns(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    lines: Callable[[str], str],
    code: int,
    status: str,
    trace: str,
) -> None:
    caplog.set_level(logging.INFO, logger="smtp_in.handler")
    base = make_env(tmp_path)
    pin = openssl("x509", "-in", base.clerk_cert, "-noout", "-fingerprint", "-sha256")
    text = base.config_path.read_text().replace(
        "demo = true\n", "demo = true\n" + lines(pin.decode().split("=", 1)[1].strip())
    )
    base.config_path.write_text(text)
    env = GatewayEnv(base.root, base.config_path, load_config(base.config_path))
    env.add_citizen(HETU)
    gateway = InProcessGateway(env).start()
    try:
        before = gateway.store.table_counts()
        answer = send(gateway.port, decision(env, RCPT, subject="Paatos"), [RCPT])
        assert (answer.code, answer.status) == (code, status), answer
        assert (gateway.store.table_counts() == before) == (code != 250)
        assert trace in caplog.text  # the refusal's trace, or the log line of a stored message
    finally:
        gateway.stop()
