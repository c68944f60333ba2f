"""Everything under /v1 needs a valid key; the probes and the docs do not; errors keep one shape."""

from __future__ import annotations

import logging

import pytest

from tests.api.conftest import Api, assert_error


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer cg_not-a-real-key"}, {"Authorization": "Basic dXNlcjpwYXNz"}],
    ids=["no key", "unknown key", "not bearer"],
)
@pytest.mark.parametrize("path", ["/v1/jobs", "/v1/tools", "/v1/images/abc"])
def test_v1_refuses_a_missing_or_bad_key(api: Api, headers: dict[str, str], path: str) -> None:
    response = api.client.get(path, headers=headers)

    assert_error(response, 401, "unauthorized", message_contains="key")
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_valid_key_is_accepted(api: Api) -> None:
    assert api.client.get("/v1/jobs", headers=api.user("ada")).json() == {"jobs": [], "next_cursor": None}


def test_probes_and_docs_need_no_key(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    assert api.client.get("/readyz").json() == {"status": "ok"}
    assert api.client.get("/openapi.json").json()["info"]["title"] == "craftgen"
    assert api.client.get("/docs").status_code == 200


def test_readyz_names_what_does_not_answer(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(api.runtime.store, "check", broken)
    response = api.client.get("/readyz")

    error = assert_error(response, 503, "not_ready", message_contains="store")
    assert "database" not in error["message"] and "disk gone" not in error["message"]


def test_an_unexpected_error_is_a_generic_500_and_logged(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(api.runtime.jobs, "page", boom)
    with caplog.at_level(logging.ERROR, logger="craftgen.api"):
        response = api.client.get("/v1/jobs", headers=api.user("ada"))

    assert_error(response, 500, "internal_error")
    assert "secret" not in response.text and "RuntimeError" not in response.text
    assert any(record.exc_info and "secret internal detail" in str(record.exc_info[1]) for record in caplog.records)


def test_unknown_routes_and_methods_keep_the_error_shape(api: Api) -> None:
    missing = api.client.get("/nowhere")
    wrong_method = api.client.put("/healthz")

    assert_error(missing, 404, "not_found")
    assert_error(wrong_method, 405, "method_not_allowed")
