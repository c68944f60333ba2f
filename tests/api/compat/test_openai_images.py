"""The official `openai` SDK, unmodified, against craftgen's OpenAI Images routes on a real server."""

from __future__ import annotations

import base64
import io
import time

import httpx
import numpy as np
import openai
import pytest
from PIL import Image

from craftgen.api.image_links import link_signer
from craftgen.errors import InvalidRequest
from tests.api.compat.conftest import Server
from tests.conftest import smooth_image


def sdk(server: Server, key: str) -> openai.OpenAI:
    client = openai.OpenAI(api_key=key, base_url=f"{server.url}/v1", max_retries=0, timeout=120)
    server.keep(client)
    return client


def decoded(b64: str | None) -> Image.Image:
    assert b64
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


def png_file(image: Image.Image, name: str = "in.png") -> tuple[str, bytes, str]:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return (name, buffer.getvalue(), "image/png")


def test_generate_b64_is_a_job_charged_like_any_other(server: Server) -> None:
    key = server.user("oa-b64")
    own = server.client(key)
    credits_before = own.get("/v1/me").json()["credits"]
    response = sdk(server, key).images.with_raw_response.generate(
        model="dall-e-3", prompt="a cute cat", size="128x128", response_format="b64_json"
    )
    result = response.parse()
    assert result.data is not None and len(result.data) == 1
    image = decoded(result.data[0].b64_json)
    assert (image.format, image.size) == ("PNG", (128, 128))
    assert "craftgen" in image.info  # the PNG carries its parameters, as from /v1/jobs
    assert (result.size, result.output_format, result.background) == ("128x128", "png", "opaque")
    # The request is an ordinary job: listed, finished, charged one credit per image.
    job_id = response.headers["x-craftgen-job-id"]
    jobs = own.get("/v1/jobs").json()["jobs"]
    assert [(job["id"], job["tool"], job["status"]) for job in jobs] == [(job_id, "text", "succeeded")]
    assert jobs[0]["request"]["prompt"] == "a cute cat"
    assert own.get("/v1/me").json()["credits"] == credits_before - 1
    # Its image is one of the user's images (My images lists them from the jobs), and it counts in /metrics.
    image = own.get(f"/v1/images/{jobs[0]['outputs'][0]['image_id']}")
    assert image.status_code == 200 and image.json()["job_id"] == job_id
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'craftgen_jobs{priority="pro",status="succeeded"}' in metrics


def test_generate_urls_are_signed_expiring_links(server: Server) -> None:
    key = server.user("oa-url")
    result = sdk(server, key).images.generate(
        model="gpt-image-1", prompt="daisies", n=2, size="128x128", response_format="url"
    )
    assert result.data is not None and len(result.data) == 2
    urls = [item.url for item in result.data]
    assert all(url and url.startswith(server.url) for url in urls) and len(set(urls)) == 2
    # No Authorization header needed.
    for url in urls:
        assert url is not None
        fetched = httpx.get(url)  # a fresh client with no headers at all
        assert fetched.status_code == 200, fetched.text
        assert Image.open(io.BytesIO(fetched.content)).size == (128, 128)
    # One changed character, or a link past its lifetime, is refused.
    assert urls[0] is not None
    token = urls[0].rsplit("/", 1)[1]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert httpx.get(urls[0].replace(token, tampered)).status_code == 403
    image_id = token.split(".")[0]
    assert httpx.get(urls[0].replace(token, token.replace(image_id, image_id[::-1]))).status_code == 403
    old = link_signer(server.runtime).sign(
        image_id, "png", now=time.time() - 2 * server.runtime.settings.image_link_seconds
    )
    as_webp = httpx.get(urls[0].replace(token, link_signer(server.runtime).sign(image_id, "webp")))
    assert as_webp.headers["content-type"] == "image/webp"
    assert as_webp.headers["content-disposition"].endswith('.webp"')
    assert Image.open(io.BytesIO(as_webp.content)).format == "WEBP"
    expired = httpx.get(urls[0].replace(token, old))
    assert expired.status_code == 403
    assert "expired" in expired.json()["error"]["message"]


