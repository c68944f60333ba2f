"""Fast mode (DeepCache): fewer UNet block calls, a bounded deviation, the model restored."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from craftgen.engine.deepcache import deep_cache
from craftgen.engine.engine import Engine
from craftgen.engine.requests import parse_request
from tests.conftest import smooth_image


def _count_block_calls(unet) -> dict[str, int]:
    counts = {"down1": 0, "up_last": 0}

    def hook(name):
        def count(module, args, output):
            counts[name] += 1

        return count

    # Hooks on blocks' inner layers: they fire only when a block really computes.
    unet.down_blocks[1].resnets[0].register_forward_hook(hook("down1"))
    unet.up_blocks[-1].resnets[-1].register_forward_hook(hook("up_last"))
    return counts


def test_fast_mode_skips_the_deep_blocks_between_full_steps(engine: Engine) -> None:
    request = {"tool": "text", "prompt": "a cat", "seed": 3, "steps": 9, "width": 128, "height": 128}
    full = engine.run(parse_request(request))
    fast = engine.run(parse_request(dict(**request, quality="fast")))

    assert fast.metrics["unet_forwards_reused"] == "6/9", "interval 3: 3 full passes, 6 cached"
    a = np.asarray(full.outputs[0].image, np.float32)
    b = np.asarray(fast.outputs[0].image, np.float32)
    assert 0 < np.abs(a - b).mean() < 20, "close to the full result, not identical"


def test_cache_counts_and_restore() -> None:
    from craftgen.engine.tiny import build_tiny_pipeline

    pipe = build_tiny_pipeline()
    pipe.set_progress_bar_config(disable=True)
    counts = _count_block_calls(pipe.unet)

    def run() -> np.ndarray:
        generator = torch.Generator().manual_seed(1)
        return pipe("a cat", num_inference_steps=6, height=64, width=64, generator=generator, output_type="np").images[
            0
        ]

    before = run()
    counts.update(down1=0, up_last=0)
    with deep_cache(pipe.unet, interval=3) as stats:
        run()
        run()  # a second call in the same context starts its own cache
    assert (stats.forwards, stats.reused) == (12, 8)
    assert counts == {"down1": 4, "up_last": 12}, "deep layers ran on full steps only; the last layer always"
    assert np.array_equal(run(), before), "the UNet is exactly as it was afterwards"


@pytest.mark.parametrize("tool", ["variations", "outpaint"])
def test_fast_mode_works_for_image_tools(engine: Engine, tool: str) -> None:
    extra = {"left": 32} if tool == "outpaint" else {"strength": 0.9}
    result = engine.run(parse_request(dict(tool=tool, seed=1, steps=6, quality="fast", **extra)), smooth_image(96, 96))
    reused, forwards = map(int, str(result.metrics["unet_forwards_reused"]).split("/"))
    assert forwards >= 5 and reused == forwards - math.ceil(forwards / 3)


def test_quality_is_part_of_the_batch_key(engine: Engine) -> None:
    full = engine.prepare(parse_request(dict(tool="text", prompt="x", seed=1)))
    fast = engine.prepare(parse_request(dict(tool="text", prompt="x", seed=1, quality="fast")))
    assert engine.batch_key(full) != engine.batch_key(fast)
