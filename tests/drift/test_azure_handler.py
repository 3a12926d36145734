"""The Azure handler end to end against Azurite (blob side), started by the test itself.

Capture blobs are written in the Azure ML data collector layout and format
(``modelDataCollector/<endpoint>/<deployment>/model_inputs/yyyy/MM/dd/HH/<id>.jsonl``, one
CloudEvents-style JSON object per line whose ``data`` is the logged records,
https://learn.microsoft.com/en-us/azure/machine-learning/how-to-collect-production-data).
The handler is called as the Functions runtime calls the timer function; the metric goes to an
injected client (the real one posts to Azure Monitor), the retraining message to a recorder.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error

import pytest

from mlops_iac.drift import DriftError, azure, build_baseline, dumps
from mlops_iac.drift.runtime import JobConfig
from mlops_iac.plan.testing import emulators
from tests.drift._data import FEATURES, rows

ENDPOINT = "fraud-ep"
CAPTURE = "azureml-blobstore-0f1e2d3c"
DRIFT = "drift"


@pytest.fixture(scope="module")
def azurite(tmp_path_factory):
    try:
        with emulators.azurite(tmp_path_factory.mktemp("azurite")) as endpoint:
            yield endpoint
    except emulators.EmulatorError as exc:  # no npm / no registry: say so, do not fake it
        pytest.skip(str(exc))


class Recorder:
    """Stands in for AzureMonitorMetrics / AzureRetrainingQueue: records what is published."""

    def __init__(self) -> None:
        self.published: list[dict] = []
        self.sent: list[dict] = []

    def publish(self, config, report) -> None:
        self.published.append({"endpoint": config.endpoint, "ns": config.namespace, **report})

    def send(self, summary) -> None:
        self.sent.append(dict(summary))


class Timer:
    """What the Python worker passes a timer function (``azure.functions.TimerRequest``)."""

    past_due = False


@pytest.fixture
def env(azurite, tmp_path):
    account_url = f"{azurite}/{emulators.AZURITE_ACCOUNT}"
    suffix = tmp_path.name[-12:].lower().replace("_", "-").strip("-")
    values = {
        "DRIFT_STORAGE_ACCOUNT_URL": account_url,
        "DRIFT_EMULATOR_ACCOUNT_KEY": emulators.AZURITE_KEY,
        "DRIFT_CAPTURE_URI": f"az://{CAPTURE}{suffix}/modelDataCollector/{ENDPOINT}/",
        "DRIFT_BASELINE_URI": f"az://{DRIFT}{suffix}/drift/baselines/md5_ab/baseline.json",
        "DRIFT_REPORT_URI": f"az://{DRIFT}{suffix}/drift/reports/{ENDPOINT}",
        "DRIFT_ENDPOINT": ENDPOINT,
        "DRIFT_FORMAT": "azure-capture",
        "DRIFT_METRIC_NAMESPACE": azure.AZURE_METRIC_NAMESPACE,
    }
    rest = azure.AzureRest(
        shared_key=azure.SharedKey(emulators.AZURITE_ACCOUNT, emulators.AZURITE_KEY)
    )
    for container in (f"{CAPTURE}{suffix}", f"{DRIFT}{suffix}"):
        with rest.storage("PUT", f"{account_url}/{container}?restype=container"):
            pass
    store = azure.AzureBlobStorage(account_url, rest)
    baseline = build_baseline(FEATURES, rows(4000, seed=1), dataset_version="md5:ab")
    store.write_text(values["DRIFT_BASELINE_URI"], dumps(baseline))
    return values, store


def _collect(store, capture_uri, data, deployment="blue", collection="model_inputs"):
    """Data collector files: each line one logged batch of records (a DataFrame)."""
    hour = dt.datetime.now(dt.UTC).strftime("%Y/%m/%d/%H")
    for part in range(2):
        lines = []
        batch = data[part::2]
        for start in range(0, len(batch), 25):
            records = [dict(zip(FEATURES, row, strict=True)) for row in batch[start : start + 25]]
            lines.append(
                json.dumps(
                    {
                        "specversion": "1.0",
                        "id": f"{part}-{start}",
                        "source": f"/subscriptions/x/onlineEndpoints/{ENDPOINT}/deployments/blue",
                        "type": "azureml.inference.model_inputs",
                        "datacontenttype": "application/json",
                        "time": "2026-11-28T05:00:00Z",
                        "data": records,
                    }
                )
            )
        uri = f"{capture_uri}{deployment}/{collection}/{hour}/instance-{part}.jsonl"
        store.write_text(uri, "\n".join(lines) + "\n")


def test_shifted_capture_writes_the_report_and_publishes_drift(env):
    values, store = env
    _collect(store, values["DRIFT_CAPTURE_URI"], rows(3000, seed=3, shift="amount"))
    # Model outputs are collected beside the inputs: they must not be read as features.
    _collect(store, values["DRIFT_CAPTURE_URI"], rows(50, seed=9), collection="model_outputs")
    recorder = Recorder()
    summary = azure.azure_handler(Timer(), metrics=recorder, retraining=recorder, env=values)
    assert (summary["verdict"], summary["drifted"]) == ("drift", ["amount"])
    latest = json.loads(store.read_text(f"{values['DRIFT_REPORT_URI']}/latest.json"))
    assert latest["drifted"] == ["amount"] and latest["captureObjects"] == 2
    assert latest["rows"] == 3000
    stamped = store.list_since(
        values["DRIFT_REPORT_URI"] + "/", dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    )
    assert len(stamped) == 2 and summary["report"] in stamped
    (published,) = recorder.published
    assert (published["endpoint"], published["ns"]) == (ENDPOINT, "mlops/drift")
    assert len(published["drifted"]) == 1  # DriftedFeatures = 1 > 0: the alert's threshold
    (message,) = recorder.sent
    assert message["endpoint"] == ENDPOINT and message["drifted"] == ["amount"]


def test_unshifted_capture_is_quiet(env):
    values, store = env
    _collect(store, values["DRIFT_CAPTURE_URI"], rows(3000, seed=2))
    recorder = Recorder()
    summary = azure.azure_handler(Timer(), metrics=recorder, retraining=recorder, env=values)
    assert summary["verdict"] == "no-drift"
    assert [len(p["drifted"]) for p in recorder.published] == [0]
    assert recorder.sent == []


def test_no_capture_is_insufficient_data(env):
    values, _ = env
    recorder = Recorder()
    summary = azure.azure_handler(Timer(), metrics=recorder, retraining=recorder, env=values)
    assert (summary["verdict"], summary["rows"]) == ("insufficient-data", 0)
    assert recorder.sent == []


def test_a_missing_baseline_is_one_clear_error(env):
    values, _ = env
    values = {**values, "DRIFT_BASELINE_URI": values["DRIFT_BASELINE_URI"].replace("md5_ab", "x")}
    with pytest.raises(DriftError, match="no baseline there"):
        azure.azure_handler(Timer(), metrics=Recorder(), env=values)


def test_a_wrong_key_is_refused_by_the_emulator(env):
    values, _ = env
    wrong = {**values, "DRIFT_EMULATOR_ACCOUNT_KEY": "d3Jvbmc="}
    with pytest.raises(urllib.error.HTTPError) as raised:
        azure.azure_handler(Timer(), metrics=Recorder(), env=wrong)
    raised.value.close()
    assert raised.value.code == 403


def test_metric_documents_follow_the_custom_metrics_api():
    posts = []
    metrics = azure.AzureMonitorMetrics(
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/fn",
        "westeurope",
        token=lambda resource: f"token-for-{resource}",
        post=lambda url, body, headers: posts.append((url, json.loads(body), headers)),
    )
    config = JobConfig("az://c/", "az://d/b.json", "az://d/r", ENDPOINT)
    metrics.publish(config, {"drifted": ["amount"], "maxPsi": 0.4, "rows": 3000})
    assert [p[0] for p in posts] == [
        "https://westeurope.monitoring.azure.com/subscriptions/s/resourceGroups/rg/providers/"
        "Microsoft.Web/sites/fn/metrics"
    ] * 3
    assert {p[2]["Authorization"] for p in posts} == {
        "Bearer token-for-https://monitoring.azure.com/"
    }
    first = posts[0][1]["data"]["baseData"]
    assert (first["metric"], first["namespace"], first["dimNames"]) == (
        "DriftedFeatures",
        "mlops/drift",
        ["Endpoint"],
    )
    assert first["series"] == [
        {"dimValues": [ENDPOINT], "min": 1.0, "max": 1.0, "sum": 1.0, "count": 1}
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
    token = azure.AzureToken(
        {"IDENTITY_ENDPOINT": "http://127.0.0.1:1/msi/token", "IDENTITY_HEADER": "h",
         "AZURE_CLIENT_ID": "cid"}
    )  # fmt: skip
    assert token("https://storage.azure.com/") == "t0k"
    assert token("https://storage.azure.com/") == "t0k"  # cached: one request
    ((url, headers),) = seen
    assert url.startswith("http://127.0.0.1:1/msi/token?resource=https%3A%2F%2Fstorage.azure.com")
    assert "api-version=2019-08-01" in url and "client_id=cid" in url
    assert headers == {"X-identity-header": "h"}


def test_the_cli_writes_the_baseline_to_blob_storage(env, tmp_path, capsys, monkeypatch):
    from mlops_iac.cli.main import main
    from tests.drift._data import write_csv

    values, store = env
    container = values["DRIFT_BASELINE_URI"].split("/")[2]
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
