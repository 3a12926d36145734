"""``mlops-iac drift``: exit 1 means drift and only drift; every hostile input is exit 2, one line.

One test per example of the issue (NaN in a baseline hiding drift, tampered baselines, ragged rows,
a 1 MB field, nested or non-object records, directories as files, a BOM, no common column,
``--psi nan``, escapes in column names, a gzip bomb of one line, ``--dataset-version ..``), then
the same checks in the cloud job (``runtime.run_job``), which shares the core.
"""

from __future__ import annotations

import copy
import datetime as dt
import gzip
import json
import tracemalloc
from pathlib import Path

import pytest

from mlops_iac.cli.main import main
from mlops_iac.drift import DriftError, Thresholds, bytes_source, runtime, store
from mlops_iac.drift.profile import load_baseline
from tests.drift._data import FEATURES, rows, write_csv

MIN = ["--min-rows", "100", "--jobs", "1"]


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict:
    """A baseline (dict and file) and a drifted and a quiet served file."""
    folder = tmp_path_factory.mktemp("hostile")
    train = write_csv(folder / "train.csv", rows(2000, seed=1))
    out = folder / "baseline.json"
    assert main(["drift", "baseline", "--data", str(train), "--out", str(out)]) == 0
    drifted = write_csv(folder / "drifted.csv", rows(500, seed=3, shift="amount"))
    quiet = write_csv(folder / "quiet.csv", rows(500, seed=2))
    return {
        "baseline": json.loads(out.read_text()),
        "path": out,
        "drifted": drifted,
        "quiet": quiet,
    }


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["drift", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _bad(capsys, argv: list[str], fragment: str) -> str:
    code, out, err = _run(capsys, *argv)
    assert code == 2, (code, out, err)
    assert err.count("\n") == 1 and err.startswith("mlops-iac drift: error: "), err
    assert "Traceback" not in err
    assert fragment in err, err
    return err


def _check(made, tmp_path, baseline: dict | str, data: Path) -> list[str]:
    path = tmp_path / "tampered.json"
    path.write_text(baseline if isinstance(baseline, str) else json.dumps(baseline))
    return ["check", "--baseline", str(path), "--data", str(data), *MIN]


# --- Baselines ------------------------------------------------------------------------------


def test_the_drifted_file_is_drift_with_the_real_baseline(made, capsys):
    code, out, _ = _run(capsys, "check", "--baseline", str(made["path"]), "--data",
                        str(made["drifted"]), *MIN)  # fmt: skip
    assert code == 1 and "drift in 1 feature(s): amount" in out


def _set(document: dict, path: str, value) -> dict:
    doc = copy.deepcopy(document)
    *parents, last = path.split(".")
    target = doc
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if isinstance(target, list):
        target[int(last)] = value
    elif value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return doc


_DELETE = object()
NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("path", "value", "fragment"),
    [
        # The example: NaN in the baseline turned real drift into exit 0.
        ("features.amount.proportions.0", NAN, "features.amount.proportions[0]: must be a share"),
        ("features.amount.edges.3", NAN, "features.amount.edges[3]: must be a finite number"),
        ("features.amount.edges.3", INF, "features.amount.edges[3]: must be a finite number"),
        ("features.amount.mean", NAN, "features.amount.mean: must be a finite number or null"),
        ("features.channel.other", NAN, "features.channel.other: must be a share in [0, 1]"),
        ("features.channel.categories.web", INF, "features.channel.categories[0]: must be a"),
        ("features.amount.count", -5, "features.amount.count: must be an integer >= 0"),
        ("features.amount.missing", -1, "features.amount.missing: must be an integer >= 0"),
        ("features.amount.missing", 10**9, "features.amount.missing: 1000000000 is more than"),
        ("features.amount.count", "2000", "features.amount.count: must be an integer >= 0"),
        ("features.amount.count", True, "features.amount.count: must be an integer >= 0"),
        ("features.amount.edges.3", 0.0, "features.amount.edges[3]: the edges must be strictly"),
        ("features.amount.edges", "1,2", "features.amount.edges: must be a list of at most 99"),
        ("features.amount.proportions", [1.0], "features.amount.proportions: must be a list"),
        ("features.amount.proportions.0", -0.5, "features.amount.proportions[0]: must be a share"),
        ("features.amount.proportions.0", 0.5, "features.amount.proportions: the shares must add"),
        ("features.channel.categories.web", 0.0, "features.channel.categories: the shares and"),
        ("features.amount.kind", "text", "features.amount.kind: must be numeric or categorical"),
        ("features.amount.edges", _DELETE, "features.amount.edges: missing"),
        ("features.amount.proportions", _DELETE, "features.amount.proportions: missing"),
        ("features.channel.categories", _DELETE, "features.channel.categories: missing"),
        ("features.amount.weights", [1], "features.amount.weights: unknown field"),
        ("rows", _DELETE, "rows: missing"),
        ("rows", -1, "rows: must be an integer >= 0"),
        ("features", {}, "features: must be a non-empty object"),
        ("features", [], "features: must be a non-empty object"),
        ("features.amount", [], "features.amount.kind: must be numeric or categorical"),
        ("schema", "mlops-iac/drift-baseline/v2", "schema: unknown version"),
        ("schema", _DELETE, "schema: unknown version None"),
        ("datasetVersion", 5, "datasetVersion: must be a string or null"),
        ("source", "train.csv", "source: must be a list of file names"),
    ],
)
def test_a_tampered_baseline_is_exit_2_naming_the_field(
    made, tmp_path, capsys, path, value, fragment
):
    argv = _check(made, tmp_path, _set(made["baseline"], path, value), made["drifted"])
    _bad(capsys, argv, fragment)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[]", "not a drift baseline"),
        ('"x"', "not a drift baseline"),
        ("{", "tampered.json:1: not valid JSON"),
        ("[" * 100_000, "not valid JSON"),  # deep nesting: no RecursionError traceback
        ('{"rows": 1' + "0" * 5000 + "}", "not valid JSON"),  # int too long for Python
        ('{"schema": 1, "schema": 2}', "the key 'schema' appears twice in one object"),
    ],
)
def test_a_baseline_that_is_no_baseline_is_exit_2(made, tmp_path, capsys, text, fragment):
    _bad(capsys, _check(made, tmp_path, text, made["drifted"]), fragment)


