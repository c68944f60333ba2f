"""Spot interruption notices: a worker middleware that watches the cloud's instance-action
endpoint (its URL a setting, so tests serve a fake one on loopback) and takes SIGTERM from the
node's termination handler as a notice too. On notice the worker stops claiming; the batch in
hand finishes only if its measured step rate says it ends before the deadline (less a margin for
decoding and storing), otherwise the worker hands its jobs back at once (the `abort` event: leases
released, not left to run out) and exits."""

from __future__ import annotations

import datetime
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from urllib.parse import urlsplit

from craftgen.jobs.middleware import Middleware

log = logging.getLogger("craftgen.worker.spot")
TOKEN_TTL = "21600"  # IMDSv2 session token lifetime, seconds


class SpotNotice(Middleware):
    """Decides, from the notice's deadline and the batch's step rate, whether to finish or hand back."""

    def __init__(
        self,
        *,
        stop: threading.Event,
        abort: threading.Event,
        margin_s: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.stop, self.abort, self.margin_s, self.clock = stop, abort, margin_s, clock
        self.deadline: float | None = None
        self._first_step_at: float | None = None
        self._done = 0
        self._total = 0
        self._lock = threading.Lock()

    # The notice ----------------------------------------------------------------------------

    def notice(self, deadline: float) -> None:
        """An interruption at `deadline` (epoch seconds): stop claiming, then finish or hand back."""
        with self._lock:
            if self.deadline is not None and self.deadline <= deadline:
                return
            self.deadline = deadline
        log.warning("spot interruption notice: the node goes in %.0f s", deadline - self.clock())
        self.stop.set()
        self._decide()

    def remaining_s(self) -> float | None:
        """Seconds the batch in hand still needs, from its step rate; None before two steps."""
        if self._first_step_at is None or self._done < 2 or self._total <= 0:
            return None
        step_s = (self.clock() - self._first_step_at) / (self._done - 1)
        return (self._total - self._done) * step_s

    def _decide(self) -> None:
        if self.deadline is None or self.abort.is_set() or self._total == 0:
            return  # idle (stopping is enough) or already handing back
        remaining = self.remaining_s()
        if remaining is None:
            return  # decided at the next step, once there is a rate
        if self.clock() + remaining + self.margin_s > self.deadline:
            log.warning("batch needs %.0f s more, past the deadline: handing its jobs back", remaining)
            self.abort.set()

    # Middleware hooks -----------------------------------------------------------------------

    def on_loop_turn(self) -> None:
        self._first_step_at, self._done, self._total = None, 0, 0  # between batches

    def on_progress(self, done: int, total: int) -> None:
        if done <= 1 or done < self._done or self._first_step_at is None:
            self._first_step_at = self.clock()
        self._done, self._total = done, total
        if self.deadline is not None:
            self._decide()


class InstanceActionWatcher:
    """Polls the instance-action URL (AWS: /latest/meta-data/spot/instance-action, 404 until a
    notice; IMDSv2 tokens fetched when asked for) and hands a notice's time to `SpotNotice`."""

    def __init__(self, *, url: str, notice: SpotNotice, interval_s: float = 5.0, timeout_s: float = 2.0) -> None:
        self.url, self.notice, self.interval_s, self.timeout_s = url, notice, interval_s, timeout_s
        self._token: str | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="spot-notice", daemon=True)

    def start(self) -> InstanceActionWatcher:
        self._thread.start()
        return self

    def close(self) -> None:
        self._done.set()

    def check(self) -> float | None:
        """The deadline the endpoint announces now, or None."""
        body = self._get()
        if body is None:
            return None
        action = json.loads(body)
        if action.get("action") not in {"terminate", "stop", "hibernate"}:
            return None
        when = datetime.datetime.fromisoformat(str(action["time"]).replace("Z", "+00:00"))
        return when.timestamp()

    def _get(self) -> str | None:
        for attempt in range(2):
            headers = {"X-aws-ec2-metadata-token": self._token} if self._token else {}
            request = urllib.request.Request(self.url, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    return str(response.read().decode())
            except urllib.error.HTTPError as error:
                if error.code == 401 and attempt == 0:
                    self._token = self._fetch_token()
                    continue
                if error.code == 404:
                    return None  # no notice
                raise
        return None

    def _fetch_token(self) -> str:
        parts = urlsplit(self.url)
        request = urllib.request.Request(
            f"{parts.scheme}://{parts.netloc}/latest/api/token",
            method="PUT",
            headers={"X-aws-ec2-metadata-token-ttl-seconds": TOKEN_TTL},
        )
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            return str(response.read().decode())

    def _run(self) -> None:
        while not self._done.is_set():
            try:
                deadline = self.check()
            except (OSError, ValueError, KeyError) as error:  # the endpoint away or odd: keep watching
                log.debug("instance-action check failed: %s", error)
                deadline = None
            if deadline is not None:
                self.notice.notice(deadline)
                return
            self._done.wait(self.interval_s)
