"""The studio's Print size section (#15): a preset fills the print fields, the job's PNG comes
back at exactly that many pixels with its DPI; screenshots of the form and the result."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.web.test_studio import download, first_result, generate, png_size, shoot


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
