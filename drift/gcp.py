"""The drift job on GCP: Cloud Storage JSON API and Cloud Monitoring API over urllib (no client
library needed), with the function's service-account token from the metadata server."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator, Mapping
from typing import Any

from mlops_iac.drift import wire
from mlops_iac.drift.readers import Source
from mlops_iac.drift.runtime import JobConfig, LazyChunks, read_http_text, run_job, split_uri

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


class Http:
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

    def __init__(self, http: Http | None = None, base: str | None = None) -> None:
        self.base = (
            base or os.environ.get("STORAGE_EMULATOR_HOST") or "https://storage.googleapis.com"
        ).rstrip("/")
        self.http = http or Http(_gcp_token())

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

        return bytes_source(uri, LazyChunks(chunks))

    def read_text(self, uri: str) -> str:
        return read_http_text(uri, lambda: self._media(uri))

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

    def __init__(self, project: str, http: Http | None = None, base: str | None = None) -> None:
        self.project = project
        self.base = (base or "https://monitoring.googleapis.com").rstrip("/")
        self.http = http or Http(_gcp_token())

    def publish(self, config: JobConfig, report: Mapping[str, Any]) -> None:
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        series = [
            {
                "metric": {
                    "type": f"{config.namespace}/{metric}",
                    "labels": {wire.GCP_METRIC_LABEL: config.endpoint},
                },
                "resource": {"type": "global", "labels": {"project_id": self.project}},
                "points": [{"interval": {"endTime": now}, "value": value}],
            }
            for metric, value in (
                (wire.GCP_METRIC_NAME, {"int64Value": str(len(report["drifted"]))}),
                (wire.GCP_MAX_PSI_NAME, {"doubleValue": float(report["maxPsi"])}),
                (wire.GCP_ROWS_NAME, {"int64Value": str(report["rows"])}),
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
    http = Http(_gcp_token())
    summary = run_job(
        config,
        GcsStorage(http),
        CloudMonitoringMetrics(project, http, os.environ.get("DRIFT_MONITORING_URL")),
    )
    return json.dumps(summary), 200
