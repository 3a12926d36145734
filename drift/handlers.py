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

``azure_handler`` (an Azure Functions timer function) talks to Blob Storage, the retraining
queue and Azure Monitor custom metrics over their REST APIs with the Function's managed identity,
so it needs nothing beyond the standard library either.

``aws_handler`` needs boto3, which every AWS Lambda Python runtime includes
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html), so the function's code is
this folder as it is, with nothing to build.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from mlops_iac.drift import wire
from mlops_iac.drift.profile import (
    MAX_BASELINE_BYTES,
    Columns,
    Comparison,
    DriftError,
    Thresholds,
    dumps,
    parse_baseline,
    printable,
    read_limited,
)
from mlops_iac.drift.readers import Source, read
from mlops_iac.drift.store import split_uri

DEFAULT_WINDOW_HOURS = 24
MAX_WINDOW_HOURS = 24 * 31
"""The longest window (the stack file's ``windowHours`` limit)."""


@dataclass(frozen=True)
class JobConfig:
    """One run's settings (from the environment, optionally overridden by the event)."""

    capture_uri: str
    baseline_uri: str
    report_uri: str
    endpoint: str
    fmt: str = "sagemaker-capture"
    window_hours: int = DEFAULT_WINDOW_HOURS
    namespace: str = wire.NAMESPACE
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
            except (TypeError, ValueError):
                raise DriftError(
                    f"environment: {key} is not {'an integer' if kind is int else 'a number'}: "
                    f"{printable(repr(raw), 40)}"
                ) from None

        defaults = Thresholds()
        thresholds = Thresholds(
            number("DRIFT_PSI", defaults.psi),
            number("DRIFT_KS", defaults.ks),
            number("DRIFT_JS", defaults.js),
            number("DRIFT_MIN_ROWS", defaults.min_rows, int),
        ).validated("environment")
        window = number("DRIFT_WINDOW_HOURS", DEFAULT_WINDOW_HOURS, int)
        where = "environment: DRIFT_WINDOW_HOURS"
        if "windowHours" in event:
            window, where = event["windowHours"], "event: windowHours"
        # A window of 0 or less (or in the future) reads no capture and would say "no verdict"
        # forever: drift switched off. Refused like a bad threshold.
        if (
            isinstance(window, bool)
            or not isinstance(window, int)
            or not 1 <= window <= MAX_WINDOW_HOURS
        ):
            raise DriftError(
                f"{where}: must be an integer >= 1 and <= {MAX_WINDOW_HOURS}, "
                f"got {printable(repr(window), 40)}"
            )
        fmt = env.get("DRIFT_FORMAT", "sagemaker-capture")
        from mlops_iac.drift.readers import FORMATS

        if fmt not in FORMATS:
            raise DriftError(
                f"environment: DRIFT_FORMAT must be one of {', '.join(FORMATS)}, "
                f"got {printable(repr(fmt), 40)}"
            )
        return cls(
            capture_uri=env["DRIFT_CAPTURE_URI"],
            baseline_uri=env["DRIFT_BASELINE_URI"],
            report_uri=env["DRIFT_REPORT_URI"],
            endpoint=env.get("DRIFT_ENDPOINT", "endpoint"),
            fmt=fmt,
            window_hours=window,
            namespace=env.get("DRIFT_METRIC_NAMESPACE", wire.NAMESPACE),
            thresholds=thresholds,
        )


def job_environment(
    *,
    capture_uri: Any,
    baseline_uri: Any,
    report_uri: Any,
    endpoint: Any,
    fmt: str,
    window_hours: int,
    namespace: str,
    thresholds: Thresholds,
) -> dict[str, Any]:
    """The settings ``JobConfig.from_env`` reads, for a deployment to give the job: the one place
    that writes what it reads. The URIs and endpoint may be a deployment tool's placeholders
    (passed through); numbers are written as text."""
    return {
        "DRIFT_CAPTURE_URI": capture_uri,
        "DRIFT_BASELINE_URI": baseline_uri,
        "DRIFT_REPORT_URI": report_uri,
        "DRIFT_ENDPOINT": endpoint,
        "DRIFT_FORMAT": fmt,
        "DRIFT_WINDOW_HOURS": str(window_hours),
        "DRIFT_METRIC_NAMESPACE": namespace,
        "DRIFT_PSI": str(thresholds.psi),
        "DRIFT_KS": str(thresholds.ks),
        "DRIFT_JS": str(thresholds.js),
        "DRIFT_MIN_ROWS": str(thresholds.min_rows),
    }


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
    thresholds = config.thresholds.validated("environment")
    text = storage.read_text(config.baseline_uri)
    baseline = parse_baseline(text.encode("utf-8"), printable(config.baseline_uri))
    since = now - dt.timedelta(hours=config.window_hours)
    objects = storage.list_since(config.capture_uri, since)
    features = list(baseline["features"])
    columns = Columns(features)
    comparison = Comparison(baseline, features)
    if objects:  # the same readers, bounds and checks as `mlops-iac drift check`
        names, rows = read([storage.source(uri) for uri in objects], config.fmt, features, columns)
        comparison.add(rows)
    report = comparison.report(thresholds, columns if objects else None)
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
            body = read_limited(self.client.get_object(Bucket=bucket, Key=key)["Body"].read)
        except self.client.exceptions.NoSuchKey:
            raise _no_baseline(uri) from None
        return _text(uri, body)

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
            (wire.METRIC, float(len(report["drifted"])), "Count"),
            (wire.MAX_PSI_METRIC, float(report["maxPsi"]), "None"),
            (wire.ROWS_METRIC, float(report["rows"]), "Count"),
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
GCP_METRIC_PREFIX = wire.GCP_METRIC_PREFIX


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
        return _read_http_text(uri, lambda: self._media(uri))

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
                (wire.GCP_METRIC_NAME, {"int64Value": str(len(report["drifted"]))}),
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


