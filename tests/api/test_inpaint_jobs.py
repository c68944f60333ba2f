"""/v1/jobs with two input files: an inpaint job names an image upload and a mask upload; the
worker runs it and keeps every pixel outside the mask; a bad mask is refused naming `mask`."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from tests.api.conftest import Api, assert_error
from tests.conftest import smooth_image

BLEND = 4


def _mask(size: tuple[int, int] = (128, 96)) -> Image.Image:
    mask = Image.new("L", size, 0)
    mask.paste(255, (40, 30, 80, 60))
    return mask


def _job(image_id: str, mask_id: str, **fields: object) -> dict[str, object]:
    return {"tool": "inpaint", "image": image_id, "mask": mask_id, "prompt": "a red rose", "seed": 4, "steps": 3,
            "blend": BLEND, **fields}  # fmt: skip


def test_an_inpaint_job_with_an_uploaded_mask_runs_and_keeps_the_rest(api: Api) -> None:
    headers = api.user("ada")
    picture = smooth_image(128, 96)
    image_id, mask_id = api.upload(headers, picture), api.upload(headers, _mask())

    submitted = api.client.post("/v1/jobs", headers=headers, json=_job(image_id, mask_id, num_images=2))
    assert submitted.status_code == 202, submitted.text
    assert api.worker().run_once() == 1
    job = api.client.get(f"/v1/jobs/{submitted.json()['id']}", headers=headers).json()

    assert job["status"] == "succeeded", job["error"]
    assert job["request"]["mask"] == mask_id and job["metrics"]["inpaint_method"] == "masked-img2img"
    assert [o["name"] for o in job["outputs"]] == ["inpaint-0.png", "inpaint-1.png"]
    original = np.asarray(picture)
    for output in job["outputs"]:
        data = api.client.get(output["url"], headers=headers).content
        out = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        assert out.shape == original.shape
        outside = np.ones(original.shape[:2], bool)
        outside[30 - BLEND : 60 + BLEND, 40 - BLEND : 80 + BLEND] = False
        assert np.array_equal(out[outside], original[outside])
        assert not np.array_equal(out[30:60, 40:80], original[30:60, 40:80])


def test_a_missing_mask_upload_is_a_404_naming_mask(api: Api) -> None:
    headers = api.user("ada")
    image_id = api.upload(headers, smooth_image(128, 96))

    response = api.client.post("/v1/jobs", headers=headers, json=_job(image_id, "nope"))
    assert_error(response, 404, "not_found", field="mask")


def test_another_users_mask_is_not_found(api: Api) -> None:
    ada, bob = api.user("ada"), api.user("bob")
    mask_id = api.upload(ada, _mask())
    image_id = api.upload(bob, smooth_image(128, 96))

    response = api.client.post("/v1/jobs", headers=bob, json=_job(image_id, mask_id))
    assert_error(response, 404, "not_found", field="mask")


def test_no_mask_or_a_mask_of_another_size_is_refused_naming_mask(api: Api) -> None:
    headers = api.user("ada")
    image_id = api.upload(headers, smooth_image(128, 96))
    small_id = api.upload(headers, _mask((64, 48)))
    empty_id = api.upload(headers, Image.new("L", (128, 96), 0))

    without = {k: v for k, v in _job(image_id, small_id).items() if k != "mask"}
    missing = api.client.post("/v1/jobs", headers=headers, json=without)
    assert_error(missing, 422, "invalid_request", field="mask", message_contains="needs a mask")
    sized = api.client.post("/v1/jobs", headers=headers, json=_job(image_id, small_id))
    assert_error(sized, 422, "invalid_request", field="mask", message_contains=("64x48", "128x96"))
    empty = api.client.post("/v1/jobs", headers=headers, json=_job(image_id, empty_id))
    assert_error(empty, 422, "invalid_request", field="mask", message_contains="marks nothing to repaint")
    # Nothing was queued for any of them.
    assert api.client.get("/v1/jobs", headers=headers).json()["jobs"] == []


def test_the_tool_list_says_which_fields_take_uploads(api: Api) -> None:
    tools = {t["name"]: t for t in api.client.get("/v1/tools", headers=api.user("ada")).json()["tools"]}

    assert tools["inpaint"]["input_files"] == ["image", "mask"]
    assert tools["variations"]["input_files"] == ["image"] and tools["text"]["input_files"] == []
