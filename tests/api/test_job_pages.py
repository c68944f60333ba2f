"""GET /v1/jobs pages with a cursor (#13): newest first, each job once, a bad cursor a 422."""

from __future__ import annotations

import base64

import pytest

from tests.api.conftest import Api, assert_error

TEXT = {"tool": "text", "prompt": "a gingham quilt", "width": 64, "height": 64, "steps": 2}


def test_jobs_page_newest_first_with_a_cursor(api: Api) -> None:
    pat = api.user("pat", plan="pro")
    made = [api.client.post("/v1/jobs", headers=pat, json=TEXT).json()["id"] for _ in range(5)]

    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params: dict[str, object] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.client.get("/v1/jobs", headers=pat, params=params).json()
        seen += [job["id"] for job in page["jobs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == made[::-1]
    # Another user's listing holds none of them.
    assert api.client.get("/v1/jobs", headers=api.user("bea")).json() == {"jobs": [], "next_cursor": None}


@pytest.mark.parametrize(
    "cursor",
    ["not-a-cursor", base64.urlsafe_b64encode(b"jobs:" + str(2**63).encode()).decode(), "am9iczotMQ", "am9iczo"],
)
def test_a_cursor_this_api_did_not_make_is_a_422(api: Api, cursor: str) -> None:
    response = api.client.get("/v1/jobs", headers=api.user("pat"), params={"cursor": cursor})

    assert_error(response, 422, "invalid_request", field="cursor")
