"""Writing a tool's result to a folder: its files plus result.json, all or nothing."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from craftgen.engine.base import ToolResult
from craftgen.schemas import OutputInfo, RunRecord


def run_record(result: ToolResult, *, settings: dict[str, object]) -> RunRecord:
    return RunRecord(
        tool=result.tool,
        model=result.model,
        seed=result.seed,
        outputs=[
            OutputInfo(path=out.name, kind=out.kind, width=out.width, height=out.height, seed=out.seed)
            for out in result.outputs
        ],
        metrics=result.metrics,
        settings=settings,
        warnings=result.warnings,
    )


def write_result(result: ToolResult, out_dir: Path, *, settings: dict[str, object]) -> RunRecord:
    """Stage every file next to `out_dir`, then move them in; result.json goes last."""
    record = run_record(result, settings=settings)
    out_dir = out_dir.resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        # 1. Everything is written in full before anything appears in out_dir.
        for out in result.outputs:
            (staging / out.name).write_bytes(out.data)
        (staging / "result.json").write_text(record.model_dump_json(indent=2) + "\n", encoding="utf-8")
        # 2. Move in (renames within one file system), result.json last.
        out_dir.mkdir(exist_ok=True)
        for out in result.outputs:
            os.replace(staging / out.name, out_dir / out.name)
        os.replace(staging / "result.json", out_dir / "result.json")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return record
