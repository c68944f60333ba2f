"""The one table format every benchmark prints, and the machine-readable line `all.py` collects.

Each script builds `Row`s (a ratio against a baseline measured in the same run) and calls
`print_rows`: a readable table for people, plus one `BENCH-ROW {json}` line per row, so
`benchmarks/all.py` can run every script and print a single combined table.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

ROW_PREFIX = "BENCH-ROW "


@dataclass(frozen=True)
class Row:
    """One line: what ran, craftgen's value, the named baseline's value, baseline / craftgen."""

    name: str
    craftgen: str
    baseline: str
    ratio: str
    note: str = ""


def ratio(baseline: float, craftgen: float) -> str:
    """baseline / craftgen as '1.23x': above 1 means craftgen is faster, smaller or cheaper."""
    return f"{baseline / craftgen:.2f}x" if craftgen > 0 else "n/a"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def table(rows: Sequence[Row]) -> str:
    columns = ("row", "craftgen", "baseline", "baseline/craftgen", "setup / check")
    cells = [columns] + [(r.name, r.craftgen, r.baseline, r.ratio, r.note) for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def print_rows(rows: Sequence[Row]) -> None:
    """The readable table, then one machine-readable line per row."""
    print()
    print(table(rows))
    print()
    for row in rows:
        print(ROW_PREFIX + json.dumps(asdict(row)), flush=True)


def parse_rows(output: str) -> list[Row]:
    return [Row(**json.loads(line[len(ROW_PREFIX):])) for line in output.splitlines() if line.startswith(ROW_PREFIX)]
