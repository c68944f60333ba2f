"""Hostile input is a 4xx in the one error shape, never a 500 (#13): text no store can keep (a
lone UTF-16 surrogate, a NUL), a cursor holding a number no column holds, uploads whose decoders
fail (a zTXt bomb, a truncated JPEG) or whose parameters chunk nests without end, bodies over the
size limit, prompts far over the length limit."""

from __future__ import annotations

import io
import json
import struct
import time
import zlib
from collections.abc import Callable

import pytest
from PIL import Image, PngImagePlugin

from craftgen.gallery.listing import encode_cursor
from craftgen.imaging.io import read_parameters
from tests.api.conftest import Api, assert_error

SURROGATE = "\\ud800"  # as JSON writes it: json.loads makes a str that UTF-8 cannot encode
JSON = {"Content-Type": "application/json"}


def _raw(api: Api, method: str, url: str, headers: dict[str, str], text: str) -> object:
    """Send a JSON body as written (httpx would refuse to encode a lone surrogate itself)."""
    return api.client.request(method, url, headers={**headers, **JSON}, content=text.encode("utf-8"))


def _published_image(api: Api, headers: dict[str, str]) -> str:
    body = {"tool": "text", "prompt": "a gingham quilt", "seed": 1, "width": 64, "height": 64, "steps": 2}
    submitted = api.client.post("/v1/jobs", headers=headers, json=body)
    assert submitted.status_code == 202, submitted.text
    assert api.worker().run_once() == 1
    job = api.client.get(f"/v1/jobs/{submitted.json()['id']}", headers=headers).json()
    image_id = str(job["outputs"][0]["image_id"])
    assert api.client.post(f"/v1/images/{image_id}/publish", headers=headers).status_code == 200
    return image_id


# Text that cannot be encoded ----------------------------------------------------------------


@pytest.mark.parametrize("field", ["prompt", "negative_prompt"])
def test_a_lone_surrogate_in_a_prompt_is_a_422_naming_the_field(api: Api, field: str) -> None:
    ada = api.user("ada")
    body = f'{{"tool": "text", "prompt": "roses", "{field}": "red {SURROGATE} roses"}}'

    response = _raw(api, "POST", "/v1/jobs", ada, body)

    assert_error(response, 422, "invalid_request", field=field, message_contains="UTF-8")


def test_surrogates_in_a_publish_title_or_a_report_reason_are_422s(api: Api) -> None:
    ada, bea = api.user("ada"), api.user("bea")
    image_id = _published_image(api, ada)

    title = _raw(api, "POST", f"/v1/images/{image_id}/publish", ada, f'{{"title": "x{SURROGATE}"}}')
    tag = _raw(api, "POST", f"/v1/images/{image_id}/publish", ada, f'{{"tags": ["ok", "{SURROGATE}"]}}')
    reason = _raw(api, "POST", f"/v1/images/{image_id}/report", bea, f'{{"reason": "{SURROGATE}"}}')

    assert_error(title, 422, "invalid_request", field="title", message_contains="surrogate")
    assert_error(tag, 422, "invalid_request", field="tags.1")
    assert_error(reason, 422, "invalid_request", field="reason")
    # Nothing was changed by the refused requests.
    item = api.client.get(f"/v1/images/{image_id}", headers=bea).json()
    assert item["public"] is True


def test_a_nul_character_and_a_surrogate_field_name_are_refused(api: Api) -> None:
    ada = api.user("ada")

    nul = _raw(api, "POST", "/v1/jobs", ada, '{"tool": "text", "prompt": "a\\u0000b"}')
    key = _raw(api, "POST", "/v1/jobs", ada, f'{{"tool": "text", "prompt": "a", "{SURROGATE}": 1}}')

    assert_error(nul, 422, "invalid_request", field="prompt", message_contains="NUL")
    assert_error(key, 422, "invalid_request", message_contains="field name")


def test_a_json_body_nested_without_end_is_a_400(api: Api) -> None:
    ada = api.user("ada")

    response = _raw(api, "POST", "/v1/jobs", ada, "[" * 100_000 + "]" * 100_000)

    assert_error(response, 400, "invalid_json", message_contains="nested")


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "/v1/images/a%00b"),
        ("GET", "/v1/jobs/a%00b"),
        ("GET", "/v1/images/a%00b/remix"),
        ("DELETE", "/v1/keys/a%00b"),
    ],
)
def test_a_nul_in_the_path_is_a_404(make_db_api: Callable[..., Api], method: str, url: str) -> None:
    api = make_db_api()  # PostgreSQL refuses NUL in any text it is asked to compare: it was a 500 there

    response = api.client.request(method, url, headers=api.user("ada"))

    assert_error(response, 404, "not_found", message_contains="NUL")


def test_a_nul_in_a_query_or_a_form_is_a_422_naming_it(make_db_api: Callable[..., Api]) -> None:
    api = make_db_api()
    ada = api.user("ada")

    query = api.client.get("/v1/gallery?q=a%00b", headers=ada)
    form = api.client.post(
        "/signin",
        content=b"name=a%00b&password=0123456789ab",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert_error(query, 422, "invalid_request", field="q", message_contains="NUL")
    assert_error(form, 422, "invalid_request", field="name", message_contains="NUL")
    # Escaped text without a NUL passes as before.
    assert api.client.get("/v1/gallery?q=caf%C3%A9%20au%20lait", headers=ada).status_code == 200


# Cursors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "values"),
    [("newest", (2**63,)), ("newest", (2**80,)), ("liked", (2**63, 5)), ("newest", (-1,)), ("newest", (1.5,))],
)
def test_a_cursor_holding_a_number_no_column_holds_is_a_422(
    make_db_api: Callable[..., Api], order: str, values: tuple[object, ...]
) -> None:
    api = make_db_api()
    cursor = encode_cursor(order, values)  # type: ignore[arg-type]

    response = api.client.get("/v1/gallery", headers=api.user("ada"), params={"order": order, "cursor": cursor})

    assert_error(response, 422, "invalid_request", field="cursor")


