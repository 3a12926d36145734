"""The Azure handler end to end with exactly the app settings the azure-prod plan gives the
Function App (plus the identity variables App Service sets), against an in-process Blob, Queue
and Azure Monitor that record each call: every call is in its manifest and allowed by the plan's
role assignments. The CLI's baseline upload runs against Azurite, started by the test itself.

Capture blobs are written in the Azure ML data collector layout and format
(``modelDataCollector/<endpoint>/<deployment>/model_inputs/yyyy/MM/dd/HH/<id>.jsonl``, one
CloudEvents-style JSON object per line whose ``data`` is the logged records,
https://learn.microsoft.com/en-us/azure/machine-learning/how-to-collect-production-data).
The handler is called as the Functions runtime calls the timer function, with nothing injected.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.request

import pytest

from mlops_iac.drift import azure, build_baseline, calls, dumps
from mlops_iac.drift.runtime import split_uri
from mlops_iac.plan.deploy.permissions import rules
from mlops_iac.plan.testing import emulators
from tests.drift._clouds import APP_SERVICE_PLATFORM, FakeCloud, only_settings, webapp_settings
from tests.drift._data import FEATURES, rows

ENDPOINT = "fraud-ep"
DRIFT = "drift"


@pytest.fixture(scope="module")
def azurite(tmp_path_factory):
    try:
        with emulators.azurite(tmp_path_factory.mktemp("azurite")) as endpoint:
            yield endpoint
    except emulators.EmulatorError as exc:  # no npm / no registry: say so, do not fake it
        pytest.skip(str(exc))


class Timer:
    """What the Python worker passes a timer function (``azure.functions.TimerRequest``)."""

    past_due = False


@pytest.fixture
def env(azurite, tmp_path):
    """Azurite containers for the CLI's baseline upload (the CLI runs on a laptop or in CI)."""
    account_url = f"{azurite}/{emulators.AZURITE_ACCOUNT}"
    suffix = tmp_path.name[-12:].lower().replace("_", "-").strip("-")
    values = {
        "DRIFT_STORAGE_ACCOUNT_URL": account_url,
        "DRIFT_EMULATOR_ACCOUNT_KEY": emulators.AZURITE_KEY,
        "DRIFT_BASELINE_URI": f"az://{DRIFT}{suffix}/drift/baselines/md5_ab/baseline.json",
    }
    rest = azure.AzureRest(
        shared_key=azure.SharedKey(emulators.AZURITE_ACCOUNT, emulators.AZURITE_KEY)
    )
    with rest.storage("PUT", f"{account_url}/{DRIFT}{suffix}?restype=container"):
        pass
    return values, azure.AzureBlobStorage(account_url, rest)


PLATFORM = APP_SERVICE_PLATFORM


