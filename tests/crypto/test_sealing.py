"""Sealing must round-trip, bind ciphertexts to their row and field, and never show keys."""

from __future__ import annotations

import base64

import pytest

from crypto.sealing import MasterKeyRing, SealingError, field_aad, open_sealed, seal

DEK = bytes(range(32))


def test_seal_round_trip_and_fresh_nonce() -> None:
    aad = field_aad("messages", "a" * 32, "subject")
    first = seal(DEK, b"secret subject", aad)
    second = seal(DEK, b"secret subject", aad)
    assert first != second  # random nonce
    assert b"secret" not in first
    assert open_sealed(DEK, first, aad) == b"secret subject"
    assert open_sealed(DEK, seal(DEK, b"", aad), aad) == b""


@pytest.mark.parametrize(
    "other_aad",
    [
        field_aad("messages", "b" * 32, "subject"),  # another row
        field_aad("messages", "a" * 32, "text"),  # another field
        field_aad("attachments", "a" * 32, "subject"),  # another table
    ],
)
def test_ciphertext_moved_to_another_place_fails(other_aad: bytes) -> None:
    blob = seal(DEK, b"x", field_aad("messages", "a" * 32, "subject"))
    with pytest.raises(SealingError):
        open_sealed(DEK, blob, other_aad)


def test_wrong_key_truncation_and_bit_flip_fail_without_leaking() -> None:
    aad = b"t/1/f"
    blob = seal(DEK, b"PLAINTEXT-MARKER", aad)
    flipped = blob[:-1] + bytes([blob[-1] ^ 1])
    for key, candidate in ((bytes(32), blob), (DEK, flipped), (DEK, blob[:20]), (DEK, b"")):
        with pytest.raises(SealingError) as info:
            open_sealed(key, candidate, aad)
        assert "PLAINTEXT" not in str(info.value)
    with pytest.raises(SealingError):
        open_sealed(DEK, b"\x02" + blob[1:], aad)  # unknown format version
    with pytest.raises(SealingError):
        seal(b"short", b"x", aad)


def test_key_ring_file_round_trip_and_rotation(tmp_path) -> None:
    path = tmp_path / "master.keys"
    path.write_text(MasterKeyRing.generate_file_text())
    ring_v1 = MasterKeyRing.from_file(path)
    assert ring_v1.current_version == 1
    dek = MasterKeyRing.new_data_key()
    assert len(dek) == 32
    aad = field_aad("citizens", "c" * 32, "data_key")
    wrapped_v1 = ring_v1.wrap_data_key(dek, aad)

    # Rotation: append a v2 line; old wraps still open, new wraps use v2.
    v2_line = MasterKeyRing.generate_file_text(version=2).splitlines()[-1]
    path.write_text(path.read_text() + v2_line + "\n")
    ring = MasterKeyRing.from_file(path)
    assert ring.current_version == 2 and ring.versions == (1, 2)
    assert ring.unwrap_data_key(wrapped_v1, aad) == dek
    wrapped_v2 = ring.wrap_data_key(dek, aad)
    assert ring.wrapped_version(wrapped_v2) == 2
    assert ring.unwrap_data_key(wrapped_v2, aad) == dek
    with pytest.raises(SealingError):
        ring_v1.unwrap_data_key(wrapped_v2, aad)  # v2 unknown to the old ring
    with pytest.raises(SealingError):
        ring.unwrap_data_key(wrapped_v2, field_aad("citizens", "d" * 32, "data_key"))


def test_repr_never_shows_key_bytes() -> None:
    key = bytes([7]) * 32
    ring = MasterKeyRing({3: key}, current=3)
    text = repr(ring) + str(ring)
    assert base64.b64encode(key).decode() not in text
    assert key.hex() not in text and repr(key) not in text
    assert "versions=[3]" in text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "# only a comment\n",
        "v1:notbase64!!\n",
        "v1:" + base64.b64encode(bytes(16)).decode() + "\n",  # 16 bytes, not 32
        "key:" + base64.b64encode(bytes(32)).decode() + "\n",
        ("v1:" + base64.b64encode(bytes(32)).decode() + "\n") * 2,  # duplicate version
    ],
)
def test_bad_key_files_are_refused(text: str) -> None:
    with pytest.raises(SealingError):
        MasterKeyRing.from_text(text)


def test_missing_key_file_is_a_sealing_error(tmp_path) -> None:
    with pytest.raises(SealingError):
        MasterKeyRing.from_file(tmp_path / "absent")
