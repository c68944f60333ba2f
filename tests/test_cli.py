"""`craftgen generate` as a user runs it: files plus result.json, a progress bar, and bad input
refused with one line, exit code 2 and nothing written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import smooth_image


def _craftgen(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CRAFTGEN_DATA_DIR": str(cwd / "data"), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "craftgen.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_generate_a_pattern(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = _craftgen(
        "generate", "pattern", "--prompt", "cute strawberries", "--seed", "7",
        "--width", "128", "--height", "128", "--steps", "3", "--repeat", "half-drop", "--out", str(out),
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    record = json.loads((out / "result.json").read_text())
    assert record["tool"] == "pattern" and record["model"] == "tiny" and record["seed"] == 7
    assert [(o["path"], o["kind"], o["width"]) for o in record["outputs"]] == [
        ("pattern-0.png", "image", 128),
        ("pattern-0-preview.png", "preview", 384),
    ]
    assert set(record["metrics"]) == {"seam_score_x", "seam_score_y"}
    with Image.open(out / "pattern-0-preview.png") as preview:
        assert preview.size == (384, 384)
    assert "3/3" in run.stderr, "a progress bar on stderr"
    assert "noise" in run.stderr, "the tiny model says its images are noise"


def test_cutout_from_an_upload(tmp_path: Path) -> None:
    upload = tmp_path / "sticker.png"
    image = Image.new("RGB", (96, 96), "white")
    image.paste((200, 30, 30), (20, 20, 70, 70))
    image.save(upload)
    run = _craftgen("generate", "cutout", "--image", str(upload), "--out", str(tmp_path / "cut"), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    with Image.open(tmp_path / "cut" / "cutout-0.png") as cut:
        assert cut.mode == "RGBA"
    assert (tmp_path / "cut" / "cutout-0.svg").read_text().startswith("<svg")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["text", "--prompt", "x", "--width", "100"], "width must be a multiple of 8, got 100"),
        (["text", "--prompt", "x", "--num-images", "9"], "num_images must be between 1 and 8"),
        (["text", "--prompt", "x", "--steps", "500"], "steps must be between 1 and 100, got 500"),
        (["variations", "--image", "IMAGE", "--strength", "1.5"], "strength must be in (0, 1], got 1.5"),
        (["outpaint", "--image", "IMAGE"], "at least one side"),
        (["upscale", "--image", "NOT_AN_IMAGE"], "not a readable image"),
        (["upscale", "--image", "missing.png"], "image file not found"),
        (["text", "--prompt", "x", "--model", "nope"], "could not be loaded"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path: Path, args: list[str], words: str) -> None:
    smooth_image(64, 64).save(tmp_path / "image.png")
    (tmp_path / "junk.png").write_bytes(b"this is not a png")
    args = [
        {"IMAGE": str(tmp_path / "image.png"), "NOT_AN_IMAGE": str(tmp_path / "junk.png")}.get(a, a) for a in args
    ]
    out = tmp_path / "out"
    run = _craftgen("generate", *args, "--out", str(out), cwd=tmp_path)

    assert run.returncode == (3 if "--model" in args else 2), run.stderr
    lines = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and words in lines[0], run.stderr
    assert "Traceback" not in run.stderr
    assert not out.exists(), "nothing half-written"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out-")], "no staging left behind"


def test_unknown_tool_is_a_usage_error(tmp_path: Path) -> None:
    run = _craftgen("generate", "sketch", "--out", str(tmp_path / "o"), cwd=tmp_path)
    assert run.returncode == 2
    assert "sketch" in run.stderr
