"""The fleet as a discrete-event simulation (SimPy): jobs arrive on the day's curve into a queue
with two priorities and one lane per batch key; workers claim batches (pro first, oldest head
first) and run them for the service model's time; the burst Deployment's replica count is set the
way KEDA and the HPA set it from the rule read from the manifests (KEDA: activation and cooldown
every pollingInterval; the HPA: every sync period, AverageValue, 10 % tolerance, stabilization
windows and rate policies); a new pod pays the cold start; spot workers are interrupted at a
rate, with a notice. Every job that arrives is finished or counted as lost."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import simpy

from craftgen.fleet.arrivals import DAY_S, RateCurve, arrival_times
from craftgen.fleet.manifests import ScalingRule
from craftgen.fleet.model import Params
from craftgen.fleet.scaler import Autoscaler

Proc = Generator[simpy.Event, Any, None]


@dataclass(frozen=True)
class Policy:
    """How the fleet is run: a static on-demand fleet (`static_workers`), or the manifests' floor and
    autoscaled burst (`rule`), with the burst's pool overridable to compare spot with on-demand."""

    name: str
    rule: ScalingRule | None = None
    static_workers: int = 0
    burst_pool: str | None = None  # None: the manifests' placement

    def pool(self) -> str:
        if self.rule is None:
            return "on-demand"
        return self.burst_pool or self.rule.burst_pool


@dataclass
class Job:
    id: int
    arrival: float
    priority: int
    kind: int
    started: float = -1.0
    attempts: int = 0


@dataclass
class Sample:
    t: float
    waiting: int
    in_flight: int
    ready: int
    starting: int
    burst_replicas: int


@dataclass
class Span:
    """One worker's billed life (node requested to pod gone)."""

    pool: str
    start: float
    end: float


@dataclass
class Outcome:
    """What one run measured."""

    policy: str
    arrivals: list[float] = field(default_factory=list)  # of finished jobs, same order as waits
    waits: list[float] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    arrived: int = 0
    finished: int = 0
    interruptions: int = 0
    handed_back: int = 0
    redelivered_after_lease: int = 0
    spike: tuple[float, float] = (0.0, 0.0)
    end_s: float = 0.0

    @property
    def lost(self) -> int:
        return self.arrived - self.finished


