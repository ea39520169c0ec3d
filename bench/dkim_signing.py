"""DKIM signing rate: stock dkimpy against crypto.dkim.DkimSigner (`python -m bench.dkim_signing`).

Both sign the same ~10 KB message with the same RSA-2048 key, rsa-sha256, relaxed/relaxed and
the same header list, so the only difference is who does the RSA step (dkimpy's pure Python vs
OpenSSL through cryptography). Single thread; best of a few timed rounds to damp noise. A
measurement, not a test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import time
from collections.abc import Callable

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from crypto.dkim import DkimSigner

DOMAIN = "asiointi.example.fi"
SELECTOR = "asiointi1"


def message(size: int = 10 * 1024) -> bytes:
    head = (
        b"From: Kirjaamo <kirjaamo@asiointi.example.fi>\r\n"
        b"To: 010101-123N@asiointi.example.fi\r\n"
        b"Subject: =?utf-8?q?P=C3=A4=C3=A4t=C3=B6s?= hakemukseen\r\n"
        b"Date: Mon, 13 May 2024 10:00:00 +0300\r\n"
        b"Message-ID: <abc.123@asiointi.example.fi>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n"
        b"\r\n"
    )
    line = "Päätös koskee hakemustanne, joka on saapunut kuntaan.  Lisätiedot alla.\r\n".encode()
    body = line * ((size - len(head)) // len(line) + 1)
    return head + body[: size - len(head)]


def rate(sign: Callable[[], object], seconds: float, rounds: int) -> float:
    """Signatures per second: best of `rounds` rounds of about `seconds` each."""
    sign()  # warm-up (imports, caches)
    best = 0.0
    for _ in range(rounds):
        count = 0
        start = time.perf_counter()
        deadline = start + seconds
        while True:
            sign()
            count += 1
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, count / (now - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=10 * 1024, help="message size in bytes")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    msg = message(args.size)
    include = [b"from", b"to", b"subject", b"date", b"message-id", b"mime-version",
               b"content-type"]

    def stock() -> bytes:
        result: bytes = dkim.sign(msg, SELECTOR.encode(), DOMAIN.encode(), pem,
                                  canonicalize=(b"relaxed", b"relaxed"),
                                  include_headers=include)
        return result

    # Stock first: DkimSigner installs its (type-dispatched) hooks when constructed.
    stock_rate = rate(stock, args.seconds, args.rounds)
    signer = DkimSigner(domain=DOMAIN, selector=SELECTOR, private_key_pem=pem)
    ours_rate = rate(lambda: signer.sign(msg), args.seconds, args.rounds)

    print(f"message: {len(msg)} bytes, RSA-2048, rsa-sha256, relaxed/relaxed, 1 thread")
    stock_name = f"stock dkimpy {importlib.metadata.version('dkimpy')}"
    print(f"{stock_name:<24}{stock_rate:8.1f} signatures/s")
    print(f"{'crypto.dkim.DkimSigner':<24}{ours_rate:8.1f} signatures/s")
    print(f"{'ratio':<24}{ours_rate / stock_rate:8.2f}x")


if __name__ == "__main__":
    main()
