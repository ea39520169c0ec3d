"""smtp_in.dsn on delivery status notifications real MTAs made (Office 365, Postfix, sendmail,
Sun SIMS, AOL; see dsn_samples/SOURCES.md), and on everything else: other mail and junk end in
NotADsn or MalformedDsn, never in another exception."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest
from gatewaytest.corpus import MIME

from smtp_in.dsn import MAX_PARSED, DeliveryReport, DsnError, MalformedDsn, NotADsn, parse_dsn

SAMPLES = Path(__file__).parent / "dsn_samples"
OFFICE365 = MIME / "flanker" / "bounce-office365.eml"


def crlf(data: bytes) -> bytes:
    """As the message arrives over SMTP."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def report(blocks: str, *, report_type: str = "; report-type=delivery-status") -> bytes:
    """A minimal multipart/report around a delivery-status part holding `blocks`."""
    return crlf(
        (
            "From: MAILER-DAEMON@mx.example\n"
            "Subject: Undelivered Mail Returned to Sender\n"
            "MIME-Version: 1.0\n"
            f'Content-Type: multipart/report{report_type}; boundary="B"\n'
            "\n--B\nContent-Type: text/plain\n\nYour mail could not be delivered.\n"
            "\n--B\nContent-Type: message/delivery-status\n\n"
            "Reporting-MTA: dns; mx.example\n\n"
            f"{blocks}\n"
            "\n--B--\n"
        ).encode()
    )


def test_office365_ndr_from_the_corpus() -> None:
    raw = OFFICE365.read_bytes()
    assert parse_dsn(raw) == DeliveryReport("failed", "5.1.10")
    assert parse_dsn(crlf(raw)) == DeliveryReport("failed", "5.1.10")


@pytest.mark.parametrize(
    ("sample", "action", "status"),
    [
        ("postfix-user-unknown.eml", "failed", "5.1.1"),
        ("sims-disk-quota.eml", "failed", "5.0.0"),
        ("aol-mailbox-full.eml", "failed", "5.2.2"),
        ("sendmail-gave-up.eml", "failed", "4.0.0"),
        ("sendmail-delay-warning.eml", "delayed", "4.4.1"),
    ],
)
def test_real_mta_reports(sample: str, action: str, status: str) -> None:
    raw = (SAMPLES / sample).read_bytes()
    assert parse_dsn(raw) == DeliveryReport(action, status)
    assert parse_dsn(crlf(raw)) == DeliveryReport(action, status)


def test_the_report_keeps_nothing_the_remote_wrote_but_action_and_code() -> None:
    parsed = parse_dsn((SAMPLES / "postfix-user-unknown.eml").read_bytes())
    assert [f.name for f in dataclasses.fields(parsed)] == ["action", "status"]
    assert "@" not in repr(parsed) and "gsmtp" not in repr(parsed)


def test_a_huge_returned_message_is_not_parsed_but_the_report_before_it_is() -> None:
    raw = crlf(OFFICE365.read_bytes())
    at = raw.index(b"Content-Type: message/rfc822")
    # RET=FULL of a reply with attachments: megabytes after the report.
    padded = raw[:at] + b"Content-Type: message/rfc822\r\n\r\n" + b"x" * (3 * MAX_PARSED)
    assert parse_dsn(padded) == DeliveryReport("failed", "5.1.10")


@pytest.mark.parametrize(
    ("blocks", "expected"),
    [
        # Status missing: the code inside the diagnostic, not the digits of an IP address.
        (
            "Final-Recipient: rfc822; a@example.org\nAction: failed\n"
            "Diagnostic-Code: smtp; host mx[10.4.4.1] said: 550 5.7.1 refused",
            DeliveryReport("failed", "5.7.1"),
        ),
        # Neither: the generic code of the action's class.
        ("Final-Recipient: rfc822; a@x.example\nAction: Failed", DeliveryReport("failed", "5.0.0")),
        ("Action: delayed\nStatus: junk", DeliveryReport("delayed", "4.0.0")),
        ("Action: delivered", DeliveryReport("delivered", "2.0.0")),
        ("Action: relayed (to a non-DSN MTA)\nStatus: 2.0.0", DeliveryReport("relayed", "2.0.0")),
        # Several recipients of one mail: the worst outcome counts.
        (
            "Action: delivered\nStatus: 2.0.0\n\nAction: delayed\nStatus: 4.4.7\n\n"
            "Action: failed\nStatus: 5.2.2\n\nAction: failed\nStatus: 5.1.1",
            DeliveryReport("failed", "5.2.2"),
        ),
        ("Action: expanded\nStatus: 2.0.0\n\nAction: delayed\nStatus: 4.4.1",
         DeliveryReport("delayed", "4.4.1")),
    ],
)
def test_per_recipient_fields(blocks: str, expected: DeliveryReport) -> None:
    assert parse_dsn(report(blocks)) == expected


