"""The TNEF boundary unpacks Outlook's winmail.dat and refuses streams that would hang tnefparse.

tnefparse trusts 32-bit element counts; these tests build streams whose counts claim billions
of elements and require a prompt TnefError instead of a loop.
"""

from __future__ import annotations

import struct
import time

import pytest
from gatewaytest.corpus import MIME

from smtp_in.tnef import TnefError, unpack_tnef

CORPUS = MIME / "mimekit"
SIGNATURE = struct.pack("<IH", 0x223E9F78, 0)


def tnef_object(level: int, name: int, payload: bytes, attr_type: int = 6) -> bytes:
    checksum = sum(payload) & 0xFFFF
    return struct.pack("<BHHI", level, name, attr_type, len(payload)) + payload + struct.pack(
        "<H", checksum
    )


def test_two_files_stream_yields_authors_and_readme() -> None:
    content = unpack_tnef((CORPUS / "tnef-two-files.tnef").read_bytes())
    assert [(f.name, f.content_type, len(f.data)) for f in content.files] == [
        ("AUTHORS", "application/octet-stream", 244),
        ("README", "application/octet-stream", 893),
    ]
    assert b"Authors of tnef" in content.files[0].data


def test_stream_with_trailing_garbage_still_decodes() -> None:
    content = unpack_tnef((CORPUS / "tnef-garbage-at-end.tnef").read_bytes())
    assert content.files == ()


@pytest.mark.parametrize("data", [b"", b"not tnef at all", b"\x78\x9f\x3e"])
def test_non_tnef_is_refused(data: bytes) -> None:
    with pytest.raises(TnefError):
        unpack_tnef(data)


def _timed_refusal(stream: bytes) -> None:
    started = time.monotonic()
    with pytest.raises(TnefError):
        unpack_tnef(stream)
    assert time.monotonic() - started < 1.0


def test_huge_mapi_property_count_is_refused_promptly() -> None:
    props = struct.pack("<I", 0xFFFFFFFF) + b"\x00" * 32
    _timed_refusal(SIGNATURE + tnef_object(1, 0x9003, props))


def test_huge_multi_value_count_is_refused_promptly() -> None:
    # One multi-valued short property (type 0x1002) claiming 4 billion values.
    props = struct.pack("<IHHI", 1, 0x1002, 0x0E07, 0xFFFFFFFF) + b"\x00" * 16
    _timed_refusal(SIGNATURE + tnef_object(1, 0x9003, props))


def test_huge_recipient_row_count_is_refused_promptly() -> None:
    table = struct.pack("<I", 0xFFFFFFF0) + struct.pack("<I", 0) * 8
    _timed_refusal(SIGNATURE + tnef_object(1, 0x9004, table))


def test_too_many_objects_is_refused() -> None:
    _timed_refusal(SIGNATURE + tnef_object(1, 0x8008, b"x" * 4) * 5000)
