"""Cloud entry points of the drift job: one scheduled run = read baseline and recent capture,
compare, write the report to the artifact store, publish the drift metric.

The job is configured by environment variables that the per-cloud ``DriftJob`` component sets:

=========================  ========================================================================
``DRIFT_CAPTURE_URI``      capture prefix, e.g. ``s3://bucket/capture/<endpoint>/``
``DRIFT_BASELINE_URI``     the baseline of the deployed model's dataset version
                           (``…/drift/baselines/<datasetVersion>/baseline.json``)
``DRIFT_REPORT_URI``       report prefix, e.g. ``s3://bucket/drift/reports/<endpoint>``
``DRIFT_FORMAT``           capture format (default ``sagemaker-capture``)
``DRIFT_WINDOW_HOURS``     how far back capture objects are read (by last-modified time)
``DRIFT_ENDPOINT``         endpoint name: the metric dimension and report folder
``DRIFT_METRIC_NAMESPACE`` metric namespace (AWS) / metric type prefix (GCP)
``DRIFT_PSI`` …            thresholds: ``DRIFT_PSI``, ``DRIFT_KS``, ``DRIFT_JS``, ``DRIFT_MIN_ROWS``
=========================  ========================================================================

Metrics published per run (dimension ``Endpoint``): ``DriftedFeatures`` (count; the alarm fires
when it is >= 1), ``MaxPsi`` and ``RowsChecked``. A run with too few rows publishes
``DriftedFeatures = 0`` and says so in the report.

``aws_handler`` needs boto3, which every AWS Lambda Python runtime includes
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html), so the function's code is
this folder as it is, with nothing to build.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from mlops_iac.drift.profile import DriftError, Thresholds, compare, dumps, load_baseline
from mlops_iac.drift.readers import Source, read
from mlops_iac.drift.store import split_uri

DEFAULT_WINDOW_HOURS = 24


@dataclass(frozen=True)
class JobConfig:
    """One run's settings (from the environment, optionally overridden by the event)."""

    capture_uri: str
    baseline_uri: str
    report_uri: str
    endpoint: str
    fmt: str = "sagemaker-capture"
    window_hours: int = DEFAULT_WINDOW_HOURS
    namespace: str = "mlops/drift"
    thresholds: Thresholds = Thresholds()

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, event: Mapping[str, Any] | None = None
    ) -> JobConfig:
        env = os.environ if env is None else env
        event = event if isinstance(event, Mapping) else {}
        missing = [
            key
            for key in ("DRIFT_CAPTURE_URI", "DRIFT_BASELINE_URI", "DRIFT_REPORT_URI")
            if not env.get(key)
        ]
        if missing:
            raise DriftError(f"environment: {', '.join(missing)} not set")

        def number(key: str, default: float, kind: type = float) -> Any:
            raw = env.get(key)
            try:
                return kind(raw) if raw not in (None, "") else default
            except ValueError:
                raise DriftError(f"environment: {key} is not a number: {raw!r}") from None

        defaults = Thresholds()
        thresholds = Thresholds(
            number("DRIFT_PSI", defaults.psi),
            number("DRIFT_KS", defaults.ks),
            number("DRIFT_JS", defaults.js),
            number("DRIFT_MIN_ROWS", defaults.min_rows, int),
        ).validated("environment")
        window = event.get("windowHours", number("DRIFT_WINDOW_HOURS", DEFAULT_WINDOW_HOURS, int))
        return cls(
            capture_uri=env["DRIFT_CAPTURE_URI"],
            baseline_uri=env["DRIFT_BASELINE_URI"],
            report_uri=env["DRIFT_REPORT_URI"],
            endpoint=env.get("DRIFT_ENDPOINT", "endpoint"),
            fmt=env.get("DRIFT_FORMAT", "sagemaker-capture"),
            window_hours=int(window),
            namespace=env.get("DRIFT_METRIC_NAMESPACE", "mlops/drift"),
            thresholds=thresholds,
        )


class Storage(Protocol):
    """The object-store operations the job needs (one implementation per cloud)."""

    def list_since(self, uri: str, since: dt.datetime) -> list[str]: ...

    def source(self, uri: str) -> Source: ...

    def read_text(self, uri: str) -> str: ...

    def write_text(self, uri: str, text: str) -> None: ...


class Metrics(Protocol):
    def publish(self, config: JobConfig, report: Mapping[str, Any]) -> None: ...


