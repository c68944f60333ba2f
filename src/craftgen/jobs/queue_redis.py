"""The Redis queue: one stream per priority, read through one consumer group, leases in the PEL.

Every entry a worker may claim sits in the group's pending list (PEL); its delivery time there
encodes when it becomes visible again: `visible_at = delivery_time + HORIZON`, so "idle for at
least HORIZON" (`XPENDING ... IDLE`) is "its lease has run out". Claiming is XCLAIM with the
delivery time set to `now + lease - HORIZON`; renewing sets it again, releasing sets it to
`now + delay - HORIZON` under a consumer that holds nothing for anyone. Unlike a plain
XAUTOCLAIM with one min-idle-time, this gives each entry its own lease (a renewal, a release
delay) and survives a restart exactly, as the PEL is persisted with its delivery times.
New entries are read into the PEL (XREADGROUP `>`) only once a claim has seen every visible one.
Each operation is one Lua script (redis_lua/*.lua), so a claim (find the batch key, take the
matching entries, leave the others untouched) is atomic with respect to other workers, and all
state lives in Redis: any number of worker processes share it, and a client reconnects and
carries on.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, ResponseError, TimeoutError
from redis.retry import Retry

from craftgen.jobs.queue import PRIORITIES, DeadLetter, Delivery, QueueDepth

GROUP = "workers"
READY = "~ready"  # the consumer that owns entries no worker holds (pulled, released, regrouped)
HORIZON_MS = 2**40  # ~35 years: longer than any lease, shorter than the time since 1970
SCAN_LIMIT = 1000  # visible entries a claim looks at for its batch, per claim
PULL = 100  # new entries moved into the PEL at a time


def _lua(name: str) -> str:
    return (resources.files("craftgen.jobs") / "redis_lua" / f"{name}.lua").read_text(encoding="utf-8")


def _constants(**values: str | int) -> str:
    """One Lua line defining `values`, e.g. `local G, H = 'workers', 1099511627776`."""
    literals = (f"'{value}'" if isinstance(value, str) else str(value) for value in values.values())
    return f"local {', '.join(values)} = {', '.join(literals)}\n"


def _script(name: str, **constants: str | int) -> str:
    """redis_lua/NAME.lua after the helpers every script starts with (redis_lua/prelude.lua) and
    the constants they share, plus any of its own."""
    shared = _constants(G=GROUP, READY=READY, H=HORIZON_MS) + _lua("prelude")
    return shared + (_constants(**constants) if constants else "") + _lua(name)


class RedisQueue:
    def __init__(self, url: str, *, prefix: str = "craftgen", max_deliveries: int = 10) -> None:
        if max_deliveries < 1:
            raise ValueError(f"max_deliveries must be at least 1, got {max_deliveries}")
        self.prefix = prefix
        self.max_deliveries = max_deliveries
        # A restart or failover drops connections: retry with backoff (about 7 s in all) on a
        # fresh connection; scripts evicted by the restart are loaded again by redis-py.
        self.client: redis.Redis = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=10,
            socket_connect_timeout=5,
            health_check_interval=30,
            retry=Retry(ExponentialBackoff(cap=2.0, base=0.1), 6),
            retry_on_error=[ConnectionError, TimeoutError],
        )
        self.streams = {priority: f"{prefix}:jobs:{priority}" for priority in PRIORITIES}
        self.ids_key = f"{prefix}:ids"  # job_id -> "priority/entry id": idempotent enqueue, remove
        self.counts_key = f"{prefix}:deliveries"  # job_id -> handouts so far
        self.dead_key = f"{prefix}:dead"
        # Each operation is one script in redis_lua/ (see there for its KEYS and ARGV).
        self._enqueue = self.client.register_script(_script("enqueue"))
        self._claim = self.client.register_script(_script("claim", SCAN_LIMIT=SCAN_LIMIT, PULL=PULL))
        self._renew = self.client.register_script(_script("renew"))
        self._ack = self.client.register_script(_script("ack"))
        self._release = self.client.register_script(_script("release"))
        self._remove = self.client.register_script(_script("remove"))
        self._depth = self.client.register_script(_script("depth"))
        self._create_groups()

    def _create_groups(self) -> None:
        for stream in self.streams.values():
            try:
                self.client.xgroup_create(stream, GROUP, id="0", mkstream=True)
            except ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise

    def _run(self, script: Any, keys: list[str], args: list[object]) -> Any:
        try:
            return script(keys=keys, args=args)
        except ResponseError as error:
            if "NOGROUP" not in str(error):
                raise
            # The streams were deleted (FLUSHDB, a restart without persistence): start over.
            self._create_groups()
            return script(keys=keys, args=args)

    def _stream(self, priority: int) -> str:
        try:
            return self.streams[priority]
        except KeyError:
            raise ValueError(f"priority must be one of {PRIORITIES}, got {priority}") from None

    def enqueue(self, job_id: str, *, priority: int, batch_key: str) -> None:
        keys, args = [self._stream(priority), self.ids_key], [job_id, batch_key, priority]
        if self._run(self._enqueue, keys, args):
            return
        # Already queued, unless its entry was lost (a stream deleted by hand): then queue it again.
        where = self.client.hget(self.ids_key, job_id)
        if where is not None:
            held_in, entry_id = str(where).split("/", 1)
            if not self.client.xrange(self._stream(int(held_in)), entry_id, entry_id):
                self.remove(job_id)
                self._run(self._enqueue, keys, args)

    def claim(
        self, *, worker: str, max_items: int, lease_seconds: float, batch_key: str | None = None
    ) -> list[Delivery]:
        if worker == READY:
            raise ValueError(f"worker name {READY!r} is reserved")
        if max_items < 1:
            return []
        rows = self._run(
            self._claim,
            [self.ids_key, self.counts_key, self.dead_key, *self.streams.values()],
            [worker, max_items, _ms(lease_seconds), self.max_deliveries, batch_key or "", *self.streams.keys()],
        )
        return [
            Delivery(
                job_id=job_id,
                receipt=_receipt(entry_id, int(count), worker),
                deliveries=int(count),
                batch_key=batch_key,
                priority=int(priority),
            )
            for job_id, entry_id, count, batch_key, priority in rows
        ]

    def renew(self, deliveries: Sequence[Delivery], *, lease_seconds: float) -> None:
        for delivery in deliveries:
            entry_id, count, worker = _parse(delivery.receipt)
            self._run(
                self._renew,
                [self._stream(delivery.priority), self.counts_key],
                [entry_id, delivery.job_id, count, worker, _ms(lease_seconds)],
            )

    def ack(self, delivery: Delivery) -> None:
        entry_id, count, worker = _parse(delivery.receipt)
        self._run(
            self._ack,
            [self._stream(delivery.priority), self.counts_key, self.ids_key],
            [entry_id, delivery.job_id, count, worker],
        )

    def release(self, delivery: Delivery, *, delay: float = 0.0) -> None:
        entry_id, count, worker = _parse(delivery.receipt)
        self._run(
            self._release,
            [self._stream(delivery.priority), self.counts_key],
            [entry_id, delivery.job_id, count, worker, _ms(delay)],
        )

    def remove(self, job_id: str) -> None:
        where = self.client.hget(self.ids_key, job_id)
        if where is None:
            return
        priority = int(str(where).split("/", 1)[0])
        self._run(self._remove, [self._stream(priority), self.counts_key, self.ids_key], [job_id, where])

    def missing(self, job_ids: Sequence[str]) -> set[str]:
        ids = list(job_ids)
        if not ids:
            return set()
        places = cast(list[str | None], self.client.hmget(self.ids_key, ids))
        lost = {job_id for job_id, where in zip(ids, places, strict=True) if where is None}
        held = [(job_id, str(where).split("/", 1)) for job_id, where in zip(ids, places, strict=True) if where]
        pipe = self.client.pipeline(transaction=False)
        for _, (priority, entry_id) in held:
            pipe.xrange(self._stream(int(priority)), entry_id, entry_id)
        for (job_id, _), found in zip(held, pipe.execute(), strict=True):
            if not found:  # the id is known but its stream entry is gone
                lost.add(job_id)
        return lost

    def take_dead(self, *, max_items: int) -> list[DeadLetter]:
        # The client decodes responses (decode_responses=True): ids and fields are str.
        entries = cast(list[tuple[str, dict[str, str]]], self.client.xrange(self.dead_key, count=max_items))
        return [
            DeadLetter(job_id=fields["job_id"], receipt=entry_id, reason=fields.get("reason", "dead-lettered"))
            for entry_id, fields in entries
            if "job_id" in fields
        ]

    def forget_dead(self, letter: DeadLetter) -> None:
        self.client.xdel(self.dead_key, letter.receipt)

    def depth(self) -> QueueDepth:
        now, *rows = self._run(self._depth, list(self.streams.values()), [])
        visible: dict[int, int] = {}
        in_flight: dict[int, int] = {}
        oldest = 0.0
        for index, priority in enumerate(self.streams):
            waiting, running, first = rows[3 * index : 3 * index + 3]
            if int(waiting):
                visible[priority] = int(waiting)
            if int(running):
                in_flight[priority] = int(running)
            if first:  # an entry id starts with the time it was added, in ms
                oldest = max(oldest, (int(now) - int(str(first).split("-", 1)[0])) / 1000)
        return QueueDepth(visible=visible, in_flight=in_flight, oldest_visible_age=oldest)

    def check(self) -> None:
        self.client.ping()

    def close(self) -> None:
        self.client.close()


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def _receipt(entry_id: str, count: int, worker: str) -> str:
    return f"{entry_id}/{count}/{worker}"


def _parse(receipt: str) -> tuple[str, str, str]:
    entry_id, count, worker = receipt.split("/", 2)
    return entry_id, count, worker


def from_url(url: str) -> RedisQueue:
    """`redis://HOST:PORT/DB[?prefix=craftgen&max_deliveries=10]` (rediss:// for TLS)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    prefix = query.pop("prefix", "craftgen")
    max_deliveries = int(query.pop("max_deliveries", "10"))
    # Whatever is left (e.g. socket options) is redis-py's own.
    rest = urlunsplit(parts._replace(query=urlencode(query)))
    return RedisQueue(rest, prefix=prefix, max_deliveries=max_deliveries)

