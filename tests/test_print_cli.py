"""`craftgen generate` with a print size (#15): --print-width/--print-height/--print-unit/--dpi
give exactly that many pixels, recorded in result.json; a print too big is one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from tests.test_cli import _craftgen


def test_generate_a_pattern_at_a_print_size(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = _craftgen(
        "generate", "pattern", "--prompt", "roses", "--seed", "1", "--steps", "2", "--width", "64", "--height", "64",
        "--print-width", "4", "--print-height", "4", "--print-unit", "cm", "--dpi", "127", "--out", str(out),
        cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    record = json.loads((out / "result.json").read_text())
    # 4 cm at 127 DPI (50 px per cm) is 200 px.
    assert [(o["path"], o["width"], o["height"]) for o in record["outputs"] if o["kind"] == "image"] == [
        ("pattern-0.png", 200, 200)
    ]
    with Image.open(out / "pattern-0.png") as tile:
        assert tile.size == (200, 200) and round(tile.info["dpi"][0]) == 127 and tile.info.get("icc_profile")
    assert record["metrics"]["seam_score_x"] > 0.9


def test_a_print_too_big_is_one_line_and_exit_2(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = _craftgen(
        "generate", "text", "--prompt", "a fox", "--print-width", "90", "--print-height", "90", "--out", str(out),
        cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 2 and "print_width" in run.stderr and "largest" in run.stderr
    assert not out.exists()


def test_generate_a_sticker_from_an_image(tmp_path: Path) -> None:
    picture = tmp_path / "subject.png"
    image = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
    image.paste((220, 40, 90, 255), (30, 30, 130, 130))
    image.save(picture)
    out = tmp_path / "out"
    run = _craftgen(
        "generate", "sticker", "--image", str(picture), "--offset", "3", "--border-color", "#ffeecc",
        "--print-width", "2", "--print-height", "2", "--out", str(out),
        cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    record = json.loads((out / "result.json").read_text())
    assert [o["path"] for o in record["outputs"]] == ["sticker-0.png", "sticker-0.svg"]
    assert record["metrics"]["offset_mm"] == 3 and record["metrics"]["cut_paths"] == 1
    svg = (out / "sticker-0.svg").read_text()
    assert svg.count("<path") == 1 and 'width="2.0000in"' in svg
