"""POST /v1/uploads: images are stored, anything else refused naming `file`, big bodies cut off."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest
from PIL import Image
from starlette.requests import Request
from starlette.types import Message

from craftgen.api.routes_uploads import read_file_field
from craftgen.errors import PayloadTooLarge
from tests.api.conftest import Api, HttpResponse, assert_error, png, png_header_claiming


def test_upload_a_png(api: Api) -> None:
    response = api.client.post(
        "/v1/uploads",
        headers=api.user("ada"),
        files={"file": ("cat.png", png(Image.new("RGB", (96, 64), "red")), "image/png")},
    )

    assert response.status_code == 201
    body = response.json()
    assert body["width"] == 96 and body["height"] == 64 and set(body) == {"id", "width", "height"}


def test_a_file_that_is_not_an_image_is_refused_naming_file(api: Api) -> None:
    response = api.client.post(
        "/v1/uploads", headers=api.user("ada"), files={"file": ("notes.png", b"just some text", "image/png")}
    )

    assert_error(response, 422, "invalid_request", field="file", message_contains="not a readable image")


def test_a_request_without_the_file_field_is_refused(api: Api) -> None:
    response = api.client.post("/v1/uploads", headers=api.user("ada"), files={"picture": ("a.png", b"x", "image/png")})

    assert_error(response, 422, "invalid_request", field="file")


def test_a_decompression_bomb_header_is_refused_before_decoding(api: Api) -> None:
    bomb = png_header_claiming(50000, 50000)
    assert len(bomb) < 200

    response = api.client.post("/v1/uploads", headers=api.user("ada"), files={"file": ("bomb.png", bomb, "image/png")})

    assert_error(response, 422, "invalid_request", field="file", message_contains="pixels")


def test_too_many_bytes_is_a_413(make_api: Callable[..., Api]) -> None:
    api = make_api(max_upload_bytes=2000)
    headers = api.user("ada")

    def post(size: int) -> HttpResponse:
        return api.client.post("/v1/uploads", headers=headers, files={"file": ("big.png", b"\0" * size, "image/png")})

    # Declared far over the limit: refused from Content-Length alone.
    assert_error(post(500_000), 413, "payload_too_large", field="file")
    # Just over: the body passes the multipart slack, the file part itself does not.
    assert_error(post(2001), 413, "payload_too_large", field="file", message_contains="2000")


def test_a_chunked_upload_without_a_length_stops_being_read_at_the_limit() -> None:
    sent = 0

    async def receive() -> Message:
        nonlocal sent
        sent += 1
        if sent == 1:
            head = b'--xx\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
            return {"type": "http.request", "body": head, "more_body": True}
        return {"type": "http.request", "body": b"\0" * 65536, "more_body": sent < 1000}  # 64 MB in all

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/uploads",
        "headers": [(b"content-type", b"multipart/form-data; boundary=xx")],
    }

    async def read() -> bytes:
        return await read_file_field(Request(scope, receive), max_bytes=2000)

    with pytest.raises(PayloadTooLarge):
        anyio.run(read)
    assert sent <= 3, "the body stopped being read once it passed the limit"
