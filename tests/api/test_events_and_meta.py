"""The job event stream, the tool and model lists, and /metrics from the database."""

from __future__ import annotations

import base64
import io
import itertools
import json
import threading
import time
from collections.abc import Iterator

import anyio
import pytest
from PIL import Image

from craftgen.api.events import job_events
from craftgen.engine.tools import TOOLS
from tests.api.conftest import Api

PATTERN = {"tool": "pattern", "prompt": "leaves", "seed": 3, "width": 128, "height": 128, "steps": 3}


def _events(lines: Iterator[str]) -> list[tuple[str, dict[str, object]]]:
    events, name = [], None
    for line in lines:
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and name:
            events.append((name, json.loads(line.split(":", 1)[1])))
    return events


@pytest.fixture()
def running_worker(api: Api) -> Iterator[threading.Event]:
    """A worker looping in a thread until the test is done; set the event to start it."""
    worker, go = api.worker("stream-worker"), threading.Event()

    def run() -> None:
        go.wait()
        worker.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield go
    worker.stop.set()
    go.set()
    thread.join(timeout=30)
    assert not thread.is_alive()


def test_events_stream_progress_then_a_final_status(api: Api, running_worker: threading.Event) -> None:
    headers = api.user("ada")
    job_id = api.client.post("/v1/jobs", headers=headers, json=PATTERN).json()["id"]

    with api.client.stream("GET", f"/v1/jobs/{job_id}/events", headers=headers, timeout=60) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        running_worker.set()  # the stream is open on a queued job; now let it run
        events = _events(stream.iter_lines())

    names = [name for name, _ in events]
    assert names[0] == "progress" and names[-1] == "status" and names.count("status") == 1
    assert events[0][1] == {"status": "queued", "progress": 0.0, "queue_position": 0}
    progress = [data for name, data in events if name == "progress"]
    assert progress[-1]["status"] == "succeeded" and progress[-1]["progress"] == 1.0
    assert all(a != b for a, b in itertools.pairwise(progress)), "only changes are sent"
    final = events[-1][1]
    assert final["id"] == job_id and final["status"] == "succeeded" and len(final["outputs"]) == 2


