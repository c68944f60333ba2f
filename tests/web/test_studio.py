"""The studio end to end in Chromium: fill a tool's form, generate, watch progress, see and
download the result; bad input shows the API's message by its field; results travel to another
tool; every page is screenshotted at desktop and phone width into tests/screenshots/."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser, Download, Locator, Page, expect

from craftgen.engine.base import Tool
from craftgen.engine.options import EngineOptions
from craftgen.engine.tools import TOOLS
from craftgen.schemas import studio_hint
from craftgen.web.catalog import Control, ToolPage, tool_pages
from tests.web.conftest import DESKTOP, PHONE, RESULT_TIMEOUT, SCREENSHOTS, Studio

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TITLES = {name: tool.card.title for name, tool in TOOLS.items()}
DEFAULT_SIZE = 128  # the test service's CRAFTGEN_DEFAULT_SIZE

# Keeps every text the progress line shows, so a test can tell it saw the job move.
WATCH_PROGRESS = """() => {
  window.progressSeen = [];
  const text = document.querySelector("[data-progress-text]");
  const bar = document.querySelector("progress");
  new MutationObserver(() => window.progressSeen.push(`${text.textContent}|${bar.value}`))
    .observe(document.querySelector("[data-progress-panel]"),
      {subtree: true, childList: true, characterData: true, attributes: true});
}"""


def generate(page: Page) -> None:
    """Press Generate and check the live progress shows up."""
    page.evaluate(WATCH_PROGRESS)
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_role("progressbar", name="Progress")).to_be_visible()


def first_result(page: Page, title: str) -> Locator:
    """The first result card, once the job has finished."""
    expect(page.get_by_role("img", name=re.compile(rf"^{title} result 1"))).to_be_visible(timeout=RESULT_TIMEOUT)
    seen = page.evaluate("window.progressSeen")
    assert any(re.search(r"Position in queue: \d+|Making it… \d+%", entry) for entry in seen), seen
    expect(page.get_by_role("progressbar", name="Progress")).to_have_attribute("value", "100")
    return page.locator("[data-results] figure").first


def download(page: Page, link: Locator) -> tuple[Download, bytes]:
    with page.expect_download() as info:
        link.click()
    result = info.value
    return result, Path(result.path()).read_bytes()


def png_size(data: bytes) -> tuple[int, int, str, dict[str, object]]:
    assert data.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(data)) as image:
        return image.width, image.height, image.mode, dict(image.info)


def sample_png(path: Path, size: tuple[int, int] = (64, 64)) -> Path:
    image = Image.new("RGB", size, (240, 236, 228))
    image.paste((40, 110, 190), (16, 16, size[0] - 16, size[1] - 16))
    image.save(path)
    return path


def upload(page: Page, path: Path) -> None:
    page.get_by_label("Your image").set_input_files(path)
    with Image.open(path) as image:
        expected = f"{image.width} × {image.height} px · ready"
    expect(page.locator("[data-preview-caption]")).to_have_text(expected)


def finished_job(page: Page, job_id: str) -> dict:
    """The job once it has succeeded (polled through the page's own session)."""
    deadline = time.monotonic() + RESULT_TIMEOUT / 1000
    while (job := page.request.get(f"/v1/jobs/{job_id}").json())["status"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, "the job did not finish"
        time.sleep(0.2)
    assert job["status"] == "succeeded", job["error"]
    return job


WAIT_FOR_IMAGES = """async () => {
  const pictures = [...document.images].filter((i) => i.getAttribute("src"));
  await Promise.all(pictures.map((i) => (i.complete ? null : new Promise((done) => { i.onload = i.onerror = done; }))));
  return pictures.filter((i) => i.naturalWidth === 0).map((i) => i.getAttribute("src"));
}"""


def shoot(page: Page, name: str) -> None:
    """A full-page screenshot, once every picture on the page has loaded (lazy ones too)."""
    page.evaluate("document.querySelectorAll('img[loading=lazy]').forEach(i => { i.loading = 'eager'; })")
    # evaluate, not wait_for_function: its polling evaluates strings, which the studio's CSP forbids.
    broken = page.evaluate(WAIT_FOR_IMAGES)
    assert broken == [], f"pictures that did not load: {broken}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def test_pattern_generate_progress_repeat_view_and_download(page: Page) -> None:
    page.goto("/")
    page.get_by_role("link", name="Pattern").click()
    expect(page).to_have_url(re.compile(r"/tools/pattern$"))
    page.get_by_label("Prompt").fill("cute strawberries on pale pink")
    page.get_by_label("Repeat", exact=True).select_option(label="Half-drop")
    generate(page)
    card = first_result(page, "Pattern")
    expect(card).to_contain_text("128 × 128 px")
    expect(card).to_contain_text("tiny test model: noise")
    expect(card.locator(".result-view").first).not_to_have_class(re.compile(r"\bchecker\b"))

    # The 3x3 view replaces the single tile, and back.
    repeat = card.get_by_role("img", name=re.compile("repeated 3 by 3"))
    expect(repeat).to_be_hidden()
    card.get_by_label("Show 3×3 repeat").check()
    expect(repeat).to_be_visible()
    expect(card.get_by_role("img", name=re.compile("^Pattern result 1"))).to_be_hidden()
    cells = repeat.locator("span")
    expect(cells).to_have_count(9)
    # half-drop: the middle column is shifted down by half a tile.
    positions = cells.evaluate_all("cells => cells.map(c => c.style.backgroundPosition)")
    assert positions[0] == "0px 0px" and positions[1] != "0px 0px" and positions[3] == positions[0]
    # No hairline between the cells (a white row or column the image does not have).
    with Image.open(io.BytesIO(repeat.screenshot())) as shot:
        grey = np.asarray(shot.convert("L"), dtype=np.float32)[:-2, :-2]  # the view may end in a spare pixel
    assert grey.mean(axis=1).max() < 235 and grey.mean(axis=0).max() < 235
    shoot(page, "pattern-result-desktop")
    page.set_viewport_size(PHONE)
    shoot(page, "pattern-result-phone")
    page.set_viewport_size(DESKTOP)
    card.get_by_label("Show 3×3 repeat").uncheck()
    expect(repeat).to_be_hidden()

    file, data = download(page, card.get_by_role("link", name="Download PNG"))
    width, height, _, info = png_size(data)
    assert (width, height) == (128, 128)
    assert file.suggested_filename == "pattern-0.png"
    assert json.loads(str(info["craftgen"]))["repeat"] == "half-drop"


def test_clipart_downloads_png_and_svg(page: Page) -> None:
    page.goto("/tools/clipart")
    page.get_by_role("button", name="a happy cartoon sun").click()  # an idea chip fills the prompt
    expect(page.get_by_label("Prompt")).to_have_value("a happy cartoon sun")
    generate(page)
    card = first_result(page, "Clipart")
    expect(card.locator(".result-view")).to_have_class(re.compile(r"\bchecker\b"))  # transparent: on a checkerboard
    expect(card.get_by_label("Show 3×3 repeat")).to_have_count(0)  # no repeat view but for patterns
    shoot(page, "clipart-result-desktop")

    _, data = download(page, card.get_by_role("link", name="Download PNG"))
    assert png_size(data)[2] == "RGBA"  # transparent background
    file, svg = download(page, card.get_by_role("link", name="Download SVG"))
    assert file.suggested_filename.endswith(".svg")
    assert b"<svg" in svg[:500]


def test_outpaint_upload_add_to_the_left(page: Page, tmp_path: Path) -> None:
    page.goto("/tools/outpaint")
    upload(page, sample_png(tmp_path / "square.png", (64, 64)))
    page.get_by_label("Add to the left").fill("64")
    generate(page)
    card = first_result(page, "Outpaint")
    expect(card).to_contain_text("128 × 64 px")
    _, data = download(page, card.get_by_role("link", name="Download PNG"))
    assert png_size(data)[:2] == (128, 64)  # wider than the 64 px input


def expect_field_error(page: Page, control: Locator, message: str) -> None:
    """The API's message, in an alert right after the control, which is marked invalid."""
    expect(control).to_have_attribute("aria-invalid", "true")
    alert = page.get_by_role("alert").filter(has_text=re.compile(message, re.IGNORECASE))
    expect(alert).to_be_visible()
    after = control.evaluate(
        "c => { const a = c.type === 'checkbox' ? c.closest('label') : c; const n = a.nextElementSibling;"
        " return [n.getAttribute('role'), n.textContent, (c.getAttribute('aria-describedby') || '').includes(n.id)]; }"
    )
    assert after[0] == "alert" and re.search(message, after[1], re.IGNORECASE) and after[2], after


def test_bad_input_shows_the_api_message_by_its_field(page: Page, tmp_path: Path) -> None:
    page.goto("/tools/pattern")
    prompt, width = page.get_by_label("Prompt"), page.get_by_label("Tile width")

    page.get_by_role("button", name="Generate").click()
    expect_field_error(page, prompt, "the pattern tool needs a prompt")

    prompt.fill("gingham")
    width.fill("100")
    page.get_by_role("button", name="Generate").click()
    expect_field_error(page, width, "width must be a multiple of 8, got 100")
    expect(prompt).not_to_have_attribute("aria-invalid", "true")  # the old error is gone
    expect(page.get_by_role("alert").filter(has_text="needs a prompt")).to_have_count(0)
    shoot(page, "pattern-error-desktop")

    # A field under "More options" opens them to show its error.
    width.fill("128")
    page.get_by_label("Repeat", exact=True).select_option("half-drop")
    page.get_by_text("More options").click()
    page.get_by_label("Seamless left to right").uncheck()
    page.get_by_text("More options").click()
    page.get_by_role("button", name="Generate").click()
    expect_field_error(page, page.get_by_label("Seamless left to right"), "half-drop repeat needs seamless_x")

    page.goto("/tools/outpaint")
    page.get_by_role("button", name="Generate").click()
    expect_field_error(page, page.get_by_label("Your image"), "needs an input image")
    upload(page, sample_png(tmp_path / "in.png"))
    page.get_by_role("button", name="Generate").click()  # every side still 0
    expect_field_error(page, page.get_by_label("Add to the left"), "at least one side")

    bad = tmp_path / "not-an-image.png"
    bad.write_bytes(b"hello, I am text")
    page.get_by_label("Your image").set_input_files(bad)
    expect_field_error(page, page.get_by_label("Your image"), "not a readable image")
    page.get_by_role("button", name="Generate").click()  # the refused upload left no image behind
    expect_field_error(page, page.get_by_label("Your image"), "needs an input image")


def test_use_as_input_sends_a_result_to_another_tool(page: Page) -> None:
    page.goto("/tools/text")
    page.get_by_label("Prompt").fill("a watercolor fox")
    generate(page)
    card = first_result(page, "Text to image")
    targets = card.get_by_label("Send to").locator("option").all_inner_texts()
    assert targets == [tool.card.title for tool in TOOLS.values() if tool.takes_image]
    card.get_by_label("Send to").select_option(label="Outpaint")
    card.get_by_role("button", name="Use as input").click()

    expect(page).to_have_url(re.compile(r"/tools/outpaint\?image=[0-9a-f]{32}&from=[0-9a-f]{32}"))
    expect(page.get_by_role("img", name="Your image")).to_be_visible()
    expect(page.locator("[data-preview-caption]")).to_contain_text("128 × 128 px")
    page.get_by_label("Add to the right").fill("64")
    generate(page)
    expect(first_result(page, "Outpaint")).to_contain_text("192 × 128 px")


def test_my_images_lists_finished_work_newest_first(page: Page) -> None:
    page.goto("/")  # the first visit signs the local user in
    headers = {"X-Craftgen-CSRF": "1"}
    # The cookie alone is not enough for a POST: a page on another site could make the browser send it.
    refused = page.request.post("/v1/jobs", data={"tool": "clipart", "prompt": "a lemon"})
    assert refused.status == 403 and refused.json()["error"]["code"] == "forbidden"
    ids = []
    for prompt in ("a lemon", "a pear"):
        accepted = page.request.post("/v1/jobs", data={"tool": "clipart", "prompt": prompt}, headers=headers)
        assert accepted.status == 202, accepted.text()
        ids.append(accepted.json()["id"])
    for job_id in ids:
        finished_job(page, job_id)

    page.get_by_role("link", name="My images").click()
    expect(page.get_by_text(re.compile(r"^\d+ images?\.$"))).to_be_visible()
    pear = page.get_by_role("img", name="Clipart result 1: a pear")
    lemon = page.get_by_role("img", name="Clipart result 1: a lemon")
    expect(pear).to_be_visible()
    names = page.get_by_role("img").evaluate_all("images => images.map(i => i.alt)")
    assert names.index("Clipart result 1: a pear") < names.index("Clipart result 1: a lemon")
    card = page.get_by_role("figure").filter(has=lemon)
    svg_link = card.get_by_role("link", name="Download SVG")
    expect(svg_link).to_have_attribute("href", re.compile(r"^/v1/images/\w+/file$"))
    expect(card.get_by_role("button", name="Use as input")).to_be_visible()


def test_publish_find_like_and_remix_in_the_gallery(page: Page) -> None:
    page.goto("/")
    headers = {"X-Craftgen-CSRF": "1"}
    body = {"tool": "text", "prompt": "a lemon grove at dawn", "width": 64, "height": 64, "steps": 2, "seed": 77}
    accepted = page.request.post("/v1/jobs", data=body, headers=headers)
    assert accepted.status == 202, accepted.text()
    finished_job(page, accepted.json()["id"])

    # 1. Publish it from My images, with a title and tags.
    page.get_by_role("link", name="My images").click()
    picture = page.get_by_role("img", name="Text to image result 1: a lemon grove at dawn")
    card = page.get_by_role("figure").filter(has=picture)
    card.get_by_text("Publish to the gallery").click()
    card.get_by_label("Title (optional)").fill("Citrus morning")
    card.get_by_label("Tags, separated by commas (optional)").fill("citrus, sunrise")
    card.get_by_role("button", name="Publish", exact=True).click()
    expect(card.get_by_text("In the gallery.")).to_be_visible()

    # 2. Find it by a tag, like it (the count goes up once), and remix it.
    page.get_by_role("link", name="Gallery").click()
    page.get_by_label("Search prompts, titles and tags").fill("sunrise")
    page.get_by_role("button", name="Search").click()
    found = page.get_by_role("figure").filter(has_text="Citrus morning")
    expect(found).to_have_count(1)
    expect(found).to_contain_text("seed 77")
    like = found.get_by_role("button", name=re.compile("Like"))
    expect(like).to_have_text("♡ Like · 0")
    like.click()
    expect(like).to_have_text("♥ Liked · 1")
    expect(like).to_have_attribute("aria-pressed", "true")
    page.reload()  # the like is remembered: the page shows it as liked, once
    expect(like).to_have_text("♥ Liked · 1")
    shoot(page, "gallery-desktop")
    found.get_by_role("link", name="Remix").click()
    expect(page).to_have_url(re.compile(r"/tools/text\?remix=\w+$"))
    expect(page.get_by_role("status")).to_contain_text("Remixing a gallery image")
    expect(page.get_by_label("Prompt")).to_have_value("a lemon grove at dawn")

    # 3. A search for something nobody made says so.
    page.goto("/gallery?q=narwhal")
    expect(page.get_by_text("Nothing matches that search yet.")).to_be_visible()


def test_account_page_makes_and_revokes_an_api_key(page: Page) -> None:
    page.goto("/account")
    expect(page.get_by_text("Speed credits")).to_be_visible()
    page.get_by_role("button", name="Make a new key").click()
    shown = page.locator("#key-created code")
    expect(shown).to_have_text(re.compile(r"^cg_"))
    key = shown.inner_text()
    # The new key works for the API, and is listed by its prefix only.
    me = page.request.get("/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status == 200 and me.json()["name"] == "local"
    row = page.get_by_role("row").filter(has_text=key[:10])
    expect(row).to_have_count(1)
    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("row").filter(has_text=key[:10])).to_have_count(0)
    assert page.request.get("/v1/me", headers={"Authorization": f"Bearer {key}"}).status == 401


def test_an_admin_reviews_a_reported_image(page: Page, browser: Browser, studio: Studio) -> None:
    # 1. The local user publishes a picture and reports it (one report: listed, still visible).
    page.goto("/")
    headers = {"X-Craftgen-CSRF": "1"}
    body = {"tool": "text", "prompt": "a questionable doodle", "width": 64, "height": 64, "steps": 2}
    job = finished_job(page, page.request.post("/v1/jobs", data=body, headers=headers).json()["id"])
    image_id = next(output["image_id"] for output in job["outputs"] if output["kind"] == "image")
    assert page.request.post(f"/v1/images/{image_id}/publish", data={"title": "Doodle"}, headers=headers).ok
    assert page.request.post(f"/v1/images/{image_id}/report", data={"reason": "off topic"}, headers=headers).ok
    # Moderation is not for everyone: no link, and the page is not found.
    expect(page.get_by_role("link", name="Moderation")).to_have_count(0)
    assert page.goto("/admin").status == 404

    # 2. An admin (made with the CLI, as the README says) signs in with a password and hides it.
    subprocess.run(
        [sys.executable, "-m", "craftgen.cli", "users", "create", "boss", "--role", "admin", "--password"],
        input="a long admin password\na long admin password\n", text=True, env=studio.env, check=True,
        capture_output=True,
    )
    admin = browser.new_context(base_url=studio.url, viewport=DESKTOP)
    try:
        review = admin.new_page()
        review.goto("/signin")
        review.get_by_label("Name").fill("boss")
        review.get_by_label("Password").fill("a long admin password")
        review.get_by_role("button", name="Sign in").first.click()
        review.get_by_role("link", name="Moderation").click()
        card = review.get_by_role("figure").filter(has_text="Doodle")
        expect(card).to_contain_text("1 report")
        expect(card).to_contain_text("off topic")
        expect(card.get_by_role("img")).to_have_js_property("complete", True)
        shoot(review, "admin-desktop")
        card.get_by_role("button", name="Hide").click()
        expect(review.get_by_text("Nothing to review.")).to_be_visible()
    finally:
        admin.close()
    # 3. Gone from the gallery for everyone else.
    listed = page.request.get("/v1/gallery").json()["items"]
    assert image_id not in [item["id"] for item in listed]


def control(page: ToolPage, name: str) -> Control:
    return next(c for c in page.controls if c.name == name)


def choices(c: Control) -> list[tuple[str, str]]:
    return [(choice.value, choice.label) for choice in c.choices]


def test_tool_pages_read_the_declarations() -> None:
    """The derived forms say what the hand-written ones said (labels, choices, starting values)."""
    pages = tool_pages(options=EngineOptions(default_size=256))
    assert list(pages) == list(TOOLS)
    pattern, upscale, variations = pages["pattern"], pages["upscale"], pages["variations"]

    repeat = control(pattern, "repeat")
    assert (repeat.kind, repeat.label, repeat.default, repeat.numeric) == ("select", "Repeat", "grid", False)
    assert choices(repeat) == [("grid", "Grid"), ("half-drop", "Half-drop"), ("brick", "Brick"), ("mirror", "Mirror")]
    assert repeat.hint == "how each tile lines up with the next"
    for side, label in (("width", "Tile width"), ("height", "Tile height")):
        tile = control(pattern, side)
        assert (tile.kind, tile.label, tile.default, tile.unit, tile.half) == ("number", label, 256, "px", True)
        assert tile.hint == "a multiple of 8"
    assert [c.name for c in pattern.main_controls] == ["repeat", "width", "height", "num_images"]
    assert [c.name for c in pattern.more_controls] == ["seamless_x", "seamless_y", "negative_prompt", "sampler", "seed"]
    assert control(pattern, "seamless_x").kind == "checkbox" and control(pattern, "seamless_x").default is True
    assert control(pattern, "seed").default is None and control(pattern, "negative_prompt").default == ""
    assert control(pages["text"], "width").label == "Width"
    how_many = control(pattern, "num_images")
    assert how_many.numeric and how_many.default == "1" and choices(how_many) == [(str(n), str(n)) for n in range(1, 5)]

    scale = control(upscale, "scale")
    assert (scale.kind, scale.label, scale.default, scale.numeric) == ("select", "Make it", "2", True)
    assert choices(scale) == [("2", "2× bigger"), ("4", "4× bigger")]
    strength = control(upscale, "strength")
    # The tool's own strength is not a choice: the blank choice ("recommended") stands for it.
    assert (strength.label, strength.default, strength.numeric) == ("Extra detail", "", True)
    assert choices(strength) == [("", "A little (recommended)"), ("0", "None: just resize"), ("0.5", "More")]
    assert control(variations, "strength").default == "0.6"
    assert choices(control(variations, "strength")) == [("0.3", "A little"), ("0.6", "Some"), ("0.9", "A lot")]

    assert pattern.repeat_view and not pattern.transparent and not pattern.image and pattern.prompt == "required"
    assert pages["clipart"].transparent and pages["clipart"].svg
    assert pages["cutout"].prompt == "none" and pages["cutout"].image and pages["cutout"].transparent
    assert upscale.prompt == "optional" and upscale.image and not upscale.repeat_view


def studio_fields(tool: Tool[Any]) -> list[str]:
    """The tool's Studio-marked fields as its form lays them out: main ones, Print size, then
    More options."""
    marked = {name: hint for name, info in tool.request_model.model_fields.items() if (hint := studio_hint(info))}
    in_order = sorted(marked, key=lambda name: marked[name].order)
    main = [name for name in in_order if not marked[name].more and not marked[name].group]
    printing = [name for name in in_order if marked[name].group == "print"]
    return main + printing + [name for name in in_order if marked[name].more and not marked[name].group]


NAMED_CONTROLS = """form => [...form.elements].filter(e => e.name).map(e => [
  e.name,
  e.labels && e.labels.length ? e.labels[0].textContent.trim() : "",
  e.type === "checkbox" ? String(e.checked) : e.value,
])"""


@pytest.mark.parametrize("name", list(TOOLS))
def test_every_tool_form_has_exactly_its_declared_fields(page: Page, name: str) -> None:
    tool = TOOLS[name]
    page.goto(f"/tools/{name}")
    expect(page.get_by_role("heading", level=1)).to_have_text(tool.card.title)
    found = page.locator("#tool-form").evaluate(NAMED_CONTROLS)
    expected = ["image"] * tool.takes_image + list(tool.mask_fields)
    expected += ["prompt"] * (tool.prompt_mode != "none") + studio_fields(tool)
    assert [entry[0] for entry in found] == expected
    fields = tool.request_model.model_fields
    starts = tool.defaults(tool.request_model(), None, EngineOptions(default_size=DEFAULT_SIZE))
    for field, label, value in found:
        hint = studio_hint(fields[field])
        if hint is None:
            continue
        assert label.startswith(hint.label), (field, label)
        start = starts.get(field)
        if start is not None and not hint.choices:  # a choices select may stand for the default by its blank
            assert value == str(start).lower() if isinstance(start, bool) else value == str(start), (field, value)


UNLABELLED = """() => [...document.querySelectorAll("input:not([type=hidden]), select, textarea, button, a")]
  .filter(c => c.offsetParent !== null)
  .filter(c => !(c.labels && c.labels.length) && !c.getAttribute("aria-label") && !c.textContent.trim())
  .map(c => c.outerHTML)"""


@pytest.mark.parametrize("size_name", ["desktop", "phone"])
def test_every_page_fits_has_labels_and_is_screenshotted(
    page: Page, browser: Browser, studio: Studio, size_name: str
) -> None:
    viewport = DESKTOP if size_name == "desktop" else PHONE
    page.set_viewport_size(viewport)
    pages = {
        "home": "/",
        **{f"tool-{tool}": f"/tools/{tool}" for tool in TOOLS},
        **{name: f"/{name}" for name in ("images", "gallery", "account", "signin")},
    }
    for name, path in pages.items():
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        expect(page.get_by_role("note")).to_have_text("The built-in tiny model makes noise images, for testing only.")
        if name == "images":
            expect(page.get_by_text("Loading your images…")).to_be_hidden(timeout=RESULT_TIMEOUT)
        if name == "gallery":
            expect(page.get_by_text("Loading the gallery…")).to_be_hidden(timeout=RESULT_TIMEOUT)
        if page.get_by_text("More options").count():
            page.get_by_text("More options").click()  # its controls need names too
        assert page.evaluate(UNLABELLED) == [], f"{path}: controls without a visible name"
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= viewport["width"], f"{path} scrolls sideways at {viewport['width']} px ({overflow})"
        shoot(page, f"{name}-{size_name}")
    # Signing in with a wrong key, in a fresh profile (no session yet): the error is by its field.
    fresh = browser.new_context(base_url=studio.url, viewport=viewport)
    try:
        signin = fresh.new_page()
        signin.goto("/signin")
        signin.get_by_label("API key").fill("cg_not_a_key")
        signin.get_by_role("button", name="Sign in").click()
        expect_field_error(signin, signin.get_by_label("API key"), "not known here")
        shoot(signin, f"signin-error-{size_name}")
    finally:
        fresh.close()

    # The home page: one card per tool, each a link named after its tool.
    page.goto("/")
    for tool, title in TITLES.items():
        expect(page.get_by_role("link", name=title, exact=True)).to_have_attribute("href", f"/tools/{tool}")
