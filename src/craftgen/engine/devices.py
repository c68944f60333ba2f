"""Which device and dtype the engine computes on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from craftgen.errors import ModelUnavailable


@dataclass(frozen=True)
class Placement:
    device: torch.device
    dtype: torch.dtype


def resolve_placement(choice: Literal["auto", "cpu", "cuda"]) -> Placement:
    """CUDA in fp16 where a GPU is present (or asked for), else the CPU in fp32."""
    has_cuda = torch.cuda.is_available()
    if choice == "cuda" and not has_cuda:
        raise ModelUnavailable("CRAFTGEN_DEVICE=cuda but no CUDA device is available")
    if choice == "cuda" or (choice == "auto" and has_cuda):
        return Placement(device=torch.device("cuda"), dtype=torch.float16)
    return Placement(device=torch.device("cpu"), dtype=torch.float32)