def _slow_steps(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each diffusion step takes 0.1 s longer, so the stream sees the job while it runs."""
    from craftgen.engine.preview import PreviewProgress

    engine = api.runtime.engine
    original = engine.run_batch

    def run_batch(items, progress=None):  # type: ignore[no-untyped-def]
        def report(done: int, total: int, preview) -> None:  # type: ignore[no-untyped-def]
            if isinstance(progress, PreviewProgress):
                progress.report(done, total, preview)
            else:  # previews off: the worker passed a plain progress function
                progress(done, total)
            time.sleep(0.1)

        return original(items, progress=PreviewProgress(report))

    monkeypatch.setattr(engine, "run_batch", run_batch)


@pytest.mark.parametrize("previews", [True, False])
def test_progress_events_carry_a_small_preview_while_the_job_runs(
    make_api, monkeypatch: pytest.MonkeyPatch, previews: bool
) -> None:
    api = make_api(previews=previews, preview_interval=0, preview_size=64, batch_wait_ms=0)
    _slow_steps(api, monkeypatch)
    headers = api.user("ada")
    job = {"tool": "text", "prompt": "a fox", "seed": 3, "width": 128, "height": 96, "steps": 6}
    job_id = api.client.post("/v1/jobs", headers=headers, json=job).json()["id"]
    worker = api.worker("preview-worker")
    thread = threading.Thread(target=worker.run_once, daemon=True)

    with api.client.stream("GET", f"/v1/jobs/{job_id}/events", headers=headers, timeout=60) as stream:
        thread.start()
        events = _events(stream.iter_lines())
    thread.join(timeout=30)

    progress = [data for name, data in events if name == "progress"]
    shown = [data["preview"] for data in progress if data.get("preview")]
    if not previews:
        assert all(data.get("preview") is None for data in progress) and not shown
        return
    assert shown, "at least one preview while the job ran"
    assert all(data["status"] == "running" for data in progress if data.get("preview"))
    header, encoded = str(shown[0]).split(",", 1)
    assert header == "data:image/webp;base64"
    image = Image.open(io.BytesIO(base64.b64decode(encoded)))
    assert image.size == (64, 48), "longest side preview_size, the job's aspect kept"
    assert len(shown) == len(set(shown)), "a preview is sent only when it changed"
    assert progress[-1]["status"] == "succeeded" and progress[-1].get("preview", "gone") is None
    assert events[-1][1]["preview"] is None


def test_events_of_a_finished_job_end_at_once(api: Api) -> None:
    headers = api.user("ada")
    job_id = api.client.post("/v1/jobs", headers=headers, json=PATTERN).json()["id"]
    api.client.delete(f"/v1/jobs/{job_id}", headers=headers)

    with api.client.stream("GET", f"/v1/jobs/{job_id}/events", headers=headers) as stream:
        events = _events(stream.iter_lines())

    assert [name for name, _ in events] == ["progress", "status"]
    assert events[1][1]["status"] == "canceled"


def test_the_event_generator_waits_quietly_while_nothing_changes(api: Api) -> None:
    """Polled directly (no HTTP): one event for a queued job, then silence until it changes."""
    headers = api.user("ada")
    job_id = api.client.post("/v1/jobs", headers=headers, json=PATTERN).json()["id"]
    user_id = api.user_id(headers)
    first = api.runtime.jobs.get(user_id, job_id)

    async def collect() -> list[str]:
        names = []
        with anyio.move_on_after(0.3):
            async for event in job_events(api.runtime.jobs, user_id=user_id, first=first, interval=0.01):
                names.append(str(event.event))
        return names

    assert anyio.run(collect) == ["progress"]


def test_a_client_may_leave_a_stream_early(api: Api) -> None:
    headers = api.user("ada")
    job_id = api.client.post("/v1/jobs", headers=headers, json=PATTERN).json()["id"]

    with api.client.stream("GET", f"/v1/jobs/{job_id}/events", headers=headers, timeout=10) as stream:
        first = next(line for line in stream.iter_lines() if line.startswith("data:"))
    # The job never runs (no worker); leaving must not hang the server or the client.

    assert json.loads(first.split(":", 1)[1])["status"] == "queued"
    assert api.client.get("/healthz").status_code == 200


def test_tools_lists_every_declared_tool(api: Api) -> None:
    tools = api.client.get("/v1/tools", headers=api.user("ada")).json()["tools"]

    assert [tool["name"] for tool in tools] == list(TOOLS)
    assert len(tools) >= 7
    by_name = {tool["name"]: tool for tool in tools}
    assert by_name["cutout"]["needs_image"] and not by_name["cutout"]["needs_prompt"]
    assert by_name["pattern"]["needs_prompt"] and "repeat" in by_name["pattern"]["fields"]
    assert by_name["clipart"]["outputs"] == {"transparent": True, "svg": True, "repeat_preview": False}
    for tool in tools:
        # Each tool's schema is the body POST /v1/jobs takes for it: exactly its fields.
        schema = tool["request_schema"]
        assert set(schema["properties"]) == set(tool["fields"]) and schema["additionalProperties"] is False
        assert schema["properties"]["tool"]["const"] == tool["name"]


def test_models_lists_the_registry(api: Api) -> None:
    assert api.client.get("/v1/models", headers=api.user("ada")).json() == {"models": ["tiny"], "default": "tiny"}


def test_metrics_come_from_the_database(api: Api) -> None:
    free, pro = api.user("ada"), api.user("bea", plan="pro")
    api.client.post("/v1/jobs", headers=free, json=PATTERN)
    api.worker().run_once()
    api.client.post("/v1/jobs", headers=pro, json=PATTERN)

    response = api.client.get("/metrics")

    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    lines = set(response.text.splitlines())
    assert 'craftgen_jobs{priority="free",status="succeeded"} 1.0' in lines
    assert 'craftgen_jobs{priority="pro",status="queued"} 1.0' in lines
    assert 'craftgen_queue_visible{priority="pro"} 1.0' in lines
    assert 'craftgen_queue_visible{priority="free"} 0.0' in lines
    assert 'craftgen_queue_in_flight{priority="pro"} 0.0' in lines
    assert any(line.startswith("craftgen_queue_oldest_age_seconds ") for line in lines)
    assert 'craftgen_job_duration_seconds_bucket{le="+Inf"} 1.0' in lines
    assert 'craftgen_job_duration_seconds_count 1.0' in lines
    assert 'craftgen_batch_size_bucket{le="1.0"} 1.0' in lines
    assert 'craftgen_batch_size_sum 1.0' in lines
