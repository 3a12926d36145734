"""``mlops-iac drift``: exit 0 / 1 / 2, thresholds from the stack file, a public dataset."""

from __future__ import annotations

import csv
import json
import random
import shutil
from pathlib import Path

import pytest

from mlops_iac.cli.main import main
from tests.conftest import STACKS
from tests.drift._data import capture_lines, rows, write_csv

PENGUINS = Path(__import__("palmerpenguins").__file__).parent / "data" / "penguins.csv"


@pytest.fixture
def baseline(tmp_path) -> Path:
    train = write_csv(tmp_path / "train.csv", rows(4000, seed=1), label=True)
    out = tmp_path / "baseline.json"
    assert (
        main(["drift", "baseline", "--data", str(train), "--out", str(out), "--exclude", "label"])
        == 0
    )
    return out


def test_unshifted_sample_exits_0(tmp_path, baseline, capsys):
    served = write_csv(tmp_path / "served.csv", rows(2000, seed=2))
    report = tmp_path / "report.json"
    code = main(
        [
            "drift",
            "check",
            "--baseline",
            str(baseline),
            "--data",
            str(served),
            "--json",
            str(report),
        ]
    )
    assert code == 0
    assert "no drift (2000 rows" in capsys.readouterr().out
    assert json.loads(report.read_text())["verdict"] == "no-drift"


def test_shifted_capture_exits_1_naming_the_feature(tmp_path, baseline, capsys):
    capture = tmp_path / "capture.jsonl"
    capture.write_text(capture_lines(rows(2000, seed=3, shift="amount"), per_request=4))
    code = main(["drift", "check", "--baseline", str(baseline), "--data", str(capture)])
    out = capsys.readouterr().out
    assert code == 1
    assert "drift in 1 feature(s): amount" in out


def test_thresholds_come_from_the_stack_file(tmp_path, baseline, capsys):
    project = tmp_path / "project"
    shutil.copytree(STACKS, project / "stacks")
    stack = project / "stacks" / "Pulumi.aws-prod.yaml"
    text = stack.read_text().replace(
        "      drift: daily", "      drift: {schedule: daily, psi: 9, ks: 0.9, jensenShannon: 0.9}"
    )
    stack.write_text(text)
    capture = tmp_path / "capture.jsonl"
    capture.write_text(capture_lines(rows(2000, seed=3, shift="amount")))
    args = ["drift", "check", "--baseline", str(baseline), "--data", str(capture)]
    assert main([*args, "--stack", "aws-prod", "--project", str(project)]) == 0
    assert "psi>9.0" in capsys.readouterr().out
    # A flag beats the stack file.
    assert main([*args, "--stack", "aws-prod", "--project", str(project), "--psi", "0.2"]) == 1


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--data", "nope.csv"], "nope.csv: no such file"),
        (["--data", "{bad}", "nope.jsonl", "--jobs", "2"], "nope.jsonl: no such file"),
        (["--data", "{bad}", "--jobs", "0"], "--jobs: must be >= 1"),
        (["--data", "{bad}", "--psi", "-1"], "flags.psi: must be a number > 0"),
        (["--data", "{bad}"], "bad.jsonl:2: not valid JSON"),
        (
            ["--data", "{bad}", "--format", "sagemaker-capture"],
            "bad.jsonl:1: not a SageMaker capture",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, baseline, capsys, argv, fragment):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"age": 1}\n{oops\n')
    argv = [a.replace("{bad}", str(bad)) for a in argv]
    code = main(["drift", "check", "--baseline", str(baseline), *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("mlops-iac drift: error:")
    assert fragment in err


def test_a_bad_baseline_file_is_exit_2(tmp_path, capsys):
    bogus = tmp_path / "b.json"
    bogus.write_text('{"schema": "other"}')
    assert main(["drift", "check", "--baseline", str(bogus), "--data", str(bogus)]) == 2
    assert "not a drift baseline" in capsys.readouterr().err


def test_baseline_goes_under_the_dataset_version(tmp_path, capsys):
    train = write_csv(tmp_path / "train.csv", rows(1500, seed=1))
    store = tmp_path / "store"
    argv = ["drift", "baseline", "--data", str(train), "--store-uri", str(store)]
    assert main(argv) == 2
    assert "--store-uri needs --dataset-version" in capsys.readouterr().err
    assert main([*argv, "--dataset-version", "md5:3b1f9c"]) == 0
    written = store / "drift" / "baselines" / "md5_3b1f9c" / "baseline.json"
    assert json.loads(written.read_text())["datasetVersion"] == "md5:3b1f9c"


def test_baseline_takes_the_dataset_version_from_the_stack(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(STACKS, project / "stacks")
    train = write_csv(tmp_path / "train.csv", rows(1500, seed=1))
    store = tmp_path / "store"
    argv = ["drift", "baseline", "--data", str(train), "--store-uri", str(store)]
    assert main([*argv, "--stack", "aws-prod", "--project", str(project)]) == 0
    (written,) = (store / "drift" / "baselines").glob("*/baseline.json")
    import yaml

    version = yaml.safe_load((STACKS / "Pulumi.aws-prod.yaml").read_text())["config"][
        "mlops:platform"
    ]["lineage"]["datasetVersion"]
    assert json.loads(written.read_text())["datasetVersion"] == version


# --- A public dataset the tests did not generate: Palmer penguins (palmerpenguins on PyPI) ----


def _penguin_split(tmp_path: Path) -> tuple[Path, list[dict], list[str]]:
    with PENGUINS.open(newline="") as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or [])
        table = list(reader)
    random.Random(7).shuffle(table)
    half = len(table) // 2
    train = tmp_path / "penguins-train.csv"
    _write(train, header, table[:half])
    return train, table[half:], header


def _write(path: Path, header: list[str], table: list[dict]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        writer.writerows(table)
    return path


# 172 rows a side: looser limits than the production defaults, which assume >= 1000 rows.
SMALL = ["--min-rows", "100", "--psi", "0.3", "--ks", "0.2", "--js", "0.2"]


def test_penguins_other_half_is_not_drift(tmp_path, capsys):
    train, rest, header = _penguin_split(tmp_path)
    base = tmp_path / "b.json"
    assert main(["drift", "baseline", "--data", str(train), "--out", str(base)]) == 0
    served = _write(tmp_path / "served.csv", header, rest)
    assert main(["drift", "check", "--baseline", str(base), "--data", str(served), *SMALL]) == 0
    assert "no drift (172 rows" in capsys.readouterr().out


def test_penguins_perturbed_are_drift_on_exactly_those_features(tmp_path, capsys):
    train, rest, header = _penguin_split(tmp_path)
    base = tmp_path / "b.json"
    assert main(["drift", "baseline", "--data", str(train), "--out", str(base)]) == 0
    for row in rest:
        if row["flipper_length_mm"] not in ("", "NA"):
            row["flipper_length_mm"] = str(float(row["flipper_length_mm"]) + 15)  # about 1 sd
        if row["island"] == "Torgersen":
            row["island"] = "Biscoe"
    served = _write(tmp_path / "served.jsonl", header, [])
    served.write_text("".join(json.dumps(row) + "\n" for row in rest))  # and as JSON Lines
    code = main(["drift", "check", "--baseline", str(base), "--data", str(served), *SMALL])
    assert code == 1
    assert "drift in 2 feature(s): flipper_length_mm, island" in capsys.readouterr().out
