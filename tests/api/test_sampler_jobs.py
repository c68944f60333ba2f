"""/v1/jobs takes `sampler`: a known one runs and is recorded on the job; an unknown one is a 422
naming the field and listing the known ones; /v1/tools shows the choices in each schema."""

from __future__ import annotations

from craftgen.schemas import SAMPLER_NAMES
from tests.api.conftest import Api, assert_error

JOB = {"tool": "text", "prompt": "a fox", "seed": 3, "steps": 3, "width": 64, "height": 64}


def test_a_job_with_a_sampler_runs_and_records_it(api: Api) -> None:
    headers = api.user("ada")
    submitted = api.client.post("/v1/jobs", headers=headers, json={**JOB, "sampler": "dpmpp_2m_karras"})
    assert submitted.status_code == 202, submitted.text
    api.worker().run_once()
    job = api.client.get(f"/v1/jobs/{submitted.json()['id']}", headers=headers).json()

    assert job["status"] == "succeeded", job["error"]
    assert job["request"]["sampler"] == "DPM++ 2M Karras"


def test_an_unknown_sampler_is_a_422_listing_the_known_ones(api: Api) -> None:
    response = api.client.post("/v1/jobs", headers=api.user("ada"), json={**JOB, "sampler": "Euler b"})
    assert_error(response, 422, "invalid_request", field="sampler", message_contains=("'Euler a'", "'DPM++ 2M'"))


def test_the_tool_schemas_list_the_samplers(api: Api) -> None:
    tools = {t["name"]: t for t in api.client.get("/v1/tools", headers=api.user("ada")).json()["tools"]}
    field = tools["text"]["request_schema"]["properties"]["sampler"]
    listed = next(item["enum"] for item in field["anyOf"] if "enum" in item)

    assert listed == list(SAMPLER_NAMES)
    assert "sampler" in tools["inpaint"]["fields"] and "sampler" not in tools["cutout"]["fields"]
