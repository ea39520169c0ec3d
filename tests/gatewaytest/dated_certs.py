"""CA certificates with chosen validity periods, made by the real `openssl` (`openssl ca` takes
explicit start and end dates, so an already expired certificate can be made too)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from gatewaytest.clerk import openssl

_CA_CONFIG = """\
[ca]
default_ca = dated
[dated]
dir = {dir}
database = {dir}/index.txt
serial = {dir}/serial
new_certs_dir = {dir}
default_md = sha256
policy = anything
unique_subject = no
[anything]
commonName = supplied
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
"""


def dated_ca(directory: Path, name: str, start: datetime, end: datetime) -> Path:
    """A self-signed CA certificate valid from `start` to `end` (UTC); returns its PEM file."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "index.txt").write_text("")
    (directory / "serial").write_text("01\n")
    config = directory / "ca.cnf"
    config.write_text(_CA_CONFIG.format(dir=directory))
    key, request, cert = directory / "key.pem", directory / "req.csr", directory / "ca.pem"
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", request,
            "-subj", f"/CN={name}")
    openssl("ca", "-batch", "-config", config, "-selfsign", "-keyfile", key, "-in", request,
            "-out", cert, "-notext", "-extensions", "v3_ca",
            "-startdate", f"{start:%Y%m%d%H%M%S}Z", "-enddate", f"{end:%Y%m%d%H%M%S}Z")
    return cert
