"""The API's one change feed (#13): however many streams watch, the database is read once a tick
for all watched jobs, and every watcher still gets each change and its job's final event."""

from __future__ import annotations

import json
from typing import Any

import anyio
from sqlalchemy import event

from craftgen.api.events import job_events
from craftgen.api.feed import JobFeed
from tests.api.conftest import Api

TEXT = {"tool": "text", "prompt": "a gingham quilt", "width": 64, "height": 64, "steps": 2, "seed": 1}
INTERVAL = 0.02


def _statements(api: Api, watchers: int, *, ticks: int = 6, seconds: float = 30) -> tuple[int, int]:
    """Database statements run, and feed ticks, while `watchers` streams watch two queued jobs."""
    pat = api.user(f"pat{watchers}", plan="pro")
    user_id = api.user_id(pat)
    job_ids = [api.client.post("/v1/jobs", headers=pat, json=TEXT).json()["id"] for _ in range(2)]
    first = [api.runtime.jobs.get(user_id, job_id) for job_id in job_ids]
    feed = JobFeed(api.runtime.jobs, interval=INTERVAL)
    counted = [0]

    def count(*args: Any) -> None:
        counted[0] += 1

    async def watch(view: Any) -> None:
        async for _ in job_events(api.runtime.jobs, user_id=user_id, first=view, interval=INTERVAL, feed=feed):
            pass

    async def main() -> None:
        async with anyio.create_task_group() as group:
            for n in range(watchers):
                group.start_soon(watch, first[n % 2])
            await anyio.sleep(0.1)  # every stream is watching
            event.listen(api.runtime.db, "before_cursor_execute", count)
            reads_before = feed.reads
            # A number of ticks, not of seconds: a busy machine makes ticks slower, not fewer.
            with anyio.move_on_after(seconds):
                while feed.reads - reads_before < ticks:
                    await anyio.sleep(INTERVAL)
            event.remove(api.runtime.db, "before_cursor_execute", count)
            counted.append(feed.reads - reads_before)
            group.cancel_scope.cancel()

    anyio.run(main)
    return counted[0], counted[1]


def test_database_reads_do_not_grow_with_the_watchers(api: Api) -> None:
    few, few_ticks = _statements(api, 4)
    many, many_ticks = _statements(api, 200)

    assert few_ticks >= 6 and many_ticks >= 6
    # Two queued jobs: the jobs, then their places in the queue; nothing per watcher.
    assert few <= 3 * few_ticks + 4 and many <= 3 * many_ticks + 4, (few, few_ticks, many, many_ticks)
    assert many / many_ticks <= few / few_ticks + 1


def test_every_watcher_gets_the_final_event_over_http(api: Api) -> None:
    pat = api.user("pat", plan="pro")
    job_id = api.client.post("/v1/jobs", headers=pat, json=TEXT).json()["id"]
    finals: list[dict[str, Any]] = []

    def stream() -> None:
        with api.client.stream("GET", f"/v1/jobs/{job_id}/events", headers=pat, timeout=60) as response:
            name = None
            for line in response.iter_lines():
                if line.startswith("event:"):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and name == "status":
                    finals.append(json.loads(line.split(":", 1)[1]))

    async def main() -> None:
        async with anyio.create_task_group() as group:
            for _ in range(5):
                group.start_soon(anyio.to_thread.run_sync, stream)
            await anyio.sleep(0.5)
            await anyio.to_thread.run_sync(api.worker().run_once)

    anyio.run(main)

    assert len(finals) == 5 and {final["status"] for final in finals} == {"succeeded"}
    assert all(final["outputs"] for final in finals)


def test_events_have_ids_and_a_reconnect_is_not_sent_the_state_it_has(api: Api) -> None:
    pat = api.user("pat", plan="pro")
    user_id = api.user_id(pat)
    job_id = api.client.post("/v1/jobs", headers=pat, json=TEXT).json()["id"]
    first = api.runtime.jobs.get(user_id, job_id)
    feed = JobFeed(api.runtime.jobs, interval=INTERVAL)

    async def collect(last_event_id: str | None) -> list[tuple[str, str | None]]:
        seen: list[tuple[str, str | None]] = []
        with anyio.move_on_after(0.3):
            async for sent in job_events(
                api.runtime.jobs,
                user_id=user_id,
                first=first,
                interval=INTERVAL,
                feed=feed,
                last_event_id=last_event_id,
            ):
                seen.append((str(sent.event), sent.id))
        return seen

    fresh = anyio.run(collect, None)
    assert [name for name, _ in fresh] == ["progress"] and fresh[0][1]
    # Reconnecting with that id: nothing new to say while the job waits.
    assert anyio.run(collect, fresh[0][1]) == []
    assert [name for name, _ in anyio.run(collect, "some-other-state")] == ["progress"]
    # Over HTTP, once the job is done: every event carries an id.
    api.worker().run_once()
    with api.client.stream(
        "GET", f"/v1/jobs/{job_id}/events", headers={**pat, "Last-Event-ID": str(fresh[0][1])}
    ) as stream:
        lines = list(stream.iter_lines())
    ids = [line for line in lines if line.startswith("id:")]
    events = [line for line in lines if line.startswith("event:")]
    assert len(ids) == len(events) >= 1 and events[-1] == "event: status"
