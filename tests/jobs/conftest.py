"""A runtime on a fresh data folder with the tiny model, plus a user of each plan."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import pytest

from craftgen.accounts import create_user
from craftgen.config import Settings
from craftgen.db.tables import User
from craftgen.jobs.worker import Worker
from craftgen.processes import build_worker
from craftgen.runtime import Runtime, build_runtime
from tests.pg import fresh_postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runtime]:
    """The job service on SQLite (embedded) and on PostgreSQL (scaled out); the queue stays the
    SQLite lease table here (the queue backends have their own contract suite)."""
    with ExitStack() as stack:
        database_url = ""
        if request.param == "postgresql":
            database_url = stack.enter_context(fresh_postgres_database())
        settings = Settings(
            data_dir=tmp_path / "data",
            database_url=database_url,
            queue_url=f"sqlite:///{tmp_path / 'queue.db'}",
            default_size=128,
            default_steps=3,
            lease_seconds=30,
            retry_delay=0,
        )
        runtime = build_runtime(settings)
        yield runtime
        runtime.db.dispose()


@pytest.fixture()
def pro(runtime: Runtime) -> User:
    return create_user(runtime.sessions, name="pat", plan="pro")[0]


@pytest.fixture()
def free(runtime: Runtime) -> User:
    return create_user(runtime.sessions, name="fay", plan="free")[0]


def make_worker(runtime: Runtime, name: str = "w1", **options: object) -> Worker:
    """The worker `craftgen worker` would build, with some options changed."""
    return build_worker(runtime, name=name, options=replace(runtime.settings.worker_options(), **options))
