"""The capture readers: SageMaker CSV/JSON/base64 payloads, Azure data collector, auto-detection."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from mlops_iac.drift import DriftError, file_source, read


def _sm(data: str, encoding: str, content_type: str) -> str:
    record = {
        "captureData": {
            "endpointInput": {
                "observedContentType": content_type,
                "mode": "INPUT",
                "data": data,
                "encoding": encoding,
            }
        },
        "eventMetadata": {"eventId": "1", "inferenceTime": "2026-11-28T00:00:00Z"},
        "eventVersion": "0",
    }
    return json.dumps(record) + "\n"


def test_sagemaker_payloads_in_every_encoding(tmp_path):
    path = tmp_path / "capture.jsonl"
    path.write_text(
        _sm("1,a\n2,b", "CSV", "text/csv")
        + _sm(json.dumps({"instances": [{"x": 3, "c": "c"}]}), "JSON", "application/json")
        + _sm(base64.b64encode(b"4,d").decode(), "BASE64", "text/csv")
        + _sm(json.dumps([5, "e"]), "JSON", "application/json")
    )
    features, rows = read([file_source(path)], "auto", ["x", "c"])
    assert features == ["x", "c"]
    assert [list(r) for r in rows] == [["1", "a"], ["2", "b"], [3, "c"], ["4", "d"], [5, "e"]]


def test_azure_data_collector_records(tmp_path):
    path = tmp_path / "data.jsonl.gz"
    line = {
        "specversion": "1.0",
        "id": "1",
        "source": "/subscriptions/x/…/onlineEndpoints/e/deployments/blue",
        "type": "azureml.inference.model_inputs",
        "datacontenttype": "application/json",
        "time": "2026-11-28T00:00:00Z",
        "data": [{"x": 1, "c": "a"}, {"x": 2, "c": "b"}],
    }
    with gzip.open(path, "wt") as handle:
        handle.write(json.dumps(line) + "\n")
        handle.write(json.dumps({**line, "data": json.dumps([{"x": 3}])}) + "\n")
    features, rows = read([file_source(path)], "auto")
    assert features == ["x", "c"]
    assert [list(r) for r in rows] == [[1, "a"], [2, "b"], [3, None]]


def test_csv_files_with_reordered_columns(tmp_path):
    (tmp_path / "a.csv").write_text("x,c\n1,a\n")
    (tmp_path / "b.csv").write_text("c,x\nb,2\n")
    features, rows = read([file_source(tmp_path / n) for n in ("a.csv", "b.csv")])
    assert features == ["x", "c"]
    assert [list(r) for r in rows] == [["1", "a"], ["2", "b"]]


@pytest.mark.parametrize(
    ("text", "fmt", "message"),
    [
        ("", "csv", "empty file"),
        ("x,x\n1,2\n", "csv", "repeats a column name"),
        ("[1, 2]\n", "jsonl", ":1: expected a JSON object per line"),
        ('{"data": 1}\n', "sagemaker-capture", ":1: not a SageMaker capture record"),
        ('{"a": 1}\n', "azure-capture", ":1: not an Azure ML data collector record"),
    ],
)
def test_bad_files_name_file_and_line(tmp_path, text, fmt, message):
    path = tmp_path / "f.txt"
    path.write_text(text)
    with pytest.raises(DriftError, match=message):
        features, rows = read([file_source(path)], fmt, ["x"])
        list(rows)


def test_mixed_formats_are_refused(tmp_path):
    (tmp_path / "a.csv").write_text("x\n1\n")
    (tmp_path / "b.jsonl").write_text('{"x": 1}\n')
    with pytest.raises(DriftError, match="mix formats"):
        read([file_source(tmp_path / "a.csv"), file_source(tmp_path / "b.jsonl")])
