"""The original kept as evidence is the clerk's signed message under its outer header fields,
and its signature checks with the organisation's CA alone (no gateway key)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from gatewaytest.clerk import clerk_message, inner_message, openssl
from gatewaytest.env import CLERK, DOMAIN, make_env

from gateway import material
from smtp_in.pipeline import Inbound, Recipient, Stage, run_stages
from smtp_in.stages import extract_content, install_material, parse, unwrap, verify


def test_evidence_is_the_signed_entity_under_the_outer_fields(tmp_path: Path) -> None:
    env = make_env(tmp_path / "gw")
    install_material(*material.crypto_material_args(env.config))
    raw = clerk_message(
        cert=env.clerk_cert, key=env.clerk_key, gateway_cert=env.gateway_cert, sender=CLERK,
        to=f"131052-308T@{DOMAIN}", inner=inner_message("Todiste", "Sisältö.\n"),
        message_id="<todiste-1@demokunta.test>",
    )
    message = Inbound(raw=raw, organisation_id="demokunta", recipients=(Recipient(None),),
                      received_at=datetime.now(UTC))
    run_stages([Stage(f.__name__, f, True) for f in (parse, unwrap, verify, extract_content)],
               message)
    head = message.evidence.split(b"\r\n\r\n", 1)[0].decode()
    assert f"From: {CLERK}" in head and "Message-ID: <todiste-1@demokunta.test>" in head
    assert "multipart/signed" in head and "pkcs7-mime" not in head
    assert head.lower().count("content-type:") == 1
    kept = tmp_path / "evidence.eml"
    kept.write_bytes(message.evidence)
    openssl("cms", "-verify", "-in", kept, "-CAfile", env.data_dir / "demo" / "ca.pem",
            "-out", tmp_path / "content.eml")
    assert b"Todiste" in (tmp_path / "content.eml").read_bytes()
