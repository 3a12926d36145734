"""The drift job on Azure: an Azure Functions timer function that talks to Blob Storage, the
retraining queue and Azure Monitor custom metrics over their REST APIs (no SDK) with the
Function's user-assigned managed identity, so it needs nothing beyond the standard library."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator, Mapping
from typing import Any

from mlops_iac.drift import wire
from mlops_iac.drift.profile import DriftError
from mlops_iac.drift.readers import Source
from mlops_iac.drift.runtime import (
    JobConfig,
    LazyChunks,
    Metrics,
    read_http_text,
    run_job,
    split_uri,
)

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

        return bytes_source(uri, LazyChunks(chunks))

    def read_text(self, uri: str) -> str:
        return read_http_text(uri, lambda: self.rest.storage("GET", self._url(uri)))

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
    if retraining is not None and summary["verdict"] in ("drift", "drift-small-sample"):
        retraining.send({**summary, "endpoint": config.endpoint})
    return summary
