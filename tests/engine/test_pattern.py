"""pattern: the tile wraps with no seam (both axes, half-drop and brick offsets), and the model
is left exactly as it was afterwards."""

from __future__ import annotations

import numpy as np
import pytest

from craftgen.engine.engine import Engine
from craftgen.engine.requests import parse_request
from craftgen.engine.tile_padding import is_patched
from craftgen.imaging.seams import seam_scores

SIZE = 256  # a single column pair is a noisy statistic: score 4 tiles of 256 px and average


def _pattern(engine: Engine, **fields) -> dict:
    fields = {"width": SIZE, "height": SIZE, "seed": 5, **fields}
    result = engine.run(parse_request(dict(tool="pattern", prompt="strawberries", **fields)))
    tiles = [out.image for out in result.outputs if out.kind == "image"]
    previews = [out.image for out in result.outputs if out.kind == "preview"]
    return {"result": result, "tiles": tiles, "tile": tiles[0], "preview": previews[0]}


def _mean_scores(tiles: list, repeat: str) -> dict[str, float]:
    scores = [seam_scores(tile, repeat=repeat) for tile in tiles]
    return {axis: float(np.mean([s[axis] for s in scores])) for axis in ("seam_score_x", "seam_score_y")}


def test_grid_tile_wraps_on_both_axes(engine: Engine) -> None:
    out = _pattern(engine, num_images=4)
    scores = _mean_scores(out["tiles"], "grid")

    assert scores["seam_score_x"] > 0.8 and scores["seam_score_y"] > 0.8
    # result.json reports the worst tile of the job.
    worst = out["result"].metrics
    assert worst["seam_score_x"] <= scores["seam_score_x"] and worst["seam_score_x"] > 0.5
    # The same prompt and seeds without wrapping show a real cut at the wrap.
    cut = _mean_scores(_pattern(engine, num_images=4, seamless_x=False, seamless_y=False)["tiles"], "grid")
    assert cut["seam_score_x"] < 0.3 and cut["seam_score_y"] < 0.3


def test_only_the_chosen_axis_wraps(engine: Engine) -> None:
    scores = _mean_scores(_pattern(engine, num_images=4, seamless_y=False)["tiles"], "grid")
    assert scores["seam_score_x"] > 0.8
    assert scores["seam_score_y"] < 0.3


@pytest.mark.parametrize("repeat", ["half-drop", "brick"])
def test_offset_repeats_wrap_with_half_a_tile_offset(engine: Engine, repeat: str) -> None:
    tiles = _pattern(engine, repeat=repeat, num_images=4)["tiles"]

    offset = _mean_scores(tiles, repeat)
    plain = _mean_scores(tiles, "grid")
    axis = "seam_score_x" if repeat == "half-drop" else "seam_score_y"
    other = "seam_score_y" if repeat == "half-drop" else "seam_score_x"
    assert offset[axis] > 0.8, "the tile continues into its half-offset neighbour"
    assert plain[axis] < 0.3, "and does NOT continue into an unshifted neighbour"
    assert offset[other] > 0.8, "the other axis wraps plainly"


def test_preview_is_the_tile_repeated_3x3(engine: Engine) -> None:
    out = _pattern(engine)
    tile = np.asarray(out["tile"])
    preview = np.asarray(out["preview"])
    h, w = tile.shape[:2]

    assert preview.shape[:2] == (3 * h, 3 * w)
    assert np.array_equal(preview[h : 2 * h, w : 2 * w], tile)
    assert out["result"].outputs[1].kind == "preview"


def test_model_is_left_as_it_was(engine: Engine) -> None:
    request = parse_request(dict(tool="text", prompt="a bird", seed=9))
    before = np.asarray(engine.run(request).outputs[0].image)
    _pattern(engine, repeat="half-drop")
    model = engine.models.get("tiny")
    after = np.asarray(engine.run(request).outputs[0].image)

    assert not is_patched([model.base.unet, model.base.vae])
    assert np.array_equal(before, after), "text output changed after a pattern run"


def test_padding_is_restored_even_when_the_run_fails(engine: Engine) -> None:
    model = engine.models.get("tiny")

    def boom(done: int, total: int) -> None:
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        engine.run(parse_request(dict(tool="pattern", prompt="leaves", seed=1)), progress=boom)
    assert not is_patched([model.base.unet, model.base.vae])
