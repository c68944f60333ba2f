"""How the engine runs (model choice, device, tool knobs), as one frozen value built from Settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

DeviceChoice = Literal["auto", "cpu", "cuda"]
DtypeChoice = Literal["auto", "float32", "bfloat16", "float16"]
AttentionChoice = Literal["sdpa", "classic"]  # sdpa: diffusers' default AttnProcessor2_0


@dataclass(frozen=True)
class EngineOptions:
    """Engine-wide choices that are not per-request limits."""

    default_model: str = "tiny"
    registry_path: Path | None = None
    device: DeviceChoice = "auto"
    allow_downloads: bool = False
    max_loaded_models: int = 2
    model_memory_mb: int = 0  # loaded models' weights stay within this (least recent dropped); 0: count only
    dtype: DtypeChoice = "auto"  # auto: fp16 on CUDA, fp32 on the CPU (bfloat16: faster on AVX512-BF16/AMX)
    channels_last: bool = False
    attention: AttentionChoice = "sdpa"
    compile: bool = False  # torch.compile the UNet
    dpi: int = 300
    default_size: int = 512
    default_steps: int = 25
    default_guidance: float = 7.5
    outpaint_context: int = 64  # pixels of the original the outpaint crop includes as context
    outpaint_blend: int = 8  # width of the band where new and old pixels are blended (<= 16)
    upscale_tile: int = 512
    upscale_overlap: int = 64
    upscale_strength: float = 0.25  # how much detail the diffusion pass adds to upscaled tiles
    min_speck_area: int = 16  # SVG shapes smaller than this many pixels are dropped
    deepcache_interval: int = 3  # quality "fast": a full UNet pass every this many steps
