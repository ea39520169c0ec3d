"""After a certificate renewal the gateway still accepts mail encrypted to the retired one."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from gatewaytest.clerk import clerk_message, inner_message
from gatewaytest.env import CLERK, DOMAIN, SUBMISSION, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.servers import InProcessGateway
from gatewaytest.smtp_fixtures import send

from gateway import pki
from gateway.material import gateway_certificate_pem

HETU = make_hetu("131052", "-", 308)


def _identity(directory: Path, name: str) -> tuple[Path, Path, None]:
    identity = pki.gateway_smime_identity(DOMAIN, SUBMISSION)
    cert, key = directory / f"{name}-cert.pem", directory / f"{name}-key.pem"
    cert.write_bytes(identity.certificate_pem())
    key.write_bytes(identity.key_pem())
    return cert, key, None


def test_current_and_retired_keys_both_decrypt(tmp_path: Path) -> None:
    current, retired = _identity(tmp_path, "current"), _identity(tmp_path, "retired")
    env = make_env(tmp_path / "gw", smime=(current, retired))
    env.add_citizen(HETU)
    shown = x509.load_pem_x509_certificate(gateway_certificate_pem(env.config))
    assert shown == x509.load_pem_x509_certificate(current[0].read_bytes())
    rcpt = f"{HETU}@{DOMAIN}"
    gateway = InProcessGateway(env).start()
    try:
        for recipient_cert in (current[0], retired[0]):
            message = clerk_message(cert=env.clerk_cert, key=env.clerk_key,
                                    gateway_cert=recipient_cert, sender=CLERK, to=rcpt,
                                    inner=inner_message("Uusi ja vanha", "Hei.\n"))
            assert send(gateway.port, message, [rcpt]).code == 250
        stranger = _identity(tmp_path, "stranger")
        message = clerk_message(cert=env.clerk_cert, key=env.clerk_key,
                                gateway_cert=stranger[0], sender=CLERK, to=rcpt,
                                inner=inner_message("Vieras", "Hei.\n"))
        answer = send(gateway.port, message, [rcpt])
        assert (answer.code, answer.status) == (550, "5.7.5")
    finally:
        gateway.stop()
