"""The same delivery through a real `serve` process, with PostgreSQL as the mailbox store."""

from __future__ import annotations

import html
import smtplib
from pathlib import Path

import pytest
from gatewaytest.clerk import clerk_message, inner_message
from gatewaytest.env import CLERK, DOMAIN, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.portal import attachment_links, login, message_ids
from gatewaytest.postgres import temporary_schema
from gatewaytest.servers import ServeProcess

pytestmark = pytest.mark.e2e

HETU = make_hetu("010594", "Y", 321)


def test_delivery_and_reading_on_postgresql(tmp_path: Path) -> None:
    with temporary_schema("e2e") as url:
        env = make_env(tmp_path, database_url=url)
        env.add_citizen(HETU)
        server = ServeProcess(env, tmp_path / "serve.log").start()
        try:
            inner = inner_message("Päätös PostgreSQL", "Rivi yksi.\n",
                                  attachments=(("a.bin", "application/octet-stream", b"\0\1\2"),))
            message = clerk_message(cert=env.clerk_cert, key=env.clerk_key,
                                    gateway_cert=env.gateway_cert, sender=CLERK,
                                    to=f"{HETU}@{DOMAIN}", inner=inner)
            with smtplib.SMTP("127.0.0.1", env.config.smtp.listen_port, timeout=60) as smtp:
                smtp.ehlo("kunta-mx.test")
                smtp.mail(CLERK)
                smtp.rcpt(f"{HETU}@{DOMAIN}")
                code, _ = smtp.data(message)
            assert code == 250
            client = login(env.config.portal.public_url, HETU)
            try:
                (message_id,) = message_ids(client)
                page = client.get(f"/messages/{message_id}").text
                assert html.escape("Päätös PostgreSQL") in page
                assert [client.get(link).content for link in attachment_links(page)] == [b"\0\1\2"]
            finally:
                client.close()
        finally:
            server.stop()
