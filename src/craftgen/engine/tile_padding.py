"""Seamless tiles: make every padded Conv2d of the UNet and the VAE wrap around, per axis.

While a pattern is made, each convolution sees the opposite edge of the image where it would
otherwise see zeros, so the tile continues across its own border. Half-drop and brick wrap with
a half-tile offset on one axis; mirror pads with the image's own reflection. The patch is an
instance attribute removed on exit, so every other tool sees the model exactly as it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import MethodType
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

AxisMode = Literal["zeros", "wrap", "mirror"]


@dataclass(frozen=True)
class TilePadding:
    """How each axis pads; `offset_x`/`offset_y` shift the wrapped edge by half the other axis."""

    x: AxisMode = "zeros"
    y: AxisMode = "zeros"
    offset_x: bool = False  # half-drop: the tile to the right sits half a tile lower
    offset_y: bool = False  # brick: the tile below sits half a tile to the right

    @classmethod
    def for_repeat(cls, repeat: str, *, seamless_x: bool, seamless_y: bool) -> TilePadding:
        if repeat == "mirror":
            return cls(x="mirror" if seamless_x else "zeros", y="mirror" if seamless_y else "zeros")
        return cls(
            x="wrap" if seamless_x else "zeros",
            y="wrap" if seamless_y else "zeros",
            offset_x=repeat == "half-drop" and seamless_x,
            offset_y=repeat == "brick" and seamless_y,
        )

    @property
    def active(self) -> bool:
        return self.x != "zeros" or self.y != "zeros"


def _pad_axis(t: torch.Tensor, pad: int, *, dim: int, mode: AxisMode, offset: bool) -> torch.Tensor:
    """Pad `pad` pixels on both ends of `dim` (-1 for width, -2 for height)."""
    if pad == 0:
        return t
    size = t.shape[dim]
    if mode == "zeros" or pad > size:
        spec = (pad, pad, 0, 0) if dim == -1 else (0, 0, pad, pad)
        return F.pad(t, spec)
    if mode == "mirror":
        before = t.narrow(dim, 0, pad).flip(dim)
        after = t.narrow(dim, size - pad, pad).flip(dim)
    else:
        before = t.narrow(dim, size - pad, pad)
        after = t.narrow(dim, 0, pad)
        if offset:
            # The neighbour across the wrap is shifted by half the other axis.
            other = -2 if dim == -1 else -1
            shift = t.shape[other] // 2
            before = torch.roll(before, -shift, dims=other)
            after = torch.roll(after, shift, dims=other)
    return torch.cat([before, t, after], dim=dim)


def pad_tile(t: torch.Tensor, *, pad_h: int, pad_w: int, padding: TilePadding) -> torch.Tensor:
    """Pad a (N, C, H, W) tensor as the tile's neighbours would; the offset axis goes first."""
    if padding.offset_y:
        t = _pad_axis(t, pad_h, dim=-2, mode=padding.y, offset=True)
        return _pad_axis(t, pad_w, dim=-1, mode=padding.x, offset=False)
    t = _pad_axis(t, pad_w, dim=-1, mode=padding.x, offset=padding.offset_x)
    return _pad_axis(t, pad_h, dim=-2, mode=padding.y, offset=False)


def _padded_convs(modules: Iterable[nn.Module]) -> Iterator[nn.Conv2d]:
    for module in modules:
        for conv in module.modules():
            if (
                isinstance(conv, nn.Conv2d)
                and isinstance(conv.padding, tuple)
                and any(conv.padding)
                and conv.padding_mode == "zeros"
            ):
                yield conv


@contextmanager
def tiled_padding(modules: Iterable[nn.Module], padding: TilePadding) -> Iterator[int]:
    """Patch every padded Conv2d in `modules` for the duration; yields how many were patched."""
    patched: list[nn.Conv2d] = []

    def conv_forward(
        self: nn.Conv2d, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        assert isinstance(self.padding, tuple)  # _padded_convs patches only (h, w) paddings
        pad_h, pad_w = self.padding
        x = pad_tile(x, pad_h=pad_h, pad_w=pad_w, padding=padding)
        return F.conv2d(x, weight, bias, self.stride, 0, self.dilation, self.groups)

    try:
        if padding.active:
            for conv in _padded_convs(modules):
                # An instance attribute over the method, deleted on exit: a patch, on purpose.
                conv._conv_forward = MethodType(conv_forward, conv)  # type: ignore[method-assign]
                patched.append(conv)
        yield len(patched)
    finally:
        for conv in patched:
            del conv._conv_forward


def is_patched(modules: Iterable[nn.Module]) -> bool:
    """Whether any Conv2d still carries a padding patch (tests and the engine's own checks)."""
    return any("_conv_forward" in vars(conv) for conv in _padded_convs(modules))
