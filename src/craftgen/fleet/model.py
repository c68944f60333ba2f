"""The simulator's parameters, each with its default and where that default comes from: the job
mix and its service time on one GPU, a worker's cold start, spot interruptions and prices."""

from __future__ import annotations

from dataclasses import dataclass, field

# Where the service-time defaults come from: the README's Performance table measures the SD 1.5
# UNet (real shapes) at 256 px, 3 DDIM steps, classifier-free guidance (batch 2), fp32: 6.0 s on the
# 2-core CPU, i.e. 2.0 s per step. The UNet's cost grows with the latent's area. GPU_SPEEDUP turns
# that into one GPU: an A10G-class GPU runs SD 1.5 at 512 px with guidance, fp16, at about 20
# steps a second (0.05 s a step); 2.0 s x (512/256)^2 / 0.05 s = 160.
CPU_STEP_S_AT_256 = 2.0
GPU_SPEEDUP = 160.0
# UNet/transformer cost per latent pixel against SD 1.5 (parameter counts: 0.86 B, 2.6 B, 12 B).
FAMILY_FACTOR = {"sd15": 1.0, "sdxl": 3.0, "flux": 14.0}


@dataclass(frozen=True)
class JobClass:
    """One kind of job in the mix; jobs batch only with their own kind (the batch key)."""

    name: str = "sd15-512-30"
    family: str = "sd15"
    width: int = 512
    height: int = 512
    steps: int = 30
    num_images: int = 1
    weight: float = 1.0


@dataclass(frozen=True)
class ServiceModel:
    """Seconds a batch takes on one GPU: per-job overhead + steps x step time, where each image past
    the first in a batch costs `batch_marginal` of the first (GPUs batch well at 512 px)."""

    cpu_step_s_at_256: float = CPU_STEP_S_AT_256
    gpu_speedup: float = GPU_SPEEDUP
    batch_marginal: float = 0.75
    # The service benchmark's +117 ms a job (queue, store, rows), plus the VAE decode and PNG.
    job_overhead_s: float = 0.117
    decode_s_per_image_at_512: float = 0.1
    max_images: int = 8  # CRAFTGEN_BATCH_MAX_IMAGES' role: what fits in memory

    def step_s(self, job: JobClass) -> float:
        area = job.width * job.height / 256**2
        return self.cpu_step_s_at_256 * area * FAMILY_FACTOR[job.family] / self.gpu_speedup

    def batch_s(self, job: JobClass, *, jobs: int, images: int) -> float:
        area_512 = job.width * job.height / 512**2
        return (
            jobs * self.job_overhead_s
            + job.steps * self.step_s(job) * (1.0 + self.batch_marginal * (images - 1))
            + images * self.decode_s_per_image_at_512 * area_512
        )

    def jobs_per_s(self, job: JobClass, *, batch_size: int) -> float:
        """One worker's throughput with full batches of this kind."""
        jobs = max(1, min(batch_size, self.max_images // job.num_images))
        return jobs / self.batch_s(job, jobs=jobs, images=jobs * job.num_images)


@dataclass(frozen=True)
class ColdStart:
    """Seconds from a new worker pod to its first claim. Defaults: the published GKE anchor (node
    225 s, image pull 5 min 23 s, model load over 2 min: over 11 minutes in all); the model load
    split as benchmarks/coldstart.py measures it (imports, reading weights, moving to the device,
    one warm-up step). AWS's SD-on-EKS guidance claims nodes within 2 minutes: `node_s=120`."""

    node_s: float = 225.0
    image_pull_s: float = 323.0
    imports_s: float = 15.0
    weights_read_s: float = 90.0
    to_device_s: float = 10.0
    warmup_s: float = 15.0

    @property
    def total_s(self) -> float:
        return self.node_s + self.image_pull_s + self.imports_s + self.weights_read_s + self.to_device_s + self.warmup_s


@dataclass(frozen=True)
class Spot:
    """Spot interruptions: a Poisson rate per spot instance-hour, each with a notice (AWS: 2
    minutes) before the node goes. On notice a worker stops claiming, finishes its batch if it ends
    in time (less the margin), else hands its jobs back at once, as craftgen.jobs.spot does
    (`hand_back`; without it they return when their leases run out)."""

    interruptions_per_hour: float = 0.05
    notice_s: float = 120.0
    hand_back: bool = True
    finish_margin_s: float = 10.0  # CRAFTGEN_SPOT_FINISH_MARGIN: kept for decoding and storing


@dataclass(frozen=True)
class Prices:
    """Dollars per GPU-hour. Examples (an A10G-class instance's list price, and about 60 % off on
    spot; AWS claims up to 70 %); replace with yours."""

    on_demand_per_h: float = 1.006
    spot_per_h: float = 0.40

    def per_h(self, pool: str) -> float:
        return self.spot_per_h if pool == "spot" else self.on_demand_per_h


@dataclass(frozen=True)
class Params:
    """Everything a run needs beyond the manifests and the arrivals."""

    mix: tuple[JobClass, ...] = (JobClass(),)
    pro_fraction: float = 0.3
    service: ServiceModel = field(default_factory=ServiceModel)
    cold_start: ColdStart = field(default_factory=ColdStart)
    spot: Spot = field(default_factory=Spot)
    prices: Prices = field(default_factory=Prices)
    hpa_sync_s: float = 15.0  # the HPA controller's --horizontal-pod-autoscaler-sync-period
    sample_s: float = 30.0  # how often the plots' series are sampled
    drain_s: float = 7200.0  # after the curve ends, how long the last jobs may take
