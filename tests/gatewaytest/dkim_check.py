"""An independent DKIM check: Perl's Mail::DKIM through tests/crypto/dkim_verify.pl.

The public key is handed to the verifier locally (no DNS), as tests/crypto/test_dkim.py does.
Skips when perl or Mail::DKIM (apt package libmail-dkim-perl) is missing, except in CI
(CI=true), where that fails.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

VERIFIER_PL = Path(__file__).resolve().parents[1] / "crypto" / "dkim_verify.pl"

MailDkim = Callable[[bytes, str, str], str]
"""(signed message, DNS name, TXT record) -> the verifier's output, ending "overall: <result>"."""


def txt_record(private_key_pem: bytes) -> str:
    """The DNS TXT record for a DKIM key, as `asiointitili keys show dkim` prints it."""
    key = serialization.load_pem_private_key(private_key_pem, password=None)
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"


def mail_dkim() -> MailDkim:
    """The verifier, or skip (fail in CI) when Mail::DKIM is not installed."""
    perl = shutil.which("perl")
    usable = perl is not None and (
        subprocess.run(
            [perl, "-MMail::DKIM::Verifier", "-MNet::DNS", "-e", "1"],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    if not usable:
        message = "perl with Mail::DKIM (apt package libmail-dkim-perl) is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    assert perl is not None

    def verify(signed: bytes, dns_name: str, record: str) -> str:
        done = subprocess.run(
            [perl, str(VERIFIER_PL), dns_name, record],
            input=signed,
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"dkim_verify.pl failed: {done.stderr.decode(errors='replace')}")
        return done.stdout.decode()

    return verify