def test_transparent_background_runs_clipart_and_webp_keeps_alpha(server: Server) -> None:
    key = server.user("oa-transparent")
    result = sdk(server, key).images.generate(
        prompt="a smiling strawberry", size="128x128", background="transparent", output_format="webp"
    )
    assert result.data is not None
    image = decoded(result.data[0].b64_json)
    assert image.format == "WEBP" and image.mode == "RGBA"
    alpha = np.asarray(image.getchannel("A"))
    assert (alpha < 255).any()  # a background was cut away
    assert result.background == "transparent"
    assert server.client(key).get("/v1/jobs").json()["jobs"][0]["tool"] == "clipart"


def test_svg_output_is_the_cut_file(server: Server) -> None:
    key = server.user("oa-svg")
    result = sdk(server, key).images.generate(prompt="a happy sun", size="128x128", output_format="svg")
    assert result.data is not None and result.output_format == "svg"
    svg = base64.b64decode(result.data[0].b64_json or "").decode("utf-8")
    assert svg.lstrip().startswith(("<?xml", "<svg")) and "<path" in svg


def test_quality_low_is_fast_mode(server: Server) -> None:
    key = server.user("oa-fast")
    sdk(server, key).images.generate(prompt="ferns", size="128x128", quality="low")
    job = server.client(key).get("/v1/jobs").json()["jobs"][0]
    assert job["request"]["quality"] == "fast"


def test_edit_without_mask_is_a_variation_of_the_image(server: Server) -> None:
    key = server.user("oa-edit")
    photo = smooth_image(160, 128)
    result = sdk(server, key).images.edit(image=png_file(photo), prompt="in watercolor", n=2)
    assert result.data is not None and len(result.data) == 2
    assert all(decoded(item.b64_json).size == (160, 128) for item in result.data)
    job = server.client(key).get("/v1/jobs").json()["jobs"][0]
    assert (job["tool"], job["request"]["num_images"], job["request"]["prompt"]) == ("variations", 2, "in watercolor")


def test_edit_size_resizes_the_input_first(server: Server) -> None:
    key = server.user("oa-edit-size")
    result = sdk(server, key).images.edit(image=png_file(smooth_image(160, 128)), prompt="linocut", size="128x128")
    assert result.data is not None and decoded(result.data[0].b64_json).size == (128, 128)


def test_edit_with_mask_inpaints_where_transparent(server: Server) -> None:
    key = server.user("oa-mask")
    photo = smooth_image(128, 128)
    mask = Image.new("RGBA", photo.size, (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (32, 32, 96, 96))  # transparent: edit here
    result = sdk(server, key).images.edit(image=png_file(photo), mask=png_file(mask, "mask.png"), prompt="a red flower")
    assert result.data is not None
    out = np.asarray(decoded(result.data[0].b64_json).convert("RGB")).astype(int)
    before = np.asarray(photo).astype(int)
    assert out.shape == before.shape
    assert (out[:16] == before[:16]).all() and (out[-16:] == before[-16:]).all()  # far from the mask: kept
    assert (out[48:80, 48:80] != before[48:80, 48:80]).any()  # inside: repainted
    job = server.client(key).get("/v1/jobs").json()["jobs"][0]
    assert job["tool"] == "inpaint"


def test_mask_of_another_size_is_a_bad_request(server: Server) -> None:
    key = server.user("oa-mask-size")
    mask = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    with pytest.raises(openai.BadRequestError) as refused:
        sdk(server, key).images.edit(
            image=png_file(smooth_image(128, 128)), mask=png_file(mask, "mask.png"), prompt="x"
        )
    assert refused.value.body["param"] == "mask"  # type: ignore[index]
    assert server.client(key).get("/v1/jobs").json()["jobs"] == []  # refused before any job


def test_variations(server: Server) -> None:
    key = server.user("oa-variations")
    with pytest.warns(DeprecationWarning):  # the SDK marks the endpoint deprecated; it still sends it
        result = sdk(server, key).images.create_variation(image=png_file(smooth_image(128, 96)), n=2)
    assert result.data is not None and len(result.data) == 2
    assert decoded(result.data[1].b64_json).size == (128, 96)
    assert server.client(key).get("/v1/jobs").json()["jobs"][0]["tool"] == "variations"


def test_streaming_sends_partial_images_from_live_previews(server: Server, slow_steps: float) -> None:
    key = server.user("oa-stream")
    with sdk(server, key).images.generate(
        prompt="a cozy cabin", size="128x128", stream=True, partial_images=2, quality="high"
    ) as stream:
        events = list(stream)
    kinds = [event.type for event in events]
    assert kinds[-1] == "image_generation.completed"
    partials = [event for event in events if event.type == "image_generation.partial_image"]
    assert 1 <= len(partials) <= 2
    assert [event.partial_image_index for event in partials] == list(range(len(partials)))
    assert decoded(partials[0].b64_json).format == "PNG"
    final = decoded(events[-1].b64_json)
    assert final.size == (128, 128)
    assert server.client(key).get("/v1/jobs").json()["jobs"][0]["status"] == "succeeded"


def test_errors_are_the_sdks_exceptions(server: Server) -> None:
    with pytest.raises(openai.AuthenticationError) as unauthorized:
        sdk(server, "cg_not-a-key").images.generate(prompt="x")
    assert unauthorized.value.body["code"] == "invalid_api_key"  # type: ignore[index]
    key = server.user("oa-errors", plan="free")
    client = sdk(server, key)
    with pytest.raises(openai.BadRequestError) as bad_size:
        client.images.generate(prompt="x", size="100x100")
    error = bad_size.value.body
    assert isinstance(error, dict) and error["param"] == "size" and error["type"] == "invalid_request_error"
    assert "100" in error["message"]
    with pytest.raises(openai.BadRequestError) as bad_model:
        client.images.generate(prompt="x", model="no-such-model")
    assert bad_model.value.body["param"] == "model"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as bad_n:
        client.images.generate(prompt="x", n=99)
    assert bad_n.value.body["param"] == "n"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError):
        client.images.generate(prompt="x", background="opaque", output_format="svg")
    # Our own API keeps its own error shape.
    own = server.client(key).post("/v1/jobs", json={"tool": "text", "prompt": "x", "width": 100})
    assert set(own.json()["error"]) == {"code", "message", "field"}


