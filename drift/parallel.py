"""Checking local files on several cores: byte ranges of large files counted in parallel.

A check only counts values into the baseline's bins, and counts add up, so a large file can be
cut into line-aligned byte ranges, each range counted in its own process, and the counts merged:
the report is the same as counting the file in one pass (``Comparison.merge``). Files are split
only where a line end is a record end: JSON Lines formats always, CSV only when the file holds no
quote character (a quoted value may span lines); gzip files are never split (no random access).
Workers are ``python -m mlops_iac.drift.parallel`` processes of the same interpreter (not
``multiprocessing``, which would re-import the caller's ``__main__``), given one range as JSON on
stdin and answering with its counts as JSON. If a worker fails (bad input in its range, or it
cannot start), the files are read again in this process, so an error message names the same
file and line as a sequential check would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from mlops_iac.drift.profile import Columns, Comparison, DriftError, Thresholds
from mlops_iac.drift.readers import Source, bytes_source, detect, file_source, read_batches

MAX_JOBS = 64
"""The most processes ``--jobs`` may ask for."""
MIN_SPLIT_BYTES = 8 << 20
"""Files smaller than this are counted whole (a process start costs more than they take)."""
_BLOCK = 1 << 20

Unit = tuple[str, str, int, int, bytes]
"""``(path, format, start, end, header)``: one byte range of one file (header: CSV only)."""


def default_jobs() -> int:
    """The CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def check_files(
    baseline: Mapping[str, Any],
    paths: Sequence[str | Path],
    fmt: str = "auto",
    thresholds: Thresholds | None = None,
    jobs: int | None = None,
) -> dict[str, Any]:
    """The drift report of local files against a baseline, counted on up to ``jobs`` cores
    (default: the CPUs, at most ``MAX_JOBS``)."""
    thresholds = (thresholds or Thresholds()).validated()
    features = list(baseline["features"])
    sources = [file_source(path) for path in paths]
    columns = Columns(features)
    names, batches = read_batches(sources, fmt, features, columns)  # checks formats, headers
    jobs = min(default_jobs(), MAX_JOBS) if jobs is None else jobs
    if isinstance(jobs, bool) or not isinstance(jobs, int) or not 1 <= jobs <= MAX_JOBS:
        raise DriftError(f"--jobs: must be >= 1 and <= {MAX_JOBS}, got {jobs!r}")
    units = _units([str(path) for path in paths], fmt, jobs) if jobs > 1 else []
    if len(units) < 2:
        return Comparison(baseline, names).add_batches(batches).report(thresholds, columns)
    states = _run_workers(baseline, names, units, jobs)
    if states is None:
        return Comparison(baseline, names).add_batches(batches).report(thresholds, columns)
    total = Comparison(baseline, names)
    for state in states:
        total.merge_state(state)
        columns.merge_state(state["columns"])
    return total.report(thresholds, columns)


def _run_workers(
    baseline: Mapping[str, Any], names: list[str], units: list[Unit], jobs: int
) -> list[dict[str, Any]] | None:
    """Counts of every unit from at most ``jobs`` worker processes; None if any worker failed."""
    states: list[dict[str, Any] | None] = [None] * len(units)
    pending = list(enumerate(units))
    running: list[tuple[int, subprocess.Popen[bytes]]] = []
    ok = True
    try:
        while pending or running:
            while pending and len(running) < jobs:
                index, unit = pending.pop(0)
                job = json.dumps({"baseline": baseline, "names": names, "unit": _encode(unit)})
                process = subprocess.Popen(
                    [sys.executable, "-m", __name__],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )
                assert process.stdin is not None
                process.stdin.write(job.encode())
                process.stdin.close()
                running.append((index, process))
            index, process = running.pop(0)
            assert process.stdout is not None
            output = process.stdout.read()
            process.stdout.close()
            if process.wait() != 0:
                ok = False
                break
            states[index] = json.loads(output)
    except OSError:
        ok = False
    finally:
        for _, process in running:
            process.kill()
            process.wait()
            if process.stdout is not None:
                process.stdout.close()
    if not ok or any(state is None for state in states):
        return None
    return [state for state in states if state is not None]


def _encode(unit: Unit) -> list[Any]:
    path, kind, start, end, header = unit
    return [path, kind, start, end, header.decode("latin-1")]


def _units(paths: list[str], fmt: str, jobs: int) -> list[Unit]:
    """Byte ranges to count: large splittable files in ``jobs`` parts, the rest whole."""
    units: list[Unit] = []
    for path in paths:
        kind = detect(file_source(path)) if fmt == "auto" else fmt
        try:
            size = os.path.getsize(path)
        except OSError:  # counted whole: reading it raises the one-line error
            units.append((path, kind, 0, -1, b""))
            continue
        splittable = (
            not path.endswith(".gz")
            and size >= MIN_SPLIT_BYTES
            and (kind != "csv" or not _has_quote(path))
        )
        if not splittable:
            units.append((path, kind, 0, -1, b""))
            continue
        with open(path, "rb") as handle:
            header = handle.readline() if kind == "csv" else b""
            starts = [len(header)]
            for part in range(1, jobs):
                handle.seek(max(starts[-1], size * part // jobs) - 1)
                handle.readline()  # to the end of the line the cut falls in
                starts.append(handle.tell())
        ends = [*starts[1:], size]
        units += [(path, kind, s, e, header) for s, e in zip(starts, ends, strict=True) if e > s]
    return units


def _has_quote(path: str) -> bool:
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            if b'"' in block:
                return True
    return False


def _count(baseline: Mapping[str, Any], names: list[str], unit: Unit) -> dict[str, Any]:
    """Count one unit's rows: the comparison's state plus the columns seen."""
    path, kind, start, end, header = unit
    source = file_source(path) if end < 0 else _range_source(path, start, end, header)
    columns = Columns(names)
    _, batches = read_batches([source], kind, names, columns)
    state = Comparison(baseline, names).add_batches(batches).state()
    return {**state, "columns": columns.state()}


def _range_source(path: str, start: int, end: int, header: bytes) -> Source:
    class Chunks:
        def __iter__(self) -> Iterator[bytes]:
            if header:
                yield header
            with open(path, "rb") as handle:
                handle.seek(start)
                left = end - start
                while left > 0 and (block := handle.read(min(_BLOCK, left))):
                    left -= len(block)
                    yield block

    return bytes_source(path, Chunks())


def _worker() -> int:
    """``python -m mlops_iac.drift.parallel``: one job on stdin, its counts on stdout."""
    job = json.load(sys.stdin)
    path, kind, start, end, header = job["unit"]
    unit = (path, kind, int(start), int(end), header.encode("latin-1"))
    try:
        counted = _count(job["baseline"], job["names"], unit)
    except DriftError:
        return 2
    json.dump(counted, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(_worker())