def test_a_repeated_feature_key_in_the_baseline_is_refused(made, tmp_path, capsys):
    text = json.dumps(made["baseline"])
    amount = json.dumps(made["baseline"]["features"]["amount"])
    twice = text.replace('"amount": ', f'"amount": {amount}, "amount": ', 1)
    _bad(capsys, _check(made, tmp_path, twice, made["drifted"]), "'amount' appears twice")


def test_a_bom_and_nan_literals_in_the_baseline(made, tmp_path, capsys):
    text = json.dumps(made["baseline"])
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode())
    code, out, _ = _run(capsys, "check", "--baseline", str(bom), "--data", str(made["drifted"]),
                        *MIN)  # fmt: skip
    assert code == 1
    # Python's json reads NaN / Infinity literals (json.dumps writes them): refused all the same.
    literal = json.dumps(_set(made["baseline"], "features.age.mean", -INF))
    assert '"mean": -Infinity' in literal
    _bad(capsys, _check(made, tmp_path, literal, made["drifted"]), "age.mean: must be a finite")


def test_a_nan_never_hides_drift_in_the_comparison(made):
    # Defence in depth under the validation: a metric that is NaN counts as drift.
    from mlops_iac.drift.profile import _NumericCheck

    check = _NumericCheck(made["baseline"]["features"]["amount"])
    check.expected[0] = NAN
    check.add_column([1.0, 2.0])
    assert check.result(Thresholds())["drifted"] is True


def test_load_baseline_accepts_what_build_baseline_writes(made):
    assert load_baseline(copy.deepcopy(made["baseline"])) == made["baseline"]


