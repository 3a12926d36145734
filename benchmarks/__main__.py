"""Run every benchmark, print the tables and the targets, write ``benchmarks/results/latest.json``.

    python -m benchmarks [--repeat 3] [--teams 1,10,50] [--stacks aws-dev,aws-prod]  # make bench

Every figure is the median of ``--repeat`` fresh processes (``benchmarks/probe.py``). A ratio is
never a ratio of medians taken minutes apart: each repetition runs the measurement and its floor
back to back, the ratio is taken within that pair, and the median of those ratios is reported,
so a slower or busier machine moves both sides together.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlops_iac.spec import clouds

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
PROVIDERS = dict(clouds.SDKS)
GIB = 1024  # MiB
IMPORT_LIMIT = 1.1
"""A components package with every public name resolved, over the floor of the SDK modules it
loaded: what our own modules add to the SDK (issue 31: lazy submodules)."""

# The targets: (key in the report, label, limit, how the measured value is found).
TARGETS: tuple[tuple[str, str, float, Callable[[dict], float | None]], ...] = (
    (
        "plan_to_floor",
        "plan of a reference stack / its import floor (worst stack)",
        2.0,
        lambda r: max((s["plan_to_floor"] for s in r["stacks"].values()), default=None),
    ),
    (
        "teams_50_seconds",
        "50 teams planned, seconds",
        30.0,
        lambda r: next((t["seconds"] for t in r["teams"] if t["teams"] == 50), None),
    ),
    (
        "teams_50_rss_gib",
        "50 teams planned, peak RSS GiB",
        1.5,
        lambda r: next((t["rss_mib"] / GIB for t in r["teams"] if t["teams"] == 50), None),
    ),
    (
        "policy_ms_per_resource",
        "whole pack, ms per resource (worst of stacks and teams)",
        1.0,
        lambda r: max(
            [s["policy_us_per_resource"] / 1000 for s in r["stacks"].values()]
            + [t["policy_us_per_resource"] / 1000 for t in r["teams"]],
            default=None,
        ),
    ),
    (
        "deploy_share",
        "deploy checks: added to plan (worst of stacks and teams)",
        0.10,
        lambda r: max(
            [s["deploy_share"] for s in r["stacks"].values()]
            + [t["deploy_share"] for t in r["teams"]],
            default=None,
        ),
    ),
    *(
        (
            f"import_{cloud}_to_floor",
            f"import mlops_iac.components.{cloud} / floor of its {sdk} modules",
            IMPORT_LIMIT,
            lambda r, package=f"mlops_iac.components.{cloud}": (
                r["imports"].get(package, {}).get("ratio")
            ),
        )
        for cloud, sdk in PROVIDERS.items()
    ),
    (
        "teams_50_to_floor",
        "50 teams planned / one aws-dev plan's import floor",
        8.0,
        lambda r: next(
            (
                t["seconds"] / r["stacks"]["aws-dev"]["floor_seconds"]
                for t in r["teams"]
                if t["teams"] == 50 and "aws-dev" in r["stacks"]
            ),
            None,
        ),
    ),
    (
        "drift_check_seconds",
        "drift check, 1,000,000 rows x 20 features, seconds",
        30.0,
        lambda r: r.get("drift", {}).get("check_1m_x_20", {}).get("seconds"),
    ),
    (
        "drift_capture_rss_mib",
        "drift check of a 1 GiB SageMaker capture, peak RSS MiB",
        256.0,
        lambda r: r.get("drift", {}).get("capture_1gib", {}).get("rss_mib"),
    ),
)


def probe(*args: str) -> dict[str, Any]:
    """One fresh process of ``benchmarks.probe``; its last stdout line is the JSON result."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.probe", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"probe {' '.join(args)} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The last run's fields, with every number replaced by its median over the runs."""
    result = dict(runs[-1])
    for key, value in result.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            result[key] = statistics.median(r[key] for r in runs)
    return result


def paired(
    measure: tuple[str, ...], floor_of: Callable[[dict], list[str]], repeat: int
) -> dict[str, Any]:
    """``repeat`` pairs of (measurement, its import floor); medians and the median pair ratio."""
    runs, floors, ratios = [], [], []
    modules: list[str] | None = None
    for _ in range(repeat):
        runs.append(probe(*measure))
        modules = modules if modules is not None else floor_of(runs[0])
        floors.append(probe("floor", *modules))
        ratios.append(runs[-1]["seconds"] / floors[-1]["seconds"])
    result = _median_of(runs)
    floor = _median_of(floors)
    result.update(
        floor_seconds=floor["seconds"],
        floor_rss_mib=floor["rss_mib"],
        floor_modules=len(modules or []),
        ratio=statistics.median(ratios),
    )
    return result


def bench_stacks(stacks: list[str], repeat: int) -> dict[str, dict[str, Any]]:
    print(
        f"{'stack':<11} {'res':>4} {'plan s':>7} {'floor s':>7} {'plan/floor':>10} "
        f"{'RSS MiB':>7} {'floor MiB':>9} {'policy µs/res':>13} {'in plan':>7} {'deploy':>6} "
        f"{'exit':>4}"
    )
    report = {}
    for stack in stacks:
        result = paired(("plan", stack), lambda run: run["provider_modules"], repeat)
        result.pop("provider_modules")
        result["plan_to_floor"] = result.pop("ratio")
        result["plan_policy_us_per_resource"] = (
            1e6 * result["plan_policy_seconds"] / max(result["resources"], 1)
        )
        report[stack] = result
        print(
            f"{stack:<11} {result['resources']:>4} {result['seconds']:>7.2f} "
            f"{result['floor_seconds']:>7.2f} {result['plan_to_floor']:>10.2f} "
            f"{result['rss_mib']:>7.0f} {result['floor_rss_mib']:>9.0f} "
            f"{result['policy_us_per_resource']:>13.0f} "
            f"{result['plan_policy_us_per_resource']:>7.0f} {result['deploy_share']:>6.1%} "
            f"{result['exit_code']:>4}"
        )
    return report


