"""The drift check on public data nobody here wrote: scikit-learn's bundled datasets (breast
cancer, wine), read from files inside the installed wheel (no network).

Random splits of a few hundred rows are no drift; malignant vs benign tumours are drift even
under ``minRows``; schema changes are named; the report renders and names every feature.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mlops_iac.cli.main import main
from mlops_iac.drift import Thresholds, build_baseline, compare
from mlops_iac.drift.report import render_markdown
from tests.conftest import STACKS


def _load(name: str) -> tuple[list[str], list[list[float]], list[int]]:
    datasets = pytest.importorskip("sklearn.datasets")
    bunch = getattr(datasets, f"load_{name}")()
    names = [str(n) for n in bunch.feature_names]
    return names, [[float(v) for v in row] for row in bunch.data], [int(t) for t in bunch.target]


@pytest.fixture(scope="module")
def cancer() -> tuple[list[str], list[list[float]], list[int]]:
    return _load("breast_cancer")


@pytest.fixture(scope="module")
def wine() -> tuple[list[str], list[list[float]], list[int]]:
    return _load("wine")


def _halves(rows: list[list[float]], seed: int) -> tuple[list[list[float]], list[list[float]]]:
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    middle = len(order) // 2
    return [rows[i] for i in order[:middle]], [rows[i] for i in order[middle:]]


def _csv(path: Path, names: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        writer.writerows(rows)
    return path


def test_random_splits_of_a_few_hundred_rows_are_no_drift(cancer):
    names, rows, _ = cancer
    for seed in range(10):
        train, served = _halves(rows, seed)
        base = build_baseline(names, train)
        # The default minRows (1000) gives no verdict, and nothing is overwhelming.
        report = compare(base, names, served)
        assert (report["verdict"], report["drifted"]) == ("insufficient-data", []), seed
        # With minRows lowered to the sample, the sample-size-aware test finds no drift either.
        report = compare(base, names, served, Thresholds(min_rows=100))
        assert (report["verdict"], report["drifted"]) == ("no-drift", []), seed
        assert report["datasetDrift"]["detected"] is False
        ks = [f["ks"] for f in report["features"].values()]
        assert max(ks) > 0.05  # the samples differ by chance; the p-values say it is chance
        assert min(f["pValue"] for f in report["features"].values()) > 0.05 / 30


def test_malignant_vs_benign_is_drift_even_under_min_rows(tmp_path, cancer, capsys):
    names, rows, target = cancer
    benign = [row for row, t in zip(rows, target, strict=True) if t == 1]
    malignant = [row for row, t in zip(rows, target, strict=True) if t == 0]
    base = tmp_path / "benign.json"
    train = _csv(tmp_path / "benign.csv", names, benign)
    assert main(["drift", "baseline", "--data", str(train), "--out", str(base)]) == 0
    served = _csv(tmp_path / "malignant.csv", names, malignant)
    out = tmp_path / "report.json"
    code = main(["drift", "check", "--baseline", str(base), "--data", str(served),
                 "--json", str(out)])  # fmt: skip
    report = json.loads(out.read_text())
    assert code == 3  # drift on fewer rows than minRows: its own exit code
    assert report["verdict"] == "drift-small-sample"
    assert report["rows"] == 212 and report["thresholds"]["minRows"] == 1000
    assert len(report["drifted"]) >= 20
    assert report["datasetDrift"]["detected"] is True
    assert {report["features"][n]["status"] for n in report["drifted"]} == {"drift-small-sample"}
    assert "mean radius" in report["drifted"]
    radius = report["features"]["mean radius"]
    assert radius["decidedBy"]["pValue"] < report["significancePerFeature"] < 0.05 / 30 / 99
    assert "drift on a small sample in" in capsys.readouterr().out


def test_missing_and_new_columns_and_a_changed_kind_are_named(tmp_path, wine, capsys):
    names, rows, _ = wine
    train, served = _halves(rows, 0)
    base = tmp_path / "wine.json"
    assert main(["drift", "baseline", "--data", str(_csv(tmp_path / "t.csv", names, train)),
                 "--out", str(base)]) == 0  # fmt: skip
    gone, text = names[0], names[1]
    kept = [n for n in names if n != gone]
    changed = [
        [*(f"grade-{int(v)}" if n == text else v for n, v in zip(names, row, strict=True)
           if n != gone), "2026"]
        for row in served
    ]  # fmt: skip
    data = _csv(tmp_path / "served.csv", [*kept, "vintage"], changed)
    out, md = tmp_path / "r.json", tmp_path / "r.md"
    args = ["drift", "check", "--baseline", str(base), "--data", str(data), "--min-rows", "50"]
    assert main([*args, "--json", str(out), "--report", str(md)]) == 1
    report = json.loads(out.read_text())
    assert report["missingFeatures"] == [gone]
    assert report["unknownFeatures"] == ["vintage"]
    assert report["kindChangedFeatures"] == [text]
    assert report["features"][gone]["status"] == "missing"
    assert "psi" not in report["features"][gone]  # no PSI for a column that is not there
    assert report["features"][text]["status"] == "kind-changed"
    assert report["features"][text]["reasons"][0] == (
        "kind changed: numeric in the baseline, text now"
    )
    assert report["drifted"] == sorted([gone, text])
    page = md.read_text()
    assert f"Vanished columns (in the baseline, not in the data): {gone}" in page
    assert "New columns (not in the baseline, not checked): vintage" in page
    assert f"Changed kind: {text}" in page
    assert "not in the baseline (ignored): vintage" in capsys.readouterr().out


def test_a_rise_in_missing_values_is_named_as_the_cause(cancer):
    names, rows, _ = cancer
    train, served = _halves(rows, 1)
    served = [list(row) for row in served]
    for row in served[::10]:
        row[0] = None
    share = len(served[::10]) / len(served)
    report = compare(build_baseline(names, train), names, served, Thresholds(min_rows=100))
    result = report["features"][names[0]]
    assert report["drifted"] == [names[0]]
    assert result["decidedBy"]["metric"] == "psi"
    assert f"missing values rose from 0.0% to {share:.1%}" in result["reasons"]


def test_stack_keys_set_significance_per_feature_thresholds_and_exclusions(tmp_path, cancer):
    names, rows, target = cancer
    benign = [row for row, t in zip(rows, target, strict=True) if t == 1]
    malignant = [row for row, t in zip(rows, target, strict=True) if t == 0]
    base = tmp_path / "b.json"
    train = _csv(tmp_path / "b.csv", names, benign)
    assert main(["drift", "baseline", "--data", str(train), "--out", str(base)]) == 0
    project = tmp_path / "project"
    shutil.copytree(STACKS, project / "stacks")
    stack = project / "stacks" / "Pulumi.aws-prod.yaml"
    drift = (
        "{schedule: daily, minRows: 100, significance: 0.01, driftShare: 0.9, "
        "exclude: ['mean radius'], features: {'mean area': {psi: 10, ks: 1}}}"
    )
    stack.write_text(stack.read_text().replace("      drift: daily", f"      drift: {drift}"))
    out = tmp_path / "r.json"
    served = _csv(tmp_path / "m.csv", names, malignant)
    code = main(["drift", "check", "--baseline", str(base), "--data", str(served),
                 "--stack", "aws-prod", "--project", str(project), "--json", str(out)])  # fmt: skip
    report = json.loads(out.read_text())
    assert code == 1
    assert report["thresholds"]["significance"] == 0.01
    assert report["significancePerFeature"] == pytest.approx(0.01 / 29, rel=1e-3)
    assert report["excludedFeatures"] == ["mean radius"]
    assert "mean radius" not in report["features"]
    area = report["features"]["mean area"]
    assert area["status"] == "ok" and area["decidedBy"]["threshold"] in (1, 10)
    assert report["datasetDrift"]["threshold"] == 0.9


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs
        self.ids.update(value for key, value in attrs if key == "id" and value)

    def handle_data(self, data):
        self.text.append(data)


def test_the_report_renders_self_contained_and_names_every_feature(tmp_path, cancer):
    names, rows, target = cancer
    train, served = _halves(rows, 3)
    base = tmp_path / "b.json"
    assert main(["drift", "baseline", "--data", str(_csv(tmp_path / "t.csv", names, train)),
                 "--out", str(base)]) == 0  # fmt: skip
    data = _csv(tmp_path / "s.csv", names, served)
    page, md, js = tmp_path / "r.html", tmp_path / "r.md", tmp_path / "r.json"
    args = ["drift", "check", "--baseline", str(base), "--data", str(data), "--min-rows", "100"]
    assert main([*args, "--report", str(page), "--json", str(js)]) == 0
    assert main([*args, "--report", str(md)]) == 0
    report = json.loads(js.read_text())
    parser = _Page()
    parser.feed(page.read_text())
    text = "".join(parser.text)
    assert "script" not in parser.tags and "link" not in parser.tags and "img" not in parser.tags
    assert not [value for key, value in parser.attrs if key in ("src", "href")
                and value and not value.startswith("#")]  # fmt: skip
    assert parser.tags.count("svg") == len(names)  # one histogram per feature
    assert parser.ids == {f"feature-{i}" for i in range(len(names))}  # the table links to them
    assert "Verdict: no drift" in text and "Dataset drift share: 0 of 30" in text
    assert "log base 2" in text and "in base e (evidently's base" in text
    for name in names:
        assert f"{name}: no drift" in text
        stats = report["features"][name]
        assert stats["reference"]["count"] == len(train)
        assert stats["current"]["count"] == len(served)
        assert sum(stats["histogram"]["reference"]) == pytest.approx(1, abs=1e-5)
        histogram = stats["histogram"]
        outside = histogram["currentBelow"] + histogram["currentAbove"]
        assert sum(histogram["current"]) + outside == pytest.approx(1, abs=1e-5)
    markdown = md.read_text()
    for name in names:
        assert f"### {name}: no drift" in markdown
    assert "| quantile 50% |" in markdown and "```" in markdown


def test_a_report_needs_md_or_html(tmp_path, cancer, capsys):
    names, rows, _ = cancer
    base = tmp_path / "b.json"
    data = _csv(tmp_path / "t.csv", names, rows)
    assert main(["drift", "baseline", "--data", str(data), "--out", str(base)]) == 0
    code = main(["drift", "check", "--baseline", str(base), "--data", str(data),
                 "--report", str(tmp_path / "r.pdf")])  # fmt: skip
    assert code == 2
    assert "--report: " in capsys.readouterr().err


def test_served_values_beyond_the_baseline_range_get_their_own_bars(cancer):
    names, rows, target = cancer
    benign = [row for row, t in zip(rows, target, strict=True) if t == 1]
    malignant = [row for row, t in zip(rows, target, strict=True) if t == 0]
    report = compare(build_baseline(names, benign), names, malignant)
    radius = report["features"]["mean radius"]
    top = max(row[0] for row in benign)
    above = sum(row[0] > top for row in malignant) / len(malignant)
    assert radius["histogram"]["currentAbove"] == pytest.approx(above, abs=1e-6)
    assert radius["histogram"]["edges"][-1] == pytest.approx(top)
    assert f"> {top:.4g}" in render_markdown(report)