# ---------------------------------------------------------------------------------------------
# Azure: Blob Storage, Azure Monitor custom metrics and the retraining queue over their REST APIs
# (no SDK), with the Function's user-assigned managed identity.

AZURE_METRIC_NAMESPACE = wire.NAMESPACE
_STORAGE_VERSION = "2021-12-02"
_STORAGE_RESOURCE = "https://storage.azure.com/"
_MONITOR_RESOURCE = "https://monitoring.azure.com/"


class AzureToken:
    """Bearer tokens of the Function's managed identity from the App Service identity endpoint
    (``IDENTITY_ENDPOINT`` / ``IDENTITY_HEADER``, set by the platform; ``AZURE_CLIENT_ID`` picks
    the user-assigned identity): https://learn.microsoft.com/en-us/azure/app-service/overview-managed-identity
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env = os.environ if env is None else env
        self._cache: dict[str, str] = {}

    def __call__(self, resource: str) -> str:
        if resource not in self._cache:
            import urllib.parse
            import urllib.request

            endpoint, secret = self.env.get("IDENTITY_ENDPOINT"), self.env.get("IDENTITY_HEADER")
            if not endpoint or not secret:
                raise DriftError("environment: IDENTITY_ENDPOINT/IDENTITY_HEADER not set")
            query = {"resource": resource, "api-version": "2019-08-01"}
            if self.env.get("AZURE_CLIENT_ID"):
                query["client_id"] = self.env["AZURE_CLIENT_ID"]
            request = urllib.request.Request(
                f"{endpoint}?{urllib.parse.urlencode(query)}",
                headers={"X-IDENTITY-HEADER": secret},
            )
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                self._cache[resource] = json.loads(response.read())["access_token"]
        return self._cache[resource]


class SharedKey:
    """Shared Key signing, for the storage emulator (Azurite) only: the artifact account keeps
    shared keys off. https://learn.microsoft.com/en-us/rest/api/storageservices/authorize-with-shared-key
    """

    def __init__(self, account: str, key: str) -> None:
        self.account, self.key = account, key

    def headers(self, method: str, url: str, headers: Mapping[str, str], length: int) -> str:
        import base64
        import hashlib
        import hmac
        import urllib.parse

        parts = urllib.parse.urlsplit(url)
        lower = {k.lower(): v for k, v in headers.items()}
        canonical_headers = "".join(
            f"{k}:{lower[k].strip()}\n" for k in sorted(lower) if k.startswith("x-ms-")
        )
        resource = f"/{self.account}{parts.path}"
        query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        for name in sorted(query, key=str.lower):
            resource += f"\n{name.lower()}:{','.join(sorted(query[name]))}"
        fields = [
            method,
            lower.get("content-encoding", ""),
            lower.get("content-language", ""),
            str(length) if length else "",
            lower.get("content-md5", ""),
            lower.get("content-type", ""),
            "",  # Date: x-ms-date is sent instead
            *(lower.get(h, "") for h in ("if-modified-since", "if-match", "if-none-match")),
            lower.get("if-unmodified-since", ""),
            lower.get("range", ""),
        ]
        text = "\n".join(fields) + "\n" + canonical_headers + resource
        digest = hmac.new(base64.b64decode(self.key), text.encode(), hashlib.sha256).digest()
        return f"SharedKey {self.account}:{base64.b64encode(digest).decode()}"


class AzureRest:
    """Authorised requests to Azure Storage (bearer token, or Shared Key against Azurite)."""

    def __init__(self, token: Any = None, shared_key: SharedKey | None = None) -> None:
        self.token = token if token is not None or shared_key is not None else AzureToken()
        self.shared_key = shared_key

    def storage(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        import email.utils
        import urllib.request

        all_headers = {
            "x-ms-version": _STORAGE_VERSION,
            "x-ms-date": email.utils.formatdate(usegmt=True),
            **(headers or {}),
        }
        if self.shared_key is not None:
            all_headers["Authorization"] = self.shared_key.headers(
                method, url, all_headers, len(body or b"")
            )
        else:
            all_headers["Authorization"] = f"Bearer {self.token(_STORAGE_RESOURCE)}"
        request = urllib.request.Request(url, data=body, method=method, headers=all_headers)
        return urllib.request.urlopen(request, timeout=60)  # noqa: S310 (https or the emulator)


class AzureBlobStorage:
    """Blobs of one storage account as ``az://<container>/<path>`` URIs (Blob REST API)."""

    def __init__(self, account_url: str, rest: AzureRest, include: str = "") -> None:
        self.account_url = account_url.rstrip("/")
        self.rest = rest
        self.include = include
        """Only capture blobs whose path holds this (the data collector's collection folder)."""

    def _url(self, uri: str) -> str:
        from urllib.parse import quote

        _, container, path = split_uri(uri)
        return f"{self.account_url}/{quote(container)}/{quote(path)}"

    def list_since(self, uri: str, since: dt.datetime) -> list[str]:
        import email.utils
        import xml.etree.ElementTree as ET
        from urllib.parse import quote

        _, container, prefix = split_uri(uri)
        found: list[str] = []
        marker = ""
        while True:
            url = (
                f"{self.account_url}/{quote(container)}?restype=container&comp=list"
                f"&prefix={quote(prefix, safe='')}"
            )
            if marker:
                url += f"&marker={quote(marker, safe='')}"
            with self.rest.storage("GET", url) as response:
                page = ET.fromstring(response.read())
            for blob in page.iter("Blob"):
                name = blob.findtext("Name") or ""
                modified = email.utils.parsedate_to_datetime(
                    blob.findtext("Properties/Last-Modified") or ""
                )
                if modified >= since and not name.endswith("/") and self.include in name:
                    found.append(f"az://{container}/{name}")
            marker = page.findtext("NextMarker") or ""
            if not marker:
                return sorted(found)

    def source(self, uri: str) -> Source:
        from mlops_iac.drift.readers import bytes_source

        def chunks() -> Iterator[bytes]:
            with self.rest.storage("GET", self._url(uri)) as response:
                while chunk := response.read(1 << 20):
                    yield chunk

        return bytes_source(uri, _Lazy(chunks))

    def read_text(self, uri: str) -> str:
        return _read_http_text(uri, lambda: self.rest.storage("GET", self._url(uri)))

    def write_text(self, uri: str, text: str) -> None:
        headers = {"x-ms-blob-type": "BlockBlob", "Content-Type": "application/json"}
        with self.rest.storage("PUT", self._url(uri), text.encode(), headers):
            pass


