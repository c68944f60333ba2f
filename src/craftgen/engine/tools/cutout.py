"""cutout: any image on a plain background to a transparent PNG and an SVG cut file (no model)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from craftgen.engine.base import RunContext, Tool, ToolCard, ToolInput, ToolOutputs, ToolResult
from craftgen.engine.cut_files import cutout_outputs
from craftgen.schemas import UPLOAD_EXAMPLE, CutRules, InputImage, ToolRequest, examples


class CutoutRequest(CutRules, InputImage, ToolRequest):
    """An upload's background taken away (no randomness, but every run records a seed)."""

    model_config = examples({"tool": "cutout", "image": UPLOAD_EXAMPLE})

    tool: Literal["cutout"] = "cutout"
    # No Studio control: nothing in a cutout is random, so the studio does not offer a seed.
    seed: Annotated[
        int | None, Field(ge=0, le=2**32 - 1, description="recorded with the result (a cutout has no randomness)")
    ] = None


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