# --- Thresholds -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--psi", "nan"], "flags.psi: must be a number > 0 and <= 10, got nan"),
        (["--psi", "inf"], "flags.psi: must be a number > 0 and <= 10, got inf"),
        (["--psi", "1e999"], "flags.psi: must be a number > 0 and <= 10, got inf"),
        (["--psi", "11"], "flags.psi: must be a number > 0 and <= 10, got 11.0"),
        (["--psi", "-1"], "flags.psi: must be a number > 0"),
        (["--ks", "nan"], "flags.ks: must be a number > 0 and <= 1, got nan"),
        (["--ks", "1.5"], "flags.ks: must be a number > 0 and <= 1"),
        (["--js=-inf"], "flags.jensenShannon: must be a number > 0 and <= 1, got -inf"),
        (["--min-rows", "0"], "flags.minRows: must be >= 1 and <= 100000000, got 0"),
        (["--min-rows", "1000000000"], "flags.minRows: must be >= 1 and <= 100000000"),
        (["--jobs", "0"], "--jobs: must be >= 1 and <= 64, got 0"),
        (["--jobs", "100000"], "--jobs: must be >= 1 and <= 64"),
        (["--psi", "abc"], "argument --psi: invalid float value: 'abc'"),
    ],
)
def test_every_threshold_is_finite_and_in_range(made, capsys, flags, fragment):
    argv = ["check", "--baseline", str(made["path"]), "--data", str(made["drifted"])]
    code, _, err = _run(capsys, *argv, *flags)
    assert code == 2 and err.count("\n") == 1 and fragment in err, err


def test_thresholds_from_mapping_refuse_nan_and_inf():
    for value in (NAN, INF, -INF):
        with pytest.raises(DriftError, match="thresholds.psi: must be a number > 0 and <= 10"):
            Thresholds.from_mapping({"psi": value})


# --- Readers --------------------------------------------------------------------------------


def _data(tmp_path: Path, name: str, content: bytes | str) -> Path:
    path = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(path, "wb") as handle:
            handle.write(content.encode() if isinstance(content, str) else content)
    else:
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


HEADER = ",".join(FEATURES) + "\n"
ROW = "40,20,0.5,web,de\n"


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("ragged.csv", HEADER + ROW * 3 + "40,20\n" + ROW,
         "ragged.csv:5: 2 values, the header has 5"),
        ("long.csv", HEADER + ROW + "40,20,0.5,web,de,x\n", "long.csv:3: 6 values, the header"),
        ("field.csv", HEADER + ROW + "40,20,0.5," + "w" * (1 << 20) + ",de\n",
         "field.csv:3: a line longer than 1048576 bytes"),
        ("field2.csv", HEADER + ROW + "40,20,0.5," + "w" * 70_000 + ",de\n",
         "field2.csv:3: a value longer than 65536 characters"),
        ("quoted.csv", HEADER + ROW + '40,20,0.5,"' + "w\n" * 40_000 + '",de\n',
         "a value longer than 65536 characters"),
        ("field.jsonl", '{"age": 1}\n{"channel": "' + "w" * 70_000 + '"}\n',
         "field.jsonl:2: a value longer than 65536 characters"),
        ("nested.jsonl", '{"age": 1}\n{"age": {"x": 1}}\n', "nested.jsonl:2: a nested value"),
        ("list.jsonl", '{"age": 1}\n{"age": [1, 2]}\n', "list.jsonl:2: a nested value"),
        ("scalar.jsonl", '{"age": 1}\n5\n', "scalar.jsonl:2: expected a JSON object per line"),
        ("array.jsonl", '{"age": 1}\n[1, 2]\n', "array.jsonl:2: expected a JSON object per line"),
        ("deep.jsonl", '{"age": 1}\n' + "[" * 50_000 + "\n", "deep.jsonl:2: not valid JSON"),
        ("bigint.jsonl", '{"age": 1}\n{"age": 1' + "0" * 5000 + "}\n",
         "bigint.jsonl:2: not valid JSON"),
        ("latin1.csv", HEADER.encode() + b"40,20,0.5,caf\xe9,de\n",
         "latin1.csv:2: not UTF-8 text (byte 14 of the line)"),
        ("latin1.jsonl", b'{"age": 1}\n{"channel": "caf\xe9"}\n', "latin1.jsonl:2: not UTF-8"),
        ("trunc.csv.gz", b"", "not a readable gzip file"),
        ("none.csv", "x,y\n1,2\n", "none.csv has none of the baseline's columns (expected age, "
         "amount, score, channel, country; found x, y)"),
        ("none.jsonl", '{"x": 1}\n{"y": 2}\n', "the served data has none of the baseline's "
         "columns (expected age, amount, score, channel, country; found x, y)"),
        ("dup.csv", "age,age\n1,2\n", "dup.csv:1: the CSV header repeats a column name (age)"),
    ],
)  # fmt: skip
def test_bad_data_is_exit_2_naming_file_and_line(made, tmp_path, capsys, name, content, fragment):
    path = _data(tmp_path, name, content)
    if name == "trunc.csv.gz":
        path.write_bytes(gzip.compress((HEADER + ROW * 100).encode())[:-30])
    argv = ["check", "--baseline", str(made["path"]), "--data", str(path), *MIN]
    _bad(capsys, argv, fragment)


