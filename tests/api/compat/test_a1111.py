"""The `webuiapi` package (A1111's Python client), unmodified, against craftgen's /sdapi/v1."""

from __future__ import annotations

import base64
import io
import threading
import time
from typing import Any

import numpy as np
import pytest
import requests
import webuiapi
from PIL import Image

from tests.api.compat.conftest import Server
from tests.conftest import smooth_image


def webui(server: Server, key: str) -> webuiapi.WebUIApi:
    # Basic auth as A1111's --api-auth: any user name, the API key as the password.
    api = webuiapi.WebUIApi(baseurl=f"{server.url}/sdapi/v1", username="crafter", password=key, steps=3)
    server.keep(api.session)
    return api


def last_job(server: Server, key: str) -> dict[str, Any]:
    job: dict[str, Any] = server.client(key).get("/v1/jobs").json()["jobs"][0]
    return job


def test_txt2img_batch_is_one_job_with_seed_plus_index(server: Server) -> None:
    key = server.user("a1-batch")
    own = server.client(key)
    credits_before = own.get("/v1/me").json()["credits"]
    result = webui(server, key).txt2img(
        prompt="a cute cat", negative_prompt="blurry", seed=7, batch_size=2, n_iter=2, width=128, height=128
    )
    assert [image.size for image in result.images] == [(128, 128)] * 4
    info = result.info
    assert info["seed"] == 7 and info["all_seeds"] == [7, 8, 9, 10]
    assert len(info["infotexts"]) == 4 and "Seed: 8" in info["infotexts"][1]
    assert info["infotexts"][0].startswith("a cute cat\nNegative prompt: blurry\nSteps: 3")
    assert result.images[2].info["parameters"] == info["infotexts"][2]  # A1111's PNG chunk
    assert "craftgen" in result.images[0].info  # and craftgen's own
    job = last_job(server, key)
    assert (job["id"], job["tool"], job["status"]) == (info["job_id"], "text", "succeeded")
    assert (job["request"]["num_images"], job["request"]["negative_prompt"]) == (4, "blurry")
    assert own.get("/v1/me").json()["credits"] == credits_before - 4  # one credit per image, like /v1/jobs


def test_txt2img_tiling_is_a_seamless_pattern(server: Server) -> None:
    key = server.user("a1-tiling")
    result = webui(server, key).txt2img(prompt="strawberries", tiling=True, width=128, height=128, cfg_scale=5)
    assert [image.size for image in result.images] == [(128, 128)]  # the tile, not its 3x3 preview
    job = last_job(server, key)
    assert (job["tool"], job["request"]["guidance"]) == ("pattern", 5)
    assert "seam_score_x" in str(job["metrics"]) or job["metrics"]


def test_img2img_without_mask_is_variations(server: Server) -> None:
    key = server.user("a1-img2img")
    photo = smooth_image(128, 128)
    result = webui(server, key).img2img(
        images=[photo], prompt="in watercolor", denoising_strength=0.5, width=128, height=128, seed=3
    )
    assert [image.size for image in result.images] == [(128, 128)]
    assert result.info["all_seeds"] == [3]
    job = last_job(server, key)
    assert (job["tool"], job["request"]["strength"]) == ("variations", 0.5)


def test_img2img_resizes_to_width_and_height(server: Server) -> None:
    key = server.user("a1-resize")
    result = webui(server, key).img2img(images=[smooth_image(160, 120)], width=128, height=96, resize_mode=1)
    assert result.images[0].size == (128, 96)


