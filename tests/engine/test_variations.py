"""variations: img2img that keeps the input's exact size, several per call."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from craftgen.engine.engine import Engine
from craftgen.engine.requests import parse_request
from craftgen.errors import InvalidRequest
from tests.conftest import smooth_image


@pytest.mark.parametrize("size", [(160, 120), (203, 97)])
def test_output_size_equals_input_size(engine: Engine, size: tuple[int, int]) -> None:
    image = smooth_image(*size)
    result = engine.run(parse_request(dict(tool="variations", seed=1, num_images=2, strength=0.7)), image)

    assert [out.image.size for out in result.outputs] == [size, size]
    a, b = (np.asarray(out.image, np.int16) for out in result.outputs)
    assert np.abs(a - b).mean() > 1, "two variations are two different images"


@pytest.mark.parametrize(("strength", "calls"), [(0.3, 3), (1.0, 10)])
def test_strength_sets_how_much_is_redrawn(
    engine: Engine, photo: Image.Image, monkeypatch, strength: float, calls: int
) -> None:
    # With random weights pixels say nothing about closeness; the denoising steps run do.
    unet = engine.models.get("tiny").base.unet
    seen: list[int] = []
    original = unet.forward
    monkeypatch.setattr(unet, "forward", lambda sample, *a, **k: seen.append(1) or original(sample, *a, **k))
    engine.run(parse_request(dict(tool="variations", seed=4, steps=10, strength=strength)), photo)
    assert len(seen) == calls


@pytest.mark.parametrize("strength", [0.0, -0.1, 1.5])
def test_strength_out_of_range_is_refused(engine: Engine, photo: Image.Image, strength: float) -> None:
    with pytest.raises(InvalidRequest, match="strength") as error:
        engine.run(parse_request(dict(tool="variations", strength=strength)), photo)
    assert error.value.field == "strength"


def test_strength_that_runs_no_step_is_refused(engine: Engine, photo: Image.Image) -> None:
    with pytest.raises(InvalidRequest, match="no denoising step"):
        engine.run(parse_request(dict(tool="variations", strength=0.1, steps=3)), photo)
