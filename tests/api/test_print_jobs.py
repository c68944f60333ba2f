"""/v1/jobs with a print size (#15): the stored PNG is the print's pixels with its DPI and sRGB
profile, the SVG in the print's unit; a print too big for the pixel limit is a 422 by field."""

from __future__ import annotations

import io

from PIL import Image

from tests.api.conftest import Api, assert_error


def test_a_job_with_a_print_size_stores_the_printed_file(api: Api) -> None:
    headers = api.user("ada")
    body = {
        "tool": "clipart",
        "prompt": "a cat",
        "seed": 2,
        "steps": 2,
        "print_width": 2,
        "print_height": 1.5,
        "print_unit": "in",
        "dpi": 200,
    }
    job_id = api.client.post("/v1/jobs", headers=headers, json=body).json()["id"]
    api.worker().run_once()
    job = api.client.get(f"/v1/jobs/{job_id}", headers=headers).json()

    assert job["status"] == "succeeded", job["error"]
    outputs = {o["kind"]: o for o in job["outputs"]}
    assert (outputs["image"]["width"], outputs["image"]["height"]) == (400, 300)
    png = Image.open(io.BytesIO(api.client.get(outputs["image"]["url"], headers=headers).content))
    assert png.size == (400, 300) and round(png.info["dpi"][0]) == 200 and png.info.get("icc_profile")
    svg = api.client.get(outputs["svg"]["url"], headers=headers).text
    assert 'width="2.0000in"' in svg and 'height="1.5000in"' in svg


def test_a_print_too_big_is_refused_by_its_field(api: Api) -> None:
    headers = api.user("ada")
    body = {"tool": "text", "prompt": "a fox", "print_width": 100, "print_height": 50, "print_unit": "cm"}
    response = api.client.post("/v1/jobs", headers=headers, json=body)
    assert_error(response, 422, "invalid_request", field="print_width", message_contains="the largest at 300 DPI")


def test_a_sticker_job_from_an_upload_has_one_cut_path(api: Api) -> None:
    headers = api.user("ada")
    subject = Image.new("RGBA", (200, 160), (0, 0, 0, 0))
    subject.paste((30, 120, 200, 255), (40, 30, 160, 130))
    upload_id = api.upload(headers, subject)
    body = {
        "tool": "sticker",
        "image": upload_id,
        "offset": 2,
        "print_width": 40,
        "print_height": 30,
        "print_unit": "mm",
    }
    job_id = api.client.post("/v1/jobs", headers=headers, json=body).json()["id"]
    api.worker().run_once()
    job = api.client.get(f"/v1/jobs/{job_id}", headers=headers).json()

    assert job["status"] == "succeeded", job["error"]
    outputs = {o["kind"]: o for o in job["outputs"]}
    assert (outputs["image"]["width"], outputs["image"]["height"]) == (472, 354)  # 40 x 30 mm at 300 DPI
    svg = api.client.get(outputs["svg"]["url"], headers=headers).text
    assert svg.count("<path") == 1 and 'width="39.9627mm"' in svg and job["metrics"]["cut_paths_closed"] is True


def test_a_sticker_job_without_prompt_or_image_is_refused_by_field(api: Api) -> None:
    response = api.client.post("/v1/jobs", headers=api.user("ada"), json={"tool": "sticker"})
    assert_error(response, 422, "invalid_request", field="prompt", message_contains="a prompt or an image")
