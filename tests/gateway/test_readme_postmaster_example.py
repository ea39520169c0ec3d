"""The README's worked example for postmasters must load: its two `[[organisations]]` snippets
are appended to the sample gateway.toml, with every file they name made here (CA certificates
and a CRL by openssl, the OpenPGP key by gpg), `load_config` must accept the result and, after
`init`, `policy check` must find nothing wrong with it."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gatewaytest.clerk import openssl
from gatewaytest.openpgp import Gpg, require_gpg

from crypto.pgp_keys import stop_agent
from gateway.cli import main as cli_main
from gateway.config import load_config
from gateway.policy_check import check_policy

ROOT = Path(__file__).resolve().parents[2]
_TOML_BLOCK = re.compile(r"^```toml\n(.*?)^```", re.MULTILINE | re.DOTALL)
# The sample configuration's own organisation (the demo) is left out.
_ORGANISATIONS = "# One table per sending organisation."


def readme_snippets() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [b for b in _TOML_BLOCK.findall(text) if b.lstrip().startswith("[[organisations]]")]


def _ca(path: Path, name: str) -> None:
    """A CA certificate (PEM) and its key beside it, as a municipality's CA would give."""
    path.parent.mkdir(parents=True, exist_ok=True)
    openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", path.with_suffix(".key"), "-out", path, "-days", "365",
        "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )


def _crl(path: Path, anchors: list[Path]) -> None:
    """An empty CRL signed by the organisation's first trust anchor."""
    ca = anchors[0]
    config = path.with_suffix(".cnf")
    index = path.with_suffix(".index")
    index.write_text("")
    config.write_text(
        f"[ca]\ndefault_ca = ca\n[ca]\ndatabase = {index}\ndefault_md = sha256\n"
        "default_crl_days = 30\n"
    )
    openssl(
        "ca", "-gencrl", "-config", config, "-cert", ca, "-keyfile", ca.with_suffix(".key"),
        "-out", path,
    )


@pytest.fixture(scope="module")
def gpg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gpg]:
    require_gpg()
    gpg = Gpg(tmp_path_factory.mktemp("registry-gnupg"))
    yield gpg
    gpg.stop()


def _make_files(
    organisation: dict[str, Any], base: Path, gpg: Gpg, replacements: dict[str, str]
) -> None:
    """Every file the snippet names, of the kind its key wants; `replacements` gets the
    README's OpenPGP fingerprint -> that of the key made for it."""

    def paths(key: str) -> list[Path]:
        value = organisation.get(key, [])
        names = [value] if isinstance(value, str) else value
        assert isinstance(names, list)
        return [base / name for name in names if name]

    def each(key: str, make: Callable[[Path], None]) -> None:
        for path in paths(key):
            path.parent.mkdir(parents=True, exist_ok=True)
            make(path)

    each("tls_client_ca", lambda p: _ca(p, f"{organisation['id']} SMTP client CA"))
    each("trust_anchors", lambda p: _ca(p, f"{organisation['id']} smime CA"))
    each("crl_files", lambda p: _crl(p, paths("trust_anchors")))
    each("certificate", lambda p: _ca(p, f"{organisation['id']} registry"))
    uid = f"Kirjaamo <{organisation['reply_address']}>"
    for path in paths("pgp_keys"):
        path.parent.mkdir(parents=True, exist_ok=True)
        fingerprint = gpg.new_key(uid)
        path.write_bytes(gpg.export(fingerprint))
        # The README names an example key; ours is made here, with its own fingerprint.
        replacements[organisation["pgp_reply_key"]] = fingerprint


def test_the_readme_has_both_examples() -> None:
    snippets = readme_snippets()
    assert len(snippets) == 2
    both = "\n".join(snippets)
    for key in ("tls_client_ca", "trust_anchors", "sender_domains", "reply_to", "smtp_auth",
                "require_tls", "pgp_keys", "pgp_fingerprints", "pgp_reply_key"):
        assert f"\n{key} = " in both, key


def _example_config(directory: Path, gpg: Gpg, *, own_pgp_keys: bool) -> Path:
    """The sample configuration with the README's organisations instead of the demo one, and
    their files; with `own_pgp_keys` the README's OpenPGP fingerprints are replaced by those of
    the keys made here (the README's cannot match a key made anew)."""
    sample = (ROOT / "gateway.toml").read_text(encoding="utf-8")
    assert _ORGANISATIONS in sample
    snippets = readme_snippets()
    replacements: dict[str, str] = {}
    for snippet in snippets:
        (organisation,) = tomllib.loads(snippet)["organisations"]
        _make_files(organisation, directory, gpg, replacements)
    text = sample.split(_ORGANISATIONS)[0] + "\n".join(snippets)
    for example, made in replacements.items() if own_pgp_keys else ():
        text = text.replace(example, made)
    config_path = directory / "gateway.toml"
    config_path.write_text(text, encoding="utf-8")
    return config_path


def test_the_readme_snippets_load_into_the_sample_configuration(
    tmp_path: Path, gpg: Gpg
) -> None:
    config = load_config(_example_config(tmp_path, gpg, own_pgp_keys=False))

    exchange, relay = config.organisations
    assert exchange.id == "jarvikyla" and relay.id == "kallioniemi"
    assert exchange.server_auth.tls_client_ca == tmp_path / "keys/jarvikyla/smtp-client-ca.pem"
    assert exchange.server_auth.tls_client_fingerprints and exchange.server_auth.require_tls
    assert exchange.signers.crl_files and exchange.replies.certificate is not None
    assert [login.username for login in relay.server_auth.logins] == ["kallioniemi-relay"]
    assert relay.server_auth.require_tls and not relay.trust_anchors
    assert relay.pgp.reply_key in relay.pgp.fingerprints


def test_policy_check_finds_nothing_wrong_with_the_readme_example(
    tmp_path: Path, gpg: Gpg
) -> None:
    config_path = _example_config(tmp_path, gpg, own_pgp_keys=True)
    assert cli_main(["--config", str(config_path), "init"]) == 0
    try:
        assert [str(problem) for problem in check_policy(config_path)] == []
    finally:
        stop_agent(load_config(config_path).keys.gnupg_home)
