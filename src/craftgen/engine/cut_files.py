"""Cut files: an image on a plain background to a transparent PNG plus an SVG cut path.

Shared by every tool that gives a cut file (cutout from an upload, clipart from a prompt, the
sticker's outline). A cut file keeps to the request's cut rules at the print size (`CutRules`:
no part or gap thinner than min_feature_mm, no island smaller than min_island_mm); the PNG
keeps the art as it is. Metrics are in mm and are measured on the SVG itself, drawn back.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from craftgen.engine.base import OutputFile, RunContext, ToolInput, png_output
from craftgen.engine.print_size import PrintSpec, fit_print, print_spec
from craftgen.errors import InvalidRequest
from craftgen.imaging.cutlines import CutReport, clean_for_cutting, rasterize_path, subpaths, thinnest
from craftgen.imaging.cutout import cut_out
from craftgen.imaging.vectorize import vectorize_alpha
from craftgen.schemas import ToolRequest

DEFAULT_MIN_FEATURE_MM = 1.0  # Spreadshirt's plotter refuses lines under 1 mm
DEFAULT_MIN_ISLAND_MM = 1.5


@dataclass
class CutoutOutputs:
    files: list[OutputFile]
    metrics: dict[str, int | float | str | bool] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def cutout_outputs(
    ctx: RunContext,
    item: ToolInput[Any],
    image: Image.Image,
    *,
    prefix: str,
    seed: int | None,
    strict: bool,
) -> CutoutOutputs:
    """Transparent PNG + SVG for one image; `strict` refuses images without a plain background."""
    # 1. Alpha from the plain background, edge colours cleaned of it.
    cut = cut_out(image, strict=strict)
    # 2. At a print size, the cut-out is fitted to it first, so the cut file is traced at the
    #    size it will be cut (and matches the PNG exactly).
    spec = print_spec(item.request, dpi=ctx.options.dpi)
    sized = fit_print(cut.image, spec)
    alpha = cut.alpha
    scale = 1.0
    if sized is not cut.image:
        alpha = np.asarray(sized.getchannel("A"), np.float32) / 255.0
        scale = sized.width / cut.image.width
    png = png_output(sized, name=f"{prefix}.png", kind="image", item=item, ctx=ctx, seed=seed, fitted=True)
    out = CutoutOutputs(
        files=[png],
        metrics={
            "background_plain": cut.is_plain,
            "background_color": "#{:02x}{:02x}{:02x}".format(*cut.background),
        },
    )
    if not cut.is_plain:
        out.warnings.append(
            f"{prefix}: the background was not plain (spread {cut.background_spread:.1f}); "
            "the cut-out may include background"
        )
    # 3. The cut file from the alpha, cleaned to the cut rules at this size.
    rules = cut_rules(item.request, spec)
    cleaned, report = clean_for_cutting(alpha >= 0.5, min_feature=rules.min_feature_px, min_island=rules.min_island_px)
    alpha = cleaned.astype(np.float32)
    # A generated image with nothing to cut keeps its PNG and says why it has no SVG; an
    # upload with nothing to cut is the caller's error.
    try:
        cut_file = vectorize_alpha(
            alpha,
            min_area=max(1, round(ctx.options.min_speck_area * scale * scale)),
            max_nodes=ctx.limits.max_svg_nodes,
            dpi=spec.dpi,
            size=spec.svg_size(sized.width, sized.height),
        )
    except InvalidRequest as error:
        if strict:
            raise
        out.warnings.append(f"{prefix}: no SVG cut file: {error.message}")
        return out
    out.files.append(
        OutputFile(
            name=f"{prefix}.svg",
            kind="svg",
            media_type="image/svg+xml",
            data=cut_file.svg.encode("utf-8"),
            width=sized.width,
            height=sized.height,
            seed=seed,
        )
    )
    out.metrics.update(svg_paths=cut_file.paths, svg_nodes=cut_file.nodes)
    out.metrics.update(rules.metrics(report))
    out.metrics.update(measure_cut_file(cut_file.svg, rules))
    return out


@dataclass(frozen=True)
class Rules:
    """A request's cut rules in pixels of its print size."""

    spec: PrintSpec
    min_feature_mm: float
    min_island_mm: float

    @property
    def min_feature_px(self) -> float:
        return self.spec.mm_to_px(self.min_feature_mm)

    @property
    def min_island_px(self) -> float:
        return self.spec.mm_to_px(self.min_island_mm)

    def area_mm2(self, pixels: int) -> float:
        return round(pixels * self.spec.px_to_mm(1.0) ** 2, 2)

    def metrics(self, report: CutReport) -> dict[str, int | float | str | bool]:
        """What cleaning changed, in mm."""
        return {
            "cut_min_feature_mm": self.min_feature_mm,
            "cut_min_island_mm": self.min_island_mm,
            "cut_thin_parts_removed_mm2": self.area_mm2(report.removed_px),
            "cut_thin_gaps_filled_mm2": self.area_mm2(report.filled_px),
            "cut_islands_removed": report.islands_removed,
            "cut_holes_filled": report.holes_filled,
        }


def cut_rules(request: ToolRequest, spec: PrintSpec) -> Rules:
    """The request's min_feature_mm and min_island_mm (defaults where left out), at its size."""
    feature = getattr(request, "min_feature_mm", None)
    island = getattr(request, "min_island_mm", None)
    return Rules(
        spec=spec,
        min_feature_mm=DEFAULT_MIN_FEATURE_MM if feature is None else float(feature),
        min_island_mm=DEFAULT_MIN_ISLAND_MM if island is None else float(island),
    )


def measure_cut_file(svg: str, rules: Rules) -> dict[str, int | float | str | bool]:
    """The thinnest part and gap of a cut file, in mm, drawn back from its own paths (looked for
    up to 4x the minimum feature; nothing thinner reports that bound); and whether every path
    is closed."""
    root = ET.fromstring(svg)  # our own output: only svg and path elements
    view = [float(v) for v in root.get("viewBox", "0 0 0 0").split()]
    width, height = round(view[2]), round(view[3])
    paths = [element.get("d", "") for element in root.iter() if element.tag.endswith("path")]
    drawn = np.zeros((height, width), bool)
    for d in paths:
        drawn |= rasterize_path(d, width=width, height=height)
    bound = 4 * max(rules.min_feature_px, 1.0)
    part = thinnest(drawn, up_to=bound)
    # Gaps: the thin parts of the background, which goes on past the drawing's edge.
    gap = thinnest(~drawn, up_to=bound, outside=True) if drawn.any() else bound
    closed = all(sub[-1][0] == "Z" for d in paths for sub in subpaths(d))
    return {
        "cut_thinnest_part_mm": round(rules.spec.px_to_mm(part), 2),
        "cut_thinnest_gap_mm": round(rules.spec.px_to_mm(gap), 2),
        "cut_paths_closed": closed,
    }