def run_job(
    config: JobConfig, storage: Storage, metrics: Metrics, now: dt.datetime | None = None
) -> dict[str, Any]:
    """One drift run; returns a summary (the full report is written to the store)."""
    now = now or dt.datetime.now(dt.UTC)
    baseline = load_baseline(json.loads(storage.read_text(config.baseline_uri)), "baseline")
    since = now - dt.timedelta(hours=config.window_hours)
    objects = storage.list_since(config.capture_uri, since)
    features = list(baseline["features"])
    if objects:
        names, rows = read([storage.source(uri) for uri in objects], config.fmt, features)
    else:
        names, rows = features, iter(())
    report = compare(baseline, names, rows, config.thresholds)
    report.update(
        endpoint=config.endpoint,
        captureObjects=len(objects),
        window={
            "from": since.isoformat(timespec="seconds"),
            "to": now.isoformat(timespec="seconds"),
        },
        baselineUri=config.baseline_uri,
    )
    text = dumps(report)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    prefix = config.report_uri.rstrip("/")
    report_uri = f"{prefix}/{stamp}.json"
    storage.write_text(report_uri, text)
    storage.write_text(f"{prefix}/latest.json", text)
    metrics.publish(config, report)
    return {
        "verdict": report["verdict"],
        "drifted": report["drifted"],
        "rows": report["rows"],
        "maxPsi": report["maxPsi"],
        "report": report_uri,
    }


# ---------------------------------------------------------------------------------------------
# AWS: S3 + CloudWatch through boto3 (bundled with the Lambda runtime)


class S3Storage:
    """S3 objects under a prefix, streamed (``iter_chunks``), never loaded whole."""

    def __init__(self, client: Any = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("s3")
        self.client = client

    def list_since(self, uri: str, since: dt.datetime) -> list[str]:
        _, bucket, prefix = split_uri(uri)
        found: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix
        ):
            for item in page.get("Contents", ()):
                if item["LastModified"] >= since and not item["Key"].endswith("/"):
                    found.append(f"s3://{bucket}/{item['Key']}")
        return sorted(found)

    def source(self, uri: str) -> Source:
        from mlops_iac.drift.readers import bytes_source

        _, bucket, key = split_uri(uri)

        def chunks() -> Iterator[bytes]:
            body = self.client.get_object(Bucket=bucket, Key=key)["Body"]
            yield from body.iter_chunks(1 << 20)

        return bytes_source(uri, _Lazy(chunks))

    def read_text(self, uri: str) -> str:
        _, bucket, key = split_uri(uri)
        try:
            body = self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            raise DriftError(f"{uri}: no baseline there (run `mlops-iac drift baseline`)") from None
        return body.decode("utf-8")

    def write_text(self, uri: str, text: str) -> None:
        _, bucket, key = split_uri(uri)
        # The bucket's default SSE-KMS encrypts the object; the role may use the key.
        self.client.put_object(
            Bucket=bucket, Key=key, Body=text.encode(), ContentType="application/json"
        )


class _Lazy:
    """An iterable that calls its factory on each iteration (a source can be read twice)."""

    def __init__(self, factory: Any) -> None:
        self.factory = factory

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.factory())


