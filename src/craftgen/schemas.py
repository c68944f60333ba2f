"""Request and result models shared by the CLI, the API and the workers.

Field names are the same everywhere (CLI options in kebab case, API fields in snake case).
Types and shapes are checked here; limits that are settings are checked by the engine.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ToolName = Literal["text", "pattern", "clipart", "cutout", "variations", "outpaint", "upscale"]
Repeat = Literal["grid", "half-drop", "brick", "mirror"]
OutputKind = Literal["image", "preview", "svg"]

TOOL_NAMES: tuple[ToolName, ...] = (
    "text",
    "pattern",
    "clipart",
    "cutout",
    "variations",
    "outpaint",
    "upscale",
)


class GenerateRequest(BaseModel):
    """One tool run as a user asks for it; `None` means "the tool's default"."""

    model_config = ConfigDict(extra="forbid")

    tool: ToolName
    prompt: str = ""
    negative_prompt: str = ""
    image: str | None = Field(default=None, description="an upload id (API) or a file path (CLI)")
    model: str | None = None
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1)
    num_images: int = 1
    width: int | None = None
    height: int | None = None
    steps: int | None = None
    guidance: float | None = None
    repeat: Repeat = "grid"
    seamless_x: bool | None = None
    seamless_y: bool | None = None
    strength: float | None = None
    left: int = 0
    right: int = 0
    top: int = 0
    bottom: int = 0
    scale: Literal[2, 4] = 2
    quality: Literal["fast", "full"] = Field(
        default="full", description="fast: reuse deep UNet features between steps (DeepCache)"
    )


class OutputInfo(BaseModel):
    """One file a run produced, as result.json lists it."""

    path: str
    kind: OutputKind
    width: int
    height: int
    seed: int | None = None


class RunRecord(BaseModel):
    """What result.json holds: enough to find every file and re-run the job."""

    tool: ToolName
    model: str
    seed: int
    outputs: list[OutputInfo]
    metrics: dict[str, int | float | str | bool] = Field(default_factory=dict)
    settings: dict[str, object] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
