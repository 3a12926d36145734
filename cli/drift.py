"""``mlops-iac drift``: profile training data and check served traffic for drift.

    mlops-iac drift baseline --data train.csv --out baseline.json [--exclude label]
    mlops-iac drift baseline --data train.csv --store-uri s3://bucket --stack aws-prod
    mlops-iac drift baseline --data train.csv --store-uri az://dvc --stack azure-prod
    mlops-iac drift check --baseline baseline.json --data capture/*.jsonl [--json report.json]
    mlops-iac drift check --baseline baseline.json --data served.csv --report drift.html

Per feature: PSI plus the Kolmogorov-Smirnov statistic (numeric) or the Jensen-Shannon distance
(categorical, log base 2); a feature drifts when a metric exceeds its threshold and the shift is
significant (p-value below `significance`, 0.05, Bonferroni-divided among the features).
Thresholds come from the stack file's `monitoring.drift` (`--stack`), else the documented
defaults, and any flag overrides both. `--report F.md|F.html` writes a self-contained report.
Exit 0 no drift (or too few rows for a verdict), 1 drift, 2 bad input (one line: a bad baseline,
threshold, file, row or column), 3 drift on fewer rows than `minRows` (a shift so large that it
is reported anyway: alarm on it). Streaming: memory does not grow with the data.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from mlops_iac.cli import (
    EXIT_FAILED,
    EXIT_OK,
    STACK_HELP,
    OpsError,
    add_json_argument,
    add_project_argument,
    command,
    describe,
    stackfile,
    write_json,
)
from mlops_iac.cli.progress import Progress
from mlops_iac.drift import (
    FORMATS,
    DriftError,
    Thresholds,
    build_baseline,
    dumps,
    file_source,
    read,
)
from mlops_iac.drift import store as drift_store
from mlops_iac.drift.parallel import check_files
from mlops_iac.drift.profile import names_list, parse_baseline, printable, read_limited
from mlops_iac.drift.report import STATUS_WORDS, render

NAME = "drift"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``drift baseline`` and ``drift check``."""
    parser = subparsers.add_parser(
        NAME,
        help="profile training data and check served traffic for data drift",
        description=describe(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="drift_action", metavar="ACTION", required=True)

    base = actions.add_parser("baseline", help="profile a training dataset into a baseline")
    _common(base)
    where = base.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", metavar="F", help="write the baseline JSON here")
    where.add_argument(
        "--store-uri",
        metavar="URI",
        help="artifact store root (s3://bucket, gs://bucket, az://container or a directory): "
        "writes drift/baselines/<datasetVersion>/baseline.json under it; credentials from the "
        "cloud's usual chain in the environment",
    )
    base.add_argument(
        "--dataset-version",
        metavar="V",
        help="DVC hash of the data (default: lineage.datasetVersion of --stack)",
    )
    base.add_argument(
        "--categorical", default="", metavar="A,B", help="columns to treat as categorical"
    )
    base.add_argument(
        "--exclude", default="", metavar="A,B", help="columns to leave out (e.g. the label)"
    )
    base.set_defaults(func=run_baseline)

    check = actions.add_parser("check", help="compare served data with a baseline")
    _common(check)
    check.add_argument("--baseline", required=True, metavar="B", help="baseline JSON file")
    add_json_argument(
        check,
        help="write the full report as JSON to F; without F (or F is -) to stdout, and the "
        "table to stderr",
    )
    check.add_argument("--psi", type=float, metavar="X", help="PSI threshold (default 0.2)")
    check.add_argument("--ks", type=float, metavar="X", help="KS threshold (default 0.1)")
    check.add_argument(
        "--js", type=float, metavar="X", help="Jensen-Shannon distance threshold (default 0.1)"
    )
    check.add_argument("--min-rows", type=int, metavar="N", help="rows for a verdict (1000)")
    check.add_argument(
        "--significance",
        type=float,
        metavar="A",
        help="significance level of the check, shared by the features (default 0.05)",
    )
    check.add_argument(
        "--report",
        metavar="F",
        help="also write a readable report here: F.md (Markdown) or F.html (self-contained)",
    )
    check.add_argument(
        "--jobs", type=int, metavar="N", help="processes counting large files (default: CPUs)"
    )
    check.set_defaults(func=run_check)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", nargs="+", required=True, metavar="F", help="data files")
    parser.add_argument("--format", default="auto", choices=FORMATS, help="input format")
    parser.add_argument(
        "--stack",
        "-s",
        metavar="S",
        help="stack whose monitoring.drift / lineage to use (" + STACK_HELP + ")",
    )
    add_project_argument(parser)


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _stack(args: argparse.Namespace) -> stackfile.StackFile | None:
    return stackfile.load(args.project, args.stack) if args.stack else None


@command(NAME)
def run_baseline(args: argparse.Namespace) -> int:
    """Profile ``--data`` and write the baseline."""
    stack = _stack(args)
    version = args.dataset_version or (stack.governed.lineage.dataset_version if stack else None)
    if args.store_uri and not version:
        raise OpsError("--store-uri needs --dataset-version or --stack (lineage.datasetVersion)")
    try:
        if args.store_uri:  # refuse a version that is no safe path segment before reading data
            drift_store.baseline_key(version or "")
        sources = [file_source(p) for p in args.data]
        features, _ = read(sources, args.format)
        excluded = set(_names(args.exclude))
        unknown = excluded.difference(features) | set(_names(args.categorical)).difference(features)
        if unknown:
            raise DriftError(f"no such column(s) in the data: {names_list(sorted(unknown))}")
        kept = [name for name in features if name not in excluded]
        if not kept:
            raise DriftError("--exclude leaves no column to profile")
        with Progress(f"Profiling {_size(args.data)}", quiet=getattr(args, "quiet", False)):
            names, rows = read(sources, args.format, kept)
            baseline = build_baseline(
                names,
                rows,
                categorical=_names(args.categorical),
                dataset_version=version,
                source=[Path(p).name for p in args.data],
            )
        text = dumps(baseline)
        if args.out:
            _write(args.out, text)
            target = args.out
        else:
            target = drift_store.write_baseline(args.store_uri, version or "", text)
    except DriftError as exc:
        raise OpsError(str(exc)) from None
    except OSError as exc:
        raise OpsError(_os_error(exc)) from None
    kinds = [profile["kind"] for profile in baseline["features"].values()]
    print(
        f"baseline: {baseline['rows']} rows, {kinds.count('numeric')} numeric and "
        f"{kinds.count('categorical')} categorical features -> {printable(target)}"
    )
    return EXIT_OK


def _thresholds(args: argparse.Namespace, stack: stackfile.StackFile | None) -> Thresholds:
    thresholds = Thresholds()
    if stack is not None and stack.kind == "platform":  # a team stack file keeps the defaults
        spec = stack.spec.monitoring.drift
        thresholds = Thresholds(
            spec.psi,
            spec.ks,
            spec.jensen_shannon,
            spec.min_rows,
            spec.significance,
            spec.drift_share,
            {name: own.thresholds() for name, own in spec.features.items()},
            tuple(spec.exclude),
        ).validated(f"{args.stack}: monitoring.drift")
    overrides: dict[str, Any] = {
        key: getattr(args, key)
        for key in ("psi", "ks", "js", "min_rows", "significance")
        if getattr(args, key) is not None
    }
    return replace(thresholds, **overrides).validated("flags")


def _load(path: str) -> dict[str, Any]:
    """The baseline at ``path``, read (at most ``MAX_BASELINE_BYTES``) and checked."""
    shown = printable(path)
    try:
        with open(path, "rb") as handle:
            raw = read_limited(handle.read)
    except FileNotFoundError:
        raise OpsError(f"{shown}: no such baseline file") from None
    except IsADirectoryError:
        raise OpsError(f"{shown}: is a directory, not a baseline file") from None
    except OSError as exc:
        raise OpsError(f"{shown}: cannot read the baseline ({exc.strerror})") from None
    return parse_baseline(raw, shown)


def _write(path: str, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a file already there stays intact on
    failure): a temporary file next to it, then a rename."""
    target = Path(path)
    if target.is_dir():
        raise DriftError(f"{printable(path)}: is a directory")
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _os_error(exc: OSError) -> str:
    name = f"{printable(exc.filename)}: " if exc.filename else ""
    return f"{name}{exc.strerror or exc}"


@command(NAME)
def run_check(args: argparse.Namespace) -> int:
    """Compare ``--data`` with ``--baseline``; exit 1 on drift, and only on drift."""
    try:
        fmt = _report_format(args.report)
        thresholds = _thresholds(args, _stack(args))
        baseline = _load(args.baseline)
        with Progress(
            f"Checking {_size(args.data)} for drift", quiet=getattr(args, "quiet", False)
        ):
            report = check_files(baseline, args.data, args.format, thresholds, args.jobs)
        if args.json and args.json != "-":
            _write(args.json, dumps(report))
        if args.report:
            _write(args.report, render(report, fmt))
    except DriftError as exc:
        raise OpsError(str(exc)) from None
    except OSError as exc:
        raise OpsError(_os_error(exc)) from None
    if args.json == "-":
        write_json("-", dumps(report))
    _print(report, sys.stderr if args.json == "-" else sys.stdout)
    return EXIT_CODES[report["verdict"]]


EXIT_SMALL_SAMPLE_DRIFT = 3
"""``drift check``: drift on fewer rows than ``minRows``, a shift too large to be chance."""
EXIT_CODES = {
    "no-drift": EXIT_OK,
    "insufficient-data": EXIT_OK,
    "drift": EXIT_FAILED,
    "drift-small-sample": EXIT_SMALL_SAMPLE_DRIFT,
}


def _report_format(path: str | None) -> str:
    if path is None:
        return ""
    suffix = Path(path).suffix.lower()
    if suffix in (".md", ".markdown"):
        return "md"
    if suffix in (".html", ".htm"):
        return "html"
    raise DriftError(f"--report: {printable(path)} must end in .md or .html")


def _size(paths: list[str]) -> str:
    """``2 files (40.1 MB)``: what the progress display says is being read."""
    total = 0
    for path in paths:
        with contextlib.suppress(OSError):
            total += os.stat(path).st_size
    return f"{len(paths)} file{'s' if len(paths) != 1 else ''} ({total / 1e6:.1f} MB)"


def _print(report: dict[str, Any], out: TextIO) -> None:
    out.write(f"{'feature':<28} {'kind':<11} {'psi':>8} {'ks/js':>8} {'p-value':>9}  status\n")
    for name, result in report["features"].items():
        shown = printable(name, 28)[:28]
        status = STATUS_WORDS[result["status"]]
        if "psi" not in result:
            out.write(f"{shown:<28} {result['kind']:<11} {'':>8} {'':>8} {'':>9}  {status}\n")
            continue
        distance = result.get("ks", result.get("jensenShannon"))
        out.write(
            f"{shown:<28} {result['kind']:<11} {result['psi']:>8.4f} {distance:>8.4f} "
            f"{result['pValue']:>9.3g}  {status if result['status'] != 'ok' else ''}\n"
        )
        for reason in result["reasons"][1 if result["drifted"] else 0 :]:
            out.write(f"{'':<30}{printable(reason)}\n")
    t = report["thresholds"]
    limits = (
        f"psi>{t['psi']}, ks>{t['ks']}, js>{t['jensenShannon']} (base 2), "
        f"p<{report['significancePerFeature']:.3g}"
    )
    if report["missingFeatures"]:
        out.write(f"not in the data: {names_list(report['missingFeatures'])}\n")
    if report.get("unknownFeatures"):
        out.write(f"not in the baseline (ignored): {names_list(report['unknownFeatures'])}\n")
    if report["verdict"] == "drift-small-sample":
        out.write(
            f"drift on a small sample in {len(report['drifted'])} feature(s): "
            f"{names_list(report['drifted'], 50)} ({report['rows']} rows, fewer than "
            f"minRows={t['minRows']}; {limits})\n"
        )
    elif report["verdict"] == "insufficient-data":
        out.write(
            f"no verdict: {report['rows']} rows, fewer than minRows={t['minRows']} ({limits})\n"
        )
    elif report["drifted"]:
        out.write(
            f"drift in {len(report['drifted'])} feature(s): {names_list(report['drifted'], 50)} "
            f"({report['rows']} rows; {limits})\n"
        )
    else:
        out.write(f"no drift ({report['rows']} rows; {limits})\n")
    share = report["datasetDrift"]
    out.write(
        f"dataset drift share: {share['drifted']} of {share['of']} features "
        f"({share['share']:.0%}; threshold {share['threshold']:.0%}): "
        f"{'dataset drift' if share['detected'] else 'no dataset drift'}\n"
    )


def run(args: argparse.Namespace) -> int:
    """Run ``drift baseline`` or ``drift check`` (the command-module contract)."""
    action = run_baseline if args.drift_action == "baseline" else run_check
    return action(args)
