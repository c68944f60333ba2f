"""Request bodies, checked before any route parses them.

`RequestBodies` is ASGI middleware: a body larger than its limit is a 413 as soon as its
declared length, or the bytes counted as they arrive, pass the limit (multipart uploads have a
larger limit of their own). A JSON or form body is read whole (it is small by then) and refused
when it holds text no store can keep, as is a query string: a lone UTF-16 surrogate such as
`"\\ud800"`, which JSON allows but UTF-8 cannot encode, or a NUL, which PostgreSQL text refuses;
the 422 names the field. A NUL in the path names nothing: a 404.
Nesting deeper than any craftgen body goes is refused too (json.loads recurses per level).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from craftgen.api.errors import error_response
from craftgen.errors import CraftgenError, InvalidRequest, NotFound, PayloadTooLarge

MAX_JSON_DEPTH = 32  # the deepest craftgen body is three levels; this leaves room for clients


class BodyTooLarge(PayloadTooLarge):
    """The request body passed the limit while it was being read."""


ErrorShape = Callable[[CraftgenError], Response]


class RequestBodies:
    """Size limit on every body, and encodable text in every JSON body, form and query string.
    `error_shapes` maps path prefixes to the error body their clients read (the drop-in APIs');
    everything else gets craftgen's one shape."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        max_multipart_bytes: int,
        image_json_paths: tuple[str, ...] = (),
        error_shapes: Sequence[tuple[str, ErrorShape]] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_multipart_bytes = max_multipart_bytes
        # Path prefixes whose JSON bodies carry base64 images (A1111's API): the multipart limit.
        self.image_json_paths = image_json_paths
        self.error_shapes = tuple(error_shapes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal, receive = await self.check(scope, receive)
        if refusal is not None:
            await self.render(str(scope.get("path", "")), refusal)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def check(self, scope: Scope, receive: Receive) -> tuple[Refusal | None, Receive]:
        """Why this request is refused (or None), and what the app reads its body from."""
        path = str(scope.get("path", ""))
        # 0. A NUL names nothing and no database column holds one (PostgreSQL refuses it outright).
        if "\x00" in path:
            return Refusal(404, "not_found", "nothing here: the path holds a NUL character"), receive
        refusal = check_pairs(bytes(scope.get("query_string", b"")), where="query")
        if refusal is not None:
            return refusal, receive
        headers = Headers(scope=scope)
        content_type = headers.get("content-type", "")
        multipart = content_type.lower().startswith("multipart/")
        images = multipart or path.startswith(self.image_json_paths)
        limit = self.max_multipart_bytes if images else self.max_bytes
        # 1. A declared length over the limit is refused before a byte is read.
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return _too_large(limit), receive
        # 2. JSON and plain forms: read whole (within the limit), text checked, handed on as read.
        form = content_type.split(";", 1)[0].strip().lower() == "application/x-www-form-urlencoded"
        if _is_json(content_type) or form:
            body, disconnected = await _read_all(receive, limit=limit)
            if body is None:
                return _too_large(limit), receive
            refusal = check_pairs(body, where="form") if form else check_json_text(body)
            return refusal, _replay(body, disconnected, receive)
        # 3. Anything else streams on, counted; passing the limit stops the route reading it.
        return None, _counted(receive, limit=limit)

    def render(self, path: str, refusal: Refusal) -> Response:
        for prefix, shape in self.error_shapes:
            if path.startswith(prefix):
                return shape(refusal.error())
        return error_response(refusal.status, code=refusal.code, message=refusal.message, field=refusal.field)


def _is_json(content_type: str) -> bool:
    # FastAPI parses a body with no content type as JSON too.
    media = content_type.split(";", 1)[0].strip().lower()
    return not media or media == "application/json" or media.endswith("+json")


def _too_large(limit: int) -> Refusal:
    return Refusal(413, "payload_too_large", f"the request body is larger than the limit of {limit} bytes")


async def _read_all(receive: Receive, *, limit: int) -> tuple[bytes | None, bool]:
    """The whole body (None past the limit), and whether the client disconnected meanwhile."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), True
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None, False
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _replay(body: bytes, disconnected: bool, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if disconnected:
            return {"type": "http.disconnect"}
        return await receive()

    return replay


def _counted(receive: Receive, *, limit: int) -> Receive:
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(f"the request body is larger than the limit of {limit} bytes")
        return message

    return counted


@dataclass(frozen=True)
class Refusal:
    """Why a JSON body is refused, in the error shape's terms."""

    status: int
    code: str
    message: str
    field: str | None = None

    def error(self) -> CraftgenError:
        """The same refusal as an error of craftgen's tree, for another API's error shape."""
        kind = {413: PayloadTooLarge, 404: NotFound}.get(self.status, InvalidRequest)
        return kind(self.message, field=self.field)


def check_pairs(encoded: bytes, *, where: str) -> Refusal | None:
    """Why a query string or form body (name=value&...) holding text no store can keep is refused
    (decoded as the framework will: UTF-8, bad bytes replaced), or None."""
    if b"%" not in encoded and b"\x00" not in encoded:
        return None  # nothing escaped: nothing unstorable (the common case costs one scan)
    for name, value in parse_qsl(encoded.decode("latin-1"), keep_blank_values=True):
        for text in (name, value):
            if reason := unstorable(text):
                field = name if not unstorable(name) else None
                label = f"the {where} parameter {name!r}" if field else f"a {where} parameter name"
                return Refusal(422, "invalid_request", f"{label} {reason}", field)
    return None


def check_json_text(body: bytes) -> Refusal | None:
    """Why a JSON body holding text no store can keep is refused, or None. A body that is not
    JSON at all is left for the route to refuse in its own words."""
    if not body:
        return None
    try:
        value = json.loads(body)
    except RecursionError:
        refusal: Refusal | None = _TOO_DEEP
    except ValueError:
        return None
    else:
        refusal = find_bad_text(value)
    return refusal


_TOO_DEEP = Refusal(400, "invalid_json", f"the request body is nested more than {MAX_JSON_DEPTH} levels deep")


def find_bad_text(value: object) -> Refusal | None:
    """The first string or key in a decoded JSON value that cannot be stored (its field named),
    or nesting deeper than MAX_JSON_DEPTH; None when all is well. Walked without recursion."""
    stack: list[tuple[object, tuple[str, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if len(path) > MAX_JSON_DEPTH:
            return _TOO_DEEP
        field = ".".join(path) or None
        if isinstance(item, str):
            if reason := unstorable(item):
                return Refusal(422, "invalid_request", f"{field or 'the body'} {reason}", field)
        elif isinstance(item, dict):
            for key, child in item.items():
                if reason := unstorable(key):
                    return Refusal(422, "invalid_request", f"a field name in {field or 'the body'} {reason}", field)
                stack.append((child, (*path, key)))
        elif isinstance(item, list):
            stack.extend((child, (*path, str(index))) for index, child in enumerate(item))
    return None


def unstorable(text: str) -> str:
    """Why this text cannot be stored as UTF-8 text in every database, or ""."""
    if "\x00" in text:
        return "must not contain NUL characters (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return (
            f"must be text that can be encoded as UTF-8; it holds a lone surrogate "
            f"(U+{ord(text[error.start]):04X}) at character {error.start}"
        )
    return ""