def bench_imports(clouds: list[str], repeat: int) -> dict[str, dict[str, Any]]:
    print(
        f"{'package':<17} {'import s':>8} {'floor s':>7} {'ratio':>5} {'RSS MiB':>7} "
        f"{'modules':>7}  other clouds' SDK modules"
    )
    report = {}
    for cloud in clouds:
        package = f"mlops_iac.components.{cloud}"
        # The floor: `import pulumi` plus exactly the provider modules the import loaded.
        result = paired(("import", package), lambda run: run["provider_modules"], repeat)
        modules = result.pop("provider_modules")
        others = [m for m in modules if m.split(".")[0] != PROVIDERS[cloud]]
        result.update(other_cloud_modules=others, provider_modules=len(modules))
        report[package] = result
        print(
            f"{package:<17} {result['seconds']:>8.3f} {result['floor_seconds']:>7.3f} "
            f"{result['ratio']:>5.2f} {result['rss_mib']:>7.0f} {len(modules):>7}  "
            f"{len(others)}"
        )
    return report


def bench_teams(counts: list[int], repeat: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    print(
        f"{'teams':>5} {'resources':>9} {'res/team':>8} {'seconds':>7} {'RSS MiB':>7} "
        f"{'ms/res':>6} {'policy µs/res':>13} {'deploy':>6} {'urns ok':>7}"
    )
    series = []
    for count in counts:
        result = _median_of([probe("teams", str(count)) for _ in range(repeat)])
        result["urns_distinct"] = result["distinct_urns"] == result["resources"]
        series.append(result)
        print(
            f"{count:>5} {result['resources']:>9} {result['resources_per_team']:>8} "
            f"{result['seconds']:>7.2f} {result['rss_mib']:>7.0f} "
            f"{1000 * result['seconds'] / result['resources']:>6.2f} "
            f"{result['policy_us_per_resource']:>13.0f} {result['deploy_share']:>6.1%} "
            f"{str(result['urns_distinct']):>7}"
        )
    fit: dict[str, Any] = {}
    if len(series) >= 2:
        xs = [r["resources"] for r in series]
        mean_x = statistics.fmean(xs)
        mean_t = statistics.fmean(r["seconds"] for r in series)
        mean_m = statistics.fmean(r["rss_mib"] for r in series)
        sxx = sum((x - mean_x) ** 2 for x in xs)
        slope_t = sum((r["resources"] - mean_x) * (r["seconds"] - mean_t) for r in series) / sxx
        slope_m = sum((r["resources"] - mean_x) * (r["rss_mib"] - mean_m) for r in series) / sxx
        per_team = {r["resources"] // r["teams"] for r in series}
        fit = {
            "ms_per_resource": 1000 * slope_t,
            "kib_per_resource": 1024 * slope_m,
            "intercept_seconds": mean_t - slope_t * mean_x,
            "linear_resources": len(per_team) == 1
            and all(r["resources"] == r["teams"] * r["resources_per_team"] for r in series),
        }
        print(
            f"least-squares slope: {fit['ms_per_resource']:.2f} ms and "
            f"{fit['kib_per_resource']:.0f} KiB per additional resource "
            f"(intercept {fit['intercept_seconds']:.2f} s); resources linear in teams: "
            f"{fit['linear_resources']}"
        )
    return series, fit


def check_targets(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    print(f"{'target':<58} {'limit':>6} {'measured':>9}  verdict")
    verdicts = {}
    for key, label, limit, find in TARGETS:
        value = find(report)
        met = None if value is None else value < limit
        verdicts[key] = {"label": label, "limit": limit, "measured": value, "met": met}
        shown = "—" if value is None else f"{value:.3f}"
        verdict = "not measured" if met is None else ("met" if met else "MISSED")
        print(f"{label:<58} {limit:>6} {shown:>9}  {verdict}")
    return verdicts


def _commit() -> str | None:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    )
    return out.stdout.strip() or None


def stacks_available() -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (REPO / "stacks").glob("*.yaml"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per figure")
    parser.add_argument("--teams", default="1,10,50", help="team counts of the scaling series")
    parser.add_argument("--stacks", default=",".join(stacks_available()))
    parser.add_argument(
        "--clouds", default=",".join(clouds.NAMES), help="components packages to import"
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    parser.add_argument(
        "--drift-capture-mib", type=int, default=1024, help="drift capture size (0: skip drift)"
    )
    args = parser.parse_args(argv)
    report: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "repeat": args.repeat,
    }
    report["stacks"] = bench_stacks([s for s in args.stacks.split(",") if s], args.repeat)
    print()
    report["imports"] = bench_imports([c for c in args.clouds.split(",") if c], args.repeat)
    print()
    counts = [int(n) for n in args.teams.split(",") if n]
    report["teams"], report["teams_fit"] = bench_teams(counts, args.repeat)
    print()
    if args.drift_capture_mib:
        from benchmarks import drift

        report["drift"] = drift.measure(1_000_000, 20, args.drift_capture_mib)
        print()
    report["targets"] = check_targets(report)

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
