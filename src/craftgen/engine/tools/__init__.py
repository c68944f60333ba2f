"""The seven tools, one file each; TOOLS maps a tool name to its instance."""

from __future__ import annotations

from craftgen.engine.base import Tool
from craftgen.engine.tools.clipart import ClipartTool
from craftgen.engine.tools.cutout import CutoutTool
from craftgen.engine.tools.outpaint import OutpaintTool
from craftgen.engine.tools.pattern import PatternTool
from craftgen.engine.tools.text import TextTool
from craftgen.engine.tools.upscale import UpscaleTool
from craftgen.engine.tools.variations import VariationsTool

TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        TextTool(),
        PatternTool(),
        ClipartTool(),
        CutoutTool(),
        VariationsTool(),
        OutpaintTool(),
        UpscaleTool(),
    )
}