# Uploads -------------------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(image: Image.Image, *, text: dict[str, str] | None = None) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def ztxt_bomb() -> bytes:
    """A small PNG whose zTXt chunk inflates past Pillow's text limit (ValueError on open)."""
    plain = _png(Image.new("RGB", (8, 8)))
    after_header = 8 + 25  # signature, then the IHDR chunk
    bomb = _chunk(b"zTXt", b"comment\0\0" + zlib.compress(b"a" * (50 * 1024 * 1024), 9))
    return plain[:after_header] + bomb + plain[after_header:]


def nested_parameters_png() -> bytes:
    """A PNG whose `craftgen` text chunk is JSON nested 100,000 deep (RecursionError in json.loads)."""
    return _png(Image.new("RGB", (16, 16), "white"), text={"craftgen": "[" * 100_000 + "]" * 100_000})


def truncated_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 10, 10)).save(buffer, format="JPEG")
    return buffer.getvalue()[:200]


@pytest.mark.parametrize(
    ("name", "data", "media_type"),
    [
        ("ztxt-bomb.png", ztxt_bomb(), "image/png"),
        ("truncated.jpg", truncated_jpeg(), "image/jpeg"),
        ("truncated.png", _png(Image.new("RGB", (64, 64), "blue"))[:120], "image/png"),
    ],
)
def test_an_image_its_decoder_fails_on_is_a_422_naming_file(api: Api, name: str, data: bytes, media_type: str) -> None:
    assert len(data) < 60_000

    response = api.client.post("/v1/uploads", headers=api.user("ada"), files={"file": (name, data, media_type)})

    assert_error(response, 422, "invalid_request", field="file", message_contains="could not be decoded")


def test_a_png_with_deeply_nested_parameters_is_stored_without_them(api: Api) -> None:
    response = api.client.post(
        "/v1/uploads", headers=api.user("ada"), files={"file": ("deep.png", nested_parameters_png(), "image/png")}
    )

    assert response.status_code == 201, response.text
    with Image.open(io.BytesIO(nested_parameters_png())) as image:
        assert read_parameters(image) == {}
    with Image.open(io.BytesIO(_png(Image.new("RGB", (8, 8)), text={"craftgen": json.dumps({"seed": 3})}))) as image:
        assert read_parameters(image) == {"seed": 3}


# Sizes ---------------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_a_413_before_it_is_parsed(make_api: Callable[..., Api]) -> None:
    api = make_api(max_body_bytes=4096)
    ada = api.user("ada")
    big = json.dumps({"tool": "text", "prompt": "x" * 5000})

    declared = api.client.post("/v1/jobs", headers={**ada, **JSON}, content=big)

    def chunks() -> object:  # no Content-Length: counted as it arrives
        yield big[:3000].encode()
        yield big[3000:].encode()

    streamed = api.client.post("/v1/jobs", headers={**ada, **JSON}, content=chunks())
    form = api.client.post("/signin", data={"name": "ada", "password": "p" * 5000})

    for response in (declared, streamed, form):
        assert_error(response, 413, "payload_too_large", message_contains="4096")
    # Uploads have their own, larger limit.
    image = _png(Image.new("RGB", (64, 64), "red")) + b"\0" * 5000
    upload = api.client.post("/v1/uploads", headers=ada, files={"file": ("big.png", image, "image/png")})
    assert upload.status_code == 201, upload.text


def test_a_huge_prompt_is_refused_by_length_before_it_is_tokenized(api: Api) -> None:
    ada = api.user("ada")
    prompt = "strawberry " * 90_000  # ~1 MB: under the body limit, far over the prompt's

    started = time.perf_counter()
    response = api.client.post("/v1/jobs", headers=ada, json={"tool": "text", "prompt": prompt[:1_000_000]})
    took = time.perf_counter() - started

    assert_error(response, 422, "invalid_request", field="prompt", message_contains="characters")
    assert took < 2.0, took


def test_the_drop_in_apis_refuse_bodies_in_their_own_error_shapes(make_api: Callable[..., Api]) -> None:
    api = make_api(max_body_bytes=4096)
    ada = api.user("ada")
    text = f'{{"prompt": "red {SURROGATE} roses"}}'

    openai = _raw(api, "POST", "/v1/images/generations", ada, text)
    a1111 = _raw(api, "POST", "/sdapi/v1/txt2img", ada, text)
    openai_big = _raw(api, "POST", "/v1/images/generations", ada, json.dumps({"prompt": "x" * 5000}))

    # OpenAI: {"error": {"message", "type", "param", "code"}}, a refused value is a 400.
    assert openai.status_code == 400, openai.text
    assert openai.json()["error"]["param"] == "prompt" and "surrogate" in openai.json()["error"]["message"]
    assert openai_big.status_code == 413 and openai_big.json()["error"]["type"] == "invalid_request_error"
    # AUTOMATIC1111: {"error", "detail", "errors"}.
    assert a1111.status_code == 422, a1111.text
    assert set(a1111.json()) >= {"error", "detail"} and "prompt" in a1111.json()["detail"]