class Job:
    """The azure-prod plan's app settings (plus the platform's identity variables), a fake Blob,
    Queue, Monitor and identity endpoint that record each call, and the plan."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.env, self.recording = webapp_settings("azure-prod")
        self.environ = only_settings(monkeypatch, {**self.env, **PLATFORM})
        self.cloud = FakeCloud()
        monkeypatch.setattr(urllib.request, "urlopen", self.cloud.urlopen)
        account = self.env["DRIFT_STORAGE_ACCOUNT_URL"].split("//", 1)[1].split(".", 1)[0]
        self.account = account
        baseline = build_baseline(FEATURES, rows(4000, seed=1), dataset_version="md5:3b1f")
        _, container, key = split_uri(self.env["DRIFT_BASELINE_URI"])
        self.cloud.put(f"{account}/{container}", key, dumps(baseline).encode())

    def collect(self, data, deployment="blue", collection="model_inputs") -> None:
        """Data collector files: each line one logged batch of records (a DataFrame)."""
        _, container, prefix = split_uri(self.env["DRIFT_CAPTURE_URI"])
        hour = dt.datetime.now(dt.UTC).strftime("%Y/%m/%d/%H")
        for part in range(2):
            lines = []
            batch = data[part::2]
            for start in range(0, len(batch), 25):
                records = [
                    dict(zip(FEATURES, row, strict=True)) for row in batch[start : start + 25]
                ]
                lines.append(json.dumps({
                    "specversion": "1.0",
                    "id": f"{part}-{start}",
                    "source": f"/subscriptions/x/onlineEndpoints/{self.env['DRIFT_ENDPOINT']}",
                    "type": "azureml.inference.model_inputs",
                    "datacontenttype": "application/json",
                    "time": "2026-11-28T05:00:00Z",
                    "data": records,
                }))  # fmt: skip
            name = f"{prefix}{deployment}/{collection}/{hour}/instance-{part}.jsonl"
            self.cloud.put(f"{self.account}/{container}", name, ("\n".join(lines) + "\n").encode())

    def run(self) -> dict:
        return azure.azure_handler(Timer())

    def latest(self) -> dict:
        _, container, prefix = split_uri(self.env["DRIFT_REPORT_URI"])
        return json.loads(self.cloud.get(f"{self.account}/{container}", f"{prefix}/latest.json"))


@pytest.fixture
def job(monkeypatch):
    return Job(monkeypatch)


def test_shifted_capture_writes_the_report_publishes_drift_and_queues_retraining(job):
    job.collect(rows(3000, seed=3, shift="amount"))
    # Model outputs are collected beside the inputs: they must not be read as features.
    job.collect(rows(50, seed=9), collection="model_outputs")
    summary = job.run()
    assert (summary["verdict"], summary["drifted"]) == ("drift", ["amount"])
    latest = job.latest()
    assert latest["drifted"] == ["amount"] and latest["captureObjects"] == 2
    assert latest["rows"] == 3000
    metrics = [json.loads(b) for u, b in job.cloud.posts if ".monitoring.azure.com" in u]
    first = metrics[0]["data"]["baseData"]
    assert (first["metric"], first["series"][0]["max"]) == ("DriftedFeatures", 1.0)
    (message,) = [b for u, b in job.cloud.posts if ".queue.core.windows.net" in u]
    assert b"<QueueMessage>" in message
    # Every token was asked for the identity the plan's role assignments name.
    assert {q.get("client_id") for q in job.cloud.identity_requests} == {job.env["AZURE_CLIENT_ID"]}


def test_unshifted_capture_is_quiet(job):
    job.collect(rows(3000, seed=2))
    assert job.run()["verdict"] == "no-drift"
    assert not [u for u, _ in job.cloud.posts if ".queue.core.windows.net" in u]


def test_every_call_is_in_the_manifest_and_granted_by_the_plan(job):
    job.collect(rows(3000, seed=3, shift="amount"))
    job.run()
    manifest = calls.azure_drift(job.env)
    assert [str(c) for c in job.cloud.calls if not manifest.covers(c)] == []
    recorded = {"mlops-drift-function": list(job.cloud.calls)}
    denied = rules.azure_denials(job.recording.resources, recorded)
    assert [(str(call), why) for _, call, why in denied] == []
    read = {name for name in job.environ.read if name.startswith("DRIFT_")}
    assert read <= set(manifest.reads) and manifest.missing == ()


def test_metric_documents_follow_the_custom_metrics_api(job):
    """What the handler sends Azure Monitor: the custom-metrics REST API's document, about the
    resource and in the region the plan's settings name."""
    job.collect(rows(3000, seed=3, shift="amount"))
    job.run()
    posts = [(u, json.loads(b)) for u, b in job.cloud.posts if ".monitoring.azure.com" in u]
    region, subject = job.env["DRIFT_METRIC_REGION"], job.env["DRIFT_METRIC_RESOURCE_ID"]
    assert [url for url, _ in posts] == [
        f"https://{region}.monitoring.azure.com{subject}/metrics"
    ] * 3
    first = posts[0][1]["data"]["baseData"]
    assert (first["metric"], first["namespace"], first["dimNames"]) == (
        "DriftedFeatures",
        "mlops/drift",
        ["Endpoint"],
    )
    assert first["series"] == [
        {"dimValues": [job.env["DRIFT_ENDPOINT"]], "min": 1.0, "max": 1.0, "sum": 1.0, "count": 1}
    ]


