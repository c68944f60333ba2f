"""The one Settings object, read from CRAFTGEN_* variables at entry points only (CLI, API, worker).

Everything below the entry points receives the values it needs as arguments; `Settings.limits()`,
`Settings.engine_options()` and the like build the small frozen objects the layers below take.
A default those objects know is written there once and read here (tests/test_config.py keeps
the two from drifting).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from craftgen.engine.limits import Limits
from craftgen.engine.options import AttentionChoice, DeviceChoice, DtypeChoice, EngineOptions
from craftgen.gallery.options import GalleryOptions
from craftgen.jobs.options import JobPolicy, WorkerOptions
from craftgen.signin_policy import SignInPolicy


class Settings(BaseSettings):
    """Every knob craftgen has; each limit is named so an operator can find and change it."""

    model_config = SettingsConfigDict(env_prefix="CRAFTGEN_", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str = ""  # default: sqlite:///<data_dir>/craftgen.db
    queue_url: str = ""  # default: the database (SQLite lease table)
    storage_url: str = ""  # default: file://<data_dir>/files
    s3_endpoint_url: str = ""  # S3-compatible stores (MinIO); empty: boto3's own (AWS_ENDPOINT_URL_S3)
    sqs_endpoint_url: str = ""  # an SQS endpoint (a local stand-in); empty: boto3's own (AWS_ENDPOINT_URL_SQS)
    host: str = "127.0.0.1"
    port: int = 8000

    # The studio (web pages). With local_studio on, a browser on this machine (loopback) is
    # signed in as the user "local" with no key; otherwise the studio asks for an API key.
    local_studio: bool = True
    session_secret: str = ""  # signs studio cookies; empty: a random one kept in <data_dir>/session_secret
    session_max_age: int = Field(default=30 * 24 * 3600, gt=0)  # seconds a studio sign-in lasts

    # Jobs and workers.
    batch_size: int = Field(default=WorkerOptions.batch_size, ge=1)  # jobs per diffusion call, at most
    # Images per diffusion call (each job's num_images counted): what fits the GPU's memory.
    batch_max_images: int = Field(default=WorkerOptions.batch_max_images, ge=1)
    # How long a worker holding a part-full batch waits for more jobs with its batch key; far
    # shorter than a lease, so jobs claimed first need no renewal while it waits.
    batch_wait_ms: float = Field(default=WorkerOptions.batch_wait * 1000, ge=0, le=1000)  # WorkerOptions: seconds
    lease_seconds: float = Field(default=WorkerOptions.lease_seconds, gt=0)
    max_attempts: int = Field(default=WorkerOptions.max_attempts, ge=1)
    poll_interval: float = Field(default=WorkerOptions.poll_interval, gt=0)
    progress_interval: float = Field(default=WorkerOptions.progress_interval, ge=0)
    previews: bool = WorkerOptions.previews  # progress carries a small picture of the current latents
    preview_interval: float = Field(default=WorkerOptions.preview_interval, ge=0)  # at most one per this many s
    preview_size: int = Field(default=WorkerOptions.preview_size, ge=16, le=512)  # longest side, in pixels
    retry_delay: float = Field(default=WorkerOptions.retry_delay, ge=0)
    free_active_jobs: int = Field(default=JobPolicy.free_active_jobs, ge=1)
    # No step for this long: hung, its leases lapse.
    worker_stall_seconds: float = Field(default=WorkerOptions.stall_seconds, gt=0)
    worker_alive_file: str = WorkerOptions.alive_file  # touched while healthy (a liveness probe reads its age)
    # Written by `craftgen worker` once its model is loaded and warmed by one step, removed at exit:
    # the startup and readiness probes read it (deploy/k8s/worker.yaml). Empty: no file, no warm-up.
    worker_ready_file: str = ""
    # Spot interruption notices (jobs/spot.py): the instance-action URL to poll (AWS:
    # http://169.254.169.254/latest/meta-data/spot/instance-action; empty: not watched), how often,
    # how long a SIGTERM leaves when it is the notice (the node termination handler's), and the
    # time kept for decoding and storing when deciding whether the batch in hand can finish.
    spot_notice_url: str = ""
    spot_notice_interval: float = Field(default=5.0, gt=0)
    spot_notice_seconds: float = Field(default=120.0, gt=0)
    spot_finish_margin: float = Field(default=10.0, ge=0)
    # Seconds between sweeps of the dead letters.
    dead_letter_interval: float = Field(default=WorkerOptions.dead_letter_interval, gt=0)
    # A queued job the queue does not hold (a crash between commit and enqueue, lost queue writes)
    # this many seconds old is enqueued again, exactly once, by that same sweep.
    stranded_grace_seconds: float = Field(default=WorkerOptions.stranded_grace, ge=0)

    # Accounts, credits and the community gallery.
    min_password_length: int = Field(default=10, ge=8)
    # Wrong passwords in a row that pause sign-in, and how long that pause lasts.
    signin_max_failures: int = Field(default=SignInPolicy.max_failures, ge=1)
    signin_lockout_seconds: float = Field(default=SignInPolicy.lockout_seconds, ge=0)
    # Wrong passwords one client address may send per window, whichever accounts they name.
    signin_client_max_failures: int = Field(default=SignInPolicy.client_max_failures, ge=1)
    signin_client_window_seconds: float = Field(default=SignInPolicy.client_window_seconds, ge=0)
    max_api_keys: int = Field(default=SignInPolicy.max_api_keys, ge=1)  # unrevoked API keys per account
    pro_monthly_credits: int = Field(default=JobPolicy.pro_monthly_credits, ge=0)  # one credit per image asked for
    thumbnail_size: int = Field(default=384, ge=64, le=1024)  # longest side of /v1/images/{id}/thumb
    gallery_licence: str = GalleryOptions.licence  # the terms every published image is shared under
    gallery_page_size: int = Field(default=GalleryOptions.page_size, ge=1)  # items per page when none is asked
    gallery_max_page_size: int = Field(default=GalleryOptions.max_page_size, ge=1)
    report_hide_threshold: int = Field(default=GalleryOptions.report_hide_threshold, ge=1)  # reporters that hide
    sse_interval: float = Field(default=0.25, gt=0)  # how often an event stream looks for changes
    sse_heartbeat_seconds: float = Field(default=15, gt=0)  # a comment line on a quiet stream, this often
    # The drop-in APIs (OpenAI Images, AUTOMATIC1111) answer synchronously: how long a request
    # waits for its job before it is canceled and refused, and how long an OpenAI `url` works.
    compat_wait_seconds: float = Field(default=600, gt=0)
    image_link_seconds: int = Field(default=3600, gt=0)  # links are signed with the session secret
    model: str = EngineOptions.default_model
    model_registry: Path | None = EngineOptions.registry_path  # a YAML file naming models, inpaint variants, LoRAs
    device: DeviceChoice = EngineOptions.device
    allow_downloads: bool = EngineOptions.allow_downloads  # Hub ids load from the local cache only unless on
    max_loaded_models: int = Field(default=EngineOptions.max_loaded_models, ge=1)
    # Weights kept loaded, least recent dropped; 0: count only.
    model_memory_mb: int = Field(default=EngineOptions.model_memory_mb, ge=0)
    # Cheaper numbers, each measured in benchmarks/precision.py. The defaults match a plain
    # diffusers call on the CPU (fp32); bfloat16 is much faster on CPUs with AVX512-BF16/AMX.
    dtype: DtypeChoice = EngineOptions.dtype  # auto: fp16 on CUDA, else fp32
    channels_last: bool = EngineOptions.channels_last
    attention: AttentionChoice = EngineOptions.attention  # sdpa: diffusers' default attention kernel
    compile: bool = EngineOptions.compile  # torch.compile the UNet (slow first call)

    # Request limits (see engine/limits.py for what each bounds).
    min_side: int = Limits.min_side
    max_side: int = Limits.max_side
    max_num_images: int = Limits.max_num_images
    max_steps: int = Limits.max_steps
    max_guidance: float = Limits.max_guidance
    max_prompt_tokens: int = Limits.max_prompt_tokens
    max_prompt_chars: int = Field(default=Limits.max_prompt_chars, ge=1)
    max_body_bytes: int = Field(default=Limits.max_body_bytes, ge=1024)  # JSON and form bodies: 413 past it
    max_multipart_bytes: int = Field(default=Limits.max_multipart_bytes, ge=1024)  # uploads, framing included
    max_upload_bytes: int = Limits.max_upload_bytes
    max_upload_pixels: int = Limits.max_upload_pixels
    max_expand: int = Limits.max_expand
    max_canvas_side: int = Limits.max_canvas_side
    max_upscale_pixels: int = Limits.max_upscale_pixels
    max_svg_nodes: int = Limits.max_svg_nodes
    max_print_pixels: int = Limits.max_print_pixels
    min_speck_area: int = EngineOptions.min_speck_area

    # Output and processing knobs (see engine/options.py).
    dpi: int = EngineOptions.dpi
    default_size: int = EngineOptions.default_size
    default_steps: int = EngineOptions.default_steps
    default_guidance: float = EngineOptions.default_guidance
    outpaint_context: int = EngineOptions.outpaint_context
    outpaint_blend: int = EngineOptions.outpaint_blend
    upscale_tile: int = EngineOptions.upscale_tile
    upscale_overlap: int = EngineOptions.upscale_overlap
    upscale_strength: float = EngineOptions.upscale_strength
    deepcache_interval: int = Field(default=EngineOptions.deepcache_interval, ge=1)

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'craftgen.db').resolve()}"

    def resolved_storage_url(self) -> str:
        return self.storage_url or f"file://{(self.data_dir / 'files').resolve()}"

    def worker_options(self) -> WorkerOptions:
        return WorkerOptions(
            batch_size=self.batch_size,
            lease_seconds=self.lease_seconds,
            max_attempts=self.max_attempts,
            poll_interval=self.poll_interval,
            progress_interval=self.progress_interval,
            batch_max_images=self.batch_max_images,
            batch_wait=self.batch_wait_ms / 1000,
            previews=self.previews,
            preview_interval=self.preview_interval,
            preview_size=self.preview_size,
            retry_delay=self.retry_delay,
            stall_seconds=self.worker_stall_seconds,
            alive_file=self.worker_alive_file,
            dead_letter_interval=self.dead_letter_interval,
            stranded_grace=self.stranded_grace_seconds,
        )

    def job_policy(self) -> JobPolicy:
        return JobPolicy(free_active_jobs=self.free_active_jobs, pro_monthly_credits=self.pro_monthly_credits)

    def signin_policy(self) -> SignInPolicy:
        return SignInPolicy(
            max_failures=self.signin_max_failures,
            lockout_seconds=self.signin_lockout_seconds,
            client_max_failures=self.signin_client_max_failures,
            client_window_seconds=self.signin_client_window_seconds,
            max_api_keys=self.max_api_keys,
        )

    def gallery_options(self) -> GalleryOptions:
        return GalleryOptions(
            licence=self.gallery_licence,
            page_size=self.gallery_page_size,
            max_page_size=self.gallery_max_page_size,
            report_hide_threshold=self.report_hide_threshold,
        )

    def limits(self) -> Limits:
        return Limits(
            min_side=self.min_side,
            max_side=self.max_side,
            max_num_images=self.max_num_images,
            max_steps=self.max_steps,
            max_guidance=self.max_guidance,
            max_prompt_tokens=self.max_prompt_tokens,
            max_prompt_chars=self.max_prompt_chars,
            max_body_bytes=self.max_body_bytes,
            max_multipart_bytes=self.max_multipart_bytes,
            max_upload_bytes=self.max_upload_bytes,
            max_upload_pixels=self.max_upload_pixels,
            max_expand=self.max_expand,
            max_canvas_side=self.max_canvas_side,
            max_upscale_pixels=self.max_upscale_pixels,
            max_svg_nodes=self.max_svg_nodes,
            max_print_pixels=self.max_print_pixels,
        )

    def engine_options(self) -> EngineOptions:
        return EngineOptions(
            default_model=self.model,
            registry_path=self.model_registry,
            device=self.device,
            allow_downloads=self.allow_downloads,
            max_loaded_models=self.max_loaded_models,
            model_memory_mb=self.model_memory_mb,
            dtype=self.dtype,
            channels_last=self.channels_last,
            attention=self.attention,
            compile=self.compile,
            dpi=self.dpi,
            default_size=self.default_size,
            default_steps=self.default_steps,
            default_guidance=self.default_guidance,
            outpaint_context=self.outpaint_context,
            outpaint_blend=self.outpaint_blend,
            upscale_tile=self.upscale_tile,
            upscale_overlap=self.upscale_overlap,
            upscale_strength=self.upscale_strength,
            min_speck_area=self.min_speck_area,
            deepcache_interval=self.deepcache_interval,
        )
