"""The Redis queue: one stream per priority, read through one consumer group, leases in the PEL.

Every entry a worker may claim sits in the group's pending list (PEL); its delivery time there
encodes when it becomes visible again: `visible_at = delivery_time + HORIZON`, so "idle for at
least HORIZON" (`XPENDING ... IDLE`) is "its lease has run out". Claiming is XCLAIM with the
delivery time set to `now + lease - HORIZON`; renewing sets it again, releasing sets it to
`now + delay - HORIZON` under a consumer that holds nothing for anyone. Unlike a plain
XAUTOCLAIM with one min-idle-time, this gives each entry its own lease (a renewal, a release
delay) and survives a restart exactly, as the PEL is persisted with its delivery times.
New entries are read into the PEL (XREADGROUP `>`) only once a claim has seen every visible one.
Each operation is one Lua script, so a claim (find the batch key, take the matching entries,
leave the others untouched) is atomic with respect to other workers, and all state lives in
Redis: any number of worker processes share it, and a client reconnects and carries on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
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

# Helpers every script below starts with; times are Redis server time, in ms.
_PRELUDE = f"local G, READY, H = '{GROUP}', '{READY}', {HORIZON_MS}\n" + """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function int(n) return string.format('%d', n) end
-- A consumer that holds nothing is deleted, so dead workers' names do not pile up in the group.
local function forget(stream, consumer)
  if consumer ~= READY and #redis.call('XPENDING', stream, G, '-', '+', 1, consumer) == 0 then
    redis.call('XGROUP', 'DELCONSUMER', stream, G, consumer)
  end
end
-- Only the current holder (same worker, same handout) may renew, ack or release.
local function held(stream, counts, id, job_id, count, worker)
  local p = redis.call('XPENDING', stream, G, id, id, 1)
  if #p == 0 or p[1][2] ~= worker then return false end
  return redis.call('HGET', counts, job_id) == count
end
"""

# KEYS: stream, ids. ARGV: job_id, batch_key, priority.
_ENQUEUE = """
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 0 end
local id = redis.call('XADD', KEYS[1], '*', 'job_id', ARGV[1], 'batch_key', ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3] .. '/' .. id)
return 1
"""

# KEYS: ids, counts, dead, then one stream per priority in claim order.
# ARGV: worker, max_items, lease_ms, max_deliveries, batch key ('' for any), then the priorities
# in the same order.
_CLAIM = _PRELUDE + f"local SCAN_LIMIT, PULL = {SCAN_LIMIT}, {PULL}\n" + """
local ids, counts, dead = KEYS[1], KEYS[2], KEYS[3]
local worker, max_items, lease, max_deliveries = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local now = now_ms()
local batch_key, taken, scanned = nil, {}, 0
if ARGV[5] ~= '' then batch_key = ARGV[5] end
local function field(flat, name)
  for i = 1, #flat, 2 do if flat[i] == name then return flat[i + 1] end end