def test_img2img_with_mask_inpaints_only_the_white(server: Server) -> None:
    key = server.user("a1-inpaint")
    photo = smooth_image(128, 128)
    mask = Image.new("L", photo.size, 0)
    mask.paste(255, (40, 40, 88, 88))
    result = webui(server, key).img2img(
        images=[photo], mask_image=mask, prompt="a rose", width=128, height=128, mask_blur=4
    )
    out = np.asarray(result.images[0].convert("RGB")).astype(int)
    before = np.asarray(photo).astype(int)
    keep = np.ones(before.shape[:2], bool)
    keep[40 - 4 : 88 + 4, 40 - 4 : 88 + 4] = False  # the mask and its blend band
    assert (out[keep] == before[keep]).all()
    assert (out[48:80, 48:80] != before[48:80, 48:80]).any()
    job = last_job(server, key)
    assert (job["tool"], job["request"]["blend"]) == ("inpaint", 4)


def test_extra_single_image_upscales(server: Server) -> None:
    key = server.user("a1-upscale")
    api = webui(server, key)
    plain = api.extra_single_image(image=smooth_image(64, 48), upscaling_resize=2, upscaler_1="Lanczos")
    assert plain.image.size == (128, 96)
    assert last_job(server, key)["request"]["strength"] == 0
    detailed = api.extra_single_image(image=smooth_image(64, 64), upscaling_resize=2, upscaler_1="craftgen")
    assert detailed.image.size == (128, 128)
    job = last_job(server, key)
    assert job["tool"] == "upscale" and job["request"]["strength"] > 0
    with pytest.raises(RuntimeError, match="422"):
        api.extra_single_image(image=smooth_image(64, 64), upscaling_resize=3)


def test_models_samplers_options_and_png_info(server: Server) -> None:
    key = server.user("a1-meta")
    api = webui(server, key)
    assert "tiny" in api.util_get_model_names()
    assert {"title", "model_name"} <= set(api.get_sd_models()[0])
    api.util_set_model("tiny")
    assert api.util_get_current_model() == "tiny"
    refused = api.set_options({"sd_model_checkpoint": "no-such-model"})  # webuiapi returns the body as is
    assert "unknown checkpoint" in refused["detail"] and api.util_get_current_model() == "tiny"
    assert "Default" in api.util_get_sampler_names()  # the model's own scheduler
    assert "karras" in api.util_get_scheduler_names()
    assert {"None", "Lanczos", "craftgen"} <= {item["name"] for item in api.get_upscalers()}
    made = api.txt2img(prompt="ferns", seed=11, width=128, height=128)
    info = api.png_info(made.image)
    assert "Seed: 11" in info.info and "ferns" in info.info
    assert last_job(server, key)["request"]["model"] == "tiny"  # the checkpoint chosen with options


def test_progress_shows_the_running_job_and_interrupt_cancels_it(server: Server, slow_steps: float) -> None:
    key = server.user("a1-progress")
    api = webui(server, key)
    idle = api.get_progress()
    assert idle["state"]["job_count"] == 0 and idle["progress"] == 0
    results: list[Any] = []
    worker = threading.Thread(
        target=lambda: results.append(api.txt2img(prompt="a cabin", steps=12, width=128, height=128))
    )
    worker.start()
    seen: dict[str, Any] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        progress = requests.get(f"{server.url}/sdapi/v1/progress", auth=("x", key), timeout=10).json()
        if progress["progress"] > 0 and progress["current_image"]:
            seen = progress
            break
        time.sleep(0.05)
    assert seen, "never saw the job running with a preview"
    assert seen["state"]["sampling_steps"] == 12 and seen["state"]["job_count"] == 1
    assert server.app.state.job_feed.watchers == 1  # the waiting txt2img rides the process's change feed
    preview = Image.open(io.BytesIO(base64.b64decode(seen["current_image"])))
    assert preview.format == "PNG"
    api.interrupt()
    worker.join(timeout=60)
    assert results and results[0].images == [] and results[0].info["interrupted"] is True
    job = last_job(server, key)
    assert (job["id"], job["status"]) == (seen["job_id"], "canceled")


