"""Spot interruptions lose nothing and cost little (#17): on a notice the worker stops claiming,
finishes the batch in hand only if its step rate says it ends before the deadline, otherwise hands
the jobs back at once, and another worker picks them up within a second or two, not after the lease."""

from __future__ import annotations

import datetime
import io
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from PIL import Image

from craftgen.db.tables import ImageRow, User
from craftgen.engine.base import OutputFile, ToolResult
from craftgen.engine.requests import parse_request
from craftgen.jobs import states
from craftgen.jobs.spot import InstanceActionWatcher, SpotNotice
from craftgen.runtime import Runtime
from tests.jobs.conftest import make_worker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def notice_for(clock: Clock) -> tuple[SpotNotice, threading.Event, threading.Event]:
    stop, abort = threading.Event(), threading.Event()
    return SpotNotice(stop=stop, abort=abort, margin_s=5.0, clock=clock), stop, abort


def steps(notice: SpotNotice, clock: Clock, *, done: int, total: int, step_s: float) -> None:
    notice.on_loop_turn()
    for n in range(1, done + 1):
        clock.now += step_s
        notice.on_progress(n, total)


def test_a_batch_that_ends_in_time_finishes() -> None:
    clock = Clock()
    notice, stop, abort = notice_for(clock)
    steps(notice, clock, done=10, total=30, step_s=1.0)  # 20 s to go
    notice.notice(clock.now + 120)
    assert stop.is_set() and not abort.is_set()
    assert notice.remaining_s() == pytest.approx(20.0)


def test_a_batch_that_would_outlast_the_deadline_is_handed_back() -> None:
    clock = Clock()
    notice, stop, abort = notice_for(clock)
    steps(notice, clock, done=10, total=200, step_s=1.0)  # 190 s to go
    notice.notice(clock.now + 120)
    assert stop.is_set() and abort.is_set()


def test_before_a_rate_is_known_it_decides_at_the_next_steps() -> None:
    clock = Clock()
    notice, stop, abort = notice_for(clock)
    notice.on_loop_turn()
    notice.on_progress(1, 100)
    notice.notice(clock.now + 30)
    assert stop.is_set() and not abort.is_set()
    clock.now += 2.0
    notice.on_progress(2, 100)  # 2 s a step, 98 to go
    assert abort.is_set()


def test_an_idle_worker_just_stops() -> None:
    clock = Clock()
    notice, stop, abort = notice_for(clock)
    notice.on_loop_turn()
    notice.notice(clock.now + 120)
    assert stop.is_set() and not abort.is_set()


@pytest.fixture()
def endpoint() -> Iterator[tuple[str, dict[str, Any]]]:
    """A fake instance-metadata service on loopback: 404 until `state["action"]` is set; IMDSv2
    when `state["token"]` is (401 without it)."""
    state: dict[str, Any] = {"action": None, "token": None, "gets": 0}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_PUT(self) -> None:
            body = str(state["token"]).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            state["gets"] += 1
            if state["token"] and self.headers.get("X-aws-ec2-metadata-token") != state["token"]:
                self.send_response(401)
                self.end_headers()
                return
            if state["action"] is None:
                self.send_response(404)
                self.end_headers()
                return
            body = json.dumps(state["action"]).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/latest/meta-data/spot/instance-action", state
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("imds_v2", [False, True])
def test_the_watcher_reads_the_instance_action_endpoint(endpoint: tuple[str, dict[str, Any]], imds_v2: bool) -> None:
    url, state = endpoint
    state["token"] = "t0ken" if imds_v2 else None
    stop, abort = threading.Event(), threading.Event()
    notice = SpotNotice(stop=stop, abort=abort)
    watcher = InstanceActionWatcher(url=url, notice=notice, interval_s=0.05).start()
    try:
        time.sleep(0.3)
        assert not stop.is_set() and state["gets"] >= 2, "no notice yet: 404, keep watching"
        when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=2)
        state["action"] = {"action": "terminate", "time": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
        assert stop.wait(5)
        assert notice.deadline == pytest.approx(when.replace(microsecond=0).timestamp())
    finally:
        watcher.close()


# End to end: two workers, a notice mid-batch -----------------------------------------------


def submit(runtime: Runtime, user: User, n: int) -> list[str]:
    return [
        runtime.jobs.submit(user, parse_request({"tool": "text", "prompt": f"cat {i}", "steps": 20, "seed": i})).id
        for i in range(n)
    ]


def slow_steps(runtime: Runtime, step_s: list[float], started: threading.Event) -> None:
    """The engine replaced by 20 steps of `step_s[0]` seconds each and an 8x8 PNG per job, so the
    timing is the test's, not the (shared, busy) CPU's."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG")
    png = buffer.getvalue()

    def run_batch(items: Any, progress: Any = None) -> list[ToolResult]:
        for done in range(1, 21):
            time.sleep(step_s[0])
            if done >= 3:
                started.set()
            if progress is not None:
                progress(done, 20)
        output = OutputFile(name="text-0.png", kind="image", media_type="image/png", data=png, width=8, height=8)
        return [ToolResult(tool="text", model="stub", seed=item.seed, outputs=[output]) for item in items]

    runtime.engine.run_batch = run_batch  # type: ignore[method-assign]


@pytest.mark.parametrize("runtime", ["sqlite"], indirect=True)
@pytest.mark.parametrize("time_to_finish", [True, False])
def test_a_notice_mid_batch_loses_nothing(runtime: Runtime, pro: User, time_to_finish: bool) -> None:
    step_s, started = [0.2], threading.Event()
    slow_steps(runtime, step_s, started)
    first = make_worker(runtime, "spot", poll_interval=0.02, progress_interval=0)
    notice = SpotNotice(stop=first.stop, abort=first.abort, margin_s=0.5)
    first.middleware.append(notice)
    jobs = submit(runtime, pro, 2)
    threads = [threading.Thread(target=first.run_forever, daemon=True)]
    threads[0].start()
    assert started.wait(30), "the first worker is running the batch"
    second = make_worker(runtime, "on-demand", poll_interval=0.02, progress_interval=0)
    threads.append(threading.Thread(target=second.run_forever, daemon=True))
    threads[1].start()
    # 20 steps of 0.2 s: about 3.4 s to go. A deadline 30 s off leaves time; 1 s does not.
    noticed = time.monotonic()
    notice.notice(time.time() + (30.0 if time_to_finish else 1.0))
    step_s[0] = 0.01  # whoever runs the batch next runs it fast
    deadline = noticed + 25  # below the 30 s lease: nothing here waits for a lease to run out
    while any(runtime.jobs.get(pro.id, job).status != states.SUCCEEDED for job in jobs):
        assert time.monotonic() < deadline, [runtime.jobs.get(pro.id, job).status for job in jobs]
        time.sleep(0.05)
    took = time.monotonic() - noticed
    threads[0].join(timeout=10)
    assert not threads[0].is_alive(), "the noticed worker exits"
    assert first.abort.is_set() is (not time_to_finish)
    if not time_to_finish:
        # Handed back at once and run by the other worker: seconds, not the 30 s lease.
        assert took < 10, took
    second.stop.set()
    threads[1].join(timeout=10)
    with runtime.sessions() as session:
        for job in jobs:
            images = session.query(ImageRow).filter(ImageRow.job_id == job, ImageRow.kind == "image").count()
            assert images == 1, "each job finished exactly once"
