"""schemathesis over the app's own OpenAPI schema (#13), bounded for CI: every operation gets a
few generated requests (valid and invalid), then a short stateful run follows the links between
operations (upload -> job -> image -> publish ...). Every check applies: no server error, only
documented status codes, responses matching their schemas and content types, invalid data
refused. The exceptions, each for a stated reason:

- positive_data_acceptance is off: a request the schema allows may still break a rule no JSON
  schema states (an upload too small for variations, a width that is not a multiple of 8).
- A 503 is allowed: it is documented, and means what it says (no worker runs here, so the
  drop-in APIs that wait for their job answer "did not finish in time").
- The drop-in APIs (OpenAI Images, AUTOMATIC1111) answer in their own error shapes, which are
  the clients' contracts rather than this schema's: only "no server error" is checked there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.specs.openapi.checks import positive_data_acceptance

from craftgen.accounts import create_user
from craftgen.app import create_app
from craftgen.config import Settings
from craftgen.runtime import build_runtime
from tests.pg import fresh_postgres_database

EXAMPLES_PER_OPERATION = 10  # ~55 operations: about 15 s per database on two cores
STATEFUL_STEPS = 8
COMPAT_PREFIXES = ("/sdapi/", "/v1/images/generations", "/v1/images/edits", "/v1/images/variations")

Fuzz = dict[str, Any]


@pytest.fixture(params=["sqlite", "postgresql"])
def fuzz(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Fuzz]:
    """The app on SQLite and on PostgreSQL (stricter about text: a NUL anywhere is an error)."""
    with ExitStack() as stack:
        database = {}
        if request.param == "postgresql":
            database = {
                "database_url": stack.enter_context(fresh_postgres_database()),
                "queue_url": f"sqlite:///{tmp_path / 'queue.db'}",
            }
        runtime = build_runtime(
            Settings(
                data_dir=tmp_path,
                device="cpu",
                default_size=64,
                default_steps=2,
                local_studio=False,
                compat_wait_seconds=0.5,
                **database,
            )
        )
        _, key = create_user(runtime.sessions, name="fuzzer", plan="pro")
        app = create_app(runtime)
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        yield {"schema": schema, "headers": {"Authorization": f"Bearer {key}"}}
        runtime.db.dispose()


@schemathesis.check
def no_unexpected_server_error(ctx: CheckContext, response: schemathesis.Response, case: schemathesis.Case) -> bool:
    """Like not_a_server_error, but a documented 503 (unavailable) is an answer, not a crash."""
    if response.status_code == 503:
        return True
    not_a_server_error(ctx, response, case)
    return True


def _checks(path: str) -> dict[str, Any]:
    if path.startswith(COMPAT_PREFIXES):
        return {"checks": [no_unexpected_server_error]}
    return {
        "excluded_checks": [positive_data_acceptance, not_a_server_error],
        "additional_checks": [no_unexpected_server_error],
    }


_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,
    derandomize=True,  # the same requests every run: a CI failure reproduces locally
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)


def _fuzz(operation: Any, headers: dict[str, str]) -> Callable[[], None]:
    @given(case=operation.as_strategy())
    @_SETTINGS
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, **_checks(operation.path))

    return run  # type: ignore[no-any-return]


def test_every_operation_answers_within_its_schema(fuzz: Fuzz) -> None:
    failures: list[str] = []
    operations = [result.ok() for result in fuzz["schema"].get_all_operations()]
    assert len(operations) > 30

    for operation in operations:
        try:
            _fuzz(operation, fuzz["headers"])()
        except Exception as failure:  # noqa: BLE001 - collected, so one report lists every operation
            failures.append(f"{operation.label}: {failure}")

    assert not failures, "\n\n".join(failures)


def test_stateful_runs_follow_the_links_between_operations(fuzz: Fuzz) -> None:
    headers: dict[str, str] = fuzz["headers"]
    base: Callable[..., Any] = fuzz["schema"].as_state_machine()

    class Machine(base):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"headers": headers}

        def validate_response(self, response: Any, case: schemathesis.Case, **kwargs: Any) -> None:
            case.validate_response(response, headers=headers, **_checks(case.operation.path))

    Machine.run(
        settings=settings(
            max_examples=STATEFUL_STEPS,
            stateful_step_count=4,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
    )
