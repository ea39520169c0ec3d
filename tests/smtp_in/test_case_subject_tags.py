"""Case tags in a clerk's subject ([lisätietopyyntö], [asia: ...], [tila: ...]) through the real
listener and pipeline, with messages made by openssl: recorded, sealed, removed from the
subject the citizen sees; the protected inner Subject is the one that counts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gatewaytest.clerk import encrypt, envelope, inner_message, sign
from gatewaytest.env import CLERK, DOMAIN, GatewayEnv, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.servers import InProcessGateway
from gatewaytest.smtp_fixtures import decision, send
from sqlalchemy import select

from gateway import material
from mailbox_store.schema import messages

HETU = make_hetu("131052", "-", 308)
RCPT = f"{HETU}@{DOMAIN}"


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[GatewayEnv, InProcessGateway, str]]:
    env = make_env(tmp_path)
    citizen = env.add_citizen(HETU)
    gateway = InProcessGateway(env).start()
    yield env, gateway, citizen
    gateway.stop()


def _deliver(env: GatewayEnv, gateway: InProcessGateway, subject: str, number: int) -> None:
    message = decision(env, RCPT, subject=subject, message_id=f"<case-{number}@demokunta.test>")
    answer = send(gateway.port, message, [RCPT])
    assert answer.code == 250, answer


def _row(gateway: InProcessGateway, message_id: str) -> Any:
    with gateway.store._engine.connect() as connection:  # noqa: SLF001 - what lies at rest
        return connection.execute(select(messages).where(messages.c.id == message_id)).one()


def test_tags_are_recorded_and_removed_from_the_subject(
    gateway: tuple[GatewayEnv, InProcessGateway, str],
) -> None:
    env, gw, citizen = gateway
    _deliver(env, gw, "[lisätietopyyntö] [asia: HEL 2024/77] Täydennyspyyntö", 1)
    _deliver(env, gw, "Tilatieto [ASIA:HEL 2024/77] [Tila: Käsittelyssä]", 2)
    _deliver(env, gw, "Tavallinen päätös", 3)
    plain, status, request = gw.store.inbox(citizen)
    assert (request.subject, request.kind, request.case_reference, request.case_status) == (
        "Täydennyspyyntö",
        "request",
        "HEL 2024/77",
        None,
    )
    assert (status.subject, status.kind, status.case_reference, status.case_status) == (
        "Tilatieto",
        "status",
        "HEL 2024/77",
        "Käsittelyssä",
    )
    assert (plain.kind, plain.case_reference, plain.case_status) == ("message", None, None)

    index = material.blind_index(env.config)
    expected = index(json.dumps(["demokunta", "HEL 2024/77"]), "case")
    row = _row(gw, request.id)
    assert row.case_index == expected and _row(gw, status.id).case_index == expected
    assert b"HEL 2024/77" not in row.case_sealed and b"HEL 2024/77" not in row.subject_sealed
    [case] = gw.store.cases(citizen)
    assert case.status == "Käsittelyssä"
    assert [m.id for m in case.messages] == [status.id, request.id]


def test_the_protected_inner_subject_counts_not_the_outer_one(
    gateway: tuple[GatewayEnv, InProcessGateway, str],
) -> None:
    env, gw, citizen = gateway
    inner = inner_message("Päätös", "Hei.\n")
    signed = sign(inner, env.clerk_cert, env.clerk_key)
    raw = envelope(
        encrypt(signed, env.gateway_cert),
        sender=CLERK,
        to=RCPT,
        message_id="<outer-tags@demokunta.test>",
        subject="[lisätietopyyntö] [asia: ULKO-1] [tila: Väärä]",
    )
    assert send(gw.port, raw, [RCPT]).code == 250
    [entry] = gw.store.inbox(citizen)
    assert (entry.subject, entry.kind, entry.case_reference) == ("Päätös", "message", None)


@pytest.fixture
def swedish_tags(tmp_path: Path) -> Iterator[tuple[GatewayEnv, InProcessGateway, str]]:
    env = make_env(
        tmp_path,
        org_toml='request_tag = "[begäran]"\ncase_label = "ärende"\nstatus_label = "läge"',
    )
    citizen = env.add_citizen(HETU)
    gateway = InProcessGateway(env).start()
    yield env, gateway, citizen
    gateway.stop()


def test_each_organisation_names_its_own_tags(
    swedish_tags: tuple[GatewayEnv, InProcessGateway, str],
) -> None:
    env, gw, citizen = swedish_tags
    _deliver(env, gw, "[begäran] [ärende: SV-9] [läge: Under behandling] Komplettering", 1)
    _deliver(env, gw, "[lisätietopyyntö] Ei tunnisteita tässä organisaatiossa", 2)
    finnish, swedish = gw.store.inbox(citizen)
    assert (swedish.subject, swedish.kind, swedish.case_reference, swedish.case_status) == (
        "Komplettering",
        "request",
        "SV-9",
        "Under behandling",
    )
    assert finnish.kind == "message" and finnish.subject.startswith("[lisätietopyyntö]")
