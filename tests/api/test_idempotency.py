"""An Idempotency-Key names one request (#13): a retry returns the first job, the same key sent
with a different body is a 409 naming what differs, never the first job passed off as the new one."""

from __future__ import annotations

from tests.api.conftest import Api, assert_error

PATTERN = {"tool": "pattern", "prompt": "cute strawberries", "width": 64, "height": 64, "steps": 2}


def test_the_same_key_with_a_different_body_is_a_409(api: Api) -> None:
    headers = {**api.user("ada", plan="pro"), "Idempotency-Key": "order-42"}
    first = api.client.post("/v1/jobs", headers=headers, json=PATTERN)
    assert first.status_code == 202, first.text

    other_prompt = api.client.post("/v1/jobs", headers=headers, json={**PATTERN, "prompt": "lemons"})
    other_tool = api.client.post("/v1/jobs", headers=headers, json={"tool": "text", "prompt": "cute strawberries"})
    # The first job's seed was drawn at random: naming another one is a different request too.
    other_seed = api.client.post("/v1/jobs", headers=headers, json={**PATTERN, "seed": 12345})

    assert_error(other_prompt, 409, "conflict", message_contains="prompt")
    assert_error(other_tool, 409, "conflict", message_contains="tool")
    assert_error(other_seed, 409, "conflict", message_contains="seed")
    # The same body (its defaults left out, as the first time) is still the same job.
    assert api.client.post("/v1/jobs", headers=headers, json=PATTERN).json()["id"] == first.json()["id"]
    assert len(api.client.get("/v1/jobs", headers=headers).json()["jobs"]) == 1