end
for s = 4, #KEYS do
  local stream, priority = KEYS[s], ARGV[s + 2]
  local cursor, pulled_all = '-', false
  while #taken < max_items and scanned < SCAN_LIMIT do
    local page = redis.call('XPENDING', stream, G, 'IDLE', int(H), cursor, '+', PULL)
    if #page == 0 then
      -- 1. Visible entries in the PEL are older than new ones: only now pull new ones in, as
      --    visible entries held by nobody (a pull is not a delivery).
      if pulled_all then break end
      local read = redis.call('XREADGROUP', 'GROUP', G, READY, 'COUNT', PULL, 'STREAMS', stream, '>')
      if not read then break end
      for _, entry in ipairs(read[1][2]) do
        redis.call('XCLAIM', stream, G, READY, 0, entry[1], 'TIME', 0, 'JUSTID')
      end
      pulled_all = #read[1][2] < PULL
    end
    for _, pending in ipairs(page) do
      local id, owner = pending[1], pending[2]
      cursor = '(' .. id
      scanned = scanned + 1
      local entry = redis.call('XRANGE', stream, id, id)[1]
      if entry == nil then
        redis.call('XACK', stream, G, id)  -- deleted behind our back: nothing to hand out
      else
        local job_id, key = field(entry[2], 'job_id'), field(entry[2], 'batch_key')
        if batch_key == nil or key == batch_key then
          local count = tonumber(redis.call('HGET', counts, job_id) or '0')
          if count >= max_deliveries then
            -- 2. Handed out too often (it keeps killing workers): dead-letter it instead.
            redis.call('XADD', dead, 'MAXLEN', '~', 100000, '*', 'job_id', job_id, 'batch_key', key,
              'priority', priority, 'deliveries', count, 'reason', 'delivered ' .. count .. ' times')
            redis.call('XACK', stream, G, id)
            redis.call('XDEL', stream, id)
            redis.call('HDEL', ids, job_id)
            redis.call('HDEL', counts, job_id)
            forget(stream, owner)
          else
            -- 3. The first visible entry sets the batch key (unless one was asked for); lease it
            --    and its matches.
            batch_key = key
            count = redis.call('HINCRBY', counts, job_id, 1)
            redis.call('XCLAIM', stream, G, worker, 0, id, 'TIME', int(now + lease - H), 'JUSTID')
            if owner ~= worker then forget(stream, owner) end
            taken[#taken + 1] = {job_id, id, count, key, priority}
          end
        end
      end
      if #taken >= max_items or scanned >= SCAN_LIMIT then break end
    end
  end
end
return taken
"""

# KEYS: stream, counts. ARGV: id, job_id, count, worker, lease_ms.
_RENEW = _PRELUDE + """
if not held(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4]) then return 0 end
redis.call('XCLAIM', KEYS[1], G, ARGV[4], 0, ARGV[1], 'TIME', int(now_ms() + tonumber(ARGV[5]) - H), 'JUSTID')
return 1
"""

# KEYS: stream, counts, ids. ARGV: id, job_id, count, worker.
_ACK = _PRELUDE + """
if not held(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4]) then return 0 end
redis.call('XACK', KEYS[1], G, ARGV[1])
redis.call('XDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[2])
forget(KEYS[1], ARGV[4])
return 1
"""

# KEYS: stream, counts. ARGV: id, job_id, count, worker, delay_ms.
_RELEASE = _PRELUDE + """
if not held(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4]) then return 0 end
redis.call('XCLAIM', KEYS[1], G, READY, 0, ARGV[1], 'TIME', int(now_ms() + tonumber(ARGV[5]) - H), 'JUSTID')
forget(KEYS[1], ARGV[4])
return 1
"""

# KEYS: stream, counts, ids. ARGV: job_id, the ids entry ("priority/entry id") read before.
_REMOVE = _PRELUDE + """
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then return 0 end
local id = string.match(ARGV[2], '/(.*)$')
local p = redis.call('XPENDING', KEYS[1], G, id, id, 1)
redis.call('XACK', KEYS[1], G, id)
redis.call('XDEL', KEYS[1], id)
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
if #p > 0 then forget(KEYS[1], p[1][2]) end
return 1
"""

# KEYS: one stream per priority. Returns now, then (visible, in flight, oldest visible id) each.
_DEPTH = _PRELUDE + """
local out = {now_ms()}
for s = 1, #KEYS do
  local stream = KEYS[s]
  local summary = redis.call('XPENDING', stream, G)
  local pending, last_pending = summary[1], summary[3]
  local visible_pending, oldest, cursor = 0, '', '-'
  repeat
    local page = redis.call('XPENDING', stream, G, 'IDLE', int(H), cursor, '+', 1000)
    if #page > 0 then
      if oldest == '' then oldest = page[1][1] end
      cursor = '(' .. page[#page][1]
    end
    visible_pending = visible_pending + #page
  until #page < 1000
  -- Acked entries are deleted, so whatever the stream holds beyond the PEL is undelivered.
  local undelivered = math.max(0, redis.call('XLEN', stream) - pending)
  if oldest == '' and undelivered > 0 then
    local first = redis.call('XRANGE', stream, last_pending and ('(' .. last_pending) or '-', '+', 'COUNT', 1)
    if #first > 0 then oldest = first[1][1] end
  end
  out[#out + 1] = visible_pending + undelivered
  out[#out + 1] = pending - visible_pending
  out[#out + 1] = oldest
end
return out
"""


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
        self._enqueue = self.client.register_script(_ENQUEUE)
        self._claim = self.client.register_script(_CLAIM)
        self._renew = self.client.register_script(_RENEW)
        self._ack = self.client.register_script(_ACK)
        self._release = self.client.register_script(_RELEASE)
        self._remove = self.client.register_script(_REMOVE)
        self._depth = self.client.register_script(_DEPTH)
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

    def take_dead(self, *, max_items: int) -> list[DeadLetter]:
        entries = self.client.xrange(self.dead_key, count=max_items)
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

