"""Batched CSV reading and counting on several processes give exactly the sequential report."""

from __future__ import annotations

import json

import pytest

from mlops_iac.drift import DriftError, build_baseline, compare, file_source, read
from mlops_iac.drift import parallel as par
from mlops_iac.drift.readers import read_batches
from tests.drift._data import FEATURES, capture_lines, rows, write_csv


def _sequential(baseline, path, fmt="auto"):
    names, data = read([file_source(path)], fmt, list(baseline["features"]))
    return compare(baseline, names, data)


def _same(a, b):
    for report in (a, b):
        report.pop("checkedAt")
    assert a == b


@pytest.fixture
def baseline():
    return build_baseline(FEATURES, rows(3000, seed=1))


@pytest.fixture
def small_split(monkeypatch):
    """Split files of any size, so small test files take the parallel path."""
    monkeypatch.setattr(par, "MIN_SPLIT_BYTES", 1)


def test_batches_match_rows_for_every_kind_of_csv_block(tmp_path):
    # Plain lines, a blank line (skipped), \r\n endings and quoted values spanning lines.
    text = 'a,b\n1,x\n2,y\n\n4,z\r\n5,w\r\n6,"multi\nline"\n7,v\n'
    path = tmp_path / "mixed.csv"
    path.write_text(text, newline="")
    names, data = read([file_source(path)], "csv", ["b", "a", "absent"])
    expected = list(data)
    names2, batches = read_batches([file_source(path)], "csv", ["b", "a", "absent"])
    got = [list(row) for _, columns in batches for row in zip(*columns, strict=True)]
    assert names == names2 == ["b", "a", "absent"]
    assert got == [list(row) for row in expected]
    assert [row[0] for row in got] == ["x", "y", "z", "w", "multi\nline", "v"]
    assert all(row[2] is None for row in got)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a,b\n1,x\n2,y\n\n3\n", 5),  # short row (was padded with missing values)
        ("a,b\n1,x\n4,z,extra\r\n", 3),  # long row (was cut)
        ('a,b\n1,"x"\n2,"y\nz",extra\n', 4),  # after a quote: the csv module's path
    ],
)
def test_ragged_rows_are_refused_with_their_line(tmp_path, text, line):
    path = tmp_path / "ragged.csv"
    path.write_text(text, newline="")
    for reader in (read, read_batches):
        names, data = reader([file_source(path)], "csv", ["b", "a"])
        with pytest.raises(DriftError, match=rf"ragged\.csv:{line}: \d values, the header has 2"):
            list(data)


@pytest.mark.parametrize("jobs", [2, 3])
def test_csv_counted_in_parallel_is_the_sequential_report(tmp_path, baseline, small_split, jobs):
    path = write_csv(tmp_path / "served.csv", rows(5000, seed=2, shift="amount"))
    assert len(par._units([str(path)], "auto", jobs)) == jobs
    _same(par.check_files(baseline, [path], jobs=jobs), _sequential(baseline, path))


def test_capture_lines_counted_in_parallel_are_the_sequential_report(
    tmp_path, baseline, small_split
):
    path = tmp_path / "capture.jsonl"
    path.write_text(capture_lines(rows(3000, seed=3, shift="channel"), per_request=3))
    report = par.check_files(baseline, [path], jobs=2)
    assert report["drifted"] == ["channel"]
    _same(report, _sequential(baseline, path))


def test_quoted_csv_and_gzip_are_not_split(tmp_path, small_split):
    quoted = tmp_path / "q.csv"
    quoted.write_text('a,b\n1,"x"\n2,y\n')
    gz = tmp_path / "g.csv.gz"
    gz.write_bytes(b"")
    assert par._units([str(quoted), str(gz)], "csv", 2) == [
        (str(quoted), "csv", 0, -1, b""),
        (str(gz), "csv", 0, -1, b""),
    ]


def test_bad_input_in_a_worker_is_reported_with_the_files_own_line(tmp_path, baseline, small_split):
    path = tmp_path / "served.jsonl"
    good = "".join(
        json.dumps(dict(zip(FEATURES, row, strict=True))) + "\n" for row in rows(400, seed=4)
    )
    path.write_text(good + "{not json\n")
    with pytest.raises(DriftError, match=r"served.jsonl:401: not valid JSON"):
        par.check_files(baseline, [path], jobs=2)


def test_jobs_below_one_is_refused(tmp_path, baseline):
    path = write_csv(tmp_path / "served.csv", rows(10, seed=2))
    with pytest.raises(DriftError, match="--jobs: must be >= 1"):
        par.check_files(baseline, [path], jobs=0)
