"""Reading a reply form (text and files) entirely in memory, with a hard size cap.

Starlette's own parser rolls files over 1 MB into temporary files, which would put a citizen's
attachment on disk in plaintext; here the parser keeps everything in memory, and the body is cut
off at the cap before the parser sees more, whatever Content-Length claimed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser
from starlette.requests import Request

from gateway.web.portal import Portal, Visitor

MAX_TEXT_FIELD = 256 * 1024  # bytes of one text field (the reply text is capped lower)


@dataclass(frozen=True)
class UploadedFile:
    filename: str = field(repr=False)
    content_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class SubmittedForm:
    fields: dict[str, str] = field(repr=False)
    files: list[UploadedFile] = field(repr=False)


async def read_form(request: Request, *, max_bytes: int, max_files: int) -> SubmittedForm:
    """The multipart form of `request`; 413 when larger than `max_bytes`, 400 when malformed."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise HTTPException(413)
    body = _capped(request.stream(), max_bytes)
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    try:
        if content_type in ("application/x-www-form-urlencoded", ""):  # a form without files
            form = await FormParser(request.headers, body).parse()
        elif content_type != "multipart/form-data":
            raise HTTPException(415)
        else:
            parser = MultiPartParser(
                request.headers,
                body,
                max_files=max_files,
                max_fields=10,
                max_part_size=MAX_TEXT_FIELD,
            )
            parser.spool_max_size = max_bytes + 1  # never a temporary file
            form = await parser.parse()
    except MultiPartException:
        raise HTTPException(400) from None
    fields: dict[str, str] = {}
    files: list[UploadedFile] = []
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            data = await value.read()
            await value.close()
            if value.filename or data:  # an empty file input sends a nameless, empty part
                files.append(
                    UploadedFile(
                        value.filename or "liite",
                        value.content_type or "application/octet-stream",
                        data,
                    )
                )
        else:
            fields[name] = value
    return SubmittedForm(fields, files)


SMALL_FORM_BYTES = 16 * 1024  # a form of a few fields and a CSRF token


async def checked_form(
    portal: Portal,
    request: Request,
    visitor: Visitor,
    *,
    max_bytes: int = SMALL_FORM_BYTES,
    max_files: int = 0,
) -> SubmittedForm:
    """The posted form, once its CSRF token matches the visitor's session (else 403)."""
    form = await read_form(request, max_bytes=max_bytes, max_files=max_files)
    if not portal.tokens.check_session_csrf(visitor.session_token, form.fields.get("csrf_token")):
        raise HTTPException(403)
    return form


async def _capped(stream: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    seen = 0
    async for chunk in stream:
        seen += len(chunk)
        if seen > limit:
            raise HTTPException(413)
        yield chunk
