"""What the studio says about each tool: its card on the home page and the controls of its form.

Every control is named after the GenerateRequest field it sets, so an API error's `field`
finds the control to show it next to. Labels are plain words for crafters; the API's own
checks stay the only validation (the forms add none of their own).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from craftgen.schemas import TOOL_NAMES


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class Control:
    name: str  # the GenerateRequest field
    label: str
    kind: Literal["number", "select", "checkbox", "text"]
    default: str | int | float | bool | None = None
    choices: tuple[Choice, ...] = ()
    hint: str = ""
    unit: str = ""
    numeric: bool = False  # a select whose values are sent as numbers
    more: bool = False  # under "More options"
    half: bool = False  # half a row wide, beside its pair (width and height, the sides)


@dataclass(frozen=True)
class ToolPage:
    name: str
    title: str
    makes: str  # one line: what it makes
    example: str
    prompt: Literal["required", "optional", "none"]
    ideas: tuple[str, ...] = ()
    image: bool = False
    controls: tuple[Control, ...] = field(default_factory=tuple)
    repeat_view: bool = False  # results can be shown repeated 3x3
    svg: bool = False  # results come with an SVG cut file

    @property
    def main_controls(self) -> tuple[Control, ...]:
        return tuple(c for c in self.controls if not c.more)

    @property
    def more_controls(self) -> tuple[Control, ...]:
        return tuple(c for c in self.controls if c.more)


def _count(most: int = 4) -> Control:
    return Control(
        "num_images",
        "How many",
        "select",
        "1",
        tuple(Choice(str(n), str(n)) for n in range(1, most + 1)),
        numeric=True,
    )


def _size(default_size: int, noun: str = "") -> tuple[Control, Control]:
    hint = "a multiple of 8"
    return (
        Control("width", f"{noun}Width".capitalize(), "number", default_size, unit="px", hint=hint, half=True),
        Control("height", f"{noun}Height".capitalize(), "number", default_size, unit="px", hint=hint, half=True),
    )


_NEGATIVE = Control(
    "negative_prompt", "Leave out", "text", "", hint="things you don't want, e.g. text, blurry", more=True
)
_SEED = Control("seed", "Seed", "number", None, hint="blank for a surprise; the same seed makes the same picture", more=True)


def tool_pages(*, default_size: int) -> dict[str, ToolPage]:
    """The tools in the order the home page shows them."""
    pages = [
        ToolPage(
            name="pattern",
            title="Pattern",
            makes="A seamless tile for fabric, gift wrap and scrapbook paper.",
            example="cute strawberries on pale pink",
            prompt="required",
            ideas=(
                "cute strawberries on pale pink",
                "vintage roses, cottagecore",
                "tiny gold stars on navy",
                "watercolor lemons and leaves",
            ),
            controls=(
                Control(
                    "repeat",
                    "Repeat",
                    "select",
                    "grid",
                    (
                        Choice("grid", "Grid"),
                        Choice("half-drop", "Half-drop"),
                        Choice("brick", "Brick"),
                        Choice("mirror", "Mirror"),
                    ),
                    hint="how each tile lines up with the next",
                ),
                *_size(default_size, "tile "),
                _count(),
                Control("seamless_x", "Seamless left to right", "checkbox", True, more=True),
                Control("seamless_y", "Seamless top to bottom", "checkbox", True, more=True),
                _NEGATIVE,
                _SEED,
            ),
            repeat_view=True,
        ),
        ToolPage(
            name="clipart",
            title="Clipart",
            makes="A sticker-style picture on a transparent background, with an SVG cut file.",
            example="a happy cartoon sun",
            prompt="required",
            ideas=("a happy cartoon sun", "a cute cat with a bow", "a hot air balloon", "a cactus in a pot"),
            controls=(*_size(default_size), _count(), _NEGATIVE, _SEED),
            svg=True,
        ),
        ToolPage(
            name="text",
            title="Text to image",
            makes="Pictures from a description, several at once.",
            example="a watercolor fox in a flower crown",
            prompt="required",
            ideas=(
                "a watercolor fox in a flower crown",
                "vintage botanical print of ferns",
                "a cozy cabin in the snow, storybook style",
                "a kawaii cupcake with sprinkles",
            ),
            controls=(*_size(default_size), _count(), _NEGATIVE, _SEED),
        ),
        ToolPage(
            name="cutout",
            title="Cutout",
            makes="Your picture with the background taken away: a transparent PNG and an SVG cut file.",
            example="a drawing on plain white paper",
            prompt="none",
            image=True,
            svg=True,
        ),
        ToolPage(
            name="variations",
            title="Variations",
            makes="New takes on your own picture, the same size as it.",
            example="a pencil sketch, redone as watercolor",
            prompt="optional",
            ideas=("in watercolor", "as a linocut print", "in pastel colors", "as a pencil drawing"),
            image=True,
            controls=(
                Control(
                    "strength",
                    "How much to change",
                    "select",
                    "0.6",
                    (Choice("0.3", "A little"), Choice("0.6", "Some"), Choice("0.9", "A lot")),
                    numeric=True,
                ),
                _count(),
                _NEGATIVE,
                _SEED,
            ),
        ),
        ToolPage(
            name="outpaint",
            title="Outpaint",
            makes="Your picture made bigger: new scenery around the edges, the original kept exactly.",
            example="a square photo widened into a banner",
            prompt="optional",
            ideas=("more of the same background", "a sunny meadow", "a starry night sky", "a wooden table top"),
            image=True,
            controls=(
                Control("left", "Add to the left", "number", 0, unit="px", half=True),
                Control("right", "Add to the right", "number", 0, unit="px", half=True),
                Control("top", "Add to the top", "number", 0, unit="px", half=True),
                Control("bottom", "Add to the bottom", "number", 0, unit="px", half=True),
                _NEGATIVE,
                _SEED,
            ),
        ),
        ToolPage(
            name="upscale",
            title="Upscale",
            makes="A bigger, sharper copy for printing; a seamless pattern stays seamless.",
            example="a 512 px tile made 2048 px for fabric",
            prompt="optional",
            ideas=("sharp, detailed", "soft watercolor texture"),
            image=True,
            controls=(
                Control("scale", "Make it", "select", "2", (Choice("2", "2× bigger"), Choice("4", "4× bigger")), numeric=True),
                Control(
                    "strength",
                    "Extra detail",
                    "select",
                    "",
                    (Choice("", "A little (recommended)"), Choice("0", "None: just resize"), Choice("0.5", "More")),
                    numeric=True,
                ),
                _SEED,
            ),
        ),
    ]
    assert {page.name for page in pages} == set(TOOL_NAMES), "every tool has a studio page"
    return {page.name: page for page in pages}
