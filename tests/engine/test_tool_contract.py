"""The contract every tool keeps, run over the tool list (as diffusers' PipelineTesterMixin runs
over every pipeline): nothing here names a tool, so a new tool file is checked by adding it.

Each tool's first declared example request (schemas.examples) is run at test size. The
properties: the fields a tool declares are exactly the ones it accepts; its outputs are the
kinds it declares, named and recorded so they can be made again; a batch gives each request
the pixels it gets alone; image `seed + index` re-makes that image.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from craftgen.engine.base import OutputFile, Tool, ToolResult
from craftgen.engine.engine import Engine
from craftgen.engine.requests import ALL_FIELDS, parse_request
from craftgen.engine.tools import TOOLS
from craftgen.errors import InvalidRequest
from craftgen.imaging.io import read_parameters
from craftgen.schemas import ToolRequest

SIZE = 64  # text-to-image tools and the input picture: the smallest size the tiny model runs
STEPS = 4  # enough that img2img tools at their default strength still take a step
TOLERANCE = 1  # a batch may differ from a lone run by float rounding, never by a seed

ALL_TOOLS = [pytest.param(tool, id=tool.name) for tool in TOOLS.values()]
COUNTED_TOOLS = [pytest.param(tool, id=tool.name) for tool in TOOLS.values() if "num_images" in tool.fields]
FILE_TOOLS = [pytest.param(tool, id=tool.name) for tool in TOOLS.values() if tool.input_files]
MASKED_TOOLS = [pytest.param(tool, id=tool.name) for tool in TOOLS.values() if tool.mask_fields]


def _picture(seed: int = 0) -> Image.Image:
    """A subject on a plain light background: every image tool can take it (cutout needs the
    plain background)."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (SIZE, SIZE), (244, 243, 240))
    draw = ImageDraw.Draw(image)
    colour = tuple(int(c) for c in rng.integers(30, 200, size=3))
    draw.ellipse((14, 12, 50, 52), fill=colour)
    draw.rectangle((26, 24, 38, 36), fill=(250, 220, 40))
    return image


def _mask() -> Image.Image:
    """A mask for tools that take one: a blob over the middle of the picture marked to repaint."""
    mask = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(mask).ellipse((20, 18, 44, 46), fill=255)
    return mask


def _files(tool: Tool[Any], seed: int = 0) -> dict[str, Image.Image]:
    """Pixels for every input file the tool needs: the picture, and a mask for each mask field (an
    optional input, like a sticker's image, is left out: the example runs as declared)."""
    return {
        name: _mask() if marker.mask_of else _picture(seed)
        for name, marker in tool.input_files.items()
        if not marker.optional
    }


def _request(tool: Tool[Any], **changes: object) -> dict[str, object]:
    """The tool's example at test size, with `changes`; no upload ids (the test passes pixels)."""
    data = {**tool.example_request, **changes}
    for name in tool.input_files:
        data.pop(name, None)
    if "steps" in tool.fields:
        data.setdefault("steps", STEPS)
    for side in ("width", "height"):
        if side in tool.fields:
            data.setdefault(side, SIZE)
    return data


def _run(engine: Engine, tool: Tool[Any], **changes: object) -> ToolResult:
    return engine.run(parse_request(_request(tool, **changes)), files=_files(tool))


def _pixels(output: OutputFile) -> np.ndarray:
    assert output.image is not None
    return np.asarray(output.image, np.int16)


def _same_pixels(a: OutputFile, b: OutputFile) -> bool:
    return (
        a.image is not None
        and b.image is not None
        and a.image.size == b.image.size
        and (int(np.abs(_pixels(a) - _pixels(b)).max()) <= TOLERANCE)
    )


# Declarations ----------------------------------------------------------------------------------


@pytest.mark.parametrize("tool", ALL_TOOLS)
def test_the_declared_example_is_a_valid_request_for_the_tool(tool: Tool[Any]) -> None:
    request = parse_request(tool.example_request)

    assert type(request) is tool.request_model and request.tool == tool.name
    assert tool.needs_image == ("image" in tool.example_request)
    required = {name for name, marker in tool.input_files.items() if not marker.optional}
    assert required <= set(tool.example_request), "the example names every input file it needs"
    for name, marker in tool.input_files.items():
        assert marker.mask_of is None or marker.mask_of in tool.input_files, f"{name} masks an input the tool takes"
    assert tool.card.title and tool.card.makes


@pytest.mark.parametrize("tool", ALL_TOOLS)
@pytest.mark.parametrize("field", sorted(ALL_FIELDS - {"tool"}))
def test_a_tool_accepts_exactly_the_fields_it_declares(tool: Tool[Any], field: str) -> None:
    base = tool.example_request
    if field in tool.fields:
        # Its own default is always a valid value for a field it declares.
        value = tool.request_model.model_fields[field].get_default()
        assert getattr(parse_request({**base, field: value}), field) == value
    else:
        # Another tool's field is refused by name, saying it does not apply here.
        taken_by = next(t for t in TOOLS.values() if field in t.fields)
        value = taken_by.request_model.model_fields[field].get_default()
        with pytest.raises(InvalidRequest) as refused:
            parse_request({**base, field: value})
        assert refused.value.field == field
        assert f"does not apply to the {tool.name} tool" in str(refused.value)


