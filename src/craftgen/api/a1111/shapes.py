"""A1111 request and response bodies (the fields clients send; the rest are accepted and ignored)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field


class GenerationParams(BaseModel):
    model_config = ConfigDict(extra="ignore")

    prompt: str = ""
    negative_prompt: str = ""
    seed: Annotated[int | None, Field(description="-1: a random seed; image i gets seed + i")] = -1
    batch_size: Annotated[int, Field(ge=1)] = 1
    n_iter: Annotated[int, Field(ge=1, description="batches; all images run as one job of batch_size x n_iter")] = 1
    steps: int | None = None
    cfg_scale: float | None = None
    width: int | None = None
    height: int | None = None
    sampler_name: str | None = None
    sampler_index: str | None = None
    scheduler: str | None = None
    tiling: Annotated[bool, Field(description="true: craftgen's pattern tool (a seamless tile)")] = False
    denoising_strength: float | None = None
    override_settings: dict[str, Any] = Field(default_factory=dict)
    enable_hr: bool = False


class Txt2ImgRequest(GenerationParams):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [{"prompt": "strawberries", "tiling": True, "batch_size": 2, "width": 512, "height": 512}]
        },
    )


class Img2ImgRequest(GenerationParams):
    init_images: Annotated[list[str], Field(description="base64 images (one)")] = Field(default_factory=list)
    mask: Annotated[str | None, Field(description="base64 mask: white is repainted (craftgen's inpaint)")] = None
    mask_blur: int | None = None
    inpainting_fill: Annotated[int, Field(ge=0, le=3)] = 1
    inpainting_mask_invert: Annotated[int, Field(ge=0, le=1)] = 0
    resize_mode: Annotated[int, Field(ge=0, le=3)] = 0


class ExtraSingleImageRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    image: str
    resize_mode: Annotated[int, Field(ge=0, le=1)] = 0
    upscaling_resize: float = 2
    upscaler_1: str = "None"
    upscaler_2: str = "None"


class PngInfoRequest(BaseModel):
    image: str


class GenerationResponse(BaseModel):
    images: list[str]
    parameters: dict[str, Any]
    info: Annotated[str, Field(description="A1111's JSON string: seed, all_seeds, infotexts, ... and job_id")]


class ExtraSingleImageResponse(BaseModel):
    html_info: str
    image: str


class PngInfoResponse(BaseModel):
    info: str
    items: dict[str, Any]
    parameters: dict[str, Any]


class ProgressState(BaseModel):
    skipped: bool = False
    interrupted: bool = False
    job: str = ""
    job_count: int = 0
    job_timestamp: str = "0"
    job_no: int = 0
    sampling_step: int = 0
    sampling_steps: int = 0


class ProgressResponse(BaseModel):
    progress: float
    eta_relative: float
    state: ProgressState
    current_image: str | None = None
    textinfo: str | None = None
    job_id: str | None = None  # craftgen: the job this is about (GET /v1/jobs/ID)
    queue_position: int | None = None  # craftgen: jobs ahead of it while queued
