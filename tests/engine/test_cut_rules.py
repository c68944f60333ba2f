"""Cuttable SVGs (#15): every path closed; no part or gap thinner than min_feature_mm and no
island smaller than min_island_mm at the print size, checked on the cut file itself (its paths
drawn back); result.json says in mm what changed and the thinnest part left."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image, ImageDraw

from craftgen.engine.engine import Engine
from craftgen.engine.requests import parse_request
from craftgen.imaging.cutlines import rasterize_path, subpaths, thinnest

DPI = 300
PX_PER_MM = DPI / 25.4
SIDE = 600  # 2 in at 300 DPI


def _hairline_art() -> Image.Image:
    """On transparency (so the alpha is exact): a disc with a 0.17 mm hairline sticking out, a
    square split by a 0.25 mm slit, and a 0.5 mm speck."""
    image = Image.new("RGBA", (SIDE, SIDE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    red = (200, 30, 30, 255)
    draw.ellipse((60, 60, 260, 260), fill=red)
    draw.rectangle((260, 159, 520, 160), fill=red)  # 2 px = 0.17 mm wide, 22 mm long
    draw.rectangle((340, 340, 540, 540), fill=red)
    draw.rectangle((340, 439, 540, 441), fill=(0, 0, 0, 0))  # a 3 px = 0.25 mm slit across it
    draw.rectangle((100, 450, 105, 455), fill=red)  # a 6 px = 0.5 mm speck
    return image


def _drawn(svg: str) -> np.ndarray:
    view = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg)
    assert view is not None
    width, height = int(view[1]), int(view[2])
    drawn = np.zeros((height, width), bool)
    for d in re.findall(r' d="([^"]+)"', svg):
        for sub in subpaths(d):
            assert sub[-1][0] == "Z", "every path is closed"
        drawn |= rasterize_path(d, width=width, height=height)
    return drawn


def _cutout(engine: Engine, **fields: object) -> tuple[np.ndarray, dict]:  # type: ignore[type-arg]
    request = {"tool": "cutout", "print_width": 2, "print_height": 2, "dpi": DPI, **fields}
    result = engine.run(parse_request(request), _hairline_art())
    svg = next(o for o in result.outputs if o.kind == "svg")
    assert 'width="2.0000in"' in svg.data.decode()
    return _drawn(svg.data.decode()), result.metrics


@pytest.mark.parametrize("min_feature", [1.0, 2.0])
def test_no_part_or_gap_thinner_than_min_feature_survives_in_the_cut_file(engine: Engine, min_feature: float) -> None:
    drawn, metrics = _cutout(engine, min_feature_mm=min_feature)
    bound = 4 * min_feature * PX_PER_MM
    # The cut file itself, measured: nothing thinner than the minimum (less a pixel of tracing).
    part = thinnest(drawn, up_to=bound) / PX_PER_MM
    gap = thinnest(~drawn, up_to=bound, outside=True) / PX_PER_MM
    assert part >= min_feature - 0.1 and gap >= min_feature - 0.1, (part, gap)
    # The hairline is gone, the slit closed, the speck dropped; disc and square stay.
    assert not drawn[150:170, 300:520].any()
    assert drawn[435:446, 360:520].all()
    assert not drawn[445:460, 95:110].any()
    assert drawn[160, 160] and drawn[380, 380]
    # result.json: what changed and what is left, in mm; every path closed.
    assert metrics["cut_min_feature_mm"] == min_feature and metrics["cut_paths_closed"] is True
    assert metrics["cut_thin_parts_removed_mm2"] > 3.5  # most of the 0.17 x 22 mm hairline
    assert metrics["cut_thin_gaps_filled_mm2"] > 3.5  # the 0.25 x 17 mm slit
    assert metrics["cut_thinnest_part_mm"] >= min_feature - 0.1
    assert metrics["cut_thinnest_gap_mm"] >= min_feature - 0.1


def test_with_no_minimum_the_hairline_is_cut(engine: Engine) -> None:
    drawn, metrics = _cutout(engine, min_feature_mm=0, min_island_mm=0)
    # The measurement sees what the rule would have removed.
    assert drawn[155:165, 300:520].any(axis=0).mean() > 0.9
    assert metrics["cut_thinnest_part_mm"] < 0.5 and metrics["cut_thin_parts_removed_mm2"] == 0


def test_an_island_smaller_than_min_island_is_dropped(engine: Engine) -> None:
    # The speck (0.5 mm square) is thicker than a 0.3 mm minimum feature but smaller than 1 mm².
    drawn, metrics = _cutout(engine, min_feature_mm=0.3, min_island_mm=1.0)
    assert not drawn[445:460, 95:110].any() and metrics["cut_islands_removed"] == 1
    kept, _ = _cutout(engine, min_feature_mm=0.3, min_island_mm=0.2)
    assert kept[450:456, 100:106].all()


def test_the_rules_scale_with_the_print_size(engine: Engine) -> None:
    # At 1 in (half the size) the 1 mm minimum is twice as many pixels of the same art.
    request = {"tool": "cutout", "print_width": 1, "print_height": 1, "dpi": DPI}
    result = engine.run(parse_request(request), _hairline_art())
    svg = next(o for o in result.outputs if o.kind == "svg").data.decode()
    drawn = _drawn(svg)
    assert drawn.shape == (300, 300)
    assert thinnest(drawn, up_to=4 * PX_PER_MM) / PX_PER_MM >= 0.9
