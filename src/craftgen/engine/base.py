"""The shapes every tool shares: what goes in, what comes out, and the Tool interface.

A tool is one file under engine/tools with one class: it names the request fields it accepts,
fills its defaults, checks its own limits, says which requests may share a diffusion call
(`batch_key`), and runs a list of compatible inputs as one batch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from PIL import Image

from craftgen.engine.limits import Limits
from craftgen.engine.models import LoadedModel
from craftgen.engine.options import EngineOptions
from craftgen.imaging.io import png_bytes
from craftgen.schemas import GenerateRequest, OutputKind, ToolName

ProgressFn = Callable[[int, int], None]
"""Called with (steps done, steps in all); it may raise Canceled to stop the run."""

COMMON_FIELDS = frozenset({"tool", "model", "seed", "prompt", "negative_prompt"})
DIFFUSION_FIELDS = frozenset({"steps", "guidance", "quality"})


@dataclass(frozen=True)
class ToolInput:
    """A request with every default filled in, plus its decoded input image."""

    request: GenerateRequest
    image: Image.Image | None = None

    @property
    def seed(self) -> int:
        assert self.request.seed is not None, "requests are resolved before they run"
        return self.request.seed

    def image_seed(self, index: int) -> int:
        """Image `index` of a request uses seed + index, so any one image can be re-made alone."""
        return (self.seed + index) % 2**32


@dataclass
class OutputFile:
    """One produced file, encoded (PNG with metadata, or SVG) and ready to store."""

    name: str
    kind: OutputKind
    media_type: str
    data: bytes
    width: int
    height: int
    seed: int | None = None
    image: Image.Image | None = None  # the decoded pixels, for callers that show or test them


@dataclass
class ToolResult:
    tool: ToolName
    model: str
    seed: int
    outputs: list[OutputFile]
    metrics: dict[str, int | float | str | bool] = field(default_factory=dict)
    settings: dict[str, object] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RunContext:
    """What a tool needs to run: the loaded model (None for model-free tools) and the knobs."""

    model: LoadedModel | None
    options: EngineOptions
    limits: Limits
    progress: ProgressFn

    @property
    def model_name(self) -> str:
        return self.model.name if self.model else "none"


class Tool:
    """Base class: subclasses set the class variables and implement `run`."""

    name: ClassVar[ToolName]
    fields: ClassVar[frozenset[str]] = COMMON_FIELDS  # request fields this tool accepts
    needs_image: ClassVar[bool] = False
    needs_prompt: ClassVar[bool] = False
    uses_model: ClassVar[bool] = True
    max_images: ClassVar[int | None] = None  # None: the num_images limit applies
    uses_inpaint: ClassVar[bool] = False  # runs the model's inpainting pipeline
    prompt_suffix: ClassVar[str] = ""  # words the tool adds to every prompt (they count as tokens)
    negative_suffix: ClassVar[str] = ""

    def defaults(
        self, request: GenerateRequest, image: Image.Image | None, options: EngineOptions
    ) -> dict[str, object]:
        """Values to fill where the request left `None`."""
        return {}

    def validate(self, item: ToolInput, limits: Limits) -> None:
        """Tool-specific checks after defaults are filled; raise InvalidRequest."""

    def batch_key(self, item: ToolInput) -> tuple[object, ...] | None:
        """Requests with equal keys may run as one diffusion call; None means alone."""
        return None

    def run(self, ctx: RunContext, items: list[ToolInput]) -> list[ToolResult]:
        raise NotImplementedError


def parameters(
    item: ToolInput, *, model: str, seed: int, extra: Mapping[str, object] | None = None
) -> dict[str, object]:
    """What a PNG records about how it was made: enough to make it again."""
    request = item.request.model_dump(exclude_none=True, exclude={"image"})
    request.update(model=model, seed=seed, **(extra or {}))
    return request


def png_output(
    image: Image.Image,
    *,
    name: str,
    kind: OutputKind,
    item: ToolInput,
    ctx: RunContext,
    seed: int | None,
    extra: Mapping[str, object] | None = None,
) -> OutputFile:
    data = png_bytes(
        image,
        parameters=parameters(
            item, model=ctx.model_name, seed=item.seed if seed is None else seed, extra=extra
        ),
        dpi=ctx.options.dpi,
    )
    return OutputFile(
        name=name,
        kind=kind,
        media_type="image/png",
        data=data,
        width=image.width,
        height=image.height,
        seed=seed,
        image=image,
    )
