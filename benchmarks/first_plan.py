"""The first ``make plan`` of a fresh clone: venv, install of the pinned set, offline plan.

    python3 -m benchmarks.first_plan [--stack aws-dev]   # make bench-first-plan

Clones the repository's committed state into a temporary directory, runs ``make plan`` there
with no virtualenv active and times it, then runs ``make plan`` again (the venv now exists) to
separate set-up from planning. The install downloads from the package index the machine is
configured for (pip's cache helps a second run), so the figure depends on the network: it is
reported with the date, the machine and the Python version, and written to
``benchmarks/results/first_plan.json``. Uses only the standard library (no venv needed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"


def timed_make(clone: Path, stack: str, env: dict[str, str]) -> tuple[float, int]:
    """Seconds and exit code of ``make plan STACK=stack`` in ``clone``."""
    start = time.monotonic()
    result = subprocess.run(
        ["make", "plan", f"STACK={stack}"],
        cwd=clone,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    if result.returncode not in (0, 1):  # 1 is a FAIL verdict, still a finished plan
        sys.stderr.write(result.stderr[-2000:])
    return time.monotonic() - start, result.returncode


def main(argv: list[str] | None = None) -> int:
    """Clone, time the first and the second ``make plan``, print and record the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="aws-dev")
    args = parser.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    with tempfile.TemporaryDirectory(prefix="mlops-iac-first-plan-") as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        first, code = timed_make(clone, args.stack, env)
        second, code_again = timed_make(clone, args.stack, env)
    report = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "python": platform.python_version(),
        "stack": args.stack,
        "first_make_plan_seconds": round(first, 1),
        "second_make_plan_seconds": round(second, 1),
        "exit_codes": [code, code_again],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "first_plan.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"first make plan (fresh clone: venv + install + plan): {first:.0f} s (exit {code})")
    print(f"second make plan (venv present):                     {second:.0f} s")
    return 0 if code in (0, 1) and code_again in (0, 1) else 1


if __name__ == "__main__":
    sys.exit(main())
