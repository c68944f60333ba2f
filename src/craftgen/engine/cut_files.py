"""Cut files: an image on a plain background to a transparent PNG plus an SVG cut path.

Shared by every tool that gives a cut file (cutout from an upload, clipart from a prompt).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from craftgen.engine.base import OutputFile, RunContext, ToolInput, png_output
from craftgen.errors import InvalidRequest
from craftgen.imaging.cutout import cut_out
from craftgen.imaging.vectorize import vectorize_alpha


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
    png = png_output(cut.image, name=f"{prefix}.png", kind="image", item=item, ctx=ctx, seed=seed)
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
    # 2. The cut file from the alpha. A generated image with nothing to cut keeps its PNG
    #    and says why it has no SVG; an upload with nothing to cut is the caller's error.
    try:
        cut_file = vectorize_alpha(
            cut.alpha,
            min_area=ctx.options.min_speck_area,
            max_nodes=ctx.limits.max_svg_nodes,
            dpi=ctx.options.dpi,
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
            width=cut.image.width,
            height=cut.image.height,
            seed=seed,
        )
    )
    out.metrics.update(svg_paths=cut_file.paths, svg_nodes=cut_file.nodes)
    return out
