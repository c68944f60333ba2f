"""The studio's Print size section and the sticker tool (#15): a preset fills the print fields,
the job's PNG comes back at exactly that many pixels with its DPI; a sticker from a prompt or an
upload; screenshots of the form and the results."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect

from tests.web.test_studio import WATCH_PROGRESS, download, first_result, png_size, shoot, upload


def generate(page: Page) -> None:
    """Press Generate and see the progress (waiting longer than test_studio's helper: the first
    job of a fresh server also loads the tokenizer)."""
    page.evaluate("window.scrollTo(0, 0)")  # after a full-page screenshot the page may sit mid-scroll
    page.evaluate(WATCH_PROGRESS)
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_role("progressbar", name="Progress")).to_be_visible(timeout=60_000)


def test_a_print_preset_fills_the_fields_and_sizes_the_file(page: Page) -> None:
    page.goto("/tools/clipart")
    page.get_by_label("Prompt").fill("a happy cartoon sun")
    page.get_by_text("Print size").click()
    preset = page.get_by_label("Preset")
    preset.select_option(label="A4 (210 × 297 mm)")
    expect(page.get_by_label("Print width")).to_have_value("210")
    expect(page.get_by_label("Print height")).to_have_value("297")
    expect(page.get_by_label("Unit")).to_have_value("mm")
    preset.select_option(label="3 in sticker")
    expect(page.get_by_label("Print width")).to_have_value("3")
    expect(page.get_by_label("Unit")).to_have_value("in")
    expect(page.get_by_label("DPI")).to_have_value("300")
    page.get_by_label("DPI").fill("100")
    shoot(page, "print-size-form-desktop")

    generate(page)
    card = first_result(page, "Clipart")
    expect(card).to_contain_text("300 × 300 px")
    shoot(page, "print-size-result-desktop")
    _, data = download(page, card.get_by_role("link", name="Download PNG"))
    width, height, mode, info = png_size(data)
    assert (width, height, mode) == (300, 300, "RGBA") and round(info["dpi"][0]) == 100 and info.get("icc_profile")
    _, svg = download(page, card.get_by_role("link", name="Download SVG"))
    assert b'width="3.0000in"' in svg

    # Back to no print size: the fields empty again.
    preset.select_option(label="None: pixel size")
    expect(page.get_by_label("Print width")).to_have_value("")


def test_a_sticker_from_a_prompt_and_from_an_upload(page: Page, tmp_path: Path) -> None:
    page.goto("/tools/sticker")
    expect(page.get_by_label("Your image")).to_be_attached()  # an upload is optional
    page.get_by_label("Prompt").fill("a happy avocado")
    page.get_by_label("Border (mm)", exact=True).fill("2")
    page.get_by_text("Print size").click()
    page.get_by_label("Preset").select_option(label="3 in sticker")
    page.get_by_label("DPI").fill("100")
    generate(page)
    card = first_result(page, "Sticker")
    expect(card).to_contain_text("300 × 300 px")
    shoot(page, "sticker-result-desktop")
    _, svg = download(page, card.get_by_role("link", name="Download SVG"))
    assert svg.count(b"<path") == 1 and b'id="CutContour"' in svg

    # From an upload: a subject on transparency.
    picture = Image.new("RGBA", (320, 240), (0, 0, 0, 0))
    ImageDraw.Draw(picture).ellipse((40, 30, 280, 210), fill=(220, 60, 90, 255))
    picture.save(tmp_path / "subject.png")
    page.goto("/tools/sticker")
    upload(page, tmp_path / "subject.png")
    generate(page)
    card = first_result(page, "Sticker")
    expect(card).to_contain_text("320 × 240 px")  # no print size: the upload's own size, at 300 DPI
    shoot(page, "sticker-upload-result-desktop")
