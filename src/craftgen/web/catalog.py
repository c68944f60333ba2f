"""What the studio says about each tool, read from the tools' own declarations.

A tool's page (its card on the home page, its form, how its results show) comes from its
`Tool` class: the card and outputs as declared, and one control per request field that carries
`Studio` metadata, in `Studio.order`. Every control is named after the field it sets, so an API
error's `field` finds the control to show it next to. The API's own checks stay the only
validation (the forms add none of their own).
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from types import MappingProxyType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic.fields import FieldInfo

from craftgen.engine.base import Tool
from craftgen.engine.options import EngineOptions
from craftgen.engine.tools import TOOLS
from craftgen.schemas import Studio, studio_hint

Value = str | int | float | bool | None


@dataclass(frozen=True)
class Choice:
    value: str  # as the form sends it ("" sends nothing)
    label: str


@dataclass(frozen=True)
class Control:
    name: str  # the request field
    label: str
    kind: Literal["number", "select", "checkbox", "text"]
    default: Value = None  # a select's default is one of its choices' values
    choices: tuple[Choice, ...] = ()
    hint: str = ""
    unit: str = ""
    numeric: bool = False  # a select whose values are sent as numbers
    more: bool = False  # under "More options"
    half: bool = False  # half a row wide, beside its pair (width and height, the sides)
    group: str = ""  # "print": under the form's "Print size" section


@dataclass(frozen=True)
class PrintPreset:
    """A print size crafters often want, offered above the print fields (it only fills them)."""

    label: str
    width: float
    height: float
    unit: str
    dpi: int

    @property
    def values(self) -> dict[str, object]:
        return {"print_width": self.width, "print_height": self.height, "print_unit": self.unit, "dpi": self.dpi}


PRINT_PRESETS: tuple[PrintPreset, ...] = (
    PrintPreset("12 × 12 in scrapbook paper", 12, 12, "in", 300),
    PrintPreset("A4 (210 × 297 mm)", 210, 297, "mm", 300),
    PrintPreset("US Letter (8.5 × 11 in)", 8.5, 11, "in", 300),
    PrintPreset("3 in sticker", 3, 3, "in", 300),
    PrintPreset("Fat quarter (18 × 22 in, 150 DPI)", 18, 22, "in", 150),
)


@dataclass(frozen=True)
class ToolPage:
    name: str
    title: str
    makes: str  # one line: what it makes
    example: str
    prompt: Literal["required", "optional", "none"]
    ideas: tuple[str, ...] = ()
    image: bool = False  # takes an input image
    masks: tuple[str, ...] = ()  # mask fields, painted over the input image instead of uploaded
    controls: tuple[Control, ...] = field(default_factory=tuple)
    repeat_view: bool = False  # results can be shown repeated 3x3
    svg: bool = False  # results come with an SVG cut file
    transparent: bool = False  # results have a transparent background (shown on a checkerboard)

    @property
    def main_controls(self) -> tuple[Control, ...]:
        return tuple(c for c in self.controls if not c.more and not c.group)

    @property
    def print_controls(self) -> tuple[Control, ...]:
        return tuple(c for c in self.controls if c.group == "print")

    @property
    def more_controls(self) -> tuple[Control, ...]:
        return tuple(c for c in self.controls if c.more and not c.group)

    @property
    def print_presets(self) -> tuple[PrintPreset, ...]:
        return PRINT_PRESETS if self.print_controls else ()


def _option(value: object) -> str:
    """A value as a select option sends it: None sends nothing."""
    return "" if value is None else str(value)


def _bare(annotation: Any) -> Any:
    """`X | None` as X (the form leaves a field out by sending nothing)."""
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def _control(name: str, info: FieldInfo, studio: Studio, start: object) -> Control:
    """The control for one field, starting at `start` (the tool's default, else the model's)."""
    text = Control(
        name,
        studio.label,
        "text",
        hint=studio.hint,
        unit=studio.unit,
        more=studio.more,
        half=studio.half,
        group=studio.group,
    )
    annotation = _bare(info.annotation)
    pairs: tuple[tuple[object, str], ...] = studio.choices
    if not pairs and get_origin(annotation) is Literal:
        labels = dict(studio.labels)
        pairs = tuple((value, labels.get(value, str(value))) for value in get_args(annotation))
    if pairs:
        values = [value for value, _ in pairs]
        # A tool default the choices do not offer is what their blank choice stands for.
        default = start if start in values else info.default
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values if v is not None)
        choices = tuple(Choice(_option(value), label) for value, label in pairs)
        return replace(text, kind="select", default=_option(default), choices=choices, numeric=numeric)
    if annotation is bool:
        return replace(text, kind="checkbox", default=bool(start))
    if annotation in (int, float):
        assert start is None or isinstance(start, int | float), f"{name}: a number starts at a number"
        return replace(text, kind="number", default=start)
    if annotation is str:
        return replace(text, default=_option(start))
    raise TypeError(f"the studio has no control for {name}: {info.annotation}")


def _controls(tool: Tool[Any], options: EngineOptions) -> tuple[Control, ...]:
    fields = tool.request_model.model_fields
    starts = tool.defaults(tool.request_model(tool=tool.name), None, options)
    marked = [(name, info, hint) for name, info in fields.items() if (hint := studio_hint(info)) is not None]
    marked.sort(key=lambda entry: entry[2].order)  # stable: equal orders keep the field order
    controls = []
    for name, info, hint in marked:
        start = starts.get(name)
        controls.append(_control(name, info, hint, info.default if start is None else start))
    return tuple(controls)


def tool_page(tool: Tool[Any], options: EngineOptions) -> ToolPage:
    card = tool.card
    return ToolPage(
        name=tool.name,
        title=card.title,
        makes=card.makes,
        example=card.example,
        prompt=tool.prompt_mode,
        ideas=card.ideas,
        image=tool.takes_image,
        masks=tool.mask_fields,
        controls=_controls(tool, options),
        repeat_view=tool.outputs.repeat_preview,
        svg=tool.outputs.svg,
        transparent=tool.outputs.transparent,
    )


@cache
def tool_pages(*, options: EngineOptions) -> Mapping[str, ToolPage]:
    """Every tool's page, in the order the home page shows them (built once per options)."""
    return MappingProxyType({name: tool_page(tool, options) for name, tool in TOOLS.items()})
