"""Reading a multipart/form-data body under a byte limit, refused as soon as it passes it.

Starlette's form parser has no total size limit, so the body is counted as it arrives: a
declared Content-Length over the limit is refused before a byte is read, and a chunked body
(no declared length) the moment its running count passes the limit.
"""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import FormData
from starlette.types import Message

from craftgen.errors import PayloadTooLarge

MULTIPART_SLACK = 64 * 1024  # boundaries, part headers and the small text fields around the files


async def bounded_form(
    request: Request, *, limit: int, too_large: PayloadTooLarge, max_files: int, max_fields: int
) -> FormData:
    """The parsed form, or `too_large` raised once the body passes `limit` bytes. The caller
    closes the form (it may hold spooled files)."""
    # 1. A declared length over the limit is refused before a byte is read.
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    # 2. Count the body as it arrives (chunked uploads declare no length).
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise too_large
        return message

    return await Request(request.scope, counted).form(max_files=max_files, max_fields=max_fields)
