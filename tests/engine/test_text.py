"""text: N distinct images from ONE batched diffusion call, each reproducible from its seed."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from craftgen.engine.engine import Engine
from craftgen.engine.requests import parse_request
from craftgen.imaging.io import PARAMETERS_KEY


def _count_unet_calls(engine: Engine, monkeypatch) -> list[int]:
    """Record the batch size of every UNet forward of the tiny model."""
    unet = engine.models.get("tiny").base.unet
    batches: list[int] = []
    original = unet.forward

    def forward(sample, *args, **kwargs):
        batches.append(sample.shape[0])
        return original(sample, *args, **kwargs)

    monkeypatch.setattr(unet, "forward", forward)
    return batches


def test_n_images_come_from_one_batched_call(engine: Engine, monkeypatch) -> None:
    batches = _count_unet_calls(engine, monkeypatch)
    result = engine.run(parse_request(dict(tool="text", prompt="a cute cat", num_images=4, seed=11, steps=3)))

    assert len(batches) == 3, "one UNet forward per step, not one per image"
    assert set(batches) == {8}, "4 images x (conditional + unconditional) in each forward"
    images = [np.asarray(out.image, dtype=np.int16) for out in result.outputs]
    assert len(images) == 4
    for i in range(4):
        for j in range(i + 1, 4):
            assert np.abs(images[i] - images[j]).mean() > 5, f"images {i} and {j} are near-identical"


def test_each_image_can_be_made_alone_from_its_seed(engine: Engine) -> None:
    batch = engine.run(parse_request(dict(tool="text", prompt="a cute cat", num_images=3, seed=40)))
    alone = engine.run(parse_request(dict(tool="text", prompt="a cute cat", num_images=1, seed=42)))

    assert [out.seed for out in batch.outputs] == [40, 41, 42]
    diff = np.abs(np.asarray(batch.outputs[2].image, np.int16) - np.asarray(alone.outputs[0].image, np.int16))
    assert diff.max() <= 2


def test_png_carries_parameters_and_dpi(engine: Engine) -> None:
    result = engine.run(parse_request(dict(tool="text", prompt="lemons", seed=3)))
    png = Image.open(io.BytesIO(result.outputs[0].data))

    assert png.format == "PNG"
    assert round(png.info["dpi"][0]) == 300
    assert '"prompt": "lemons"' in png.text[PARAMETERS_KEY]
    assert '"seed": 3' in png.text[PARAMETERS_KEY]
    assert '"model": "tiny"' in png.text[PARAMETERS_KEY]
