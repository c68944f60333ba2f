"""Bad input is refused before any work, with a message naming the value and its field."""

from __future__ import annotations

import pytest
from PIL import Image

from craftgen.engine.engine import Engine
from craftgen.engine.requests import parse_request
from craftgen.errors import InvalidRequest

IMAGE = Image.new("RGB", (96, 96), (200, 100, 50))


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"tool": "text", "prompt": "x", "width": 100}, "width", "multiple of 8, got 100"),
        ({"tool": "text", "prompt": "x", "height": 8}, "height", "between 64 and 1536, got 8"),
        ({"tool": "text", "prompt": "x", "width": 4096}, "width", "got 4096"),
        ({"tool": "text", "prompt": "x", "num_images": 9}, "num_images", "between 1 and 8"),
        ({"tool": "text", "prompt": "x", "num_images": 0}, "num_images", "got 0"),
        ({"tool": "text", "prompt": "x", "steps": 1000}, "steps", "got 1000"),
        ({"tool": "text", "prompt": "x", "guidance": -1}, "guidance", "got -1"),
        ({"tool": "text", "prompt": "   "}, "prompt", "needs a prompt"),
        ({"tool": "text", "prompt": "x", "strength": 0.5}, "strength", "does not apply to the text tool"),
        ({"tool": "text", "prompt": "x", "left": 64}, "left", "does not apply"),
        ({"tool": "pattern", "prompt": "x", "repeat": "half-drop", "seamless_x": False}, "seamless_x", "half-drop"),
        ({"tool": "text", "prompt": "x" * 200}, "prompt", "tokens long; the limit is 77"),
        ({"tool": "clipart", "prompt": "x " * 70}, "prompt", "clipart tool's own words"),
        ({"tool": "text", "prompt": "x" * 2001}, "prompt", "2001 characters long; the limit is 2000"),
        ({"tool": "text", "prompt": "a\x00b"}, "prompt", "NUL or a lone surrogate"),
        ({"tool": "text", "prompt": "x", "negative_prompt": "\ud800"}, "negative_prompt", "lone surrogate"),
    ],
)
def test_bad_requests_without_image(engine: Engine, fields: dict, field: str, words: str) -> None:
    with pytest.raises(InvalidRequest) as error:
        engine.run(parse_request(fields))
    assert words in error.value.message
    assert error.value.field == field


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"tool": "outpaint"}, "left", "at least one side"),
        ({"tool": "outpaint", "left": -5}, "left", "between 0 and 1024 pixels, got -5"),
        ({"tool": "outpaint", "top": 5000}, "top", "got 5000"),
        ({"tool": "outpaint", "num_images": 20, "left": 8}, "num_images", "got 20"),
        ({"tool": "variations", "strength": 1.2}, "strength", "got 1.2"),
        ({"tool": "variations", "width": 64}, "width", "does not apply"),
        ({"tool": "upscale", "num_images": 2}, "num_images", "does not apply to the upscale tool"),
        ({"tool": "cutout", "prompt": "x"}, "prompt", "does not apply to the cutout tool"),
    ],
)
def test_bad_requests_with_image(engine: Engine, fields: dict, field: str, words: str) -> None:
    with pytest.raises(InvalidRequest) as error:
        engine.run(parse_request(fields), IMAGE)
    assert words in error.value.message
    assert error.value.field == field


@pytest.mark.parametrize("tool", ["cutout", "variations", "outpaint", "upscale"])
def test_tools_that_need_an_image_say_so(engine: Engine, tool: str) -> None:
    with pytest.raises(InvalidRequest, match="needs an input image"):
        engine.run(parse_request(dict(tool=tool)))


def test_a_tool_without_image_input_refuses_one(engine: Engine) -> None:
    with pytest.raises(InvalidRequest, match="takes no input image"):
        engine.run(parse_request(dict(tool="text", prompt="x")), IMAGE)


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"tool": "text", "prompt": "x", "colour": "red"}, "colour", "unknown field 'colour'"),
        ({"tool": "sketch"}, "tool", "unknown tool 'sketch'"),
        ({"prompt": "x"}, "tool", "tool is required"),
        ({"tool": "upscale", "scale": 3}, "scale", "got 3"),
    ],
)
def test_unknown_fields_and_tools_are_refused_by_the_schema(fields: dict, field: str, words: str) -> None:
    with pytest.raises(InvalidRequest) as error:
        parse_request(fields)
    assert words in error.value.message and error.value.field == field


def test_defaults_are_filled_and_recorded(engine: Engine) -> None:
    item = engine.prepare(parse_request(dict(tool="pattern", prompt="x")))
    request = item.request
    assert request.seed is not None and request.steps and request.width and request.height
    assert request.seamless_x is True and request.seamless_y is True


@pytest.mark.parametrize(
    ("fields", "image"),
    [
        ({"tool": "text", "prompt": "x"}, None),
        ({"tool": "pattern", "prompt": "x"}, None),
        ({"tool": "clipart", "prompt": "x"}, None),
        ({"tool": "cutout"}, IMAGE),
        ({"tool": "variations"}, IMAGE),
        ({"tool": "outpaint", "left": 8}, IMAGE),
        ({"tool": "upscale", "steps": 8}, IMAGE),
    ],
)
def test_preparing_a_prepared_request_changes_nothing(engine: Engine, fields: dict, image) -> None:
    # A worker re-validates the stored (resolved) request: it must pass and stay the same.
    once = engine.prepare(parse_request(fields), image).request
    twice = engine.prepare(once, image).request
    assert twice == once
