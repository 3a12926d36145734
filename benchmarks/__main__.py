"""Run every benchmark, print a table and write ``benchmarks/results/latest.json``.

    python -m benchmarks [--repeat 3] [--teams 1,10,50] [--stacks aws-dev,aws-prod]

Every figure is the median of ``--repeat`` fresh processes; each ratio is computed from figures of
the same run, so a slower or busier machine moves both sides together.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"


def probe(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.probe", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def median(args: tuple[str, ...], repeat: int) -> dict:
    runs = [probe(*args) for _ in range(repeat)]
    result = dict(runs[-1])
    for key in ("seconds", "program_seconds", "policy_seconds", "rss_mib"):
        if key in result:
            result[key] = statistics.median(r[key] for r in runs)
    return result


def stacks_available() -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (REPO / "stacks").glob("*.yaml"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--teams", default="1,10,50")
    parser.add_argument("--stacks", default=",".join(stacks_available()))
    args = parser.parse_args(argv)
    report: dict = {"stacks": {}, "imports": {}, "teams": []}

    print(
        f"{'stack':<12} {'res':>5} {'plan s':>8} {'floor s':>8} {'ratio':>6} "
        f"{'RSS MiB':>8} {'policy µs/res':>14}"
    )
    for stack in [s for s in args.stacks.split(",") if s]:
        plan = median(("plan", stack), args.repeat)
        floor = median(("floor", *plan["provider_modules"]), args.repeat)
        per_resource = 1e6 * plan["policy_seconds"] / max(plan["resources"], 1)
        entry = {
            **plan,
            "floor_seconds": floor["seconds"],
            "floor_rss_mib": floor["rss_mib"],
            "plan_to_floor": plan["seconds"] / floor["seconds"],
            "policy_us_per_resource": per_resource,
        }
        entry.pop("provider_modules")
        report["stacks"][stack] = entry
        print(
            f"{stack:<12} {plan['resources']:>5} {plan['seconds']:>8.2f} "
            f"{floor['seconds']:>8.2f} {entry['plan_to_floor']:>6.2f} {plan['rss_mib']:>8.0f} "
            f"{per_resource:>14.1f}"
        )

    print()
    print(f"{'package':<20} {'import s':>9} {'floor s':>8} {'ratio':>6} {'other clouds loaded'}")
    for cloud in ("aws", "azure", "gcp"):
        package = f"components.{cloud}"
        if not (REPO / "components" / cloud / "__init__.py").exists():
            continue
        imported = median(("import", package), args.repeat)
        floor = median(("floor", *imported["provider_modules"]), args.repeat)
        others = [
            m
            for m in imported["provider_modules"]
            if m.split(".")[0]
            != {"aws": "pulumi_aws", "azure": "pulumi_azure_native", "gcp": "pulumi_gcp"}[cloud]
        ]
        ratio = imported["seconds"] / floor["seconds"]
        report["imports"][package] = {
            "seconds": imported["seconds"],
            "floor_seconds": floor["seconds"],
            "ratio": ratio,
            "other_cloud_modules": others,
        }
        print(
            f"{package:<20} {imported['seconds']:>9.2f} {floor['seconds']:>8.2f} {ratio:>6.2f} "
            f"{len(others)}"
        )

    print()
    print(f"{'teams':>5} {'resources':>10} {'seconds':>8} {'RSS MiB':>8} {'ms/resource':>12}")
    for count in [int(n) for n in args.teams.split(",") if n]:
        result = median(("teams", str(count)), 1 if count >= 50 else args.repeat)
        result["teams"] = count
        report["teams"].append(result)
        print(
            f"{count:>5} {result['resources']:>10} {result['seconds']:>8.2f} "
            f"{result['rss_mib']:>8.0f} {1000 * result['seconds'] / result['resources']:>12.2f}"
        )
    if len(report["teams"]) >= 2:
        first, last = report["teams"][0], report["teams"][-1]
        slope = (last["seconds"] - first["seconds"]) / (last["resources"] - first["resources"])
        report["per_resource_slope_ms"] = 1000 * slope
        print(f"slope: {1000 * slope:.2f} ms per additional resource")

    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2))
    print(f"\nwrote {RESULTS / 'latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
