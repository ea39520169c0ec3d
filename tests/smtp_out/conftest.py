"""Shared fixtures for smtp_out tests: real SMTP sinks on loopback and a test CA."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from smtp_sink import SinkHandler, StartSink, free_port


@pytest.fixture
def start_sink() -> Iterator[StartSink]:
    """Starts aiosmtpd sinks on 127.0.0.1 (extra kwargs go to aiosmtpd's SMTP) and stops them."""
    controllers: list[Controller] = []

    def start(handler: SinkHandler, **smtp_kwargs: Any) -> Controller:
        controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **smtp_kwargs)
        controller.start()
        controllers.append(controller)
        return controller

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture(scope="session")
def test_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def server_tls(test_ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    test_ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.fixture
def client_tls(test_ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    test_ca.configure_trust(context)
    return context
