"""The one Settings object, read from CRAFTGEN_* variables at entry points only (CLI, API, worker).

Everything below the entry points receives the values it needs as arguments; `Settings.limits()`
and `Settings.engine_options()` build the small frozen objects the engine takes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from craftgen.engine.limits import Limits
from craftgen.engine.options import AttentionChoice, DtypeChoice, EngineOptions
from craftgen.gallery.options import GalleryOptions
from craftgen.jobs.options import WorkerOptions
from craftgen.signin_policy import SignInPolicy


class Settings(BaseSettings):
    """Every knob craftgen has; each limit is named so an operator can find and change it."""

    model_config = SettingsConfigDict(env_prefix="CRAFTGEN_", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str = ""  # default: sqlite:///<data_dir>/craftgen.db
    queue_url: str = ""  # default: the database (SQLite lease table)
    storage_url: str = ""  # default: file://<data_dir>/files
    s3_endpoint_url: str = ""  # S3-compatible stores (MinIO); empty: boto3's own (AWS_ENDPOINT_URL_S3)
    host: str = "127.0.0.1"
    port: int = 8000

    # The studio (web pages). With local_studio on, a browser on this machine (loopback) is
    # signed in as the user "local" with no key; otherwise the studio asks for an API key.
    local_studio: bool = True
    session_secret: str = ""  # signs studio cookies; empty: a random one kept in <data_dir>/session_secret
    session_max_age: int = Field(default=30 * 24 * 3600, gt=0)  # seconds a studio sign-in lasts

    # Jobs and workers.
    batch_size: int = Field(default=4, ge=1)  # jobs per diffusion call, at most
    # Images per diffusion call (each job's num_images counted): what fits the GPU's memory.
    batch_max_images: int = Field(default=8, ge=1)
    # How long a worker holding a part-full batch waits for more jobs with its batch key; far
    # shorter than a lease, so jobs claimed first need no renewal while it waits.
    batch_wait_ms: float = Field(default=20.0, ge=0, le=1000)
    lease_seconds: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=3, ge=1)
    poll_interval: float = Field(default=0.5, gt=0)
    progress_interval: float = Field(default=0.5, ge=0)
    previews: bool = True  # progress carries a small picture of the current latents
    preview_interval: float = Field(default=1.0, ge=0)  # at most one preview per this many seconds
    preview_size: int = Field(default=128, ge=16, le=512)  # a preview's longest side, in pixels
    retry_delay: float = Field(default=2.0, ge=0)
    free_active_jobs: int = Field(default=1, ge=1)
    worker_stall_seconds: float = Field(default=600.0, gt=0)  # no step for this long: hung, leases lapse
    worker_alive_file: str = ""  # touched while the worker is healthy (a liveness probe reads its age)
    dead_letter_interval: float = Field(default=30.0, gt=0)  # seconds between sweeps of the dead letters

    # Accounts, credits and the community gallery.
    min_password_length: int = Field(default=10, ge=8)
    signin_max_failures: int = Field(default=5, ge=1)  # wrong passwords in a row that pause sign-in
    signin_lockout_seconds: float = Field(default=300.0, ge=0)  # how long that pause lasts
    pro_monthly_credits: int = Field(default=200, ge=0)  # one credit per image a job asks for
    thumbnail_size: int = Field(default=384, ge=64, le=1024)  # longest side of /v1/images/{id}/thumb
    gallery_licence: str = "CC BY 4.0"  # the terms every published image is shared under
    gallery_page_size: int = Field(default=24, ge=1)  # items per gallery page when none is asked
    gallery_max_page_size: int = Field(default=100, ge=1)
    report_hide_threshold: int = Field(default=3, ge=1)  # distinct reporters that hide an image
    sse_interval: float = Field(default=0.25, gt=0)  # how often an event stream looks for changes
    model: str = "tiny"
    model_registry: Path | None = None  # a YAML file naming models, inpaint variants and LoRAs
    device: Literal["auto", "cpu", "cuda"] = "auto"
    allow_downloads: bool = False  # Hub ids load from the local cache only unless this is on
    max_loaded_models: int = Field(default=2, ge=1)
    model_memory_mb: int = Field(default=0, ge=0)  # weights kept loaded, least recent dropped; 0: count only
    # Cheaper numbers, each measured in benchmarks/precision.py. The defaults match a plain
    # diffusers call on the CPU (fp32); bfloat16 is much faster on CPUs with AVX512-BF16/AMX.
    dtype: DtypeChoice = "auto"  # auto: fp16 on CUDA, else fp32
    channels_last: bool = False
    attention: AttentionChoice = "sdpa"  # sdpa: diffusers' default attention kernel
    compile: bool = False  # torch.compile the UNet (slow first call)

    # Request limits (see engine/limits.py for what each bounds).
    min_side: int = 64
    max_side: int = 1536
    max_num_images: int = 8
    max_steps: int = 100
    max_guidance: float = 30.0
    max_prompt_tokens: int = 77
    max_upload_bytes: int = 20 * 1024 * 1024
    max_upload_pixels: int = 4096 * 4096
    max_expand: int = 1024
    max_canvas_side: int = 3072
    max_upscale_pixels: int = 4096 * 4096
    max_svg_nodes: int = 20000
    min_speck_area: int = 16

    # Output and processing knobs.
    dpi: int = 300
    default_size: int = 512
    default_steps: int = 25
    default_guidance: float = 7.5
    outpaint_context: int = 64
    outpaint_blend: int = 8
    upscale_tile: int = 512
    upscale_overlap: int = 64
    upscale_strength: float = 0.25
    deepcache_interval: int = Field(default=3, ge=1)

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
        )

    def signin_policy(self) -> SignInPolicy:
        return SignInPolicy(max_failures=self.signin_max_failures, lockout_seconds=self.signin_lockout_seconds)

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
            max_upload_bytes=self.max_upload_bytes,
            max_upload_pixels=self.max_upload_pixels,
            max_expand=self.max_expand,
            max_canvas_side=self.max_canvas_side,
            max_upscale_pixels=self.max_upscale_pixels,
            max_svg_nodes=self.max_svg_nodes,
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
