"""Drift-job benchmark: time and peak RSS of ``mlops-iac drift check`` on generated data.

    python -m benchmarks.drift [--rows 1000000] [--features 20] [--capture-mib 1024] [--jobs 2]

Two measurements, each in a fresh process (``ru_maxrss`` of the child):

- ``check_1m_x_20``: a CSV of ``--rows`` rows × ``--features`` numeric features, checked against
  a baseline of the same generator with ``--jobs`` worker processes, writing the HTML report and
  the JSON report (``--report``, ``--json``; target: < 30 s and < 256 MiB on the 2-core reference
  machine); ``check_1m_x_20_one_process`` is the same with ``--jobs 1``.
- ``capture_1gib``: a SageMaker data-capture file of about ``--capture-mib`` MiB (one JSON line
  per request, a CSV payload, one shifted feature), checked as ``sagemaker-capture``
  (target: peak RSS < 256 MiB, the exit code must be 1 = drift).

Data is generated into a temporary directory (deterministic seed) and removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

TARGETS = {"check_1m_x_20_seconds": 30.0, "capture_1gib_rss_mib": 256.0}


def _write_csv(path: Path, rows: int, features: int, seed: int, shift: float = 0.0) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        out.write(",".join(f"f{i}" for i in range(features)) + "\n")
        for _ in range(rows):
            values = [rng.gauss(i, 1.0) for i in range(features)]
            values[0] += shift
            out.write(",".join(f"{v:.4f}" for v in values) + "\n")


def _write_capture(path: Path, mib: int, features: int, seed: int) -> int:
    """SageMaker capture lines until the file reaches ``mib``; feature 0 shifted by 1 sd."""
    rng = random.Random(seed)
    limit = mib * 1024 * 1024
    written = lines = 0
    with path.open("w", encoding="utf-8") as out:
        while written < limit:
            values = [rng.gauss(i, 1.0) for i in range(features)]
            values[0] += 1.0
            record = {
                "captureData": {
                    "endpointInput": {
                        "observedContentType": "text/csv",
                        "mode": "INPUT",
                        "data": ",".join(f"{v:.4f}" for v in values),
                        "encoding": "CSV",
                    }
                },
                "eventMetadata": {
                    "eventId": f"{lines:012d}",
                    "inferenceTime": "2026-11-28T00:00:00Z",
                },
                "eventVersion": "0",
            }
            line = json.dumps(record) + "\n"
            out.write(line)
            written += len(line)
            lines += 1
    return lines


def _run(*argv: str) -> dict[str, Any]:
    """One ``mlops-iac`` run in a fresh process: seconds, peak RSS MiB, exit code."""
    # The command's modules are imported before the clock starts: `mlops-iac` imports every
    # command's module to build its parser (plan's pulumi among them), a fixed start-up cost
    # reported separately as start_s.
    code = (
        "import resource, sys, time; t0 = time.perf_counter();"
        "from mlops_iac.cli.main import build_parser, main; build_parser();"
        "S, C = resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN;"
        "cpu = lambda w: (lambda u: u.ru_utime + u.ru_stime)(resource.getrusage(w));"
        "c0 = cpu(S) + cpu(C);"
        "t = time.perf_counter(); rc = main(sys.argv[1:]); s = time.perf_counter() - t;"
        "c = cpu(S) + cpu(C) - c0;"
        "rss = max(resource.getrusage(S).ru_maxrss, resource.getrusage(C).ru_maxrss);"
        "print('BENCH', rc, s, rss, t - t0, c, file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, check=False
    )
    line = next(x for x in done.stderr.splitlines() if x.startswith("BENCH "))
    _, rc, seconds, rss_kib, start, cpu = line.split()
    return {
        "exit": int(rc),
        "seconds": round(float(seconds), 2),
        "rss_mib": int(rss_kib) // 1024,
        "start_s": round(float(start), 2),
        # CPU seconds of the command and its worker processes: on a shared, loaded machine wall
        # time overstates the cost. rss_mib is the largest single process (parent or worker).
        "cpu_s": round(float(cpu), 2),
    }


def measure(rows: int, features: int, capture_mib: int, jobs: int = 2) -> dict[str, Any]:
    """Generate the data, run both measurements, return the figures."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="drift-bench-") as tmp:
        root = Path(tmp)
        train, served = root / "train.csv", root / "served.csv"
        _write_csv(train, 200_000, features, seed=1)
        _write_csv(served, rows, features, seed=2)
        baseline = root / "baseline.json"
        results["baseline_200k"] = _run(
            "drift", "baseline", "--data", str(train), "--out", str(baseline)
        )
        report = ("--report", str(root / "report.html"), "--json", str(root / "report.json"))
        check = ("drift", "check", "--baseline", str(baseline), "--data", str(served), *report)
        results["check_1m_x_20"] = _run(*check, "--jobs", str(jobs))
        results["check_1m_x_20_one_process"] = _run(*check, "--jobs", "1")
        served.unlink()
        if capture_mib:
            capture = root / "capture.jsonl"
            results["capture_lines"] = _write_capture(capture, capture_mib, features, 3)
            results["capture_mib"] = capture.stat().st_size // (1024 * 1024)
            results["capture_1gib"] = _run(
                "drift", "check", "--baseline", str(baseline), "--data", str(capture),
                "--format", "sagemaker-capture", "--jobs", str(jobs),
            )  # fmt: skip
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.drift")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--capture-mib", type=int, default=1024)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (2 cores)")
    args = parser.parse_args(argv)
    results = measure(args.rows, args.features, args.capture_mib, args.jobs)
    print(json.dumps(results, indent=2))
    check = results["check_1m_x_20"]
    limit = TARGETS["check_1m_x_20_seconds"]
    print(f"check {args.rows} rows x {args.features}: {check['seconds']} s, {check['rss_mib']} MiB")
    print(f"  (target < {limit} s), exit {check['exit']}")
    if "capture_1gib" in results:
        cap = results["capture_1gib"]
        limit = TARGETS["capture_1gib_rss_mib"]
        print(f"capture {results['capture_mib']} MiB: {cap['seconds']} s, {cap['rss_mib']} MiB")
        print(f"  peak (target < {limit} MiB), exit {cap['exit']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