def test_the_managed_identity_token_request(monkeypatch):
    import urllib.request

    seen = []

    class Response:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self):
            return b'{"access_token": "t0k"}'

    def fake_urlopen(request, timeout):
        seen.append((request.full_url, dict(request.header_items())))
        return Response()

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    settings, _ = webapp_settings("azure-prod")
    client_id = settings["AZURE_CLIENT_ID"]  # the plan's user-assigned identity
    token = azure.AzureToken({**APP_SERVICE_PLATFORM, "AZURE_CLIENT_ID": client_id})
    assert token("https://storage.azure.com/") == "t0k"
    assert token("https://storage.azure.com/") == "t0k"  # cached: one request
    ((url, headers),) = seen
    endpoint = APP_SERVICE_PLATFORM["IDENTITY_ENDPOINT"]
    assert url.startswith(f"{endpoint}?resource=https%3A%2F%2Fstorage.azure.com")
    assert "api-version=2019-08-01" in url and f"client_id={client_id}" in url
    assert headers == {"X-identity-header": APP_SERVICE_PLATFORM["IDENTITY_HEADER"]}


def test_the_cli_writes_the_baseline_to_blob_storage(env, tmp_path, capsys, monkeypatch):
    from mlops_iac.cli.main import main
    from tests.drift._data import write_csv

    values, store = env
    container = values["DRIFT_BASELINE_URI"].split("/")[2]  # the CLI's settings, not the job's
    monkeypatch.setenv("DRIFT_STORAGE_ACCOUNT_URL", values["DRIFT_STORAGE_ACCOUNT_URL"])
    monkeypatch.setenv("DRIFT_EMULATOR_ACCOUNT_KEY", values["DRIFT_EMULATOR_ACCOUNT_KEY"])
    train = write_csv(tmp_path / "train.csv", rows(1500, seed=1))
    argv = ["drift", "baseline", "--data", str(train), "--dataset-version", "md5:3b1f"]
    assert main([*argv, "--store-uri", f"az://{container}"]) == 0
    key = f"az://{container}/drift/baselines/md5_3b1f/baseline.json"
    assert key in capsys.readouterr().out
    assert json.loads(store.read_text(key))["datasetVersion"] == "md5:3b1f"
    # A refused write (the wrong key) is one line with the status, exit 2.
    monkeypatch.setenv("DRIFT_EMULATOR_ACCOUNT_KEY", "d3Jvbmcta2V5")
    assert main([*argv, "--store-uri", f"az://{container}"]) == 2
    err = capsys.readouterr().err
    assert "could not write the baseline: HTTP Error 403" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("variables", "fragment"),
    [
        ({}, "set AZURE_STORAGE_ACCOUNT"),
        ({"AZURE_STORAGE_ACCOUNT": "stfraud"}, "AZURE_STORAGE_ACCESS_TOKEN"),
        (
            {
                "DRIFT_STORAGE_ACCOUNT_URL": "http://stfraud.example",
                "AZURE_STORAGE_ACCESS_TOKEN": "t",
            },
            "a bearer token goes to an https:// endpoint only",
        ),
    ],
)
def test_the_cli_names_what_blob_storage_needs(tmp_path, capsys, monkeypatch, variables, fragment):
    from mlops_iac.cli.main import main
    from tests.drift._data import write_csv

    for name in (
        "AZURE_STORAGE_ACCOUNT",
        "AZURE_STORAGE_ACCESS_TOKEN",
        "DRIFT_STORAGE_ACCOUNT_URL",
        "DRIFT_EMULATOR_ACCOUNT_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    train = write_csv(tmp_path / "train.csv", rows(1200, seed=1))
    argv = ["drift", "baseline", "--data", str(train), "--dataset-version", "md5:1"]
    assert main([*argv, "--store-uri", "az://dvc"]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
