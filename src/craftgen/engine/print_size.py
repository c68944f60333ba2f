"""Physical output sizes, shared by every tool (the `PrintSize` fields of schemas.py).

A request with `print_width` and `print_height` still generates at the model's own size (with
the print's aspect where the tool picks the size); its final images are then made exactly
round(size x dpi) pixels, plus `bleed` on each side, tagged with that DPI and an sRGB profile.
`dpi` alone only retags the file. A request with none of the fields is untouched: the model's
pixels at the engine's DPI, as before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from PIL import Image

from craftgen.engine.limits import Limits
from craftgen.errors import InvalidRequest
from craftgen.imaging.printing import add_margin, contain, cover, fit_tile, from_mm, print_pixels
from craftgen.schemas import ToolRequest

MIN_DPI = 50
MAX_DPI = 1200


@dataclass(frozen=True)
class PrintSpec:
    """What the final files of one request must be."""

    dpi: int
    unit: str = "in"
    width: float | None = None  # the trim size, in `unit`; None: the image keeps its pixels
    height: float | None = None
    bleed: float = 0.0  # in `unit`, on each side
    tagged: bool = False  # a print field was given: embed the sRGB profile

    @property
    def sized(self) -> bool:
        return self.width is not None and self.height is not None

    @property
    def trim_px(self) -> tuple[int, int]:
        assert self.width is not None and self.height is not None
        return print_pixels(self.width, self.unit, self.dpi), print_pixels(self.height, self.unit, self.dpi)

    @property
    def bleed_px(self) -> int:
        return print_pixels(self.bleed, self.unit, self.dpi)

    @property
    def final_px(self) -> tuple[int, int]:
        width, height = self.trim_px
        return width + 2 * self.bleed_px, height + 2 * self.bleed_px

    def mm_to_px(self, mm: float) -> float:
        return mm / 25.4 * self.dpi

    def px_to_mm(self, px: float) -> float:
        return px * 25.4 / self.dpi

    def svg_size(self, width_px: int, height_px: int) -> tuple[str, str]:
        """An SVG's width and height attributes for a drawing of that many pixels, in the unit."""
        unit = self.unit if self.tagged else "in"
        return (
            f"{from_mm(self.px_to_mm(width_px), unit):.4f}{unit}",
            f"{from_mm(self.px_to_mm(height_px), unit):.4f}{unit}",
        )


def print_spec(request: ToolRequest, *, dpi: int) -> PrintSpec:
    """The print spec of a request; `dpi` is the engine's, for requests that name none."""
    width = getattr(request, "print_width", None)
    height = getattr(request, "print_height", None)
    unit = getattr(request, "print_unit", None) or "in"
    given_dpi = getattr(request, "dpi", None)
    bleed = getattr(request, "bleed", None) or 0.0
    tagged = width is not None or height is not None or given_dpi is not None
    return PrintSpec(dpi=given_dpi or dpi, unit=unit, width=width, height=height, bleed=float(bleed), tagged=tagged)


def _fmt(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def check_print_size(request: ToolRequest, *, limits: Limits, dpi: int) -> None:
    """Refuse a print size that is half given, out of range, or more pixels than allowed."""
    spec = print_spec(request, dpi=dpi)
    if spec.width is None and spec.height is None and not spec.bleed:
        if not MIN_DPI <= spec.dpi <= MAX_DPI:
            raise InvalidRequest(f"dpi must be between {MIN_DPI} and {MAX_DPI}, got {spec.dpi}", field="dpi")
        return
    # 1. Both sides, a sane DPI.
    if spec.width is None or spec.height is None:
        missing = "print_height" if spec.height is None else "print_width"
        raise InvalidRequest(f"{missing} is needed too (a print size has a width and a height)", field=missing)
    if not MIN_DPI <= spec.dpi <= MAX_DPI:
        raise InvalidRequest(f"dpi must be between {MIN_DPI} and {MAX_DPI}, got {spec.dpi}", field="dpi")
    width_px, height_px = spec.trim_px
    if min(width_px, height_px) < 8:
        field = "print_width" if width_px <= height_px else "print_height"
        raise InvalidRequest(
            f"print_width x print_height {_fmt(spec.width)} x {_fmt(spec.height)} {spec.unit} at {spec.dpi} DPI "
            f"is {width_px}x{height_px} px; "
            "each side needs at least 8 px",
            field=field,
        )
    if spec.bleed_px * 2 > min(width_px, height_px):
        raise InvalidRequest(
            f"bleed {_fmt(spec.bleed)} {spec.unit} is more than half the print's shorter side", field="bleed"
        )
    # 2. The pixel limit, with the largest size that would fit at this DPI and shape.
    final_w, final_h = spec.final_px
    if final_w * final_h > limits.max_print_pixels:
        factor = (limits.max_print_pixels / (final_w * final_h)) ** 0.5
        most_w, most_h = (math.floor(side * factor * 100) / 100 for side in (spec.width, spec.height))
        field = "print_width" if spec.width >= spec.height else "print_height"
        raise InvalidRequest(
            f"print_width x print_height {_fmt(spec.width)} x {_fmt(spec.height)} {spec.unit} at {spec.dpi} DPI "
            f"is {final_w}x{final_h} = "
            f"{final_w * final_h:,} px; the limit is {limits.max_print_pixels:,} px, so the largest at "
            f"{spec.dpi} DPI with this shape is {most_w:.2f} x {most_h:.2f} {spec.unit} "
            f"(or lower the dpi)",
            field=field,
        )


def aspect_size(request: ToolRequest, *, default: int, limits: Limits | None = None) -> tuple[int, int]:
    """The generation size for a print: about default x default pixels in the print's shape,
    multiples of 8 (so the final resize barely stretches)."""
    width, height = getattr(request, "print_width", None), getattr(request, "print_height", None)
    if width is None or height is None:
        return default, default
    aspect = width / height
    low, high = (limits.min_side, limits.max_side) if limits else (64, 1536)
    area = default * default
    gen_w = round((area * aspect) ** 0.5 / 8) * 8
    gen_h = round((area / aspect) ** 0.5 / 8) * 8
    return max(low, min(high, gen_w)), max(low, min(high, gen_h))


def fit_print(
    image: Image.Image,
    spec: PrintSpec,
    *,
    tile: dict[str, Any] | None = None,
) -> Image.Image:
    """`image` at the print's pixel size. Opaque images cover the bleed box; transparent ones
    fit inside the trim, bleed transparent; a tile (`tile={"repeat", "wrap_x", "wrap_y"}`) is
    resized wrap-aware and its repeat continues into the bleed."""
    if not spec.sized:
        return image
    trim = spec.trim_px
    if tile is not None:
        return fit_tile(image, trim, bleed=spec.bleed_px, **tile)
    if image.mode == "RGBA":
        return add_margin(contain(image, trim), spec.bleed_px)
    return cover(image, spec.final_px)
