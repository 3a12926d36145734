"""One measurement in a fresh process; prints a JSON line with wall time and peak RSS.

Each figure needs its own process: peak RSS only grows, and a warm import cache would hide the
import cost that dominates a CI run of ``mlops-iac plan``.

    python -m benchmarks.probe plan STACK          # the whole offline plan of a reference stack
    python -m benchmarks.probe floor MODULE…       # only import these modules (the import floor)
    python -m benchmarks.probe teams N             # N teams' AWS platforms in one program
    python -m benchmarks.probe import PACKAGE      # import one components package
"""

from __future__ import annotations

import time

START = time.perf_counter()  # before any import: import cost is part of every figure

import importlib  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PROVIDERS = ("pulumi_aws", "pulumi_azure_native", "pulumi_gcp")


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _provider_modules() -> list[str]:
    return sorted(m for m in sys.modules if m.split(".")[0] in PROVIDERS)


def _evaluate(recording: object) -> tuple[float, int]:
    """Seconds the policy pack takes over a recording, and how many results it produced."""
    try:
        from components.ops.plan import evaluate_policies
    except ImportError:  # the pack is not wired into plan yet
        return 0.0, 0
    start = time.perf_counter()
    results = evaluate_policies(recording)
    return time.perf_counter() - start, len(results)


def plan(stack: str) -> dict:
    from components.testing import run_project

    recording = run_project(REPO, stack)
    run_seconds = time.perf_counter() - START
    policy_seconds, results = _evaluate(recording)
    return {
        "seconds": run_seconds + policy_seconds,
        "program_seconds": run_seconds,
        "policy_seconds": policy_seconds,
        "policy_results": results,
        "resources": len(recording),
        "rss_mib": _rss_mib(),
        "provider_modules": _provider_modules(),
    }


def floor(modules: list[str]) -> dict:
    import pulumi  # noqa: F401

    for name in modules:
        importlib.import_module(name)
    return {"seconds": time.perf_counter() - START, "rss_mib": _rss_mib()}


def teams(count: int) -> dict:
    import pulumi

    from components.spec import parse_spec
    from components.stack import MlopsStack
    from components.testing import run
    from components.testing.engine import Project

    config = Project.load(REPO).read_config("aws-dev")
    base = config["mlops:platform"]

    def program() -> None:
        for index in range(count):
            spec = parse_spec({**base, "project": f"team-{index:03d}"})
            stack = MlopsStack(f"team-{index:03d}", spec)
            pulumi.export(f"team-{index:03d}", stack.exports["dvc_remote_url"])

    recording = run(program, config=config, project="bench", stack="teams")
    run_seconds = time.perf_counter() - START
    policy_seconds, _ = _evaluate(recording)
    return {
        "seconds": run_seconds + policy_seconds,
        "program_seconds": run_seconds,
        "policy_seconds": policy_seconds,
        "resources": len(recording),
        "rss_mib": _rss_mib(),
    }


def import_package(package: str) -> dict:
    importlib.import_module(package)
    return {
        "seconds": time.perf_counter() - START,
        "rss_mib": _rss_mib(),
        "provider_modules": _provider_modules(),
    }


def main(argv: list[str]) -> int:
    kind, *rest = argv
    if kind == "plan":
        result = plan(rest[0])
    elif kind == "floor":
        result = floor(rest)
    elif kind == "teams":
        result = teams(int(rest[0]))
    elif kind == "import":
        result = import_package(rest[0])
    else:
        raise SystemExit(f"unknown probe {kind!r}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
