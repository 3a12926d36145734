"""One measurement in a fresh process; prints a JSON line with wall time and peak RSS.

Each figure needs its own process: peak RSS only grows, and a warm import cache would hide the
import cost that dominates a CI run of ``mlops-iac plan``. Times run from the first line of this
module (before any import) to the end of the measured work; interpreter start-up, the same for
every probe, is left out.

    python -m benchmarks.probe plan STACK          # `mlops-iac plan --stack STACK --quiet`
    python -m benchmarks.probe floor MODULE…       # only import (and load) these modules
    python -m benchmarks.probe teams N             # `mlops-iac plan` of N teams' AWS platforms
    python -m benchmarks.probe import PACKAGE      # import one components package, every name
"""

from __future__ import annotations

import time

START = time.perf_counter()  # before any import: import cost is part of every figure

import contextlib  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from mlops_iac.spec import clouds  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PROVIDERS = tuple(clouds.SDKS.values())
POLICY_REPEAT = 3
"""Evaluations of the pack per probe (after the measured run); the median is reported."""


def _rss_mib() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def loaded_provider_modules() -> list[str]:
    """Provider SDK modules that were actually executed in this process.

    Provider packages register every submodule in ``sys.modules`` as a lazy placeholder at import
    (pulumi's ``_LazyModule``); only the ones whose attributes were touched have been loaded.
    """
    lazy = _lazy_module_type()
    return sorted(
        name
        for name, module in list(sys.modules.items())
        if name.split(".")[0] in PROVIDERS and not (lazy and isinstance(module, lazy))
    )


def _lazy_module_type() -> type | None:
    utils = sys.modules.get("pulumi._utils")
    return getattr(utils, "_LazyModule", None)


def _policy(recording: Any) -> dict:
    """Per-resource cost of the whole pack over a recording (``evaluate_policies``), warm."""
    from mlops_iac.plan.service import evaluate_policies

    timings = []
    for _ in range(POLICY_REPEAT):
        start = time.perf_counter()
        results = evaluate_policies(recording)
        timings.append(time.perf_counter() - start)
    seconds = statistics.median(timings)
    return {
        "policy_seconds": seconds,
        "policy_us_per_resource": 1e6 * seconds / max(len(recording), 1),
        "policy_violations": len(results),
    }


def _cli_plan(*args: str) -> dict:
    """Run ``mlops-iac plan ARGS --no-color`` in this process with stdout discarded.

    The CLI runs unchanged; spies note the ``PlanResult`` (for the recording), how long the CLI's
    own pack evaluation took and how long the deploy-constraint checks took (``deploy_share``:
    what they add to the plan without them).
    """
    from mlops_iac.cli import main as cli
    from mlops_iac.plan import deploy, service
    from mlops_iac.policies import packs

    captured: list[Any] = []
    in_plan: list[float] = []
    in_deploy: list[float] = []
    original_plan, original_evaluate = service.plan, packs.evaluate
    original_check = deploy.check

    def spy_check(*a: Any, **kw: Any) -> Any:
        start = time.perf_counter()
        try:
            return original_check(*a, **kw)
        finally:
            in_deploy.append(time.perf_counter() - start)

    def spy_plan(*a: Any, **kw: Any) -> Any:
        captured.append(original_plan(*a, **kw))
        return captured[-1]

    def spy_evaluate(*a: Any, **kw: Any) -> Any:
        start = time.perf_counter()
        try:
            return original_evaluate(*a, **kw)
        finally:
            in_plan.append(time.perf_counter() - start)

    service.plan, packs.evaluate, deploy.check = spy_plan, spy_evaluate, spy_check
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        code = cli.main(["plan", *args, "--no-color"])
    seconds = time.perf_counter() - START
    rss = _rss_mib()
    service.plan, packs.evaluate, deploy.check = (
        original_plan,
        original_evaluate,
        original_check,
    )
    if not captured:
        raise SystemExit(f"mlops-iac plan {' '.join(args)} failed with exit code {code}")
    recording = captured[-1].recording
    return {
        "seconds": seconds,
        "rss_mib": rss,
        "exit_code": code,
        "resources": len(recording),
        "plan_policy_seconds": sum(in_plan),
        "deploy_seconds": sum(in_deploy),
        "deploy_share": sum(in_deploy) / max(seconds - sum(in_deploy), 1e-9),
        "recording": recording,
    }


def plan(stack: str) -> dict:
    """``mlops-iac plan --stack STACK --quiet`` of a reference stack (the CI job)."""
    result = _cli_plan("--stack", stack, "--project", str(REPO), "--quiet")
    recording = result.pop("recording")
    return {**result, "provider_modules": loaded_provider_modules(), **_policy(recording)}


def floor(modules: list[str]) -> dict:
    """Import ``modules`` and nothing else; touching an attribute loads a lazy placeholder."""
    import pulumi  # noqa: F401

    for name in modules:
        module = importlib.import_module(name)
        getattr(module, "__all__", None)  # any non-dunder-metadata access runs a lazy module
    return {
        "seconds": time.perf_counter() - START,
        "rss_mib": _rss_mib(),
        "loaded": len(loaded_provider_modules()),
    }


def teams(count: int) -> dict:
    """``mlops-iac plan`` (with the resource tree) of ``benchmarks/teams``: ``count`` teams' full
    AWS platforms in one program, each the aws-dev spec under its own project name."""
    import tempfile

    import yaml

    config = yaml.safe_load((REPO / "stacks" / "Pulumi.aws-dev.yaml").read_text())["config"]
    config["bench:teams"] = count
    with tempfile.TemporaryDirectory() as directory:
        config_file = Path(directory) / "Pulumi.teams.yaml"
        config_file.write_text(yaml.safe_dump({"config": config}))
        project = Path(__file__).resolve().parent / "teams"
        result = _cli_plan(
            "--stack", "teams", "--project", str(project), "--config-file", str(config_file)
        )
    recording = result.pop("recording")
    per_team = [r for r in recording if r.name.startswith("team-000")]
    return {
        **result,
        "teams": count,
        "resources_per_team": len(per_team),
        "distinct_urns": len({r.urn for r in recording}),
        "exports": len(recording.exports),
        **_policy(recording),
    }


def import_package(package: str) -> dict:
    """Import a components package and resolve every public name (``from package import *``),
    so each component's module (and the SDK modules it uses) is in the figure, lazy or not."""
    module = importlib.import_module(package)
    for name in getattr(module, "__all__", ()):
        getattr(module, name)
    return {
        "seconds": time.perf_counter() - START,
        "rss_mib": _rss_mib(),
        "provider_modules": loaded_provider_modules(),
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
