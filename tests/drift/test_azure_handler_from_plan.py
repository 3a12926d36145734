"""The Azure drift handler run with exactly the app settings the reference plans give the Function.

The environment is the recorded ``siteConfig.appSettings`` of ``mlops-drift-function`` plus
what the App Service platform itself sets (``IDENTITY_ENDPOINT`` / ``IDENTITY_HEADER``:
https://learn.microsoft.com/en-us/azure/app-service/overview-managed-identity#rest-endpoint-reference).
Nothing is injected into the handler: it builds its own clients, and every HTTP request it makes
goes to an in-process stand-in of the Azure services that answers only for what the plan
describes (the artifact account, the retraining queue, the metric ingestion endpoint of the
Function App's region and ARM id) and refuses anything else.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import io
import json
import urllib.error
import urllib.parse
import urllib.request
from xml.sax.saxutils import escape

import pytest

from mlops_iac.drift import azure, build_baseline, dumps
from tests.conftest import reference_recording
from tests.drift._clouds import only_settings
from tests.drift._data import FEATURES, rows

IDENTITY_ENDPOINT = "http://127.0.0.1:8081/msi/token"
IDENTITY_HEADER = "platform-secret"


class _Response(io.BytesIO):
    status = 200


def _refuse(url: str, code: int, why: str) -> urllib.error.HTTPError:
    return urllib.error.HTTPError(url, code, why, {}, io.BytesIO(why.encode()))  # type: ignore[arg-type]


class PlannedAzure:
    """Blob, queue, metrics and identity endpoints as the plan lays them out, in memory."""

    def __init__(self, recording) -> None:
        account = recording.named("mlops-artifacts-account").outputs["name"]
        self.blob_host = f"{account}.blob.core.windows.net"
        self.queue_host = f"{account}.queue.core.windows.net"
        self.queue = recording.named("mlops-monitoring-retraining").outputs["name"]
        function = recording.named("mlops-drift-function")
        self.function_id = function.id
        region = function.outputs["location"].replace(" ", "").lower()
        self.metrics_host = f"{region}.monitoring.azure.com"
        self.client_id = recording.named("mlops-drift-identity").outputs["clientId"]
        self.blobs: dict[tuple[str, str], tuple[bytes, dt.datetime]] = {}
        self.messages: list[dict] = []
        self.metrics: list[dict] = []
        self.tokens: list[str] = []

    def put(self, uri: str, body: bytes) -> None:
        container, _, path = uri.removeprefix("az://").partition("/")
        self.blobs[(container, path)] = (body, dt.datetime.now(dt.UTC))

    def __call__(self, request: urllib.request.Request, timeout: float = 0) -> _Response:
        url = request.full_url
        parts = urllib.parse.urlsplit(url)
        if url.startswith(IDENTITY_ENDPOINT):
            return self._token(request, parts)
        auth = request.get_header("Authorization") or ""
        if parts.hostname == self.blob_host:
            self._expect(auth, "https://storage.azure.com/", url)
            return self._blob(request, parts)
        if parts.hostname == self.queue_host:
            self._expect(auth, "https://storage.azure.com/", url)
            if (request.get_method(), parts.path) != ("POST", f"/{self.queue}/messages"):
                raise _refuse(url, 404, "no such queue")
            self.messages.append(json.loads(_queue_text(request.data or b"")))
            return _Response(b"")
        if parts.hostname == self.metrics_host:
            self._expect(auth, "https://monitoring.azure.com/", url)
            # Metrics are accepted about the Function App only (its publisher grant's scope).
            if parts.path.lower() != f"{self.function_id}/metrics".lower():
                raise _refuse(url, 403, "not the resource the identity may publish about")
            self.metrics.append(json.loads(request.data or b"{}"))
            return _Response(b"")
        raise _refuse(url, 404, f"host {parts.hostname} is not in the plan")

    def _token(self, request: urllib.request.Request, parts) -> _Response:
        query = urllib.parse.parse_qs(parts.query)
        if request.get_header("X-identity-header") != IDENTITY_HEADER:
            raise _refuse(request.full_url, 401, "wrong identity header")
        if query.get("client_id") != [self.client_id]:
            raise _refuse(request.full_url, 400, "not the app's user-assigned identity")
        resource = query["resource"][0]
        return _Response(json.dumps({"access_token": f"token:{resource}"}).encode())

    def _expect(self, auth: str, resource: str, url: str) -> None:
        if auth != f"Bearer token:{resource}":
            raise _refuse(url, 401, f"expected a bearer token for {resource}")
        self.tokens.append(resource)

    def _blob(self, request: urllib.request.Request, parts) -> _Response:
        path = urllib.parse.unquote(parts.path).lstrip("/")
        container, _, name = path.partition("/")
        query = urllib.parse.parse_qs(parts.query)
        method = request.get_method()
        if method == "GET" and query.get("comp") == ["list"]:
            prefix = query.get("prefix", [""])[0]
            entries = "".join(
                f"<Blob><Name>{escape(blob)}</Name><Properties><Last-Modified>"
                f"{email.utils.format_datetime(when, usegmt=True)}</Last-Modified>"
                "</Properties></Blob>"
                for (holder, blob), (_, when) in sorted(self.blobs.items())
                if holder == container and blob.startswith(prefix)
            )
            xml = f"<EnumerationResults><Blobs>{entries}</Blobs><NextMarker/></EnumerationResults>"
            return _Response(xml.encode())
        if method == "GET":
            if (container, name) not in self.blobs:
                raise _refuse(request.full_url, 404, "BlobNotFound")
            return _Response(self.blobs[(container, name)][0])
        if method == "PUT":
            self.blobs[(container, name)] = (request.data or b"", dt.datetime.now(dt.UTC))
            return _Response(b"")
        raise _refuse(request.full_url, 405, method)


def _queue_text(body: bytes) -> str:
    import base64
    import xml.etree.ElementTree as ET

    return base64.b64decode(ET.fromstring(body).findtext("MessageText") or "").decode()


def _app_settings(recording) -> dict[str, str]:
    site = recording.named("mlops-drift-function").inputs["siteConfig"]
    return {item["name"]: str(item["value"]) for item in site["appSettings"]}


def _collect(azure_stub: PlannedAzure, capture_uri: str, data) -> None:
    """Data collector files of the blue deployment (one JSON line per logged batch)."""
    hour = dt.datetime.now(dt.UTC).strftime("%Y/%m/%d/%H")
    lines = [
        json.dumps(
            {
                "specversion": "1.0",
                "type": "azureml.inference.model_inputs",
                "data": [dict(zip(FEATURES, row, strict=True)) for row in data[i : i + 50]],
            }
        )
        for i in range(0, len(data), 50)
    ]
    uri = f"{capture_uri}blue/model_inputs/{hour}/instance-0.jsonl"
    azure_stub.put(uri, ("\n".join(lines) + "\n").encode())


@pytest.mark.parametrize("stack", ["azure-dev", "azure-prod"])
def test_the_handler_runs_with_the_plans_app_settings(stack, monkeypatch):
    recording = reference_recording(stack)
    settings = _app_settings(recording)
    stub = PlannedAzure(recording)
    monkeypatch.setattr(urllib.request, "urlopen", stub)
    baseline = build_baseline(FEATURES, rows(4000, seed=1), dataset_version="md5:ab")
    stub.put(settings["DRIFT_BASELINE_URI"], dumps(baseline).encode())
    _collect(stub, settings["DRIFT_CAPTURE_URI"], rows(3000, seed=3, shift="amount"))
    platform = {"IDENTITY_ENDPOINT": IDENTITY_ENDPOINT, "IDENTITY_HEADER": IDENTITY_HEADER}
    only_settings(monkeypatch, {**settings, **platform})

    summary = azure.azure_handler(None)  # reads os.environ, as the Functions worker runs it

    assert (summary["verdict"], summary["drifted"]) == ("drift", ["amount"])
    # The metric the alert watches, about the Function App, in its region.
    published = {m["data"]["baseData"]["metric"]: m["data"]["baseData"] for m in stub.metrics}
    assert set(published) == {"DriftedFeatures", "MaxPsi", "RowsChecked"}
    drifted = published["DriftedFeatures"]
    endpoint = recording.named("mlops-serving-endpoint").outputs["name"]
    assert drifted["namespace"] == "mlops/drift"
    assert drifted["series"][0]["dimValues"] == [endpoint]
    assert drifted["series"][0]["max"] == 1.0
    alert = recording.named("mlops-drift-alert").inputs
    assert alert["scopes"] == [recording.named("mlops-drift-function").id]
    # The retraining message, and the reports under the report prefix.
    (message,) = stub.messages
    assert message["endpoint"] == endpoint and message["drifted"] == ["amount"]
    report_container, _, report_prefix = settings["DRIFT_REPORT_URI"][5:].partition("/")
    written = {path for (container, path) in stub.blobs if container == report_container}
    assert f"{report_prefix}/latest.json" in written
    assert set(stub.tokens) == {"https://storage.azure.com/", "https://monitoring.azure.com/"}


def test_the_plans_metric_subject_is_the_function_app_in_its_region():
    recording = reference_recording("azure-prod")
    settings = _app_settings(recording)
    function = recording.named("mlops-drift-function")
    assert settings["DRIFT_METRIC_RESOURCE_ID"] == function.id
    assert settings["DRIFT_METRIC_REGION"] == function.outputs["location"]
    grant = recording.named("mlops-drift-metrics").inputs
    assert grant["scope"] == settings["DRIFT_METRIC_RESOURCE_ID"]