def test_skip_cancels_only_the_running_job(server: Server, slow_steps: float) -> None:
    key = server.user("a1-skip", plan="pro")
    api = webui(server, key)
    own = server.client(key)
    first = own.post("/v1/jobs", json={"tool": "text", "prompt": "a", "steps": 12}).json()["id"]
    deadline = time.monotonic() + 60
    while own.get(f"/v1/jobs/{first}").json()["status"] != "running" and time.monotonic() < deadline:
        time.sleep(0.02)
    second = own.post("/v1/jobs", json={"tool": "text", "prompt": "b", "width": 64, "height": 64}).json()["id"]
    api.skip()
    assert own.get(f"/v1/jobs/{first}").json()["status"] == "canceled"
    assert own.get(f"/v1/jobs/{second}").json()["status"] != "canceled"


def test_auth_basic_and_bearer(server: Server) -> None:
    key = server.user("a1-auth")
    url = f"{server.url}/sdapi/v1/sd-models"
    assert requests.get(url, auth=("anyone", key), timeout=10).status_code == 200
    assert requests.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=10).status_code == 200
    refused = requests.get(url, timeout=10)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Basic")
    assert set(refused.json()) == {"error", "detail", "body", "errors"}
    assert requests.get(url, auth=("anyone", "cg_wrong"), timeout=10).status_code == 401
    anonymous = webuiapi.WebUIApi(baseurl=f"{server.url}/sdapi/v1")  # its constructor's /scripts 401 is ignored
    server.keep(anonymous.session)
    with pytest.raises(RuntimeError, match="401"):
        anonymous.txt2img(prompt="x", width=128, height=128, steps=3)


def test_bad_values_are_422s_naming_the_field(server: Server) -> None:
    key = server.user("a1-bad")
    api = webui(server, key)
    with pytest.raises(RuntimeError, match="width"):
        api.txt2img(prompt="x", width=100, height=128)
    with pytest.raises(RuntimeError, match="batch_size"):
        api.txt2img(prompt="x", batch_size=50, width=128, height=128)
    assert server.client(key).get("/v1/jobs").json()["jobs"] == []


def test_openapi_lists_the_a1111_routes(server: Server) -> None:
    paths = requests.get(f"{server.url}/openapi.json", timeout=10).json()["paths"]
    for path in ("txt2img", "img2img", "extra-single-image", "png-info", "progress", "options", "interrupt"):
        assert f"/sdapi/v1/{path}" in paths, path


def test_a_client_that_hangs_up_cancels_its_job(server: Server, slow_steps: float) -> None:
    key = server.user("a1-hangup")
    body = {"prompt": "never mind", "steps": 12, "width": 128, "height": 128}
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(f"{server.url}/sdapi/v1/txt2img", json=body, auth=("x", key), timeout=(5, 0.5))
    own = server.client(key)
    deadline = time.monotonic() + 30
    job = last_job(server, key)
    while job["status"] not in ("canceled", "succeeded") and time.monotonic() < deadline:
        time.sleep(0.05)
        job = own.get(f"/v1/jobs/{job['id']}").json()
    assert job["status"] == "canceled"


def test_samplers_are_the_job_option(server: Server) -> None:
    key = server.user("a1-samplers")
    api = webui(server, key)
    names = api.util_get_sampler_names()
    assert {"Default", "Euler a", "DPM++ 2M Karras"} <= set(names)
    api.txt2img(prompt="ferns", width=64, height=64)  # webuiapi's default: Euler a, schedule automatic
    assert last_job(server, key)["request"]["sampler"] == "Euler a"
    made = api.txt2img(prompt="ferns", width=64, height=64, sampler_name="DPM++ 2M", scheduler="karras")
    assert last_job(server, key)["request"]["sampler"] == "DPM++ 2M Karras"
    assert "Sampler: DPM++ 2M Karras" in made.info["infotexts"][0]
    api.txt2img(prompt="ferns", width=64, height=64, sampler_name="Default")
    assert last_job(server, key)["request"].get("sampler") is None  # the model's own scheduler
    with pytest.raises(RuntimeError, match="sampler_name"):
        api.txt2img(prompt="ferns", width=64, height=64, sampler_name="Nonsense a")
