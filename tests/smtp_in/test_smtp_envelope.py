"""The SMTP envelope over real loopback SMTP: who may connect (MAIL) and whom mail is for (RCPT).

Every refusal is checked for its reply code, its RFC 3463 enhanced status and an unchanged store.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest
from gatewaytest.env import DOMAIN, SUBMISSION, GatewayEnv, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.servers import InProcessGateway
from gatewaytest.smtp_fixtures import (
    RecordingSMTP,
    connect,
    data,
    decision,
    lines_without_enhanced_code,
    use_material_of,
)

HETU = make_hetu("131052", "-", 308)  # has an account
HETU_LETTER = make_hetu("150505", "A", 123)  # check character is a letter: case matters
HETU_NO_ACCOUNT = make_hetu("131052", "-", 309)
HETU_TEMP = make_hetu("240399", "A", 917)  # temporary code (individual number 900-999)
BAD_CHECKSUM = HETU[:-1] + ("X" if HETU[-1] != "X" else "Y")
IMPOSSIBLE_DATE = make_hetu("310299", "-", 123)  # 31 February
UNKNOWN_CENTURY = make_hetu("131052", "G", 308)
ALL_HETUS = [HETU, HETU_LETTER, HETU_NO_ACCOUNT, HETU_TEMP, BAD_CHECKSUM, IMPOSSIBLE_DATE,
             UNKNOWN_CENTURY]
MAX_SIZE = 300_000


def at(local: str) -> str:
    return f"{local}@{DOMAIN}"


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayEnv, InProcessGateway]]:
    env = make_env(tmp_path_factory.mktemp("envelope"), max_message_size=MAX_SIZE)
    env.add_citizen(HETU)
    env.add_citizen(HETU_LETTER)
    env.add_citizen(HETU_TEMP)
    gateway = InProcessGateway(env).start()
    yield env, gateway
    gateway.stop()


@pytest.fixture(scope="module")
def strict_gw(
    tmp_path_factory: pytest.TempPathFactory, gw: tuple[GatewayEnv, InProcessGateway],
) -> Iterator[InProcessGateway]:
    env = make_env(tmp_path_factory.mktemp("strict"), allow_temporary=False)
    env.add_citizen(HETU_TEMP)  # an account exists, but production never accepts the code
    gateway = InProcessGateway(env).start()
    use_material_of(gw[0])  # this one only answers RCPT; the main gateway keeps its keys
    yield gateway
    gateway.stop()


@pytest.fixture
def client(gw: tuple[GatewayEnv, InProcessGateway]) -> Iterator[RecordingSMTP]:
    with connect(gw[1].port) as smtp:
        yield smtp


def mail_ok(client: RecordingSMTP) -> None:
    code, text = client.mail("virkailija@demokunta.test")
    assert (code, text[:5]) == (250, b"2.1.0")


def reply(client: RecordingSMTP, command: str, args: str) -> tuple[int, str]:
    code, text = client.docmd(command, args)
    return code, text.decode()


def test_unknown_peer_is_refused_at_mail_before_any_recipient(
    gw: tuple[GatewayEnv, InProcessGateway],
) -> None:
    _, gateway = gw
    before = gateway.store.table_counts()
    with connect(gateway.port, source="127.0.0.2") as outsider:
        code, text = outsider.mail("virkailija@demokunta.test")
        assert (code, text[:5].decode()) == (550, "5.7.1")
        # No recipient is examined: an account-holder and a stranger get the same answer.
        answers = {outsider.rcpt(at(h)) for h in (HETU, HETU_NO_ACCOUNT, BAD_CHECKSUM)}
        assert len(answers) == 1
        (code, text), = answers
        assert (code, text[:5].decode()) == (503, "5.5.1")
        assert lines_without_enhanced_code(outsider.replies) == []
    assert gateway.store.table_counts() == before


@pytest.mark.parametrize(
    ("address", "code", "status"),
    [
        ("kirjaamo@example.org", 550, "5.7.1"),
        (f"{HETU}@example.org", 550, "5.7.1"),
        (at("kirjaamo"), 550, "5.1.1"),
        (at(BAD_CHECKSUM), 550, "5.1.3"),
        (at(IMPOSSIBLE_DATE), 550, "5.1.3"),
        (at(UNKNOWN_CENTURY), 550, "5.1.3"),
    ],
    ids=["other-domain", "hetu-at-other-domain", "other-local-part", "bad-checksum",
         "impossible-date", "century-G"],
)
def test_recipient_refused(
    gw: tuple[GatewayEnv, InProcessGateway], client: RecordingSMTP, address: str, code: int,
    status: str,
) -> None:
    before = gw[1].store.table_counts()
    mail_ok(client)
    got_code, text = client.rcpt(address)
    assert (got_code, text.decode()[:5]) == (code, status)
    assert gw[1].store.table_counts() == before


def test_valid_hetu_without_account_is_told_to_use_paper(
    gw: tuple[GatewayEnv, InProcessGateway], client: RecordingSMTP,
) -> None:
    before = gw[1].store.table_counts()
    mail_ok(client)
    code, text = client.rcpt(at(HETU_NO_ACCOUNT))
    assert (code, text[:5]) == (550, b"5.1.1")
    assert b"paper" in text
    assert HETU_NO_ACCOUNT.encode() not in text
    assert gw[1].store.table_counts() == before


def test_temporary_hetu_refused_when_not_allowed_even_with_account(
    strict_gw: InProcessGateway,
) -> None:
    before = strict_gw.store.table_counts()
    with connect(strict_gw.port) as client:
        mail_ok(client)
        code, text = client.rcpt(at(HETU_TEMP))
        assert (code, text[:5]) == (550, b"5.1.1")
        # The same code is fine where temporary codes are allowed (see the next test's fixture).
        assert lines_without_enhanced_code(client.replies) == []
    assert strict_gw.store.table_counts() == before


def test_temporary_hetu_accepted_when_allowed(client: RecordingSMTP) -> None:
    mail_ok(client)
    assert client.rcpt(at(HETU_TEMP))[0] == 250


@pytest.mark.parametrize(
    "address",
    [at(HETU_LETTER.lower()), f"{HETU_LETTER}@{DOMAIN.upper()}", SUBMISSION.upper(),
     "Viesti@Asiointi.Test"],
)
def test_addresses_match_case_insensitively(client: RecordingSMTP, address: str) -> None:
    assert HETU_LETTER[-1].isalpha()
    mail_ok(client)
    code, text = client.rcpt(address)
    assert (code, text[:5]) == (250, b"2.1.5")


def test_esmtp_parameters_of_real_mtas_are_accepted(client: RecordingSMTP) -> None:
    code, text = reply(client, "MAIL",
                       "FROM:<virkailija@demokunta.test> SIZE=1000 BODY=8BITMIME SMTPUTF8 "
                       "RET=HDRS ENVID=abc")
    assert (code, text[:5]) == (250, "2.1.0")
    code, text = reply(client, "RCPT",
                       f"TO:<{HETU}@{DOMAIN}> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x@y")
    assert (code, text[:5]) == (250, "2.1.5")
    assert lines_without_enhanced_code(client.replies) == []


def test_unknown_parameters_are_refused(client: RecordingSMTP) -> None:
    code, text = reply(client, "MAIL", "FROM:<virkailija@demokunta.test> XFOO=1")
    assert (code, text[:5]) == (555, "5.5.4")
    mail_ok(client)
    code, text = reply(client, "RCPT", f"TO:<{HETU}@{DOMAIN}> XBAR")
    assert (code, text[:5]) == (555, "5.5.4")


def test_declared_size_over_the_limit_is_refused(client: RecordingSMTP) -> None:
    code, text = reply(client, "MAIL", f"FROM:<virkailija@demokunta.test> SIZE={MAX_SIZE + 1}")
    assert (code, text[:5]) == (552, "5.3.4")
    code, text = reply(client, "MAIL", f"FROM:<virkailija@demokunta.test> SIZE={MAX_SIZE}")
    assert (code, text[:5]) == (250, "2.1.0")


def test_ehlo_advertises_the_extensions(client: RecordingSMTP) -> None:
    for extension in ("starttls", "size", "8bitmime", "smtputf8"):
        assert client.has_extn(extension), extension
    assert client.esmtp_features["size"] == str(MAX_SIZE)


def test_ehlo_advertises_enhanced_status_codes(client: RecordingSMTP) -> None:
    assert client.has_extn("enhancedstatuscodes")


def test_ehlo_lines_carry_no_enhanced_code(client: RecordingSMTP) -> None:
    code, lines = next(r for r in client.replies if r[1][0] == "EHLO")
    assert code == 250
    assert [line for line in lines[1:] if re.match(r"[245]\.\d+\.\d+ ", line)] == []


def test_several_recipients_answered_one_by_one_and_delivered_to_accepted_ones(
    gw: tuple[GatewayEnv, InProcessGateway], client: RecordingSMTP,
) -> None:
    env, gateway = gw
    store = gateway.store
    ids = [store.active_citizen_id(HETU), store.active_citizen_id(HETU_LETTER)]
    inbox_before = [len(store.inbox(i, limit=100)) for i in ids]
    mail_ok(client)
    answers = [client.rcpt(a) for a in (at(HETU), at(HETU_NO_ACCOUNT), at(BAD_CHECKSUM),
                                         "x@example.org", at(HETU_LETTER))]
    assert [(c, t[:5].decode()) for c, t in answers] == [
        (250, "2.1.5"), (550, "5.1.1"), (550, "5.1.3"), (550, "5.7.1"), (250, "2.1.5")]
    answer = data(client, decision(env, at(HETU), subject="Monelle"))
    assert (answer.code, answer.status) == (250, "2.0.0")
    assert [len(store.inbox(i, limit=100)) for i in ids] == [n + 1 for n in inbox_before]


def test_every_reply_line_carries_an_enhanced_code(
    gw: tuple[GatewayEnv, InProcessGateway], client: RecordingSMTP,
) -> None:
    env, _ = gw
    for command, args in [("NOOP", ""), ("RSET", ""), ("HELP", ""), ("XYZZY", ""),
                          ("DATA", ""), ("RCPT", f"TO:<{HETU}@{DOMAIN}>"), ("MAIL", "junk"),
                          ("MAIL", "FROM:<a@b> SIZE=x"), ("MAIL", "FROM:<a@b> BODY=9BIT"),
                          ("RCPT", "TO:<>")]:
        reply(client, command, args)
    mail_ok(client)
    reply(client, "MAIL", "FROM:<virkailija@demokunta.test>")  # nested MAIL
    for address in (at(HETU), at(HETU_NO_ACCOUNT), at(BAD_CHECKSUM), "x@example.org"):
        client.rcpt(address)
    reply(client, "DATA", "extra")
    data(client, b"Subject: not S/MIME\r\n\r\nplain\r\n")
    mail_ok(client)
    client.rcpt(at(HETU))
    data(client, decision(env, at(HETU)))
    client.quit()
    assert len(client.replies) > 20
    assert lines_without_enhanced_code(client.replies) == []


def test_vrfy_confirms_nothing_and_carries_an_enhanced_code(client: RecordingSMTP) -> None:
    code, text = reply(client, "VRFY", f"{HETU}@{DOMAIN}")
    assert code == 252 and HETU not in text
    assert lines_without_enhanced_code(client.replies) == []


def test_no_hetu_in_logs_at_debug_level(
    gw: tuple[GatewayEnv, InProcessGateway], caplog: pytest.LogCaptureFixture,
) -> None:
    env, gateway = gw
    caplog.set_level(logging.DEBUG)
    with connect(gateway.port) as smtp:
        mail_ok(smtp)
        for hetu in ALL_HETUS:
            smtp.rcpt(at(hetu))
            smtp.rcpt(at(hetu.lower()))
        data(smtp, decision(env, at(HETU), hetu_lines=(HETU_NO_ACCOUNT,)))
        mail_ok(smtp)
        smtp.rcpt(SUBMISSION)
        data(smtp, decision(env, SUBMISSION, hetu_lines=(HETU_NO_ACCOUNT, BAD_CHECKSUM)))
        smtp.docmd(f"XRCPT TO:<{HETU}@{DOMAIN}>")
    with connect(gateway.port, source="127.0.0.2") as outsider:
        outsider.mail("x@y")
        outsider.rcpt(at(HETU))
    assert caplog.records, "nothing was logged: the check would prove nothing"
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    for hetu in ALL_HETUS:
        assert hetu not in logged.upper()
        assert hetu[:6] + hetu[7:] not in logged.upper()
