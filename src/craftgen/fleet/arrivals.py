"""Arrivals: a day's rate curve from a CSV (`time,jobs_per_minute`, linear between rows) and the
Poisson arrivals it gives (thinning), seeded; the spike window found on the curve."""

from __future__ import annotations

import bisect
import csv
import random
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

DAY_S = 24 * 3600.0
SPIKE_RISE_S = 600.0  # "10x in 10 minutes": the steepest ten-minute rise marks the spike


class ArrivalsError(ValueError):
    """An arrivals CSV this cannot read."""


@dataclass(frozen=True)
class RateCurve:
    """Jobs per second at each second of the day, linear between the CSV's points."""

    times_s: tuple[float, ...]
    rates_per_s: tuple[float, ...]
    source: str

    def rate(self, t: float) -> float:
        t = min(max(t, self.times_s[0]), self.times_s[-1])
        i = bisect.bisect_right(self.times_s, t)
        if i >= len(self.times_s):
            return self.rates_per_s[-1]
        t0, t1 = self.times_s[i - 1], self.times_s[i]
        r0, r1 = self.rates_per_s[i - 1], self.rates_per_s[i]
        return r0 + (r1 - r0) * (t - t0) / (t1 - t0) if t1 > t0 else r1

    @property
    def end_s(self) -> float:
        return self.times_s[-1]

    def scaled(self, factor: float) -> RateCurve:
        return RateCurve(self.times_s, tuple(r * factor for r in self.rates_per_s), f"{self.source} x{factor:g}")

    def peak_per_s(self) -> float:
        return max(self.rates_per_s)

    def spike_window(self, *, length_s: float = 3600.0) -> tuple[float, float]:
        """From the start of the steepest ten-minute rise (by ratio), `length_s` long."""
        best, start = 0.0, 0.0
        t = self.times_s[0]
        while t + SPIKE_RISE_S <= self.end_s:
            low = max(self.rate(t), 1e-9)
            ratio = self.rate(t + SPIKE_RISE_S) / low
            if ratio > best + 1e-9:
                best, start = ratio, t
            t += 60.0
        return start, min(start + length_s, self.end_s)


def default_curve_path() -> Path:
    return Path(str(resources.files("craftgen.fleet") / "day.csv"))


def load_curve(path: Path | None = None) -> RateCurve:
    path = path or default_curve_path()
    rows = [line for line in path.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]
    times: list[float] = []
    rates: list[float] = []
    for row in csv.DictReader(rows):
        try:
            hours, minutes = str(row["time"]).strip().split(":")
            t = int(hours) * 3600.0 + int(minutes) * 60.0
            rate = float(row["jobs_per_minute"]) / 60.0
        except (KeyError, ValueError, AttributeError) as error:
            raise ArrivalsError(f"{path}: rows need time (HH:MM) and jobs_per_minute, got {row}") from error
        if rate < 0 or (times and t <= times[-1]):
            raise ArrivalsError(f"{path}: times must increase and rates be >= 0 (at {row['time']})")
        times.append(t)
        rates.append(rate)
    if len(times) < 2:
        raise ArrivalsError(f"{path}: needs at least two rows")
    return RateCurve(tuple(times), tuple(rates), str(path))


def arrival_times(
    curve: RateCurve, *, rng: random.Random, start_s: float = 0.0, end_s: float | None = None
) -> list[float]:
    """A non-homogeneous Poisson process on the curve (Lewis-Shedler thinning)."""
    end = curve.end_s if end_s is None else end_s
    ceiling = curve.peak_per_s()
    times: list[float] = []
    if ceiling <= 0:
        return times
    t = start_s
    while True:
        t += rng.expovariate(ceiling)
        if t >= end:
            return times
        if rng.random() * ceiling < curve.rate(t):
            times.append(t)
