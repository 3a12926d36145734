"""One run of the real drift handler of each cloud, with the plan's recorded settings.

Only what touches the network is replaced: object storage by an in-memory store holding the
baseline and the served capture, and the metric client's transport by a recorder. The handler
reads its settings from the recorded environment exactly as deployed, so a setting the plan
does not carry makes the run fail here as it would in the cloud.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import pytest

from mlops_iac.drift import build_baseline, dumps, runtime
from mlops_iac.drift.aws import CloudWatchMetrics
from mlops_iac.drift.readers import bytes_source
from mlops_iac.plan.testing import Recording
from tests.drift._data import FEATURES, capture_lines, rows


@dataclass
class Run:
    """What one run left behind: published metric payloads, output lines, the error if any."""

    published: list[Any] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    error: str | None = None


class MemoryStore:
    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects

    def list_since(self, uri: str, since: Any) -> list[str]:
        return sorted(k for k in self.objects if k.startswith(uri))

    def source(self, uri: str) -> Any:
        return bytes_source(uri, [self.objects[uri]])

    def read_text(self, uri: str) -> str:
        if uri not in self.objects:  # what the clouds' storage clients raise for a 404
            raise runtime.no_baseline(uri)
        return runtime.baseline_text(uri, self.objects[uri])

    def write_text(self, uri: str, text: str) -> None:
        self.objects[uri] = text.encode()


def _objects(env: dict[str, str], shifted: bool) -> dict[str, bytes]:
    """Baseline + capture in the layout and format the recorded settings name."""
    baseline = build_baseline(FEATURES, rows(3000, seed=1), dataset_version="md5:ab")
    served = rows(2000, seed=2, shift="amount" if shifted else None)
    capture = env["DRIFT_CAPTURE_URI"]
    # The hour folder the clouds write capture into: the last complete hour.
    hour = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).strftime("%Y/%m/%d/%H")
    fmt = env.get("DRIFT_FORMAT", "sagemaker-capture")
    if fmt == "sagemaker-capture":
        body = capture_lines(served, per_request=10)
        key = f"{capture}AllTraffic/{hour}/capture.jsonl"
    elif fmt == "jsonl":
        body = "".join(json.dumps(dict(zip(FEATURES, r, strict=True))) + "\n" for r in served)
        key = f"{capture}{hour}/part-0.jsonl"
    elif fmt == "azure-capture":
        lines = [
            json.dumps(
                {
                    "specversion": "1.0",
                    "id": str(start),
                    "type": "azureml.inference.model_inputs",
                    "datacontenttype": "application/json",
                    "time": "2026-11-28T05:00:00Z",
                    "data": [
                        dict(zip(FEATURES, r, strict=True)) for r in served[start : start + 25]
                    ],
                }
            )
            for start in range(0, len(served), 25)
        ]
        body = "\n".join(lines) + "\n"
        key = f"{capture}blue/model_inputs/{hour}/instance-0.jsonl"
    else:
        raise AssertionError(f"no capture writer for DRIFT_FORMAT {fmt}")
    return {env["DRIFT_BASELINE_URI"]: dumps(baseline).encode(), key: body.encode()}


def _capture_output(run: Run, call: Any) -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            try:
                call()
            except Exception as exc:  # the cloud would log it and count a failed run
                run.error = f"{type(exc).__name__}: {exc}"
                print(json.dumps({"severity": "ERROR", "message": run.error}))
    finally:
        root.removeHandler(handler)
    run.lines = [line for line in out.getvalue().splitlines() if line.strip()]


def aws_run(rec: Recording, monkeypatch: pytest.MonkeyPatch, shifted: bool) -> Run:
    from mlops_iac.drift import aws

    env = dict(rec.named("mlops-drift-function").inputs["environment"]["variables"])
    run = Run()
    store = MemoryStore(_objects(env, shifted))

    class Client:
        def put_metric_data(self, **kwargs: Any) -> None:
            run.published.append(kwargs)

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(aws, "S3Storage", lambda: store)
    monkeypatch.setattr(aws, "CloudWatchMetrics", lambda: CloudWatchMetrics(client=Client()))
    _capture_output(run, lambda: aws.aws_handler({}, None))
    return run


def gcp_function(rec: Recording) -> Any:
    # The drift job's function (the stack also has the rollout function).
    return rec.named("mlops-drift-function", "gcp:cloudfunctionsv2/function:Function")


def gcp_run(rec: Recording, monkeypatch: pytest.MonkeyPatch, shifted: bool) -> Run:
    from mlops_iac.drift import gcp

    env = dict(gcp_function(rec).inputs["serviceConfig"]["environmentVariables"])
    run = Run()
    store = MemoryStore(_objects(env, shifted))

    def request(self: Any, method: str, url: str, body: Any = None, kind: Any = None) -> Any:
        run.published.append(json.loads(body))
        return contextlib.nullcontext()

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(gcp, "_gcp_token", lambda: "token")
    monkeypatch.setattr(gcp, "GcsStorage", lambda http=None, base=None: store)
    monkeypatch.setattr(gcp.Http, "request", request)
    # The handler's return value is the HTTP response body, not a log line.
    _capture_output(run, lambda: gcp.gcp_handler(None))
    return run


def azure_run(rec: Recording, monkeypatch: pytest.MonkeyPatch, shifted: bool) -> Run:
    from mlops_iac.drift import azure

    settings = rec.named("mlops-drift-function").inputs["siteConfig"]["appSettings"]
    env = {s["name"]: s["value"] for s in settings}
    run = Run()
    store = MemoryStore(_objects(env, shifted))

    def post(self: Any, url: str, body: bytes, headers: Any) -> None:
        run.published.append((url, json.loads(body)))

    monkeypatch.setattr(azure, "AzureBlobStorage", lambda *a, **k: store)
    monkeypatch.setattr(azure.AzureMonitorMetrics, "_post", post)
    monkeypatch.setattr(azure, "AzureToken", lambda *a, **k: lambda resource: "token")
    # The retraining queue is another loop's signal; its client is not under test here.
    _capture_output(
        run,
        lambda: azure.azure_handler(
            env={k: v for k, v in env.items() if k != "DRIFT_RETRAINING_QUEUE_URL"}
        ),
    )
    return run
