"""One run of the real drift handler of each cloud, with the plan's recorded settings only.

The handler is called as its platform calls it and builds its own clients. What it talks to is
the emulators the drift tests use (``tests/drift/_clouds.py``): moto for S3 and CloudWatch
(AWS), and the in-process Blob, Queue, Azure Monitor, Cloud Storage, Cloud Monitoring and
identity endpoints of ``FakeCloud`` behind ``urllib.request.urlopen`` (Azure, GCP). Its
environment is the recorded settings of the drift function plus what the platform itself sets
(``LAMBDA_PLATFORM``, ``APP_SERVICE_PLATFORM``), nothing else: a setting the plan does not carry
makes the run fail here as it would in the cloud. What it published is read back from what
the emulators received.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import pytest

from mlops_iac.drift import build_baseline, calls, dumps
from mlops_iac.drift.runtime import split_uri
from mlops_iac.plan.testing import Recording
from tests.drift._clouds import (
    APP_SERVICE_PLATFORM,
    LAMBDA_PLATFORM,
    FakeCloud,
    RecordingEnviron,
    only_settings,
)
from tests.drift._data import FEATURES, capture_lines, rows


@dataclass
class Run:
    """What one run left behind: published metric payloads, output lines, the error if any,
    the settings the plan gave it and the names it read from its environment."""

    published: list[Any] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    error: str | None = None
    settings: dict[str, str] = field(default_factory=dict)
    read: set[str] = field(default_factory=set)
    manifest: calls.Manifest | None = None


def _data(shifted: bool) -> tuple[bytes, list[list[Any]]]:
    baseline = build_baseline(FEATURES, rows(3000, seed=1), dataset_version="md5:ab")
    return dumps(baseline).encode(), rows(2000, seed=2, shift="amount" if shifted else None)


def _hour() -> str:
    # The hour folder the clouds write capture into (moto and FakeCloud stamp objects now).
    return dt.datetime.now(dt.UTC).strftime("%Y/%m/%d/%H")


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


def _environment(
    monkeypatch: pytest.MonkeyPatch, run: Run, platform: dict[str, str]
) -> RecordingEnviron:
    return only_settings(monkeypatch, {**run.settings, **platform})


class _LambdaContext:
    function_name = LAMBDA_PLATFORM["AWS_LAMBDA_FUNCTION_NAME"]
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def aws_run(
    rec: Recording, monkeypatch: pytest.MonkeyPatch, shifted: bool, baseline: bool = True
) -> Run:
    """The Lambda handler on moto; ``baseline=False``: the baseline object is gone."""
    import boto3
    from moto import mock_aws

    from mlops_iac.drift import aws

    function = rec.named("mlops-drift-function", "aws:lambda/function:Function")
    run = Run(settings=dict(function.inputs["environment"]["variables"]))
    environ = _environment(monkeypatch, run, LAMBDA_PLATFORM)
    body, served = _data(shifted)
    with mock_aws():
        region = LAMBDA_PLATFORM["AWS_REGION"]
        s3 = boto3.session.Session(region_name=region).client("s3")
        _, bucket, capture = split_uri(run.settings["DRIFT_CAPTURE_URI"])
        s3.create_bucket(Bucket=bucket)
        if baseline:
            _, baseline_bucket, key = split_uri(run.settings["DRIFT_BASELINE_URI"])
            s3.put_object(Bucket=baseline_bucket, Key=key, Body=body)
        s3.put_object(
            Bucket=bucket,
            Key=f"{capture}AllTraffic/{_hour()}/capture.jsonl",
            Body=capture_lines(served, per_request=10).encode(),
        )
        boto3.setup_default_session()
        assert boto3.DEFAULT_SESSION is not None

        def published(params: dict[str, Any], model: Any, **_: Any) -> None:
            # What the handler's own CloudWatch client sends (observed, not replaced).
            if model.name == "PutMetricData":
                run.published.append(dict(params))

        boto3.DEFAULT_SESSION.events.register("before-parameter-build", published)
        try:
            _capture_output(run, lambda: aws.aws_handler({}, _LambdaContext()))
        finally:
            boto3.DEFAULT_SESSION = None
    run.read = set(environ.read)
    run.manifest = calls.aws_drift(run.settings)
    return run


def gcp_function(rec: Recording) -> Any:
    # The drift job's function (the stack also has the rollout function).
    return rec.named("mlops-drift-function", "gcp:cloudfunctionsv2/function:Function")


def gcp_run(
    rec: Recording, monkeypatch: pytest.MonkeyPatch, shifted: bool, baseline: bool = True
) -> Run:
    """The Cloud Function's HTTP entry point against an in-process Cloud Storage, Cloud
    Monitoring and metadata server; ``baseline=False``: the baseline object is gone."""
    from mlops_iac.drift import gcp

    run = Run(settings=dict(gcp_function(rec).inputs["serviceConfig"]["environmentVariables"]))
    # Cloud Run functions set no platform variable the handler reads.
    environ = _environment(monkeypatch, run, {})
    cloud = FakeCloud()
    monkeypatch.setattr(urllib.request, "urlopen", cloud.urlopen)
    body, served = _data(shifted)
    if baseline:
        _, bucket, key = split_uri(run.settings["DRIFT_BASELINE_URI"])
        cloud.put(bucket, key, body)
    _, bucket, capture = split_uri(run.settings["DRIFT_CAPTURE_URI"])
    lines = "".join(json.dumps(dict(zip(FEATURES, r, strict=True))) + "\n" for r in served)
    cloud.put(bucket, f"{capture}{_hour()}/part-0.jsonl", lines.encode())
    # The handler's return value is the HTTP response body, not a log line.
    _capture_output(run, lambda: gcp.gcp_handler(None))
    run.published = [json.loads(b) for u, b in cloud.posts if "monitoring.googleapis.com" in u]
    run.read = set(environ.read)
    run.manifest = calls.gcp_drift(run.settings)
    return run


class _Timer:
    """What the Python worker passes a timer function (``azure.functions.TimerRequest``)."""

    past_due = False


def azure_run(
    rec: Recording, monkeypatch: pytest.MonkeyPatch, shifted: bool, baseline: bool = True
) -> Run:
    """The Function's timer entry point against an in-process Blob, Queue, Azure Monitor and
    App Service identity endpoint; ``published`` is (ingestion URL, metric document);
    ``baseline=False``: the baseline blob is gone."""
    from mlops_iac.drift import azure

    settings = rec.named("mlops-drift-function").inputs["siteConfig"]["appSettings"]
    run = Run(settings={s["name"]: str(s["value"]) for s in settings})
    environ = _environment(monkeypatch, run, APP_SERVICE_PLATFORM)
    cloud = FakeCloud()
    monkeypatch.setattr(urllib.request, "urlopen", cloud.urlopen)
    account = run.settings["DRIFT_STORAGE_ACCOUNT_URL"].split("//", 1)[1].split(".", 1)[0]
    body, served = _data(shifted)
    if baseline:
        _, container, key = split_uri(run.settings["DRIFT_BASELINE_URI"])
        cloud.put(f"{account}/{container}", key, body)
    _, container, capture = split_uri(run.settings["DRIFT_CAPTURE_URI"])
    # The data collector's files: one CloudEvents-style line per logged batch.
    # https://learn.microsoft.com/en-us/azure/machine-learning/how-to-collect-production-data
    lines = [
        json.dumps(
            {
                "specversion": "1.0",
                "id": str(start),
                "type": "azureml.inference.model_inputs",
                "datacontenttype": "application/json",
                "time": "2026-11-28T05:00:00Z",
                "data": [dict(zip(FEATURES, r, strict=True)) for r in served[start : start + 25]],
            }
        )
        for start in range(0, len(served), 25)
    ]
    name = f"{capture}blue/model_inputs/{_hour()}/instance-0.jsonl"
    cloud.put(f"{account}/{container}", name, ("\n".join(lines) + "\n").encode())
    _capture_output(run, lambda: azure.azure_handler(_Timer()))
    run.published = [(u, json.loads(b)) for u, b in cloud.posts if ".monitoring.azure.com" in u]
    run.read = set(environ.read)
    run.manifest = calls.azure_drift(run.settings)
    return run
