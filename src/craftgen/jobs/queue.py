"""The queue interface: who runs which job, under a lease. One file per backend implements it.

The queue never holds a job's state (the `jobs` table does); it only hands job ids to workers
with a lease (visibility timeout) that a worker renews while it works. An entry whose lease
runs out is handed out again, with its delivery count raised, so a killed worker loses nothing
and a job that kills every worker is given up after N deliveries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

PRIORITY_FREE = 0
PRIORITY_PRO = 1
PRIORITIES = (PRIORITY_PRO, PRIORITY_FREE)  # claim order


@dataclass(frozen=True)
class Delivery:
    """One job handed to one worker. `receipt` is the backend's handle for renew/ack/release."""

    job_id: str
    receipt: str
    deliveries: int  # times this job was handed out, this one included
    batch_key: str
    priority: int


@dataclass(frozen=True)
class DeadLetter:
    """A job the queue gave up handing out (too many deliveries); the worker marks it failed."""

    job_id: str
    receipt: str  # the backend's handle for forget_dead
    reason: str


@dataclass(frozen=True)
class QueueDepth:
    """What an autoscaler needs: waiting and running jobs per priority, and the oldest wait."""

    visible: dict[int, int] = field(default_factory=dict)
    in_flight: dict[int, int] = field(default_factory=dict)
    oldest_visible_age: float = 0.0


class JobQueue(Protocol):
    def enqueue(self, job_id: str, *, priority: int, batch_key: str) -> None:
        """Make a job available to workers."""

    def claim(
        self, *, worker: str, max_items: int, lease_seconds: float, batch_key: str | None = None
    ) -> list[Delivery]:
        """Up to `max_items` visible jobs sharing one batch key, highest priority first. The
        oldest visible job sets the key, unless `batch_key` names it (a worker topping up the
        batch it holds); entries with another key are left as they are."""

    def renew(self, deliveries: Sequence[Delivery], *, lease_seconds: float) -> None:
        """Extend the leases (heartbeat) of jobs this worker still holds."""

    def ack(self, delivery: Delivery) -> None:
        """The job is finished (its final state is written): remove it."""

    def release(self, delivery: Delivery, *, delay: float = 0.0) -> None:
        """Hand an unfinished job back (shutdown, retry), visible again after `delay` seconds."""

    def remove(self, job_id: str) -> None:
        """Drop a job that will never run (canceled, or given up as dead)."""

    def missing(self, job_ids: Sequence[str]) -> set[str]:
        """Which of these jobs the queue holds no entry for (lost writes, entries deleted behind
        its back), so the stranded-job sweep can enqueue them again. A backend that cannot be
        asked (SQS) answers none: it does not lose a message it acknowledged."""

    def take_dead(self, *, max_items: int) -> list[DeadLetter]:
        """Up to `max_items` dead-lettered jobs, so their rows can be marked failed; each stays
        in the dead letters until `forget_dead` (a reaper that dies in between loses nothing)."""

    def forget_dead(self, letter: DeadLetter) -> None:
        """Drop a dead letter whose job has been settled."""

    def depth(self) -> QueueDepth:
        """Visible and in-flight counts per priority."""

    def check(self) -> None:
        """Raise if the queue cannot be used (readiness)."""