def test_sagemaker_records_of_the_wrong_shape_are_exit_2(made, tmp_path, capsys):
    for record, fragment in [
        ({"captureData": {"endpointInput": [1]}}, ":1: not a SageMaker capture record"),
        ({"captureData": {"endpointInput": {"data": "1,2", "encoding": 7}}}, "must be text"),
        ({"captureData": {"endpointInput": {"data": 5}}}, ":1: not a SageMaker capture record"),
        ({"captureData": {"endpointInput": {"data": "1,2"}}}, ":1: a row of 2 values, expected 5"),
        (
            {"captureData": {"endpointInput": {"data": '[{"age": [1]}]', "encoding": "JSON"}}},
            ":1: a nested value",
        ),
        (
            {"captureData": {"endpointInput": {"data": '[{"age": 1}, 2]', "encoding": "JSON"}}},
            ":1: payload mixes records with plain values",
        ),
    ]:
        path = _data(tmp_path, "capture.jsonl", json.dumps(record) + "\n")
        argv = ["check", "--baseline", str(made["path"]), "--data", str(path), *MIN]
        _bad(capsys, [*argv, "--format", "sagemaker-capture"], fragment)


def test_directories_given_as_files_are_exit_2(made, tmp_path, capsys):
    folder = tmp_path / "folder"
    folder.mkdir()
    base, served = str(made["path"]), str(made["drifted"])
    _bad(capsys, ["check", "--baseline", str(folder), "--data", served], "is a directory")
    _bad(capsys, ["check", "--baseline", base, "--data", str(folder)], "is a directory")
    _bad(capsys, ["check", "--baseline", base, "--data", served, "--json", str(folder)],
         "is a directory")  # fmt: skip
    _bad(capsys, ["baseline", "--data", str(folder), "--out", str(tmp_path / "b.json")],
         "is a directory")  # fmt: skip
    _bad(capsys, ["baseline", "--data", served, "--out", str(folder)], "is a directory")


def test_an_existing_report_survives_a_failed_check(made, tmp_path, capsys):
    report = tmp_path / "report.json"
    report.write_text("previous")
    bad = _data(tmp_path, "bad.csv", HEADER + "1\n")
    argv = ["check", "--baseline", str(made["path"]), "--data", str(bad), "--json", str(report)]
    _bad(capsys, argv, "bad.csv:2: 1 values")
    assert report.read_text() == "previous"


