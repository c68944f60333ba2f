"""Fast mode: UNet step caching (the DeepCache technique) for the Stable Diffusion UNet family.

Adjacent denoising steps change the UNet's deep features very little. Every `interval` steps
the UNet runs whole and the features feeding its last layer are kept; on the steps between,
only the shallowest branch runs (`conv_in`, the last layer of the last up block, `conv_out`),
on the kept features. diffusers' built-in cache hooks cover transformer models only,
so this patches `UNet2DConditionModel` blocks directly (instance attributes, removed on exit,
like engine/tile_padding.py). With `interval=1` nothing is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

# From their own modules: for type checkers, diffusers' top-level names are placeholder classes.
from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel
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


def _layers(block: nn.Module, name: str) -> nn.ModuleList:
    """A block's list of layers (`resnets`, `attentions`), or an empty one where it has none."""
    layers = getattr(block, name, None)
    return layers if isinstance(layers, nn.ModuleList) else nn.ModuleList()


def _res_count(block: nn.Module) -> int:
    """How many skip tensors a down block hands to the up path."""
    return len(_layers(block, "resnets")) + (1 if getattr(block, "downsamplers", None) else 0)


@contextmanager
def deep_cache(unet: UNet2DConditionModel, *, interval: int) -> Iterator[CacheStats]:
    """Reuse deep UNet features for `interval - 1` of every `interval` forwards.

    The branch kept live is the shallowest one: `conv_in`, the last layer of the last up block
    (fed by `conv_in`'s output through the first skip connection) and `conv_out`. Its input from
    below, the output of the layer before it, is what full steps store.
    """
    stats = CacheStats()
    last_up = unet.up_blocks[-1]
    resnets = _layers(last_up, "resnets")
    if interval <= 1 or len(unet.up_blocks) < 2 or len(resnets) < 2:
        yield stats
        return
    state = _CacheState(interval=interval)
    attentions = list(_layers(last_up, "attentions"))
    # The layer before the live one ends in its attention (cross-attention blocks) or resnet.
    keeper = attentions[-2] if attentions else resnets[-2]
    skipped_layers: list[nn.Module] = [*resnets[:-1], *attentions[:-1]]
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

    def keep(module: nn.Module, args: Any, output: Any) -> None:
        if not state.reuse:
            state.cached = output[0] if isinstance(output, tuple) else output

    def skipping(module: nn.Module, on_reuse: Any) -> Any:
        original = module.forward

        def forward(*args: Any, **kwargs: Any) -> Any:
            return on_reuse(*args, **kwargs) if state.reuse else original(*args, **kwargs)

        return forward

    def down_dummy(block: nn.Module) -> Any:
        def on_reuse(hidden_states: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            # Placeholders for the skip connections; only skipped layers would read them.
            return hidden_states, (hidden_states,) * _res_count(block)

        return on_reuse

    def passthrough(hidden_states: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        return hidden_states

    def cached(*args: Any, **kwargs: Any) -> Any:
        return state.cached

    def cached_tuple(*args: Any, **kwargs: Any) -> Any:
        return (state.cached,)

    handles = [
        unet.register_forward_pre_hook(count_forward, with_kwargs=True),
        unet.register_forward_hook(after_forward, with_kwargs=True),
        keeper.register_forward_hook(keep),
    ]
    try:
        replacements: list[tuple[nn.Module, Any]] = [(block, down_dummy(block)) for block in unet.down_blocks]
        if unet.mid_block is not None:
            replacements.append((unet.mid_block, passthrough))
        replacements += [(block, cached) for block in list(unet.up_blocks)[:-1]]
        replacements += [(layer, cached_tuple if layer in attentions else cached) for layer in skipped_layers]
        for module, on_reuse in replacements:
            module.forward = skipping(module, on_reuse)
            patched.append(module)
        stats.patched_blocks = [type(module).__name__ for module in patched]
        yield stats
    finally:
        for handle in handles:
            handle.remove()
        for module in patched:
            del module.forward
