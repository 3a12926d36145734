"""The GCP handler end to end: gcp-storage-emulator (PyPI) for Cloud Storage, a loopback stand-in
for the Cloud Monitoring ``timeSeries.create`` endpoint (no emulator exists for it)."""

from __future__ import annotations

import json
import socket
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mlops_iac.drift import build_baseline, dumps, gcp
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


@pytest.fixture
def monitoring(monkeypatch):
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "body": json.loads(body)})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("DRIFT_MONITORING_URL", f"http://127.0.0.1:{server.server_port}")
    try:
        yield received
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def job(gcs, monitoring, monkeypatch):
    storage = gcp.GcsStorage(gcp.Http(None))
    baseline = build_baseline(FEATURES, rows(4000, seed=1), dataset_version="md5:ab")
    storage.write_text(f"gs://{BUCKET}/drift/baselines/md5_ab/baseline.json", dumps(baseline))
    env = {
        "DRIFT_CAPTURE_URI": f"gs://{BUCKET}/capture/{ENDPOINT}/",
        "DRIFT_BASELINE_URI": f"gs://{BUCKET}/drift/baselines/md5_ab/baseline.json",
        "DRIFT_REPORT_URI": f"gs://{BUCKET}/drift/reports/{ENDPOINT}",
        "DRIFT_ENDPOINT": ENDPOINT,
        "DRIFT_FORMAT": "jsonl",
        "DRIFT_METRIC_NAMESPACE": gcp.GCP_METRIC_PREFIX,
        "DRIFT_PROJECT": "my-project",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return storage


def _capture(storage, data):
    """The toolkit's Cloud Run capture layout: JSON Lines of request records per hour."""
    for part in range(2):
        body = "".join(
            json.dumps(dict(zip(FEATURES, row, strict=True))) + "\n" for row in data[part::2]
        )
        storage.write_text(
            f"gs://{BUCKET}/capture/{ENDPOINT}/2026/11/28/05/part-{part}.jsonl", body
        )


def _drifted_points(monitoring):
    (call,) = monitoring
    assert call["path"] == "/v3/projects/my-project/timeSeries"
    series = {s["metric"]["type"].rsplit("/", 1)[1]: s for s in call["body"]["timeSeries"]}
    assert series["drifted_features"]["metric"]["labels"] == {"endpoint": ENDPOINT}
    return int(series["drifted_features"]["points"][0]["value"]["int64Value"])


def test_shifted_capture_reports_drift_to_gcs_and_monitoring(job, monitoring):
    _capture(job, rows(3000, seed=3, shift="channel"))
    body, status = gcp.gcp_handler(None)
    summary = json.loads(body)
    assert (status, summary["verdict"], summary["drifted"]) == (200, "drift", ["channel"])
    latest = json.loads(job.read_text(f"gs://{BUCKET}/drift/reports/{ENDPOINT}/latest.json"))
    assert latest["drifted"] == ["channel"] and latest["captureObjects"] == 2
    assert _drifted_points(monitoring) == 1


def test_unshifted_capture_is_quiet(job, monitoring):
    _capture(job, rows(3000, seed=2))
    body, _ = gcp.gcp_handler(None)
    assert json.loads(body)["verdict"] == "no-drift"
    assert _drifted_points(monitoring) == 0


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


class _PlanIam(gcp.Http):
    """Requests to the emulator, refused (403) unless the plan's recorded grants allow them."""

    iam = None  # set by the test: tests.components.gcp._iam.BucketIam of the job's account

    def request(self, method, url, body=None, content_type=None):
        import urllib.error
        from urllib.parse import parse_qs, unquote, urlparse

        parsed = urlparse(url)
        query = parse_qs(parsed.query)
        parts = parsed.path.split("/")
        if "/storage/v1/" not in parsed.path:
            allowed = True  # Cloud Monitoring: the metric writer role, not a bucket grant
        elif parts[1:3] == ["upload", "storage"]:
            bucket, name = unquote(parts[5]), query["name"][0]
            exists = _exists(f"{parsed.scheme}://{parsed.netloc}", bucket, name)
            allowed = self.iam.can_write(bucket, name, exists=exists)
        elif parsed.path.endswith("/o"):
            allowed = self.iam.can_list(unquote(parts[4]))
        else:
            allowed = self.iam.can_read(unquote(parts[4]), unquote(parts[6]))
        if not allowed:
            raise urllib.error.HTTPError(url, 403, f"{method} denied by the plan's IAM", {}, None)
        return super().request(method, url, body, content_type)


def _exists(base, bucket, name):
    import urllib.error
    from urllib.parse import quote

    try:
        urllib.request.urlopen(f"{base}/storage/v1/b/{quote(bucket)}/o/{quote(name, safe='')}")
    except urllib.error.HTTPError:
        return False
    return True


def test_the_job_runs_twice_with_the_environment_and_grants_the_plan_records(
    gcs, monitoring, monkeypatch
):
    # The function's settings and its account's bucket grants as gcp-dev records them: each run
    # writes a dated report and replaces latest.json, which Object Creator cannot do.
    from tests.components.gcp._iam import BucketIam
    from tests.conftest import reference_recording

    dev = reference_recording("gcp-dev")
    function = dev.named("mlops-drift-function").inputs["serviceConfig"]
    env = function["environmentVariables"]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    member = f"serviceAccount:{function['serviceAccountEmail']}"
    _PlanIam.iam = BucketIam(dev, member)
    bucket = env["DRIFT_CAPTURE_URI"].removeprefix("gs://").split("/")[0]
    urllib.request.urlopen(
        urllib.request.Request(
            f"{gcs}/storage/v1/b?project=test",
            data=json.dumps({"name": bucket}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
    ).close()
    # Baseline (the team's CLI) and capture (the model container) are written by others.
    storage = gcp.GcsStorage(gcp.Http(None))
    version = env["DRIFT_BASELINE_URI"].split("/drift/baselines/")[1].split("/")[0]
    baseline = build_baseline(FEATURES, rows(4000, seed=1), dataset_version=version)
    storage.write_text(env["DRIFT_BASELINE_URI"], dumps(baseline))
    for part, data in enumerate((rows(1500, seed=3, shift="channel"), rows(1500, seed=4))):
        body = "".join(json.dumps(dict(zip(FEATURES, row, strict=True))) + "\n" for row in data)
        storage.write_text(f"{env['DRIFT_CAPTURE_URI']}2026/11/28/05/part-{part}.jsonl", body)
    monkeypatch.setattr(gcp, "Http", _PlanIam)

    for run in (1, 2):
        body, status = gcp.gcp_handler(None)
        assert status == 200, run
        assert json.loads(body)["verdict"] == "drift", run
    latest = f"{env['DRIFT_REPORT_URI']}/latest.json"
    assert json.loads(storage.read_text(latest))["drifted"] == ["channel"]
    assert len(monitoring) == 2  # both runs reached the metric the alert watches
    assert {c["path"] for c in monitoring} == {f"/v3/projects/{env['DRIFT_PROJECT']}/timeSeries"}
    # What the job writes is what the plan declares as metric descriptors (type, value type).
    declared = {
        d.inputs["type"]: d.inputs["valueType"]
        for d in dev.of_type("gcp:monitoring/metricDescriptor:MetricDescriptor")
    }
    kinds = {"int64Value": "INT64", "doubleValue": "DOUBLE"}
    written = {
        series["metric"]["type"]: kinds[next(iter(series["points"][0]["value"]))]
        for series in monitoring[-1]["body"]["timeSeries"]
    }
    assert written == declared