class CloudWatchMetrics:
    def __init__(self, client: Any = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("cloudwatch")
        self.client = client

    def publish(self, config: JobConfig, report: Mapping[str, Any]) -> None:
        dimensions = [{"Name": "Endpoint", "Value": config.endpoint}]
        values = (
            ("DriftedFeatures", float(len(report["drifted"])), "Count"),
            ("MaxPsi", float(report["maxPsi"]), "None"),
            ("RowsChecked", float(report["rows"]), "Count"),
        )
        self.client.put_metric_data(
            Namespace=config.namespace,
            MetricData=[
                {"MetricName": name, "Dimensions": dimensions, "Value": value, "Unit": unit}
                for name, value, unit in values
            ],
        )


def aws_handler(event: Any, context: Any) -> dict[str, Any]:
    """AWS Lambda entry point (``mlops_iac/drift/handlers.aws_handler``)."""
    config = JobConfig.from_env(event=event)
    return run_job(config, S3Storage(), CloudWatchMetrics())


# ---------------------------------------------------------------------------------------------
# GCP: Cloud Storage JSON API + Cloud Monitoring API over urllib (no client library needed)

_METADATA_TOKEN = (
    "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token"
)
GCP_METRIC_PREFIX = "custom.googleapis.com/mlops/drift"


def _gcp_token() -> str | None:
    """The function's service-account token from the metadata server (None on an emulator)."""
    if os.environ.get("STORAGE_EMULATOR_HOST"):
        return None
    import urllib.request

    request = urllib.request.Request(_METADATA_TOKEN, headers={"Metadata-Flavor": "Google"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (fixed URL)
        return json.loads(response.read())["access_token"]


class _Http:
    """Tiny JSON/bytes HTTP helper with a bearer token."""

    def __init__(self, token: str | None) -> None:
        self.token = token

    def request(
        self, method: str, url: str, body: bytes | None = None, content_type: str | None = None
    ) -> Any:
        import urllib.request

        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        return urllib.request.urlopen(request, timeout=60)  # noqa: S310 (https or the emulator)


class GcsStorage:
    """Cloud Storage through its JSON API; ``STORAGE_EMULATOR_HOST`` points it at an emulator."""

    def __init__(self, http: _Http | None = None, base: str | None = None) -> None:
        self.base = (
            base or os.environ.get("STORAGE_EMULATOR_HOST") or "https://storage.googleapis.com"
        ).rstrip("/")
        self.http = http or _Http(_gcp_token())

    def list_since(self, uri: str, since: dt.datetime) -> list[str]:
        from urllib.parse import quote

        _, bucket, prefix = split_uri(uri)
        found: list[str] = []
        token = ""
        while True:
            url = f"{self.base}/storage/v1/b/{quote(bucket)}/o?prefix={quote(prefix)}"
            if token:
                url += f"&pageToken={quote(token)}"
            with self.http.request("GET", url) as response:
                page = json.loads(response.read())
            for item in page.get("items", ()):
                updated = dt.datetime.fromisoformat(item["updated"].replace("Z", "+00:00"))
                if updated >= since and not item["name"].endswith("/"):
                    found.append(f"gs://{bucket}/{item['name']}")
            token = page.get("nextPageToken", "")
            if not token:
                return sorted(found)

    def _media(self, uri: str) -> Any:
        from urllib.parse import quote

        _, bucket, key = split_uri(uri)
        return self.http.request(
            "GET", f"{self.base}/storage/v1/b/{quote(bucket)}/o/{quote(key, safe='')}?alt=media"
        )

    def source(self, uri: str) -> Source:
        from mlops_iac.drift.readers import bytes_source

        def chunks() -> Iterator[bytes]:
            with self._media(uri) as response:
                while chunk := response.read(1 << 20):
                    yield chunk

        return bytes_source(uri, _Lazy(chunks))

    def read_text(self, uri: str) -> str:
        import urllib.error

        try:
            with self._media(uri) as response:
                return response.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise DriftError(
                    f"{uri}: no baseline there (run `mlops-iac drift baseline`)"
                ) from None
            raise

    def write_text(self, uri: str, text: str) -> None:
        from urllib.parse import quote

        _, bucket, key = split_uri(uri)
        name = quote(key, safe="")
        url = f"{self.base}/upload/storage/v1/b/{quote(bucket)}/o?uploadType=media&name={name}"
        # gcp-storage-emulator parses an application/json media body as JSON; send it opaque.
        emulated = not self.base.startswith("https://")
        kind = "application/octet-stream" if emulated else "application/json"
        with self.http.request("POST", url, text.encode(), kind):
            pass


class CloudMonitoringMetrics:
    """Custom metrics ``custom.googleapis.com/mlops/drift/*`` on the ``global`` resource."""

    def __init__(self, project: str, http: _Http | None = None, base: str | None = None) -> None:
        self.project = project
        self.base = (base or "https://monitoring.googleapis.com").rstrip("/")
        self.http = http or _Http(_gcp_token())

    def publish(self, config: JobConfig, report: Mapping[str, Any]) -> None:
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        series = [
            {
                "metric": {
                    "type": f"{config.namespace}/{metric}",
                    "labels": {"endpoint": config.endpoint},
                },
                "resource": {"type": "global", "labels": {"project_id": self.project}},
                "points": [{"interval": {"endTime": now}, "value": value}],
            }
            for metric, value in (
                ("drifted_features", {"int64Value": str(len(report["drifted"]))}),
                ("max_psi", {"doubleValue": float(report["maxPsi"])}),
                ("rows_checked", {"int64Value": str(report["rows"])}),
            )
        ]
        body = json.dumps({"timeSeries": series}).encode()
        url = f"{self.base}/v3/projects/{self.project}/timeSeries"
        with self.http.request("POST", url, body, "application/json"):
            pass


def gcp_handler(request: Any = None) -> tuple[str, int]:
    """Cloud Functions (2nd gen) HTTP entry point, invoked by Cloud Scheduler."""
    project = os.environ.get("DRIFT_PROJECT") or os.environ.get("GOOGLE_CLOUD_PROJECT", "")
    event = request.get_json(silent=True) if request is not None else None
    config = JobConfig.from_env(event=event or {})
    http = _Http(_gcp_token())
    summary = run_job(
        config,
        GcsStorage(http),
        CloudMonitoringMetrics(project, http, os.environ.get("DRIFT_MONITORING_URL")),
    )
    return json.dumps(summary), 200