class _Queue:
    """Waiting jobs per (priority, batch key); `counts` is waiting + running per priority (what the
    Redis stream length or SQS visible + in-flight counts)."""

    def __init__(self, kinds: int) -> None:
        self.lanes: dict[tuple[int, int], deque[Job]] = {(p, k): deque() for p in (1, 0) for k in range(kinds)}
        self.waiting = 0
        self.counts: dict[int, int] = {1: 0, 0: 0}

    def push(self, job: Job, *, front: bool = False, new: bool = True) -> None:
        lane = self.lanes[(job.priority, job.kind)]
        lane.appendleft(job) if front else lane.append(job)
        self.waiting += 1
        if new:
            self.counts[job.priority] += 1

    def claim(self, *, batch_size: int, max_images: int, images_per_job: list[int]) -> list[Job]:
        heads = [(lane[0].priority, -lane[0].arrival, key) for key, lane in self.lanes.items() if lane]
        if not heads:
            return []
        _, _, (priority, kind) = max(heads)
        per_batch = max(1, min(batch_size, max_images // images_per_job[kind]))
        batch: list[Job] = []
        for p in (priority, 0) if priority == 1 else (0,):
            lane = self.lanes[(p, kind)]
            while lane and len(batch) < per_batch:
                batch.append(lane.popleft())
        self.waiting -= len(batch)
        return batch

    def done(self, job: Job) -> None:
        self.counts[job.priority] -= 1


class _Worker:
    def __init__(self, fleet: _Fleet, *, pool: str, warm: bool, deployment: _Deployment) -> None:
        self.fleet, self.pool, self.deployment = fleet, pool, deployment
        env = fleet.env
        self.created = env.now
        self.ready_at = -1.0
        self.state = "starting"
        self.stopping = False
        self.stop_event = env.event()
        self.batch: list[Job] = []
        self.batch_end = 0.0
        self.process = env.process(self.run(warm))
        rate = fleet.params.spot.interruptions_per_hour
        if pool == "spot" and rate > 0:
            env.process(self.reclaim_after(fleet.rng.expovariate(rate / 3600.0)))

    def run(self, warm: bool) -> Proc:
        fleet, env = self.fleet, self.fleet.env
        if not warm:
            try:
                yield env.timeout(fleet.params.cold_start.total_s)
            except simpy.Interrupt:
                self.gone()
                return
        self.state, self.ready_at = "ready", env.now
        while not self.stopping:
            batch = fleet.queue.claim(
                batch_size=fleet.batch_size, max_images=fleet.params.service.max_images, images_per_job=fleet.images
            )
            if not batch:
                try:
                    yield fleet.wake() | self.stop_event
                except simpy.Interrupt:
                    break
                continue
            kind = fleet.params.mix[batch[0].kind]
            duration = fleet.params.service.batch_s(kind, jobs=len(batch), images=len(batch) * kind.num_images)
            for job in batch:
                job.started = env.now
                job.attempts += 1
            self.batch, self.batch_end = batch, env.now + duration
            try:
                yield env.timeout(duration)
            except simpy.Interrupt:
                break  # the node went, or the jobs were handed back: either way they are requeued
            fleet.finish(batch)
            self.batch = []
        self.gone()

    def stop(self) -> None:
        """SIGTERM (scale-in): stop claiming, finish the batch in hand, exit."""
        if self.stopping:
            return
        self.stopping = True
        if self.state == "starting":
            self.process.interrupt()
        elif not self.stop_event.triggered:
            self.stop_event.succeed()

    def reclaim_after(self, delay: float) -> Proc:
        fleet, env = self.fleet, self.fleet.env
        yield env.timeout(delay)
        if self.state == "gone":
            return
        fleet.outcome.interruptions += 1
        notice = fleet.params.spot.notice_s
        starting = self.state == "starting"
        self.stop()
        self.deployment.reconcile()  # the pod is evicted: its Deployment makes a new one now
        if starting or not self.batch:
            return
        if self.batch_end - env.now + fleet.params.spot.finish_margin_s <= notice:
            return  # it ends before the deadline: finish it, then exit
        batch = self.batch
        if fleet.params.spot.hand_back:
            fleet.outcome.handed_back += len(batch)
            fleet.requeue(batch)
            self.batch = []
            self.process.interrupt()
            return
        yield env.timeout(notice)  # no hand-back: the node dies with the batch in hand
        if self.batch is batch and self.state != "gone":
            self.batch = []
            self.process.interrupt()
            yield env.timeout(fleet.lease_s)  # the leases run out, then another worker takes them
            fleet.outcome.redelivered_after_lease += len(batch)
            fleet.requeue(batch)

    def gone(self) -> None:
        self.state = "gone"
        self.fleet.outcome.spans.append(Span(self.pool, self.created, self.fleet.env.now))
        self.deployment.forget(self)


class _Deployment:
    """A Deployment's pods: as many live (not terminating) workers as `replicas`."""

    def __init__(self, fleet: _Fleet, *, pool: str, replicas: int, warm: bool) -> None:
        self.fleet, self.pool, self.replicas = fleet, pool, replicas
        self.workers: list[_Worker] = []
        fleet.deployments.append(self)
        self.reconcile(warm=warm)

    def live(self) -> list[_Worker]:
        return [w for w in self.workers if not w.stopping]

    def reconcile(self, *, warm: bool = False) -> None:
        live = self.live()
        for _ in range(self.replicas - len(live)):
            self.workers.append(_Worker(self.fleet, pool=self.pool, warm=warm, deployment=self))
        if len(live) > self.replicas:
            # The ReplicaSet deletes not-ready pods first, then the most recently ready.
            order = sorted(live, key=lambda w: (w.state == "ready", -(w.ready_at if w.ready_at >= 0 else w.created)))
            for worker in order[: len(live) - self.replicas]:
                worker.stop()

    def scale(self, replicas: int) -> None:
        if replicas != self.replicas:
            self.replicas = replicas
            self.reconcile()

    def forget(self, worker: _Worker) -> None:
        if worker in self.workers:
            self.workers.remove(worker)


class _Autoscaler:
    """The shared KEDA + HPA decisions (scaler.py) on the simulation's clock."""

    def __init__(self, fleet: _Fleet, rule: ScalingRule, burst: _Deployment) -> None:
        self.fleet, self.rule, self.burst = fleet, rule, burst
        self.decide = Autoscaler(rule)
        fleet.env.process(self.keda())
        fleet.env.process(self.hpa())

    def keda(self) -> Proc:
        env = self.fleet.env
        while True:
            replicas = self.decide.keda(
                env.now,
                counts=self.fleet.queue.counts,
                minute_of_day=(env.now % DAY_S) / 60,
                current=self.burst.replicas,
            )
            self.burst.scale(replicas)
            yield env.timeout(self.rule.polling_s)

    def hpa(self) -> Proc:
        env = self.fleet.env
        while True:
            yield env.timeout(self.fleet.params.hpa_sync_s)
            replicas = self.decide.hpa(
                env.now,
                counts=self.fleet.queue.counts,
                minute_of_day=(env.now % DAY_S) / 60,
                current=self.burst.replicas,
            )
            self.burst.scale(replicas)


class _Fleet:
    def __init__(self, *, policy: Policy, curve: RateCurve, params: Params, seed: int) -> None:
        self.env = simpy.Environment()
        self.params, self.policy, self.curve = params, policy, curve
        # Two streams: the arrivals depend on the seed alone, so every policy sees the same jobs.
        self.arrival_rng = random.Random(seed)
        self.rng = random.Random(f"spot-{seed}")
        self.queue = _Queue(len(params.mix))
        self.images = [kind.num_images for kind in params.mix]
        rule = policy.rule
        self.batch_size = rule.batch_size if rule else 4
        self.lease_s = rule.lease_s if rule else 120.0
        self.outcome = Outcome(policy=policy.name, spike=curve.spike_window())
        self._wake = self.env.event()
        self.deployments: list[_Deployment] = []
        if rule is None:
            _Deployment(self, pool="on-demand", replicas=policy.static_workers, warm=True)
            self.burst: _Deployment | None = None
        else:
            _Deployment(self, pool=rule.floor_pool, replicas=rule.floor_replicas, warm=True)
            self.burst = _Deployment(self, pool=policy.pool(), replicas=0, warm=False)
            _Autoscaler(self, rule, self.burst)

    def wake(self) -> simpy.Event:
        return self._wake

    def notify(self) -> None:
        if self._wake.callbacks:
            self._wake.succeed()
            self._wake = self.env.event()

    def finish(self, batch: list[Job]) -> None:
        outcome = self.outcome
        for job in batch:
            self.queue.done(job)
            outcome.finished += 1
            outcome.arrivals.append(job.arrival)
            outcome.waits.append(job.started - job.arrival)

    def requeue(self, batch: list[Job]) -> None:
        for job in reversed(batch):
            self.queue.push(job, front=True, new=False)
        self.notify()

    def arrivals(self) -> Proc:
        rng = self.arrival_rng
        weights = [kind.weight for kind in self.params.mix]
        kinds = list(range(len(weights)))
        for number, t in enumerate(arrival_times(self.curve, rng=rng)):
            yield self.env.timeout(t - self.env.now)
            priority = 1 if rng.random() < self.params.pro_fraction else 0
            kind = rng.choices(kinds, weights)[0] if len(kinds) > 1 else 0
            self.queue.push(Job(number, t, priority, kind))
            self.outcome.arrived += 1
            self.notify()

    def sampler(self, workers: list[_Deployment]) -> Proc:
        while True:
            ready = starting = 0
            for deployment in workers:
                for worker in deployment.workers:
                    ready += worker.state == "ready"
                    starting += worker.state == "starting"
            counts = self.queue.counts
            self.outcome.samples.append(
                Sample(
                    t=self.env.now,
                    waiting=self.queue.waiting,
                    in_flight=counts[0] + counts[1] - self.queue.waiting,
                    ready=ready,
                    starting=starting,
                    burst_replicas=self.burst.replicas if self.burst else 0,
                )
            )
            yield self.env.timeout(self.params.sample_s)


def simulate(policy: Policy, *, curve: RateCurve, params: Params | None = None, seed: int = 0) -> Outcome:
    """One run of the day under a policy; the same seed gives the same outcome."""
    params = params or Params()
    fleet = _Fleet(policy=policy, curve=curve, params=params, seed=seed)
    deployments = fleet.deployments
    fleet.env.process(fleet.arrivals())
    fleet.env.process(fleet.sampler(deployments))
    end = curve.end_s
    fleet.env.run(until=end)
    # Past the curve's end, run until the last job is done (or the drain time is up).
    limit = end + params.drain_s
    while fleet.queue.counts[0] + fleet.queue.counts[1] > 0 and fleet.env.now < limit:
        fleet.env.run(until=min(fleet.env.now + 60.0, limit))
    fleet.outcome.end_s = fleet.env.now
    for deployment in deployments:
        for worker in list(deployment.workers):
            fleet.outcome.spans.append(Span(worker.pool, worker.created, fleet.env.now))
    return fleet.outcome