@pytest.mark.parametrize("name", ["bom.csv", "bom.jsonl", "bom.csv.gz"])
def test_a_utf8_bom_is_utf8(made, tmp_path, capsys, name):
    data = rows(500, seed=3, shift="amount")
    if ".csv" in name:
        text = HEADER + "".join(",".join(map(str, row)) + "\n" for row in data)
    else:
        text = "".join(json.dumps(dict(zip(FEATURES, row, strict=True))) + "\n" for row in data)
    path = _data(tmp_path, name, b"\xef\xbb\xbf" + text.encode())
    report = tmp_path / "r.json"
    code, out, err = _run(capsys, "check", "--baseline", str(made["path"]), "--data", str(path),
                          "--json", str(report), *MIN)  # fmt: skip
    assert (code, err) == (1, "")
    assert "drift in 1 feature(s): amount" in out
    assert json.loads(report.read_text())["missingFeatures"] == []


def test_missing_and_unknown_columns_are_named_and_escaped(made, tmp_path, capsys):
    evil = "\x1b]0;owned\x07\x1b[2J"
    header = f"age,amount,score,channel,{evil},extra\n"
    body = "".join(f"{r[0]},{r[1]},{r[2]},{r[3]},1,2\n" for r in rows(500, seed=2))
    path = _data(tmp_path, "cols.csv", header + body)
    report = tmp_path / "r.json"
    code, out, err = _run(capsys, "check", "--baseline", str(made["path"]), "--data", str(path),
                          "--json", str(report), *MIN)  # fmt: skip
    assert "\x1b" not in out + err and "\x07" not in out + err
    assert "not in the data: country" in out
    assert r"not in the baseline (ignored): \x1b]0;owned\x07\x1b[2J, extra" in out
    document = json.loads(report.read_text())
    assert document["missingFeatures"] == ["country"]
    assert document["unknownFeatures"] == [evil, "extra"]
    assert code == 1  # a column that goes missing is drift (its values are all missing)
    assert "country" in document["drifted"]


def test_an_escape_in_a_baseline_feature_name_is_printed_escaped(made, tmp_path, capsys):
    evil = "amount\x1b[31m"
    document = copy.deepcopy(made["baseline"])
    document["features"] = {
        (evil if k == "amount" else k): v for k, v in document["features"].items()
    }
    served = _data(tmp_path, "s.jsonl", '{"x": 1}\n')
    _, out, err = _run(capsys, *_check(made, tmp_path, document, made["quiet"]))
    assert "\x1b" not in out + err and r"amount\x1b[31m" in out
    document["features"][evil]["kind"] = "bogus"
    err = _bad(capsys, _check(made, tmp_path, document, served), r"amount\x1b[31m.kind")
    assert "\x1b" not in err


# --- Bounded decompression ------------------------------------------------------------------


def test_a_gzip_of_one_huge_line_stops_at_the_record_bound(made, tmp_path, capsys):
    line = b'{"age": "' + b"x" * (400 << 20) + b'"}\n'  # 400 MiB of text
    path = tmp_path / "bomb.jsonl.gz"
    path.write_bytes(gzip.compress(line, compresslevel=9))
    del line
    assert path.stat().st_size < 1 << 20
    argv = ["check", "--baseline", str(made["path"]), "--data", str(path), "--jobs", "1"]
    main(["drift", "check", "--baseline", str(made["path"]), "--data", str(made["quiet"])])
    capsys.readouterr()  # modules imported and caches warm before measuring
    tracemalloc.start()
    try:
        _bad(capsys, argv, "bomb.jsonl.gz:1: a line longer than 1048576 bytes")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, peak  # was 874 MB for a 400 KB file


def test_many_long_records_are_batched_within_bounds(made, tmp_path, capsys):
    # 200 records of ~1 MiB each: valid, but a batch of 4,096 of them would be 4 GiB.
    value = "w" * 60_000
    record = json.dumps({name: value for name in ("channel", *(f"x{i}" for i in range(16)))})
    path = tmp_path / "long.jsonl.gz"
    with gzip.open(path, "wt", compresslevel=1) as handle:
        for _ in range(200):
            handle.write(record + "\n")
    argv = ["check", "--baseline", str(made["path"]), "--data", str(path), *MIN]
    tracemalloc.start()
    try:
        code, out, _ = _run(capsys, *argv)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 1 and "not in the baseline (ignored): x0, x1" in out
    assert peak < 96 << 20, peak


