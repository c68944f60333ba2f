"""Cut files: an image on a plain background to a transparent PNG plus an SVG cut path.

Shared by every tool that gives a cut file (cutout from an upload, clipart from a prompt).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from craftgen.engine.base import OutputFile, RunContext, ToolInput, png_output
from craftgen.engine.print_size import fit_print, print_spec
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
    # 3. The cut file from the alpha. A generated image with nothing to cut keeps its PNG
    #    and says why it has no SVG; an upload with nothing to cut is the caller's error.
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
    return out
