"""The blind index is stable per key, separates purposes and keeps its key out of reprs."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from crypto.blind_index import BlindIndex, BlindIndexError


def test_stable_keyed_and_domain_separated(tmp_path) -> None:
    path = tmp_path / "index.key"
    path.write_text(BlindIndex.generate_file_text())
    index = BlindIndex.from_file(path)
    again = BlindIndex.from_file(path)
    other = BlindIndex.from_text(BlindIndex.generate_file_text())

    digest = index("010101-123N")
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert digest == again("010101-123N") == index("010101-123N", "hetu")
    assert digest != other("010101-123N")
    assert digest != index("010101-123N", "dedup")
    assert digest != index("010101-123M")


def test_digest_is_not_a_plain_hmac_of_the_value_under_the_file_key() -> None:
    key = bytes(range(32))
    index = BlindIndex(key)
    plain = hmac.new(key, b"010101-123N", hashlib.sha256).hexdigest()
    assert index("010101-123N") != plain  # a per-purpose sub-key is used


def test_repr_hides_key() -> None:
    key = bytes([9]) * 32
    text = repr(BlindIndex(key))
    assert base64.b64encode(key).decode() not in text and key.hex() not in text


@pytest.mark.parametrize("text", ["", "!!!\n", base64.b64encode(bytes(8)).decode(), "a\nb\n"])
def test_bad_key_files_are_refused(text: str) -> None:
    with pytest.raises(BlindIndexError):
        BlindIndex.from_text(text)


def test_empty_purpose_is_refused() -> None:
    with pytest.raises(BlindIndexError):
        BlindIndex(bytes(32))("x", "")