# --- Storage paths --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "version", ["..", ".", "../x", "/etc", "a/b", "a\\b", "C:\\x", "v\x1b[2J", "", "  ", "x" * 200]
)
def test_a_dataset_version_is_one_path_segment(tmp_path, capsys, version):
    train = write_csv(tmp_path / "train.csv", rows(200, seed=1))
    store_root = tmp_path / "store"
    argv = ["baseline", "--data", str(train), "--store-uri", str(store_root)]
    code, _, err = _run(capsys, *argv, "--dataset-version", version)
    assert code == 2 and err.count("\n") == 1
    assert "dataset version" in err or "--store-uri needs --dataset-version" in err
    assert "\x1b" not in err
    assert not store_root.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.csv"]


def test_a_symbolic_link_out_of_the_store_is_refused(tmp_path, capsys):
    train = write_csv(tmp_path / "train.csv", rows(200, seed=1))
    outside = tmp_path / "outside"
    outside.mkdir()
    baselines = tmp_path / "store" / "drift" / "baselines"
    baselines.mkdir(parents=True)
    (baselines / "md5_ab").symlink_to(outside, target_is_directory=True)
    argv = ["baseline", "--data", str(train), "--store-uri", str(tmp_path / "store")]
    _bad(
        capsys, [*argv, "--dataset-version", "md5:ab"], "leads out of the store's drift/baselines/"
    )
    assert list(outside.iterdir()) == []
    (baselines / "md5_cd").mkdir()
    (baselines / "md5_cd" / "baseline.json").symlink_to(outside / "dangling.json")
    _bad(capsys, [*argv, "--dataset-version", "md5:cd"], "leads out of the store")
    assert list(outside.iterdir()) == []


def test_the_s3_key_stays_under_the_prefix():
    moto = pytest.importorskip("moto")
    import boto3

    with moto.mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="artifacts")
        where = store.write_baseline("s3://artifacts/team", "md5:ab", "{}")
        assert where == "s3://artifacts/team/drift/baselines/md5_ab/baseline.json"
        for version in ("..", "../../x", "a/b", "\x00"):
            with pytest.raises(DriftError, match="dataset version"):
                store.write_baseline("s3://artifacts/team", version, "{}")
        keys = [o["Key"] for o in client.list_objects_v2(Bucket="artifacts")["Contents"]]
        assert keys == ["team/drift/baselines/md5_ab/baseline.json"]


def test_report_keys_refuse_an_endpoint_that_is_no_segment():
    assert store.report_keys("ep", dt.datetime(2026, 1, 1, tzinfo=dt.UTC))[1] == (
        "drift/reports/ep/latest.json"
    )
    with pytest.raises(DriftError, match="endpoint"):
        store.report_keys("../other")


# --- The cloud job shares the core ----------------------------------------------------------


# The cloud-independent core (``runtime.run_job``) on hostile inputs, with an in-memory store: no
# cloud client, no deployment setting. The handlers run with the plans' settings in
# test_{aws,azure,gcp}_handler.py.
class _Store:
    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects
        self.written: dict[str, str] = {}

    def list_since(self, uri, since):
        return sorted(k for k in self.objects if k.startswith(uri))

    def source(self, uri):
        return bytes_source(uri, [self.objects[uri]])

    def read_text(self, uri):
        return runtime.baseline_text(uri, self.objects[uri])

    def write_text(self, uri, text):
        self.written[uri] = text


class _Metrics:
    def __init__(self):
        self.reports = []

    def publish(self, config, report):
        self.reports.append(report)