def test_openapi_lists_the_openai_routes(server: Server) -> None:
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    for path in ("/v1/images/generations", "/v1/images/edits", "/v1/images/variations"):
        assert "post" in paths[path], path
    assert "multipart/form-data" in paths["/v1/images/edits"]["post"]["requestBody"]["content"]
    assert "/v1/images/{image_id}" in paths  # our own routes are still there


def test_a_job_past_the_wait_limit_is_canceled_and_refused(
    server: Server, slow_steps: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server.runtime.settings, "compat_wait_seconds", 0.3)
    key = server.user("oa-timeout")
    with pytest.raises(openai.InternalServerError) as refused:  # a 503
        sdk(server, key).images.generate(prompt="a slow one", size="128x128", quality="high")
    assert refused.value.status_code == 503
    assert "COMPAT_WAIT_SECONDS" in refused.value.message
    own = server.client(key)
    job = own.get("/v1/jobs").json()["jobs"][0]
    deadline = time.monotonic() + 30
    while job["status"] not in ("canceled", "succeeded") and time.monotonic() < deadline:
        time.sleep(0.05)  # a running job stops at its next step
        job = own.get(f"/v1/jobs/{job['id']}").json()
    assert job["status"] == "canceled"


def test_the_free_plans_one_job_at_a_time_is_a_rate_limit(server: Server, slow_steps: float) -> None:
    key = server.user("oa-free", plan="free")
    own = server.client(key)
    first = own.post("/v1/jobs", json={"tool": "text", "prompt": "first", "steps": 12})
    assert first.status_code == 202
    with pytest.raises(openai.RateLimitError) as limited:
        sdk(server, key).images.generate(prompt="second", size="128x128")
    assert limited.value.status_code == 429 and "one job at a time" in limited.value.message
    own.delete(f"/v1/jobs/{first.json()['id']}")


def test_a_failed_job_is_a_server_error_and_a_stream_error_event(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(items: object, *, progress: object = None) -> object:
        raise InvalidRequest("the model refused this prompt")

    monkeypatch.setattr(server.runtime.engine, "run_batch", broken)
    key = server.user("oa-failed")
    client = sdk(server, key)
    with pytest.raises(openai.InternalServerError) as failed:
        client.images.generate(prompt="doomed", size="128x128")
    assert "the model refused this prompt" in failed.value.message
    stream = client.images.generate(prompt="doomed too", size="128x128", stream=True)
    with stream, pytest.raises(openai.APIError, match="the model refused this prompt"):
        list(stream)  # the error arrives as an event, once the job has failed
    statuses = [job["status"] for job in server.client(key).get("/v1/jobs").json()["jobs"]]
    assert statuses == ["failed", "failed"]
