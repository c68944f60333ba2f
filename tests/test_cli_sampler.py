"""`craftgen generate TOOL --sampler`: A1111's names or our snake case; unknown ones are a usage
error listing the choices."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import _craftgen


def test_a_sampler_in_snake_case_runs_and_is_recorded(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = _craftgen(
        "generate", "text", "--prompt", "a fox", "--width", "64", "--height", "64", "--steps", "2",
        "--sampler", "dpmpp_2m_karras", "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.loads((out / "result.json").read_text())["settings"]["sampler"] == "DPM++ 2M Karras"


def test_an_unknown_sampler_lists_the_known_ones(tmp_path: Path) -> None:
    run = _craftgen(
        "generate", "text", "--prompt", "x", "--sampler", "Euler b", "--out", str(tmp_path / "o"), cwd=tmp_path
    )
    assert run.returncode == 2 and "'Euler a'" in run.stderr and "'DPM++ 2M Karras'" in run.stderr
    assert not (tmp_path / "o").exists()
