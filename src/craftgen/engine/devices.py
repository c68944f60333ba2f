"""How the engine computes: device, number type, memory layout, attention kernel, compilation.

Resolved once per process from EngineOptions. With the defaults (fp32 on the CPU, diffusers'
own SDPA attention, no channels-last, no compile) every tool matches a plain diffusers call.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from craftgen.engine.options import AttentionChoice, DeviceChoice, DtypeChoice
from craftgen.errors import ModelUnavailable

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@dataclass(frozen=True)
class Placement:
    device: torch.device
    dtype: torch.dtype
    channels_last: bool = False  # UNet and VAE weights in NHWC layout
    attention: AttentionChoice = "sdpa"
    compile: bool = False  # torch.compile the UNet (first call compiles: slow)


def cpu_has_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU computes bf16 in hardware (AVX512-BF16 or AMX); elsewhere bf16 matmuls are
    emulated, so it saves memory but not time (not measured here: this machine has both)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return bool(_BF16_FLAGS & set(line.split(":", 1)[1].split()))
    return False


def resolve_dtype(choice: DtypeChoice, *, device: torch.device) -> torch.dtype:
    """auto: fp16 on CUDA (as every SD GPU setup runs); fp32 on the CPU, so by default images
    match a stock diffusers call. bf16 on the CPU is opt-in: where `cpu_has_native_bf16` it ran
    the SD 1.5 UNet 2.8x faster on a quiet run here (benchmarks/precision.py), but it moves pixels.
    """
    if choice == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    return _DTYPES[choice]


def resolve_placement(
    choice: DeviceChoice,
    *,
    dtype: DtypeChoice = "auto",
    channels_last: bool = False,
    attention: AttentionChoice = "sdpa",
    compile: bool = False,
) -> Placement:
    """CUDA where a GPU is present (or asked for), else the CPU; the number type as `resolve_dtype`."""
    has_cuda = torch.cuda.is_available()
    if choice == "cuda" and not has_cuda:
        raise ModelUnavailable("CRAFTGEN_DEVICE=cuda but no CUDA device is available")
    device = torch.device("cuda" if choice == "cuda" or (choice == "auto" and has_cuda) else "cpu")
    return Placement(
        device=device,
        dtype=resolve_dtype(dtype, device=device),
        channels_last=channels_last,
        attention=attention,
        compile=compile,
    )