@pytest.mark.parametrize("tool", ALL_TOOLS)
def test_an_unknown_field_is_refused_by_name(tool: Tool[Any]) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_request({**tool.example_request, "colour": "teal"})
    assert refused.value.field == "colour" and "unknown field" in str(refused.value)


@pytest.mark.parametrize("tool", FILE_TOOLS)
def test_every_declared_input_file_is_required_by_name(engine: Engine, tool: Tool[Any]) -> None:
    for name in _files(tool):
        files = _files(tool)
        del files[name]
        with pytest.raises(InvalidRequest) as refused:
            engine.prepare(parse_request(_request(tool)), files=files)
        assert refused.value.field == name and name in str(refused.value)


@pytest.mark.parametrize("tool", MASKED_TOOLS)
def test_a_mask_not_the_size_of_its_image_is_refused_by_name(engine: Engine, tool: Tool[Any]) -> None:
    for name in tool.mask_fields:
        files = {**_files(tool), name: _mask().resize((SIZE + 8, SIZE))}
        with pytest.raises(InvalidRequest) as refused:
            engine.prepare(parse_request(_request(tool)), files=files)
        assert refused.value.field == name and f"{SIZE + 8}x{SIZE}" in str(refused.value)


# Outputs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("tool", ALL_TOOLS)
def test_outputs_are_the_declared_kinds_named_and_recorded(engine: Engine, tool: Tool[Any]) -> None:
    result = _run(engine, tool, seed=21)
    request: ToolRequest = parse_request(_request(tool, seed=21))
    wanted = int(getattr(request, "num_images", 1))

    # 1. What the tool declared, no more and no less; one of each extra kind per image.
    kinds = [output.kind for output in result.outputs]
    assert result.tool == tool.name and set(kinds) == tool.outputs.kinds
    assert kinds.count("image") == wanted
    for kind in tool.outputs.kinds - {"image"}:
        assert kinds.count(kind) == wanted, kind
    names = [output.name for output in result.outputs]
    assert len(set(names)) == len(names) and all(name.startswith(tool.name) for name in names)
    # 2. Each image: transparent when declared so; seeds seed, seed+1, ...; a PNG recording how
    #    it was made (tool, seed) at the print resolution.
    images = [output for output in result.outputs if output.kind == "image"]
    seeds = [(21 + index) % 2**32 for index in range(wanted)]
    # A tool with nothing random in it (cutout) leaves the output's seed out, yet records the run's.
    assert [output.seed for output in images] in (seeds, [None] * wanted)
    for output, seed in zip(images, seeds, strict=True):
        png = Image.open(io.BytesIO(output.data))
        assert png.format == "PNG" and output.media_type == "image/png"
        assert (png.mode == "RGBA") == tool.outputs.transparent, png.mode
        assert (png.width, png.height) == (output.width, output.height)
        recorded = read_parameters(png)
        assert recorded["tool"] == tool.name and recorded["seed"] == seed
        assert round(png.info["dpi"][0]) == engine.options.dpi
    # 3. Cut files are SVG documents.
    for output in result.outputs:
        if output.kind == "svg":
            assert output.media_type == "image/svg+xml" and output.data.lstrip().startswith((b"<?xml", b"<svg"))


# Reproducibility -------------------------------------------------------------------------------


@pytest.mark.parametrize("tool", ALL_TOOLS)
def test_a_batch_gives_each_request_the_pixels_it_gets_alone(engine: Engine, tool: Tool[Any]) -> None:
    # Two requests that may share a call: same settings, other seeds and (where taken) prompts.
    items = []
    for index, seed in enumerate((5, 900)):
        changes: dict[str, object] = {"seed": seed}
        if "prompt" in tool.fields:
            changes["prompt"] = f"{tool.example_request.get('prompt', '')} {('red', 'blue')[index]}".strip()
        items.append(engine.prepare(parse_request(_request(tool, **changes)), files=_files(tool, seed=index)))
    keys = {engine.batch_key(item) for item in items}
    if None in keys:
        # A tool that runs each request alone is never handed two at once.
        with pytest.raises(InvalidRequest, match="cannot share a batch"):
            engine.run_batch(items)
        return
    assert len(keys) == 1, "requests differing only in seed and prompt share a batch"

    together = engine.run_batch(items)
    for item, batched in zip(items, together, strict=True):
        (alone,) = engine.run_batch([item])
        assert [o.name for o in batched.outputs] == [o.name for o in alone.outputs]
        for mixed, solo in zip(batched.outputs, alone.outputs, strict=True):
            if mixed.kind != "svg":
                assert _same_pixels(mixed, solo), (item.request.seed, mixed.name)


@pytest.mark.parametrize("tool", COUNTED_TOOLS)
def test_image_seed_plus_index_remakes_that_image(engine: Engine, tool: Tool[Any]) -> None:
    several = _run(engine, tool, seed=40, num_images=2)
    second = next(o for o in several.outputs if o.kind == "image" and o.seed == 41)
    alone = _run(engine, tool, seed=41, num_images=1)
    (remade,) = [o for o in alone.outputs if o.kind == "image"]

    assert remade.seed == 41 and _same_pixels(second, remade)
    first = next(o for o in several.outputs if o.kind == "image" and o.seed == 40)
    assert not _same_pixels(first, second), "each image of a request has its own seed"
