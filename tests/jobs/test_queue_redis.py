"""Redis-only promises: a dead worker's jobs come back to others, and a restart loses nothing."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from craftgen.jobs.backends import open_queue
from craftgen.jobs.queue import PRIORITY_FREE, PRIORITY_PRO
from craftgen.jobs.queue_redis import GROUP, RedisQueue
from tests.conftest import REDIS_URL, require_service


@pytest.fixture()
def prefix() -> Iterator[str]:
    require_service("redis", 6379)
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    yield prefix
    with redis.Redis.from_url(REDIS_URL) as client:
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)


def test_a_dead_workers_job_is_reclaimed_by_another_after_its_lease(prefix: str) -> None:
    dead = RedisQueue(REDIS_URL, prefix=prefix)  # its own connection, as in another process
    alive = RedisQueue(REDIS_URL, prefix=prefix)
    try:
        alive.enqueue("a", priority=PRIORITY_FREE, batch_key="k")
        (lost,) = dead.claim(worker="w-dead", max_items=4, lease_seconds=0.3)
        dead.close()  # the worker dies holding the job: no ack, no release, no more heartbeats
        assert alive.claim(worker="w-alive", max_items=4, lease_seconds=30) == []
        time.sleep(0.4)
        (found,) = alive.claim(worker="w-alive", max_items=4, lease_seconds=30)
        assert (found.job_id, found.deliveries) == ("a", 2)
        stream = alive.streams[PRIORITY_FREE]
        owners = {c["name"]: c["pending"] for c in alive.client.xinfo_consumers(stream, GROUP)}
        assert owners.get("w-alive") == 1 and "w-dead" not in owners, "a consumer holding nothing is forgotten"
        alive.ack(lost)  # were it to come back, its ack changes nothing
        assert alive.depth().in_flight == {PRIORITY_FREE: 1}
        alive.ack(found)
        assert alive.depth().in_flight == {} and alive.client.hlen(alive.ids_key) == 0
    finally:
        dead.close()
        alive.close()


def test_the_url_names_prefix_and_dead_letter_limit(prefix: str) -> None:
    queue = open_queue(f"{REDIS_URL}?prefix={prefix}&max_deliveries=3&socket_timeout=5", database_url="")
    try:
        assert isinstance(queue, RedisQueue)
        assert (queue.prefix, queue.max_deliveries) == (prefix, 3)
        assert queue.streams == {PRIORITY_PRO: f"{prefix}:jobs:1", PRIORITY_FREE: f"{prefix}:jobs:0"}
        for stream in queue.streams.values():
            assert [g["name"] for g in queue.client.xinfo_groups(stream)] == [GROUP]
        queue.check()
    finally:
        queue.close()


# A private server, restarted mid-test --------------------------------------------------------


class Server:
    """redis-server with AOF on, in a folder of its own, on a free loopback port."""

    def __init__(self, folder: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--appendonly", "yes", "--save", "", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with redis.Redis(port=self.port, socket_connect_timeout=0.2) as client:
                    client.ping()
                    return
            except redis.exceptions.RedisError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        # SIGTERM: Redis fsyncs the AOF and exits, as on a rolling restart.
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[Server]:
    if shutil.which("redis-server") is None and not Path("/usr/bin/redis-server").exists():
        pytest.skip("redis-server is not installed")
    server = Server(tmp_path)
    server.start()
    yield server
    server.stop()


def test_jobs_and_leases_survive_a_restart_and_the_client_reconnects(server: Server) -> None:
    queue = RedisQueue(f"redis://127.0.0.1:{server.port}/0")
    try:
        for job in ("a", "b", "c"):
            queue.enqueue(job, priority=PRIORITY_FREE, batch_key="k")
        (held,) = queue.claim(worker="w1", max_items=1, lease_seconds=30)
        (short,) = queue.claim(worker="w1", max_items=1, lease_seconds=1.0)
        assert (held.job_id, short.job_id) == ("a", "b")
        # 1. The server goes away; it is back 0.5 s later, while the next call is retrying.
        server.stop()
        later = threading.Timer(0.5, server.start)
        later.start()
        try:
            depth = queue.depth()
        finally:
            later.join()
        # 2. Nothing was lost: one job waits, two are leased, under their own leases.
        assert depth.visible == {PRIORITY_FREE: 1} and depth.in_flight == {PRIORITY_FREE: 2}
        time.sleep(1.1)  # b's one-second lease runs out (counted from before the restart)
        batch = queue.claim(worker="w2", max_items=4, lease_seconds=30)
        assert [(d.job_id, d.deliveries) for d in batch] == [("b", 2), ("c", 1)]
        # 3. The holder of a, still alive, finishes it with the receipt it got before the restart.
        queue.renew([held], lease_seconds=30)
        queue.ack(held)
        queue.ack(short)  # b is w2's now: w1's late ack is ignored
        for delivery in batch:
            queue.ack(delivery)
        assert queue.depth().visible == {} and queue.depth().in_flight == {}
    finally:
        queue.close()
