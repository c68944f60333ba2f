"""Settings and the frozen option objects it builds hold each default once, so they cannot drift."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

import pytest
from pydantic import ValidationError

from craftgen.config import Settings
from craftgen.engine.limits import Limits
from craftgen.engine.options import EngineOptions
from craftgen.gallery.options import GalleryOptions
from craftgen.jobs.options import JobPolicy, WorkerOptions
from craftgen.signin_policy import SignInPolicy

BUILDERS: list[tuple[type[object], Callable[[Settings], object]]] = [
    (WorkerOptions, Settings.worker_options),
    (JobPolicy, Settings.job_policy),
    (EngineOptions, Settings.engine_options),
    (Limits, Settings.limits),
    (GalleryOptions, Settings.gallery_options),
    (SignInPolicy, Settings.signin_policy),
]


@pytest.fixture()
def plain_settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings with no CRAFTGEN_ variable set: every field at its default."""
    for name in list(os.environ):
        if name.upper().startswith("CRAFTGEN_"):
            monkeypatch.delenv(name)
    return Settings()


@pytest.mark.parametrize(("options", "build"), BUILDERS, ids=[cls.__name__ for cls, _ in BUILDERS])
def test_default_settings_build_the_default_options(
    plain_settings: Settings, options: type[object], build: Callable[[Settings], object]
) -> None:
    built = build(plain_settings)
    default = options()
    assert type(built) is options
    for field in dataclasses.fields(built):  # type: ignore[arg-type]
        assert getattr(built, field.name) == getattr(default, field.name), f"{options.__name__}.{field.name}"


def test_batch_wait_is_milliseconds_in_settings_and_seconds_in_worker_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRAFTGEN_BATCH_WAIT_MS", "250")
    assert Settings().worker_options().batch_wait == 0.25


def test_a_setting_keeps_its_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRAFTGEN_BATCH_SIZE", "0")
    with pytest.raises(ValidationError, match="batch_size"):
        Settings()


def test_the_sqs_endpoint_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRAFTGEN_SQS_ENDPOINT_URL", "http://127.0.0.1:4566")
    assert Settings().sqs_endpoint_url == "http://127.0.0.1:4566"
