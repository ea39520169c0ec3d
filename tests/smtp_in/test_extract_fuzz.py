"""Whatever bytes arrive, extract() returns a message or raises ExtractError, and does so fast.

A bounded, seeded loop of random mutations of the corpus files (and of corpus files wrapped
around TNEF streams) runs for about two seconds.
"""

from __future__ import annotations

import random
import time
from email import policy
from email.message import EmailMessage

from gatewaytest.corpus import MIME

from smtp_in.extract import ExtractedMessage, ExtractError, extract
from smtp_in.tnef import TnefError, unpack_tnef

CORPUS = MIME
TOKENS = [
    b"\r\n",
    b"\r\n\r\n",
    b"--",
    b"Content-Type: multipart/mixed; boundary=x\r\n",
    b"Content-Type: message/rfc822\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"=?utf-8?b?w6Q=?=",
    b"=?iso-2022-jp?q?=1b$B?=",
    b"charset=koi8-r",
    b"filename*=utf-8''%e4%2f..",
    b"\x00",
    b"\xff\xfe",
    b"<p>Henkil&ouml;tunnus: 131052-308T<br>",
]


def _seeds() -> list[bytes]:
    seeds = [p.read_bytes() for p in sorted(CORPUS.rglob("*")) if p.is_file()]
    tnef = (CORPUS / "mimekit/tnef-two-files.tnef").read_bytes()
    msg = EmailMessage(policy=policy.SMTP)
    msg.set_content("Henkilötunnus: 131052-308T\n\nHei\n")
    msg.add_attachment(tnef, maintype="application", subtype="ms-tnef", filename="winmail.dat")
    # Small seeds first: mutating the 200 KB ones costs more time per run.
    return sorted([*seeds, msg.as_bytes()], key=len)


def _mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        choice = rng.random()
        pos = rng.randrange(len(buf) + 1)
        if choice < 0.35 and buf:
            buf[min(pos, len(buf) - 1)] = rng.randrange(256)
        elif choice < 0.6:
            buf[pos:pos] = rng.choice(TOKENS)
        elif choice < 0.8:
            end = min(len(buf), pos + rng.randint(1, 64))
            del buf[pos:end]
        else:
            end = min(len(buf), pos + rng.randint(1, 256))
            buf[pos:pos] = buf[pos:end] * rng.randint(1, 4)
    return bytes(buf)


def test_random_mutations_of_the_corpus_never_escape_extract_error() -> None:
    rng = random.Random(20240917)
    seeds = [s for s in _seeds() if len(s) < 70_000]
    deadline = time.monotonic() + 2.0
    runs = 0
    while time.monotonic() < deadline:
        sample = _mutate(rng, rng.choice(seeds))
        started = time.monotonic()
        try:
            result = extract(sample, _mutate(rng, b"Subject: x\r\nFrom: a@b\r\n"))
        except ExtractError:
            pass
        else:
            assert isinstance(result, ExtractedMessage)
            result.text.encode("utf-8")  # storable: no lone surrogates
            result.subject.encode("utf-8")
        assert time.monotonic() - started < 2.0
        runs += 1
    assert runs > 50


def test_random_mutations_of_tnef_streams_only_raise_tnef_error() -> None:
    rng = random.Random(7)
    names = ("tnef-two-files.tnef", "tnef-garbage-at-end.tnef")
    seeds = [(CORPUS / "mimekit" / name).read_bytes() for name in names]
    for _ in range(400):
        sample = _mutate(rng, rng.choice(seeds))
        started = time.monotonic()
        try:
            unpack_tnef(sample)
        except TnefError:
            pass
        assert time.monotonic() - started < 1.0
