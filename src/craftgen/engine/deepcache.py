"""Fast mode: UNet step caching (the DeepCache technique) for the Stable Diffusion UNet family.

Adjacent denoising steps change the UNet's deep features very little. Every `interval` steps
the UNet runs whole and the input to its last up block (everything below the shallowest skip
connection) is kept; on the steps between, only the shallowest down block and the last up
block run, on the kept features. diffusers' built-in cache hooks cover transformer models only,
so this patches `UNet2DConditionModel` blocks directly (instance attributes, removed on exit,
like engine/tile_padding.py). With `interval=1` nothing is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from diffusers import UNet2DConditionModel
from torch import nn


@dataclass
class _CacheState:
    interval: int
    calls: int = 0  # UNet forwards so far (one per denoising step; guidance is batched in)
    cached: torch.Tensor | None = None
    skipped: int = 0  # forwards that reused the cache
    batch_shape: tuple[int, ...] | None = None
    last_timestep: float | None = None

    @property
    def reuse(self) -> bool:
        return self.cached is not None and self.calls % self.interval != 0


@dataclass
class CacheStats:
    forwards: int = 0
    reused: int = 0
    patched_blocks: list[str] = field(default_factory=list)


def _res_count(block: nn.Module) -> int:
    """How many skip tensors a down block hands to the up path."""
    return len(block.resnets) + (1 if getattr(block, "downsamplers", None) else 0)


@contextmanager
def deep_cache(unet: UNet2DConditionModel, *, interval: int) -> Iterator[CacheStats]:
    """Reuse deep UNet features for `interval - 1` of every `interval` forwards."""
    stats = CacheStats()
    if interval <= 1 or len(unet.up_blocks) < 2:
        yield stats
        return
    state = _CacheState(interval=interval)
    deep_down = list(unet.down_blocks)[1:]
    deep_up = list(unet.up_blocks)[:-1]
    keeper = unet.up_blocks[-2]  # its output is the last up block's input
    patched: list[nn.Module] = []

    def count_forward(module: nn.Module, args: Any, kwargs: Any) -> None:
        sample = args[0] if args else kwargs["sample"]
        timestep = args[1] if len(args) > 1 else kwargs["timestep"]
        t = float(timestep.flatten()[0]) if isinstance(timestep, torch.Tensor) else float(timestep)
        # Timesteps fall within a run; a rise (or a new batch shape) is the next diffusion call
        # in the same tool run (another outpaint strip, upscale tile batch): start afresh.
        new_run = state.last_timestep is None or t >= state.last_timestep
        if new_run or state.batch_shape != tuple(sample.shape):
            state.batch_shape, state.calls, state.cached = tuple(sample.shape), 0, None
        state.last_timestep = t
        stats.forwards += 1
        if state.reuse:
            stats.reused += 1

    def after_forward(module: nn.Module, args: Any, kwargs: Any, output: Any) -> None:
        state.calls += 1

    def skip_down(block: nn.Module) -> Any:
        original = block.forward

        def forward(hidden_states: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            if state.reuse:
                return hidden_states, (hidden_states,) * _res_count(block)
            return original(hidden_states, *args, **kwargs)

        return forward

    def skip_mid(block: nn.Module) -> Any:
        original = block.forward

        def forward(hidden_states: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            return hidden_states if state.reuse else original(hidden_states, *args, **kwargs)

        return forward

    def skip_up(block: nn.Module) -> Any:
        original = block.forward

        def forward(*args: Any, **kwargs: Any) -> Any:
            if state.reuse:
                return state.cached
            output = original(*args, **kwargs)
            if block is keeper:
                state.cached = output
            return output

        return forward

    handles = [
        unet.register_forward_pre_hook(count_forward, with_kwargs=True),
        unet.register_forward_hook(after_forward, with_kwargs=True),
    ]
    try:
        for block in deep_down:
            block.forward = skip_down(block)  # type: ignore[method-assign]
            patched.append(block)
        if unet.mid_block is not None:
            unet.mid_block.forward = skip_mid(unet.mid_block)  # type: ignore[method-assign]
            patched.append(unet.mid_block)
        for block in deep_up:
            block.forward = skip_up(block)  # type: ignore[method-assign]
            patched.append(block)
        stats.patched_blocks = [type(block).__name__ for block in patched]
        yield stats
    finally:
        for handle in handles:
            handle.remove()
        for block in patched:
            del block.forward
