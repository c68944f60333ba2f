"""A runtime on a fresh data folder with the tiny model, plus a user of each plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from craftgen.accounts import create_user
from craftgen.config import Settings
from craftgen.db.tables import User
from craftgen.jobs.worker import Worker
from craftgen.runtime import Runtime, build_runtime


@pytest.fixture()
def runtime(tmp_path: Path) -> Runtime:
    settings = Settings(
        data_dir=tmp_path / "data", default_size=128, default_steps=3, lease_seconds=30, retry_delay=0
    )
    return build_runtime(settings)


@pytest.fixture()
def pro(runtime: Runtime) -> User:
    return create_user(runtime.sessions, name="pat", plan="pro")[0]


@pytest.fixture()
def free(runtime: Runtime) -> User:
    return create_user(runtime.sessions, name="fay", plan="free")[0]


def make_worker(runtime: Runtime, name: str = "w1", **options: object) -> Worker:
    from dataclasses import replace

    return Worker(
        name=name,
        sessions=runtime.sessions,
        queue=runtime.queue,
        store=runtime.store,
        engine=runtime.engine,
        options=replace(runtime.settings.worker_options(), **options),
    )
