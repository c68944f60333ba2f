"""/v1/jobs: submit, run with an in-process worker, read, list, cancel; refusals name the field."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.api.conftest import Api, assert_error, sticker

PATTERN = {"tool": "pattern", "prompt": "cute strawberries", "seed": 7, "width": 128, "height": 128, "steps": 3}


def test_a_pattern_job_runs_and_its_files_download(api: Api) -> None:
    headers = api.user("ada")

    submitted = api.client.post("/v1/jobs", headers=headers, json=PATTERN)
    assert submitted.status_code == 202
    job_id = submitted.json()["id"]
    assert submitted.json() == {"id": job_id, "status": "queued", "queue_position": 0}

    assert api.worker().run_once() == 1
    job = api.client.get(f"/v1/jobs/{job_id}", headers=headers).json()

    assert job["status"] == "succeeded" and job["progress"] == 1.0 and job["error"] is None
    assert job["tool"] == "pattern" and job["queue_position"] is None
    assert job["request"]["seed"] == 7 and job["started_at"] <= job["finished_at"]
    assert set(job["metrics"]) >= {"seam_score_x", "seam_score_y"}
    assert [(o["name"], o["kind"], o["width"]) for o in job["outputs"]] == [
        ("pattern-0.png", "image", 128),
        ("pattern-0-preview.png", "preview", 384),
    ]
    image = job["outputs"][0]
    assert image["url"] == f"/v1/images/{image['image_id']}/file"
    download = api.client.get(image["url"], headers=headers)
    assert download.status_code == 200 and download.headers["content-type"] == "image/png"
    assert download.headers["content-disposition"] == 'inline; filename="pattern-0.png"'
    with Image.open(io.BytesIO(download.content)) as decoded:
        assert decoded.format == "PNG" and decoded.size == (128, 128)
    meta = api.client.get(f"/v1/images/{image['image_id']}", headers=headers).json()
    assert meta == {
        "id": image["image_id"],
        "job_id": job_id,
        "name": "pattern-0.png",
        "kind": "image",
        "media_type": "image/png",
        "width": 128,
        "height": 128,
        "seed": 7,
        "url": image["url"],
        "public": False,
        "likes": 0,
        "liked": False,
    }
    no_svg = api.client.get(f"/v1/images/{image['image_id']}/svg", headers=headers)
    assert_error(no_svg, 404, "not_found", message_contains="no SVG cut file")


def test_a_clipart_svg_is_served_only_as_a_download(api: Api) -> None:
    headers = api.user("ada")
    body = {"tool": "clipart", "prompt": "a cute cat", "seed": 2, "width": 128, "height": 128, "steps": 3}
    job_id = api.client.post("/v1/jobs", headers=headers, json=body).json()["id"]

    api.worker().run_once()
    job = api.client.get(f"/v1/jobs/{job_id}", headers=headers).json()

    assert job["status"] == "succeeded", job["error"]
    outputs = {o["kind"]: o for o in job["outputs"]}
    assert set(outputs) == {"image", "svg"}
    svg = api.client.get(outputs["svg"]["url"], headers=headers)
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.headers["content-disposition"] == 'attachment; filename="clipart-0.svg"'
    assert svg.headers["content-security-policy"] == "default-src 'none'"
    assert svg.headers["x-content-type-options"] == "nosniff"
    assert svg.content.lstrip().startswith(b"<svg") and b"<script" not in svg.content
    # The PNG's cut file, found through the PNG's id.
    via_png = api.client.get(f"/v1/images/{outputs['image']['image_id']}/svg", headers=headers)
    assert via_png.status_code == 200 and via_png.content == svg.content
    assert via_png.headers["content-disposition"].startswith("attachment")
    with Image.open(io.BytesIO(api.client.get(outputs["image"]["url"], headers=headers).content)) as png:
        assert png.mode == "RGBA" and png.size == (128, 128)


def test_a_cutout_runs_and_its_png_has_a_cut_file(api: Api) -> None:
    headers = api.user("ada")
    upload_id = api.upload(headers, sticker())
    job_id = api.client.post("/v1/jobs", headers=headers, json={"tool": "cutout", "image": upload_id}).json()["id"]

    api.worker().run_once()
    job = api.client.get(f"/v1/jobs/{job_id}", headers=headers).json()

    assert job["status"] == "succeeded", job["error"]
    png_id = next(o["image_id"] for o in job["outputs"] if o["kind"] == "image")
    svg = api.client.get(f"/v1/images/{png_id}/svg", headers=headers)
    assert svg.status_code == 200 and svg.headers["content-disposition"] == 'attachment; filename="cutout-0.svg"'
    assert svg.headers["content-security-policy"] == "default-src 'none'"


def test_another_users_job_and_images_are_not_found(api: Api) -> None:
    ada, bob = api.user("ada"), api.user("bob")
    upload_id = api.upload(ada, sticker())
    clipart = {"tool": "clipart", "prompt": "a cat", "width": 128, "height": 128, "steps": 3}
    job_id = api.client.post("/v1/jobs", headers=ada, json=clipart).json()["id"]
    api.worker().run_once()
    image_id = api.client.get(f"/v1/jobs/{job_id}", headers=ada).json()["outputs"][0]["image_id"]

    for method, path in [
        ("GET", f"/v1/jobs/{job_id}"),
        ("DELETE", f"/v1/jobs/{job_id}"),
        ("GET", f"/v1/jobs/{job_id}/events"),
        ("GET", f"/v1/images/{image_id}"),
        ("GET", f"/v1/images/{image_id}/file"),
        ("GET", f"/v1/images/{image_id}/svg"),
    ]:
        response = api.client.request(method, path, headers=bob)
        assert_error(response, 404, "not_found")
    assert api.client.get("/v1/jobs", headers=bob).json() == {"jobs": [], "next_cursor": None}
    # Bob cannot use Ada's upload either.
    theft = api.client.post("/v1/jobs", headers=bob, json={"tool": "cutout", "image": upload_id})
    assert_error(theft, 404, "not_found", field="image")


def test_malformed_json_is_a_400(api: Api) -> None:
    response = api.client.post(
        "/v1/jobs", headers={**api.user("ada"), "Content-Type": "application/json"}, content=b'{"tool": "text",'
    )

    assert_error(response, 400, "invalid_json", message_contains="not valid JSON")


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"tool": "sculpt", "prompt": "x"}, "tool", "'text'"),
        ({"tool": "text", "prompt": "x", "width": 100}, "width", "multiple of 8"),
        ({"tool": "text", "prompt": "x", "num_images": 9}, "num_images", "between 1 and 8"),
        ({"tool": "text", "prompt": "x", "colour": "red"}, "colour", "unknown field"),
        ({"tool": "text", "prompt": "x", "steps": "many"}, "steps", "integer"),
        ({"tool": "text", "prompt": "x", "model": "/etc/passwd"}, "model", "unknown model"),
        ({"tool": "pattern", "prompt": "x", "strength": 0.5}, "strength", "does not apply"),
        ({"prompt": "x"}, "tool", "required"),
        ({"tool": "text", "prompt": "zq " * 80}, "prompt", "tokens long"),
    ],
    ids=[
        "unknown tool", "width 100", "num_images 9", "unknown field", "wrong type", "unknown model",
        "wrong tool field", "no tool", "prompt too long",
    ],
)
def test_invalid_requests_are_422_naming_the_field(api: Api, body: dict[str, object], field: str, words: str) -> None:
    response = api.client.post("/v1/jobs", headers=api.user("ada"), json=body)

    assert_error(response, 422, "invalid_request", field=field, message_contains=words)
    assert api.client.get("/v1/jobs", headers=api.user("bob")).json() == {"jobs": [], "next_cursor": None}


def test_a_missing_upload_is_a_404_naming_image(api: Api) -> None:
    response = api.client.post("/v1/jobs", headers=api.user("ada"), json={"tool": "cutout", "image": "nope"})

    assert_error(response, 404, "not_found", field="image")


def test_a_free_user_runs_one_job_at_a_time(api: Api) -> None:
    free, pro = api.user("ada"), api.user("bea", plan="pro")

    assert api.client.post("/v1/jobs", headers=free, json=PATTERN).status_code == 202
    second = api.client.post("/v1/jobs", headers=free, json=PATTERN)

    assert_error(second, 429, "quota_exceeded", message_contains="one job at a time")
    assert [api.client.post("/v1/jobs", headers=pro, json=PATTERN).status_code for _ in range(2)] == [202, 202]
    # Pro jobs are claimed first, so they stand ahead of the free one.
    assert [job["queue_position"] for job in api.client.get("/v1/jobs", headers=pro).json()["jobs"]] == [1, 0]


def test_an_idempotent_retry_returns_the_same_job(api: Api) -> None:
    headers = {**api.user("ada"), "Idempotency-Key": "order-42"}

    first = api.client.post("/v1/jobs", headers=headers, json=PATTERN)
    retry = api.client.post("/v1/jobs", headers=headers, json=PATTERN)

    assert first.status_code == retry.status_code == 202
    assert retry.json() == first.json()
    api.worker().run_once()
    after_run = api.client.post("/v1/jobs", headers=headers, json=PATTERN)
    assert after_run.status_code == 202
    assert after_run.json() == {"id": first.json()["id"], "status": "succeeded", "queue_position": None}
    assert len(api.client.get("/v1/jobs", headers=headers).json()["jobs"]) == 1


def test_a_canceled_job_never_runs(api: Api) -> None:
    headers = api.user("ada")
    job_id = api.client.post("/v1/jobs", headers=headers, json=PATTERN).json()["id"]

    canceled = api.client.delete(f"/v1/jobs/{job_id}", headers=headers)

    assert canceled.status_code == 200
    assert canceled.json()["status"] == "canceled" and canceled.json()["finished_at"] is not None
    assert api.worker().run_once() == 0
    job = api.client.get(f"/v1/jobs/{job_id}", headers=headers).json()
    assert job["status"] == "canceled" and job["outputs"] == [] and job["started_at"] is None
    again = api.client.delete(f"/v1/jobs/{job_id}", headers=headers)
    assert_error(again, 409, "conflict")


def test_canceling_a_finished_job_is_a_409(api: Api) -> None:
    headers = api.user("ada")
    job_id = api.client.post("/v1/jobs", headers=headers, json=PATTERN).json()["id"]
    api.worker().run_once()

    response = api.client.delete(f"/v1/jobs/{job_id}", headers=headers)

    assert_error(response, 409, "conflict", message_contains="already succeeded")
    assert api.client.get(f"/v1/jobs/{job_id}", headers=headers).json()["status"] == "succeeded"


def test_jobs_list_newest_first_with_a_limit(api: Api) -> None:
    headers = api.user("bea", plan="pro")
    ids = [api.client.post("/v1/jobs", headers=headers, json=PATTERN).json()["id"] for _ in range(3)]

    listed = api.client.get("/v1/jobs", headers=headers, params={"limit": 2}).json()["jobs"]
    too_many = api.client.get("/v1/jobs", headers=headers, params={"limit": 101})

    assert [job["id"] for job in listed] == ids[::-1][:2]
    assert_error(too_many, 422, "invalid_request", field="limit")