class AzureMonitorMetrics:
    """Custom metrics through the Azure Monitor ingestion API, about one Azure resource (the
    drift Function App): ``POST https://<region>.monitoring.azure.com/<resource id>/metrics``,
    one request per metric, dimension ``Endpoint``. The identity needs Monitoring Metrics
    Publisher on that resource.
    https://learn.microsoft.com/en-us/azure/azure-monitor/essentials/metrics-store-custom-rest-api
    """

    def __init__(self, resource_id: str, region: str, token: Any = None, post: Any = None) -> None:
        self.resource_id = resource_id
        self.url = f"https://{region}.monitoring.azure.com{resource_id}/metrics"
        self.token = token or AzureToken()
        self.post = post or self._post

    def _post(self, url: str, body: bytes, headers: Mapping[str, str]) -> None:
        import urllib.request

        request = urllib.request.Request(url, data=body, method="POST", headers=dict(headers))
        with urllib.request.urlopen(request, timeout=30):  # noqa: S310 (fixed https host)
            pass

    def documents(self, config: JobConfig, report: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The metric documents of one run (what ``publish`` posts)."""
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        values = (
            (wire.METRIC, float(len(report["drifted"]))),
            (wire.MAX_PSI_METRIC, float(report["maxPsi"])),
            (wire.ROWS_METRIC, float(report["rows"])),
        )
        return [
            {
                "time": now,
                "data": {
                    "baseData": {
                        "metric": metric,
                        "namespace": config.namespace,
                        "dimNames": ["Endpoint"],
                        "series": [
                            {
                                "dimValues": [config.endpoint],
                                "min": value,
                                "max": value,
                                "sum": value,
                                "count": 1,
                            }
                        ],
                    }
                },
            }
            for metric, value in values
        ]

    def publish(self, config: JobConfig, report: Mapping[str, Any]) -> None:
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {self.token(_MONITOR_RESOURCE)}",
        }
        for document in self.documents(config, report):
            self.post(self.url, json.dumps(document).encode(), headers)


class AzureRetrainingQueue:
    """The platform's retraining trigger (a storage queue): one message per drift verdict
    (Queue REST ``Put Message``; the identity needs Storage Queue Data Message Sender on it)."""

    def __init__(self, queue_url: str, rest: AzureRest) -> None:
        self.queue_url = queue_url.rstrip("/")
        self.rest = rest

    def send(self, summary: Mapping[str, Any]) -> None:
        import base64
        from xml.sax.saxutils import escape

        text = base64.b64encode(json.dumps(dict(summary)).encode()).decode()
        body = f"<QueueMessage><MessageText>{escape(text)}</MessageText></QueueMessage>".encode()
        headers = {"Content-Type": "application/xml"}
        with self.rest.storage("POST", f"{self.queue_url}/messages", body, headers):
            pass


def azure_handler(
    timer: Any = None,
    *,
    metrics: Metrics | None = None,
    retraining: AzureRetrainingQueue | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Azure Functions timer entry point (``drift_timer/__init__.py`` calls it with the timer).

    Environment (set by ``DriftJob``): the common ``DRIFT_*`` settings plus
    ``DRIFT_STORAGE_ACCOUNT_URL`` (blob endpoint of the artifact account),
    ``DRIFT_CAPTURE_COLLECTION`` (default ``model_inputs``), ``DRIFT_METRIC_RESOURCE_ID`` and
    ``DRIFT_METRIC_REGION`` (the metric's subject), ``DRIFT_RETRAINING_QUEUE_URL`` (optional).
    ``DRIFT_EMULATOR_ACCOUNT_KEY`` (with the account name last in the URL) signs storage
    requests with Shared Key, for Azurite only. ``metrics`` / ``retraining`` replace the clients.
    """
    env = os.environ if env is None else env
    config = JobConfig.from_env(env)
    account_url = env.get("DRIFT_STORAGE_ACCOUNT_URL")
    if not account_url:
        raise DriftError("environment: DRIFT_STORAGE_ACCOUNT_URL not set")
    emulator_key = env.get("DRIFT_EMULATOR_ACCOUNT_KEY")
    shared = (
        SharedKey(account_url.rstrip("/").rsplit("/", 1)[-1], emulator_key)
        if emulator_key
        else None
    )
    rest = AzureRest(shared_key=shared) if shared else AzureRest(AzureToken(env))
    collection = env.get("DRIFT_CAPTURE_COLLECTION", "model_inputs")
    storage = AzureBlobStorage(account_url, rest, include=f"/{collection}/" if collection else "")
    if metrics is None:
        resource, region = env.get("DRIFT_METRIC_RESOURCE_ID"), env.get("DRIFT_METRIC_REGION")
        if not resource or not region:
            raise DriftError("environment: DRIFT_METRIC_RESOURCE_ID/DRIFT_METRIC_REGION not set")
        metrics = AzureMonitorMetrics(resource, region, AzureToken(env))
    summary = run_job(config, storage, metrics)
    queue_url = env.get("DRIFT_RETRAINING_QUEUE_URL")
    if retraining is None and queue_url:
        retraining = AzureRetrainingQueue(queue_url, rest)
    if retraining is not None and summary["verdict"] == "drift":
        retraining.send({**summary, "endpoint": config.endpoint})
    return summary


def _text(uri: str, body: bytes) -> str:
    """A baseline object's text: at most ``MAX_BASELINE_BYTES``, UTF-8 (one line if not)."""
    if len(body) > MAX_BASELINE_BYTES:
        raise DriftError(
            f"{printable(uri)}: larger than {MAX_BASELINE_BYTES} bytes, not a baseline"
        )
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DriftError(f"{printable(uri)}: not UTF-8 text") from None


def _no_baseline(uri: str) -> DriftError:
    return DriftError(f"{uri}: no baseline there (run `mlops-iac drift baseline`)")


def _read_http_text(uri: str, request: Callable[[], Any]) -> str:
    """The body of ``request()`` as text; a 404 is a missing baseline, said in one line."""
    import urllib.error

    try:
        with request() as response:
            return _text(uri, read_limited(response.read))
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 404:
            raise _no_baseline(uri) from None
        raise
