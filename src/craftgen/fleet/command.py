"""`craftgen fleet simulate`: read the rule, run every policy on the same arrivals, write the report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from craftgen.fleet.arrivals import load_curve
from craftgen.fleet.manifests import load_rule
from craftgen.fleet.model import Params
from craftgen.fleet.policies import Summary, compare, meets_goal
from craftgen.fleet.report import setup_lines, table, write

SHIPPED_MARK = "(shipped)"


@dataclass(frozen=True)
class Report:
    text: str
    files: list[Path]
    summaries: list[Summary]

    @property
    def shipped(self) -> Summary:
        return next(s for s in self.summaries if SHIPPED_MARK in s.policy)

    @property
    def goal_met(self) -> bool:
        return meets_goal(self.shipped, self.summaries[0])


def simulate_policies(
    *, manifests: Path, arrivals: Path | None, out_dir: Path, seed: int, params: Params, rate_scale: float = 1.0
) -> Report:
    # 1. What is deployed, and the day it meets.
    rule = load_rule(manifests)
    curve = load_curve(arrivals)
    if rate_scale != 1.0:
        curve = curve.scaled(rate_scale)
    # 2. Every policy on the same arrivals.
    summaries, outcomes = compare(rule, curve=curve, params=params, seed=seed)
    # 3. The table, the JSON and the plots.
    files = write(out_dir, rule=rule, curve=curve, params=params, seed=seed, summaries=summaries, outcomes=outcomes)
    text = "\n".join([*setup_lines(rule, curve=curve, params=params, seed=seed), "", table(summaries)])
    return Report(text=text, files=files, summaries=summaries)


def cli_simulate(*, out_dir: Path, **options: float | Path | None) -> None:
    """The command's body: options to parameters, the run, the table on stdout, the exit status
    (1 when the shipped policy misses the goal)."""
    import dataclasses  # noqa: PLC0415
    import sys  # noqa: PLC0415

    import click  # noqa: PLC0415

    params = Params()

    def given(name: str) -> float | None:
        value = options.get(name)
        return float(value) if isinstance(value, int | float) else None

    if (rate := given("spot_interruptions")) is not None:
        params = dataclasses.replace(params, spot=dataclasses.replace(params.spot, interruptions_per_hour=rate))
    cold = params.cold_start
    if (node := given("node_seconds")) is not None:
        cold = dataclasses.replace(cold, node_s=node)
    if (pull := given("image_pull_seconds")) is not None:
        cold = dataclasses.replace(cold, image_pull_s=pull)
    prices = params.prices
    if (on_demand := given("on_demand_price")) is not None:
        prices = dataclasses.replace(prices, on_demand_per_h=on_demand)
    if (spot := given("spot_price")) is not None:
        prices = dataclasses.replace(prices, spot_per_h=spot)
    params = dataclasses.replace(params, cold_start=cold, prices=prices)
    manifests, arrivals = options.get("manifests"), options.get("arrivals")
    report = simulate_policies(
        manifests=manifests if isinstance(manifests, Path) else Path("deploy/k8s"),
        arrivals=arrivals if isinstance(arrivals, Path) else None,
        out_dir=out_dir,
        seed=int(given("seed") or 0),
        params=params,
        rate_scale=given("rate_scale") or 1.0,
    )
    click.echo(report.text)
    click.echo("")
    click.echo(
        f"shipped policy: goal {'met' if report.goal_met else 'missed'}; wrote " + ", ".join(map(str, report.files))
    )
    sys.exit(0 if report.goal_met else 1)