ENV = {
    "DRIFT_CAPTURE_URI": "mem://capture/",
    "DRIFT_BASELINE_URI": "mem://baseline.json",
    "DRIFT_REPORT_URI": "mem://reports",
    "DRIFT_FORMAT": "jsonl",
    "DRIFT_MIN_ROWS": "100",
}


def _job(made, baseline: bytes | None = None, capture: bytes | None = None, **env):
    served = "".join(
        json.dumps(dict(zip(FEATURES, row, strict=True))) + "\n"
        for row in rows(500, seed=3, shift="amount")
    )
    objects = {
        "mem://baseline.json": baseline or json.dumps(made["baseline"]).encode(),
        "mem://capture/a.jsonl": capture or served.encode(),
    }
    storage, metrics = _Store(objects), _Metrics()
    config = runtime.JobConfig.from_env({**ENV, **env})
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return runtime.run_job(config, storage, metrics, now), storage


def test_the_job_finds_drift_with_a_sound_baseline(made):
    summary, storage = _job(made)
    assert summary["verdict"] == "drift" and summary["drifted"] == ["amount"]
    report = json.loads(storage.written["mem://reports/latest.json"])
    assert report["unknownFeatures"] == [] and report["missingFeatures"] == []


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"DRIFT_PSI": "nan"}, "environment.psi: must be a number > 0 and <= 10, got nan"),
        ({"DRIFT_KS": "inf"}, "environment.ks: must be a number > 0 and <= 1, got inf"),
        ({"DRIFT_JS": "-1"}, "environment.jensenShannon: must be a number > 0"),
        ({"DRIFT_MIN_ROWS": "0"}, "environment.minRows: must be >= 1"),
        ({"DRIFT_MIN_ROWS": "1e3"}, "environment: DRIFT_MIN_ROWS is not an integer"),
        ({"DRIFT_WINDOW_HOURS": "0"}, "environment: DRIFT_WINDOW_HOURS: must be an integer >= 1"),
        ({"DRIFT_WINDOW_HOURS": "-5"}, "DRIFT_WINDOW_HOURS: must be an integer >= 1"),
        ({"DRIFT_WINDOW_HOURS": "100000"}, "DRIFT_WINDOW_HOURS: must be an integer >= 1 and"),
        ({"DRIFT_FORMAT": "xml"}, "environment: DRIFT_FORMAT must be one of"),
    ],
)
def test_the_job_validates_its_settings(made, env, fragment):
    with pytest.raises(DriftError, match=_escaped(fragment)):
        _job(made, **env)


@pytest.mark.parametrize("window", [0, -1, True, "24", 1.5, float("nan"), 10**6])
def test_the_job_validates_the_event_window(window):
    with pytest.raises(DriftError, match="event: windowHours: must be an integer >= 1"):
        runtime.JobConfig.from_env(ENV, {"windowHours": window})


def test_the_job_refuses_a_tampered_baseline_and_bad_capture(made):
    tampered = _set(made["baseline"], "features.amount.proportions.0", NAN)
    with pytest.raises(DriftError, match=_escaped("features.amount.proportions[0]: must be")):
        _job(made, baseline=json.dumps(tampered).encode())
    with pytest.raises(DriftError, match="not UTF-8 text"):
        _job(made, baseline=b"\xff\xfe")
    with pytest.raises(DriftError, match="a.jsonl:2: a nested value"):
        _job(made, capture=b'{"age": 1}\n{"age": {"a": 1}}\n')
    with pytest.raises(DriftError, match="none of the baseline's columns"):
        _job(made, capture=b'{"x": 1}\n' * 200)
    with pytest.raises(DriftError, match="a line longer than 1048576 bytes"):
        _job(made, capture=b'{"age": "' + b"1" * (2 << 20) + b'"}\n')
    summary, _ = _job(made, capture=b"\xef\xbb\xbf" + b'{"age": 40}\n' * 5)
    assert summary["verdict"] == "insufficient-data"  # the BOM is read as UTF-8


def _escaped(text: str) -> str:
    import re

    return re.escape(text)
