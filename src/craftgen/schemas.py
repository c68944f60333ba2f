"""Request and result models shared by the CLI, the API and the workers.

Each tool declares its own request model in its file under engine/tools, built from the
pieces here: a base (`ToolRequest`, `DiffusionRequest`), mixins for fields several tools share
(`Count`, `Size`, `InputImage`, `InputMask`), and field types that carry their constraints,
descriptions and studio hints (`Studio`). Field names are the same everywhere (CLI options in
kebab case, API fields in snake case). Types and shapes are checked here; limits that are
settings are checked by the engine. The union of all tool requests, keyed on `tool`, is in engine/requests.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.fields import FieldInfo

Repeat = Literal["grid", "half-drop", "brick", "mirror"]
PrintUnit = Literal["in", "cm", "mm"]
OutputKind = Literal["image", "preview", "svg"]
Quality = Literal["fast", "full"]
# AUTOMATIC1111's sampler names; engine/samplers.py maps each to a diffusers scheduler.
SamplerName = Literal[
    "DPM++ 2M",
    "DPM++ 2M Karras",
    "DPM++ 2M SDE",
    "DPM++ 2M SDE Karras",
    "DPM++ SDE",
    "DPM++ SDE Karras",
    "Euler a",
    "Euler",
    "LMS",
    "LMS Karras",
    "Heun",
    "DDIM",
    "PLMS",
    "UniPC",
]
SAMPLER_NAMES: tuple[str, ...] = get_args(SamplerName)


@dataclass(frozen=True)
class Studio:
    """How the studio shows a field (pydantic keeps this in the field's metadata). A field
    without one is not in the studio's form; the API and CLI take it all the same. The form
    starts at the tool's own default for the field (`Tool.defaults`), else the model's."""

    label: str
    choices: tuple[tuple[object, str], ...] = ()  # (value, label); a value of None sends nothing
    labels: tuple[tuple[object, str], ...] = ()  # labels for a Literal's values, in its order
    unit: str = ""
    order: int = 50  # place in the form (lower first; equal ones keep the model's field order)
    more: bool = False  # under "More options"
    half: bool = False  # half a row wide, beside its pair (width and height, the sides)
    hint: str = ""  # a line under the control, in crafters' words (descriptions are for the API)
    group: str = ""  # "print": shown under the form's "Print size" section, with its presets


# Fields every tool that runs a model shares ---------------------------------------------------

Prompt = Annotated[str, Field(description="what to make")]  # the studio shows it as a text box of its own
NegativePrompt = Annotated[
    str,
    Field(description="what to leave out"),
    Studio("Leave out", order=80, more=True, hint="things you don't want, e.g. text, blurry"),
]
Seed = Annotated[
    int | None,
    Field(ge=0, le=2**32 - 1, description="the same seed makes the same picture; left out: a random one"),
    Studio("Seed", order=90, more=True, hint="blank for a surprise; the same seed makes the same picture"),
]
ModelName = Annotated[
    str | None,
    Field(
        description=(
            "a model from GET /v1/models (the CLI also takes a diffusers folder or a .safetensors file); "
            "left out: the default"
        )
    ),
]
Steps = Annotated[int | None, Field(description="denoising steps; left out: the model's default")]
Guidance = Annotated[
    float | None,
    Field(description="how closely to follow the prompt (classifier-free guidance); left out: the model's default"),
]
QualityField = Annotated[
    Quality, Field(description="fast: reuse deep UNet features between steps (DeepCache), about 2x quicker")
]


def sampler_key(name: str) -> str:
    """Our snake-case spelling of a sampler name: "DPM++ 2M Karras" -> "dpmpp_2m_karras"."""
    return name.strip().lower().replace("++", "pp").replace(" ", "_")


_SAMPLER_SPELLINGS = {sampler_key(name): name for name in SAMPLER_NAMES}


def _sampler_spelling(value: object) -> object:
    """A sampler name in any case, or our snake-case spelling, as A1111 spells it."""
    return _SAMPLER_SPELLINGS.get(sampler_key(value), value) if isinstance(value, str) else value


Sampler = Annotated[
    SamplerName | None,
    BeforeValidator(_sampler_spelling),
    Field(
        description=(
            "the sampler (diffusers scheduler), by its AUTOMATIC1111 name such as 'Euler a' or 'DPM++ 2M Karras' "
            "(any case, or snake case: dpmpp_2m_karras); left out: the model's own scheduler"
        )
    ),
    Studio(
        "Sampler",
        choices=((None, "The model's own (recommended)"), *((name, name) for name in SAMPLER_NAMES)),
        order=85,
        more=True,
        hint="how noise is turned into a picture; each gives a slightly different look",
    ),
]
NumImages = Annotated[
    int,
    Field(description="how many images to make, each from seed + its index"),
    Studio("How many", choices=tuple((n, str(n)) for n in range(1, 5)), order=40),
]
Side = Annotated[
    int | None,
    Field(description="pixels, a multiple of 8; left out: the model's size"),
    Studio("Width", unit="px", half=True, order=30, hint="a multiple of 8"),
]


@dataclass(frozen=True)
class InputFile:
    """Marks a field that names an input image: an upload id in the API, a file path in the CLI.
    `mask_of` names the field whose image this one masks: it must be that image's size, and the
    studio paints it over that image instead of asking for a file."""

    mask_of: str | None = None
    optional: bool = False  # the tool also runs without it (sticker: a prompt or an upload)


UploadId = Annotated[str | None, Field(description="an upload id (API) or a file path (CLI)"), InputFile()]
OptionalUploadId = Annotated[
    str | None,
    Field(description="an upload id (API) or a file path (CLI); left out: made from the prompt"),
    InputFile(optional=True),
]
MaskId = Annotated[
    str | None,
    Field(
        description=(
            "a mask the size of the image: an upload id (API) or a file path (CLI). White (and opaque) "
            "marks what to repaint; black or transparent what to keep"
        )
    ),
    InputFile(mask_of="image"),
]


class PrintSize(BaseModel):
    """A physical output size: the final PNG is exactly round(size x dpi) pixels (plus the bleed
    on each side), tagged with its DPI and an sRGB profile; a cut file is in the same unit.
    Left out, the output keeps the model's pixel size (see engine/print_size.py)."""

    print_width: Annotated[
        float | None,
        Field(gt=0, description="printed width in print_unit (give print_height too); left out: pixel size"),
        Studio("Print width", half=True, group="print", order=10),
    ] = None
    print_height: Annotated[
        float | None,
        Field(gt=0, description="printed height in print_unit (give print_width too)"),
        Studio("Print height", half=True, group="print", order=10),
    ] = None
    print_unit: Annotated[
        PrintUnit | None,
        Field(description="the unit of print_width, print_height and bleed; left out: in"),
        Studio("Unit", labels=(("in", "inches"), ("cm", "cm"), ("mm", "mm")), half=True, group="print", order=20),
    ] = None
    dpi: Annotated[
        int | None,
        Field(description="pixels per inch of the printed file; left out: 300"),
        Studio("DPI", half=True, group="print", order=20),
    ] = None
    bleed: Annotated[
        float | None,
        Field(ge=0, description="extra art past the trim on each side, in print_unit (print shops ask 0.125 in)"),
        Studio("Bleed", group="print", order=30, hint="extra art past the cut edge on each side, in the unit above"),
    ] = None


class ToolRequest(PrintSize):
    """What every tool takes: its name, a seed (every run records one) and a print size (the
    `PrintSize` fields). `None` means "the tool's default"; the engine fills defaults before a
    request runs."""

    model_config = ConfigDict(extra="forbid")

    tool: str
    seed: Seed = None


class DiffusionRequest(ToolRequest):
    """A tool that runs a diffusion model: model, prompts, steps, guidance, quality, sampler."""

    model: ModelName = None
    prompt: Prompt = ""
    negative_prompt: NegativePrompt = ""
    steps: Steps = None
    guidance: Guidance = None
    quality: QualityField = "full"
    sampler: Sampler = None


class Count(BaseModel):
    """Several images per request."""

    num_images: NumImages = 1


class Size(BaseModel):
    """An output size chosen by the caller (text to image)."""

    width: Side = None
    height: Annotated[
        int | None,
        Field(description="pixels, a multiple of 8; left out: the model's size"),
        Studio("Height", unit="px", half=True, order=30, hint="a multiple of 8"),
    ] = None


class CutRules(BaseModel):
    """What a cut file must keep to at the print size, so a blade or plotter can cut it."""

    min_feature_mm: Annotated[
        float | None,
        Field(ge=0, le=20, description="no part or gap of the cut file thinner than this, in mm; left out: 1"),
        Studio("Thinnest part", unit="mm", half=True, more=True, hint="thinner bits are taken away"),
    ] = None
    min_island_mm: Annotated[
        float | None,
        Field(ge=0, le=50, description="no island or hole smaller than this many mm square; left out: 1.5"),
        Studio("Smallest piece", unit="mm", half=True, more=True, hint="smaller specks are dropped"),
    ] = None


class InputImage(BaseModel):
    """An input image: an upload id in the API, a file path in the CLI."""

    image: UploadId = None


class InputMask(BaseModel):
    """A mask over the input image (use with InputImage): white/opaque = repaint, black or
    transparent = keep. Like `image`, an upload id in the API, a file path in the CLI."""

    mask: MaskId = None


UPLOAD_EXAMPLE = "9f1c2b7e4a5d4c3b8e6f0a1b2c3d4e5f"  # what an upload id looks like, for examples


def examples(*requests: dict[str, Any]) -> ConfigDict:
    """A request model's config carrying example requests: shown in the OpenAPI schema, and
    the contract tests run each tool's first example."""
    return ConfigDict(json_schema_extra={"examples": [dict(request) for request in requests]})


def studio_hint(info: FieldInfo) -> Studio | None:
    """The Studio metadata of a field, if it has one."""
    return next((item for item in info.metadata if isinstance(item, Studio)), None)


def input_file(info: FieldInfo) -> InputFile | None:
    """The InputFile marker of a field, if it names an input image."""
    return next((item for item in info.metadata if isinstance(item, InputFile)), None)


def is_input_file(info: FieldInfo) -> bool:
    return input_file(info) is not None


def input_files(model: type[BaseModel]) -> dict[str, InputFile]:
    """A request model's input-file fields by name, in field order."""
    return {name: marker for name, info in model.model_fields.items() if (marker := input_file(info)) is not None}


# Results ---------------------------------------------------------------------------------------


class OutputInfo(BaseModel):
    """One file a run produced, as result.json lists it."""

    path: str
    kind: OutputKind
    width: int
    height: int
    seed: int | None = None


class RunRecord(BaseModel):
    """What result.json holds: enough to find every file and re-run the job."""

    tool: str
    model: str
    seed: int
    outputs: list[OutputInfo]
    metrics: dict[str, int | float | str | bool] = Field(default_factory=dict)
    settings: dict[str, object] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
