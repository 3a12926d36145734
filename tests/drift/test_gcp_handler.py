"""The GCP handler end to end with exactly the environment the gcp-prod plan gives the function,
against an in-process Cloud Storage and Cloud Monitoring that record each call: every call is in
its manifest and allowed by the plan's grants. The CLI's baseline upload runs against
gcp-storage-emulator (PyPI)."""

from __future__ import annotations

import json
import socket
import time
import urllib.request

import pytest

from mlops_iac.drift import build_baseline, calls, dumps, gcp
from mlops_iac.drift.runtime import split_uri
from mlops_iac.plan.deploy.permissions import rules
from tests.drift._clouds import FakeCloud, function_environment, only_settings
from tests.drift._data import FEATURES, rows

BUCKET = "fraud-artifacts"
ENDPOINT = "fraud-detector"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gcs(monkeypatch):
    server_module = pytest.importorskip("gcp_storage_emulator.server")
    port = _free_port()
    server = server_module.create_server("127.0.0.1", port, in_memory=True)
    server.start()
    base = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", base)
    request = urllib.request.Request(
        f"{base}/storage/v1/b?project=test",
        data=json.dumps({"name": BUCKET}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request).close()
    try:
        yield base
    finally:
        server.stop()


class Job:
    """The gcp-prod plan's function settings, a fake Cloud Storage and Monitoring that record
    each call, and the plan."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.env, self.recording = function_environment("gcp-prod")
        self.environ = only_settings(monkeypatch, self.env)
        self.cloud = FakeCloud()
        monkeypatch.setattr(urllib.request, "urlopen", self.cloud.urlopen)
        _, self.bucket, self.capture = split_uri(self.env["DRIFT_CAPTURE_URI"])
        baseline = build_baseline(FEATURES, rows(4000, seed=1), dataset_version="md5:3b1f")
        _, bucket, key = split_uri(self.env["DRIFT_BASELINE_URI"])
        self.cloud.put(bucket, key, dumps(baseline).encode())

    def put_capture(self, data: list[list[object]]) -> None:
        """The toolkit's Cloud Run capture layout: JSON Lines of request records per hour."""
        for part in range(2):
            body = "".join(
                json.dumps(dict(zip(FEATURES, row, strict=True))) + "\n" for row in data[part::2]
            )
            self.cloud.put(self.bucket, f"{self.capture}2026/11/28/05/part-{part}.jsonl",
                           body.encode())  # fmt: skip

    def run(self) -> dict:
        # A run's report is named by its second: runs a day apart never share one.
        time.sleep(1.0 if self.cloud.calls else 0)
        self.cloud.calls.clear()
        self.cloud.posts.clear()
        body, status = gcp.gcp_handler(None)
        assert status == 200
        return json.loads(body)

    def latest(self) -> dict:
        _, bucket, prefix = split_uri(self.env["DRIFT_REPORT_URI"])
        return json.loads(self.cloud.get(bucket, f"{prefix}/latest.json"))

    def drifted_points(self) -> int:
        ((url, body),) = self.cloud.posts
        assert (
            url
            == f"https://monitoring.googleapis.com/v3/projects/{self.env['DRIFT_PROJECT']}/timeSeries"
        )
        document = json.loads(body)
        series = {s["metric"]["type"].rsplit("/", 1)[1]: s for s in document["timeSeries"]}
        labels = series["drifted_features"]["metric"]["labels"]
        assert labels == {"endpoint": self.env["DRIFT_ENDPOINT"]}
        return int(series["drifted_features"]["points"][0]["value"]["int64Value"])


@pytest.fixture
def job(monkeypatch):
    return Job(monkeypatch)


def test_shifted_capture_reports_drift_to_gcs_and_monitoring(job):
    job.put_capture(rows(3000, seed=3, shift="channel"))
    summary = job.run()
    assert (summary["verdict"], summary["drifted"]) == ("drift", ["channel"])
    latest = job.latest()
    assert latest["drifted"] == ["channel"] and latest["captureObjects"] == 2
    assert job.drifted_points() == 1


def test_unshifted_capture_is_quiet(job):
    job.put_capture(rows(3000, seed=2))
    assert job.run()["verdict"] == "no-drift"
    assert job.drifted_points() == 0


def test_every_call_of_two_runs_is_in_the_manifest(job):
    job.put_capture(rows(3000, seed=2))
    job.run()
    second = job.run()
    manifest = calls.gcp_drift(job.env)
    assert [str(c) for c in job.cloud.calls if not manifest.covers(c)] == []
    # The second run overwrites latest.json, which takes delete as well as create.
    _, bucket, prefix = split_uri(job.env["DRIFT_REPORT_URI"])
    latest = f"projects/_/buckets/{bucket}/objects/{prefix}/latest.json"
    assert [c.action for c in job.cloud.calls if c.resource == latest] == [
        "storage.objects.create",
        "storage.objects.delete",
    ]
    assert second["verdict"] == "no-drift"
    read = {name for name in job.environ.read if name.startswith("DRIFT_")}
    assert read <= set(manifest.reads) and manifest.missing == ()


def test_every_call_of_two_runs_is_granted_by_the_plan(job):
    job.put_capture(rows(3000, seed=2))
    job.run()
    job.run()
    recorded = {"mlops-drift-function": list(job.cloud.calls)}
    denied = rules.gcp_denials(job.recording.resources, recorded)
    assert [(str(call), why) for _, call, why in denied] == []


def test_the_cli_writes_the_baseline_to_cloud_storage(gcs, tmp_path, capsys):
    from mlops_iac.cli.main import main
    from tests.drift._data import write_csv

    train = write_csv(tmp_path / "train.csv", rows(1500, seed=1))
    argv = ["drift", "baseline", "--data", str(train), "--dataset-version", "md5:3b1f"]
    assert main([*argv, "--store-uri", f"gs://{BUCKET}/team"]) == 0
    key = f"gs://{BUCKET}/team/drift/baselines/md5_3b1f/baseline.json"
    assert key in capsys.readouterr().out
    written = json.loads(gcp.GcsStorage(gcp.Http(None)).read_text(key))
    assert (written["datasetVersion"], written["rows"]) == ("md5:3b1f", 1500)


def test_the_cli_names_the_missing_google_token(tmp_path, capsys, monkeypatch):
    from mlops_iac.cli.main import main
    from tests.drift._data import write_csv

    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.delenv("GOOGLE_OAUTH_ACCESS_TOKEN", raising=False)
    train = write_csv(tmp_path / "train.csv", rows(1200, seed=1))
    argv = ["drift", "baseline", "--data", str(train), "--dataset-version", "md5:1"]
    assert main([*argv, "--store-uri", f"gs://{BUCKET}"]) == 2
    err = capsys.readouterr().err
    assert "set GOOGLE_OAUTH_ACCESS_TOKEN" in err and "Traceback" not in err


def test_two_runs_write_the_metrics_the_plan_declares(job):
    # Both runs reach the metric the alert watches, as the descriptors the plan declares them
    # (type and value type); the runs' calls and grants are proven by the two tests above.
    job.put_capture(rows(3000, seed=3, shift="channel"))
    for run in (1, 2):
        assert job.run()["verdict"] == "drift", run
        ((url, body),) = job.cloud.posts
        assert url.endswith(f"/v3/projects/{job.env['DRIFT_PROJECT']}/timeSeries"), run
    assert job.latest()["drifted"] == ["channel"]
    declared = {
        d.inputs["type"]: d.inputs["valueType"]
        for d in job.recording.of_type("gcp:monitoring/metricDescriptor:MetricDescriptor")
    }
    kinds = {"int64Value": "INT64", "doubleValue": "DOUBLE"}
    written = {
        series["metric"]["type"]: kinds[next(iter(series["points"][0]["value"]))]
        for series in json.loads(body)["timeSeries"]
    }
    assert declared and written == declared
