"""The shapes every tool shares: what goes in, what comes out, and the Tool interface.

A tool is one file under engine/tools with one class that declares everything about it once:
its name, its request model (the fields it accepts, with their constraints and descriptions),
what it takes (a prompt, an input image) and gives (transparent images, SVG cut files, a
repeat preview), and its studio card. The API schema, /v1/tools, the CLI options, the studio's
forms and the contract tests are all derived from that declaration. At run time a tool fills
its defaults, checks its own limits, says which requests may share a diffusion call
(`batch_key`), and runs a list of compatible inputs as one batch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, TypeVar

from PIL import Image

from craftgen.engine.limits import Limits
from craftgen.engine.models import LoadedModel
from craftgen.engine.options import EngineOptions
from craftgen.engine.print_size import fit_print, print_spec
from craftgen.imaging.io import png_bytes
from craftgen.imaging.printing import srgb_profile
from craftgen.schemas import InputFile, OutputKind, ToolRequest, input_files

RequestT = TypeVar("RequestT", bound=ToolRequest)

ProgressFn = Callable[[int, int], None]
"""Called with (steps done, steps in all); it may raise Canceled to stop the run."""



@dataclass(frozen=True)
class ToolCard:
    """What the studio's home page and the tool's page say about a tool."""

    title: str
    makes: str  # one line: what it makes
    example: str
    ideas: tuple[str, ...] = ()  # prompts to try, shown as chips
    order: int = 100  # place on the home page and in listings (lower first)


@dataclass(frozen=True)
class ToolOutputs:
    """What a tool's results are, so the studio and the contract tests need not know tools."""

    transparent: bool = False  # images have an alpha channel (shown on a checkerboard)
    svg: bool = False  # each image comes with an SVG cut file
    repeat_preview: bool = False  # each image comes with a 3x3 preview of its repeat

    @property
    def kinds(self) -> frozenset[OutputKind]:
        kinds: set[OutputKind] = {"image"}
        if self.svg:
            kinds.add("svg")
        if self.repeat_preview:
            kinds.add("preview")
        return frozenset(kinds)


@dataclass(frozen=True)
class ToolInput(Generic[RequestT]):
    """A request with every default filled in, plus its decoded input files by field name
    (`image`, and a `mask` where the tool takes one)."""

    request: RequestT
    files: Mapping[str, Image.Image] = field(default_factory=dict)

    @property
    def image(self) -> Image.Image | None:
        """The input image, where the tool takes one."""
        return self.files.get("image")

    def file(self, name: str) -> Image.Image:
        """An input file the tool declares (validation made sure it is there)."""
        found = self.files.get(name)
        assert found is not None, f"{name} is checked for before a request runs"
        return found

    @property
    def num_images(self) -> int:
        """Images this request makes (tools without a num_images field make one)."""
        return int(getattr(self.request, "num_images", 1))

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
    tool: str
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


class Tool(Generic[RequestT]):
    """Base class: a subclass declares itself in class variables and implements `run`.

    `request_model` is the tool's own pydantic model; its fields are exactly the request fields
    the tool accepts (`image` among them: it takes an input image)."""

    name: ClassVar[str]
    request_model: ClassVar[type[ToolRequest]]
    card: ClassVar[ToolCard]
    outputs: ClassVar[ToolOutputs] = ToolOutputs()
    needs_prompt: ClassVar[bool] = False  # the prompt must not be empty
    uses_model: ClassVar[bool] = True
    max_images: ClassVar[int | None] = None  # None: the num_images limit applies
    uses_inpaint: ClassVar[bool] = False  # runs the model's inpainting pipeline
    prompt_suffix: ClassVar[str] = ""  # words the tool adds to every prompt (they count as tokens)
    negative_suffix: ClassVar[str] = ""

    @property
    def fields(self) -> frozenset[str]:
        """The request fields this tool accepts."""
        return frozenset(self.request_model.model_fields)

    @property
    def example_request(self) -> dict[str, object]:
        """The first example request its model declares (see schemas.examples); every tool has one."""
        extra = self.request_model.model_config.get("json_schema_extra")
        found = extra.get("examples") if isinstance(extra, dict) else None
        if not isinstance(found, list) or not found or not isinstance(found[0], dict):
            raise TypeError(f"{self.request_model.__name__} declares no example request")
        return dict(found[0])

    @property
    def needs_image(self) -> bool:
        """The tool cannot run without an input image."""
        marker = self.input_files.get("image")
        return marker is not None and not marker.optional

    @property
    def takes_image(self) -> bool:
        """The tool accepts an input image (needed, or optional as for a sticker)."""
        return "image" in self.input_files

    @property
    def input_files(self) -> dict[str, InputFile]:
        """The fields that name input files (`image`, a `mask`), each required unless marked optional."""
        return input_files(self.request_model)

    @property
    def mask_fields(self) -> tuple[str, ...]:
        """The input files that are masks over another input (the studio paints them)."""
        return tuple(name for name, marker in self.input_files.items() if marker.mask_of)

    @property
    def prompt_mode(self) -> Literal["required", "optional", "none"]:
        if "prompt" not in self.request_model.model_fields:
            return "none"
        return "required" if self.needs_prompt else "optional"

    def defaults(self, request: RequestT, image: Image.Image | None, options: EngineOptions) -> dict[str, object]:
        """Values to fill where the request left `None`."""
        return {}

    def validate(self, item: ToolInput[RequestT], limits: Limits) -> None:
        """Tool-specific checks after defaults are filled; raise InvalidRequest."""

    def batch_key(self, item: ToolInput[RequestT]) -> tuple[object, ...] | None:
        """Requests with equal keys may run as one diffusion call; None means alone."""
        return None

    def run(self, ctx: RunContext, items: list[ToolInput[RequestT]]) -> list[ToolResult]:
        raise NotImplementedError


def parameters(
    item: ToolInput[Any], *, model: str, seed: int, extra: Mapping[str, object] | None = None
) -> dict[str, object]:
    """What a PNG records about how it was made: enough to make it again."""
    request: dict[str, object] = item.request.model_dump(
        exclude_none=True, exclude=set(input_files(type(item.request)))
    )
    request.update(model=model, seed=seed, **(extra or {}))
    return request


def png_output(
    image: Image.Image,
    *,
    name: str,
    kind: OutputKind,
    item: ToolInput[Any],
    ctx: RunContext,
    seed: int | None,
    extra: Mapping[str, object] | None = None,
    fitted: bool = False,
    tile: Mapping[str, Any] | None = None,
) -> OutputFile:
    """One PNG output. An `image` of a request with a print size is brought to that size here
    (engine/print_size.fit_print; `tile` = {repeat, wrap_x, wrap_y} resizes a pattern tile
    wrap-aware) unless the caller already did (`fitted`); every PNG gets the request's DPI, and
    an sRGB profile when any print field was given."""
    spec = print_spec(item.request, dpi=ctx.options.dpi)
    if kind == "image" and not fitted:
        image = fit_print(image, spec, tile=dict(tile) if tile is not None else None)
    data = png_bytes(
        image,
        parameters=parameters(
            item, model=ctx.model_name, seed=item.seed if seed is None else seed, extra=extra
        ),
        dpi=spec.dpi,
        icc_profile=srgb_profile() if spec.tagged else None,
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
