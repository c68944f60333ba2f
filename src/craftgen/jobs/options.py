"""How a worker claims and reports, and what the job service allows: frozen values built from Settings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WorkerOptions:
    batch_size: int = 4  # jobs per diffusion call, at most
    batch_max_images: int = 8  # images per diffusion call (num_images summed), at most
    batch_wait: float = 0.02  # seconds a part-full batch waits for more jobs with its key
    lease_seconds: float = 60.0  # renewed every third of it while the batch runs
    max_attempts: int = 3  # deliveries before a job is given up as failed
    poll_interval: float = 0.5  # idle wait between claims
    progress_interval: float = 0.5  # at most one progress write per this many seconds
    retry_delay: float = 2.0  # before a failed attempt is visible again
    previews: bool = True  # progress writes carry a small preview of the current latents
    preview_interval: float = 1.0  # at most one preview per this many seconds
    preview_size: int = 128  # a preview's longest side, in pixels
    # A worker that has not stepped (no diffusion step, no loop turn) for this long is hung: it
    # stops renewing its leases, so its jobs go to other workers, and stops touching alive_file.
    stall_seconds: float = 600.0
    alive_file: str = ""  # touched while healthy, for a liveness probe (deploy/k8s/worker.yaml)
    dead_letter_interval: float = 30.0  # how often an idle worker marks dead-lettered jobs failed
    # A queued job with no queue entry this much older than its submission (or its enqueue) is
    # enqueued again by the sweep that runs with the dead-letter one.
    stranded_grace: float = 60.0


@dataclass(frozen=True)
class JobPolicy:
    """What the job service allows a user."""

    free_active_jobs: int = 1  # a user's uncharged (free-priority) jobs queued or running at once
    pro_monthly_credits: int = 200  # a pro user's speed credits each month (one per image)
    max_request_models: tuple[str, ...] = ()  # models the API may name; empty: the registry's