def test_report_type_may_be_missing_but_not_another_type() -> None:
    assert parse_dsn(report("Action: failed\nStatus: 5.1.1", report_type="")).action == "failed"
    # A read receipt (RFC 8098) is a report too, but not a delivery status notification.
    with pytest.raises(NotADsn):
        parse_dsn(report("Action: failed", report_type="; report-type=disposition-notification"))


@pytest.mark.parametrize(
    "blocks",
    ["", "Final-Recipient: rfc822; a@x.example\nStatus: 5.1.1", "Action: exploded\nStatus: 5.1.1"],
    ids=["no-recipient-block", "no-action", "unknown-action"],
)
def test_a_report_without_a_readable_recipient_block_is_malformed(blocks: str) -> None:
    with pytest.raises(MalformedDsn):
        parse_dsn(report(blocks))


def test_a_forwarded_dsn_is_not_a_dsn() -> None:
    dsn = crlf((SAMPLES / "sendmail-delay-warning.eml").read_bytes())
    forward = (
        b'From: someone@example.org\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; '
        b'boundary="F"\r\n\r\n--F\r\nContent-Type: text/plain\r\n\r\nFYI\r\n'
        b"--F\r\nContent-Type: message/rfc822\r\n\r\n" + dsn + b"\r\n--F--\r\n"
    )
    with pytest.raises(NotADsn):
        parse_dsn(forward)


NON_DSN = sorted(p for p in MIME.rglob("*") if p.is_file() and p != OFFICE365)


@pytest.mark.parametrize("path", NON_DSN, ids=[p.name for p in NON_DSN])
def test_other_real_mail_is_not_a_dsn(path: Path) -> None:
    with pytest.raises(NotADsn):
        parse_dsn(path.read_bytes())


@pytest.mark.parametrize("raw", [b"", b"\r\n", b"\x00" * 100, b"Subject: hi\r\n\r\nplain\r\n"])
def test_trivial_input_is_not_a_dsn(raw: bytes) -> None:
    with pytest.raises(NotADsn):
        parse_dsn(raw)


def test_deep_nesting_is_malformed_not_a_recursion_error() -> None:
    nested = b"".join(
        b"Content-Type: multipart/report; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
        for i in range(15_000)
    )
    assert len(nested) < MAX_PARSED
    with pytest.raises(MalformedDsn):
        parse_dsn(nested)


def test_mangled_reports_end_in_a_report_or_a_dsn_error() -> None:
    rng = random.Random(3464)
    originals = [crlf(OFFICE365.read_bytes()), *(p.read_bytes() for p in SAMPLES.glob("*.eml"))]
    outcomes: set[str] = set()
    for _ in range(300):
        data = bytearray(rng.choice(originals))
        for _ in range(rng.randint(1, 40)):
            at = rng.randrange(len(data) + 1)
            match rng.randrange(3):
                case 0:
                    data[at : at + 1] = bytes([rng.randrange(256)])
                case 1:
                    del data[at : at + rng.randint(1, 200)]
                case _:
                    data[at:at] = rng.choice([b"\r\n", b"\r\n\r\n", b"--", b"\x00", b"\xff\xfe"])
        try:
            parsed = parse_dsn(bytes(data[: rng.randint(0, len(data))]))
        except DsnError as exc:
            outcomes.add(type(exc).__name__)
        else:
            outcomes.add("report")
            assert parsed.action in ("failed", "delayed", "delivered", "relayed", "expanded")
    assert outcomes == {"report", "NotADsn", "MalformedDsn"}
