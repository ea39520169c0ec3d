"""An attachment's real type comes from its bytes; the declared type only names text."""

from __future__ import annotations

import pytest

from smtp_in.sniff import real_type

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(17)
EXE = b"MZ\x90\x00\x03" + bytes(59)


@pytest.mark.parametrize(
    ("data", "declared", "expected"),
    [
        pytest.param(PDF, "image/png", "application/pdf", id="pdf-declared-png"),
        pytest.param(PNG, "application/pdf", "image/png", id="png-declared-pdf"),
        pytest.param(EXE, "text/plain", "application/x-msdownload", id="exe-declared-text"),
        pytest.param(b"a;b\n1;2\n", "text/csv", "text/csv", id="text-keeps-text-type"),
        pytest.param("Hyvä\n".encode("latin-1"), "text/plain", "text/plain", id="latin-1-text"),
        pytest.param(b"plain words", "application/pdf", "text/plain", id="text-declared-pdf"),
        pytest.param(bytes(range(256)), "application/pdf", "application/octet-stream", id="opaque"),
        pytest.param(b"", "application/pdf", "text/plain", id="empty"),
    ],
)
def test_real_type(data: bytes, declared: str, expected: str) -> None:
    assert real_type(data, declared) == expected
