"""`craftgen generate inpaint --image a.png --mask m.png`: two input files from the command line;
a bad mask is one line, exit code 2, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import smooth_image
from tests.test_cli import _craftgen


def _files(tmp_path: Path) -> tuple[Path, Path]:
    image, mask = tmp_path / "a.png", tmp_path / "m.png"
    smooth_image(128, 96).save(image)
    painted = Image.new("L", (128, 96), 0)
    painted.paste(255, (40, 30, 80, 60))
    painted.save(mask)
    return image, mask


def test_inpaint_with_a_mask_file_writes_its_outputs(tmp_path: Path) -> None:
    image, mask = _files(tmp_path)
    out = tmp_path / "out"
    run = _craftgen(
        "generate", "inpaint", "--image", str(image), "--mask", str(mask), "--prompt", "a red rose",
        "--seed", "5", "--steps", "3", "--blend", "4", "--num-images", "2", "--out", str(out),
        cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    record = json.loads((out / "result.json").read_text())
    assert record["tool"] == "inpaint" and record["seed"] == 5
    assert [(o["path"], o["width"], o["height"]) for o in record["outputs"]] == [
        ("inpaint-0.png", 128, 96),
        ("inpaint-1.png", 128, 96),
    ]
    assert "mask" not in record["settings"] and "image" not in record["settings"]
    original = np.asarray(Image.open(image).convert("RGB"))
    made = np.asarray(Image.open(out / "inpaint-0.png").convert("RGB"))
    outside = np.ones(original.shape[:2], bool)
    outside[26:64, 36:84] = False
    assert np.array_equal(made[outside], original[outside])


def test_inpaint_help_lists_the_mask_option(tmp_path: Path) -> None:
    run = _craftgen("generate", "inpaint", "--help", cwd=tmp_path)
    assert run.returncode == 0 and "--mask" in run.stdout and "repaint" in run.stdout


@pytest.mark.parametrize(
    ("mask", "words"),
    [
        ("missing.png", "mask file not found"),
        ("JUNK", "junk.png: the file is not a readable image"),
        ("SMALL", "it must be the image's size, 128x96"),
        ("EMPTY", "marks nothing to repaint"),
        (None, "the inpaint tool needs a mask"),
    ],
)
def test_a_bad_mask_is_one_line_exit_2_and_nothing_written(tmp_path: Path, mask: str | None, words: str) -> None:
    image, _ = _files(tmp_path)
    (tmp_path / "junk.png").write_bytes(b"not a png")
    Image.new("L", (64, 48), 255).save(tmp_path / "small.png")
    Image.new("L", (128, 96), 0).save(tmp_path / "empty.png")
    named = {"JUNK": "junk.png", "SMALL": "small.png", "EMPTY": "empty.png"}
    mask_args = [] if mask is None else ["--mask", str(tmp_path / named.get(mask, mask))]
    out = tmp_path / "out"
    run = _craftgen("generate", "inpaint", "--image", str(image), *mask_args, "--out", str(out), cwd=tmp_path)

    assert run.returncode == 2, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and words in lines[0], run.stderr
    assert "Traceback" not in run.stderr and not out.exists()
