"""The padding maths on small tensors: wrap equals torch's circular pad, offsets shift by half."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from craftgen.engine.tile_padding import TilePadding, pad_tile, tiled_padding


def test_wrap_on_both_axes_is_circular_padding() -> None:
    x = torch.arange(2 * 3 * 6 * 8, dtype=torch.float32).reshape(2, 3, 6, 8)
    ours = pad_tile(x, pad_h=1, pad_w=2, padding=TilePadding(x="wrap", y="wrap"))
    assert torch.equal(ours, F.pad(x, (2, 2, 1, 1), mode="circular"))


def test_half_drop_neighbour_is_shifted_by_half_the_height() -> None:
    x = torch.arange(6 * 4, dtype=torch.float32).reshape(1, 1, 6, 4)
    padded = pad_tile(x, pad_h=0, pad_w=1, padding=TilePadding(x="wrap", offset_x=True))
    # Right of row y sits the first column of the tile below-shifted by H/2: row (y - 3) mod 6.
    for y in range(6):
        assert padded[0, 0, y, -1] == x[0, 0, (y - 3) % 6, 0]
        assert padded[0, 0, y, 0] == x[0, 0, (y + 3) % 6, -1]


def test_brick_neighbour_is_shifted_by_half_the_width() -> None:
    x = torch.arange(4 * 6, dtype=torch.float32).reshape(1, 1, 4, 6)
    padded = pad_tile(x, pad_h=1, pad_w=0, padding=TilePadding(y="wrap", offset_y=True))
    for col in range(6):
        assert padded[0, 0, -1, col] == x[0, 0, 0, (col - 3) % 6]


def test_mirror_pads_with_the_reflection_including_the_edge() -> None:
    x = torch.arange(5, dtype=torch.float32).reshape(1, 1, 1, 5)
    padded = pad_tile(x, pad_h=0, pad_w=2, padding=TilePadding(x="mirror"))
    assert padded.flatten().tolist() == [1, 0, 0, 1, 2, 3, 4, 4, 3]


def test_context_patches_and_restores_convolutions() -> None:
    conv = torch.nn.Conv2d(1, 1, 3, padding=1, bias=False)
    torch.nn.init.ones_(conv.weight)
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, :, 0] = 1  # a bright left column
    with tiled_padding([conv], TilePadding(x="wrap", y="wrap")) as count:
        wrapped = conv(x)
    plain = conv(x)
    assert count == 1
    assert wrapped[0, 0, 1, -1] > 0, "the right edge sees the left column through the wrap"
    assert plain[0, 0, 1, -1] == 0, "zero padding is back after the context"
