"""cutout: any image on a plain background to a transparent PNG and an SVG cut file (no model)."""

from __future__ import annotations

from typing import Literal

from craftgen.engine.base import RunContext, Tool, ToolCard, ToolInput, ToolOutputs, ToolResult
from craftgen.engine.cut_files import cutout_outputs
from craftgen.schemas import InputImage, ToolRequest


class CutoutRequest(InputImage, ToolRequest):
    """An upload's background taken away (no randomness, but every run records a seed)."""

    tool: Literal["cutout"] = "cutout"


class CutoutTool(Tool[CutoutRequest]):
    name = "cutout"
    request_model = CutoutRequest
    card = ToolCard(
        title="Cutout",
        makes="Your picture with the background taken away: a transparent PNG and an SVG cut file.",
        example="a drawing on plain white paper",
        order=4,
    )
    outputs = ToolOutputs(transparent=True, svg=True)
    uses_model = False
    max_images = 1

    def run(self, ctx: RunContext, items: list[ToolInput[CutoutRequest]]) -> list[ToolResult]:
        results = []
        for done, item in enumerate(items):
            assert item.image is not None
            out = cutout_outputs(ctx, item, item.image, prefix="cutout-0", seed=None, strict=True)
            ctx.progress(done + 1, len(items))
            results.append(
                ToolResult(
                    tool="cutout",
                    model=ctx.model_name,
                    seed=item.seed,
                    outputs=out.files,
                    metrics=out.metrics,
                    warnings=out.warnings,
                )
            )
        return results
