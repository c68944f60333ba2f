"""The mask painter in Chromium: a tool that takes a mask (inpaint) shows a canvas over the
uploaded picture; brush strokes by mouse or finger (pointer events), a brush size slider and
undo; Generate uploads the painting as the mask and the job keeps every unpainted pixel. The
painter is driven by the tool's declaration (`takesMask`), never by its name."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser, Locator, Page, expect

from craftgen.engine.tools import TOOLS
from craftgen.engine.tools.inpaint import DEFAULT_BLEND
from tests.conftest import smooth_image
from tests.web.conftest import PHONE, RESULT_TIMEOUT, Studio
from tests.web.test_studio import expect_field_error, first_result, generate, shoot, upload

STUDIO_JS = Path(__file__).resolve().parents[2] / "src" / "craftgen" / "web" / "static" / "studio.js"
WIDTH, HEIGHT = 128, 96
BRUSH = 40  # screen px

PAINTED = """c => { const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }"""


def _picture(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    smooth_image(WIDTH, HEIGHT, seed=3).save(path)
    return path


def _canvas(page: Page) -> Locator:
    return page.locator("[data-mask-canvas]")


def _stroke(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    """A mouse drag across the canvas, between two points given as fractions of its size."""
    box = _canvas(page).bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + start[0] * box["width"], box["y"] + start[1] * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + end[0] * box["width"], box["y"] + end[1] * box["height"], steps=8)
    page.mouse.up()


def _result_pixels(page: Page) -> tuple[dict, np.ndarray]:
    """The newest job and its first image's pixels."""
    job = page.request.get("/v1/jobs?limit=1").json()["jobs"][0]
    data = page.request.get(job["outputs"][0]["url"]).body()
    return job, np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_the_painter_comes_from_the_declaration_not_the_tool_name() -> None:
    masked = [name for name, tool in TOOLS.items() if tool.mask_fields]
    script = STUDIO_JS.read_text()
    assert masked and not [name for name in masked if re.search(rf"\b{name}\b", script)], "studio.js names no tool"


def test_paint_a_mask_with_brush_size_and_undo_then_generate(page: Page, tmp_path: Path) -> None:
    page.goto("/tools/inpaint")
    expect(page.get_by_label("Brush size")).to_be_hidden()  # nothing to paint on yet
    picture = _picture(tmp_path)
    upload(page, picture)
    expect(page.get_by_label("Brush size")).to_be_visible()
    expect(page.get_by_role("button", name="Undo")).to_be_disabled()
    assert _canvas(page).evaluate("c => [c.width, c.height]") == [WIDTH, HEIGHT]

    # 1. Two strokes at a chosen brush size; undo takes the second back.
    page.get_by_label("Brush size").fill(str(BRUSH))
    _stroke(page, (0.15, 0.3), (0.4, 0.3))
    first = _canvas(page).evaluate(PAINTED)
    assert first > 0
    _stroke(page, (0.7, 0.85), (0.95, 0.85))
    assert _canvas(page).evaluate(PAINTED) > first
    page.get_by_role("button", name="Undo").click()
    assert _canvas(page).evaluate(PAINTED) == first
    page.get_by_label("Prompt").fill("a red rose")
    shoot(page, "inpaint-painted-desktop")

    # 2. Generate: the painting goes up as the mask; everything unpainted comes back exactly.
    generate(page)
    card = first_result(page, "Inpaint")
    expect(card).to_contain_text(f"{WIDTH} × {HEIGHT} px")
    job, out = _result_pixels(page)
    assert re.fullmatch(r"[0-9a-f]{32}", job["request"]["mask"])
    box = _canvas(page).bounding_box()
    assert box is not None
    reach = BRUSH * WIDTH / box["width"] / 2 + DEFAULT_BLEND + 2  # brush radius + blend band, in image px
    original = np.asarray(Image.open(picture).convert("RGB"))
    right = int(0.4 * WIDTH + reach) + 1
    below = int(0.3 * HEIGHT + reach) + 1
    assert np.array_equal(out[:, right:], original[:, right:]), "the undone stroke was not sent"
    assert np.array_equal(out[below:], original[below:])
    assert not np.array_equal(out[:below, :right], original[:below, :right]), "the painted part is redrawn"
    shoot(page, "inpaint-result-desktop")


def test_generate_without_painting_says_so_by_the_painter(page: Page, tmp_path: Path) -> None:
    page.goto("/tools/inpaint")
    upload(page, _picture(tmp_path))
    page.get_by_role("button", name="Generate").click()
    expect_field_error(page, _canvas(page), "needs a mask")


@pytest.fixture()
def phone(browser: Browser, studio: Studio) -> Iterator[Page]:
    """A phone: narrow, with a touch screen."""
    context = browser.new_context(base_url=studio.url, viewport=PHONE, has_touch=True, is_mobile=True)
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"JavaScript errors: {errors}"


def test_paint_with_a_finger_at_phone_width(phone: Page, tmp_path: Path) -> None:
    page = phone
    page.goto("/tools/inpaint")
    upload(page, _picture(tmp_path))
    canvas = _canvas(page)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 200, "the picture is shown big enough to paint on"
    scrolled = page.evaluate("window.scrollY")

    # A finger drag (real touch events, which Chromium turns into pointer events).
    cdp = page.context.new_cdp_session(page)
    points = [(box["x"] + box["width"] * (0.2 + 0.05 * k), box["y"] + box["height"] * 0.5) for k in range(8)]
    cdp.send(
        "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": points[0][0], "y": points[0][1]}]}
    )
    for x, y in points[1:]:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})

    assert canvas.evaluate(PAINTED) > 0
    assert page.evaluate("window.scrollY") == scrolled, "painting does not scroll the page"
    expect(page.get_by_role("button", name="Undo")).to_be_enabled()
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= PHONE["width"], f"scrolls sideways at phone width ({overflow})"
    page.get_by_label("Prompt").fill("a patch of daisies")
    shoot(page, "inpaint-painted-phone")

    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_role("img", name=re.compile(r"^Inpaint result 1"))).to_be_visible(timeout=RESULT_TIMEOUT)
    job, out = _result_pixels(page)
    assert job["status"] == "succeeded" and out.shape == (HEIGHT, WIDTH, 3)
    shoot(page, "inpaint-result-phone")
