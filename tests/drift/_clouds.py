"""What the drift job talks to, in this process, recording every request as the authorised call
it is (``mlops_iac.drift.calls.Call``), and the handlers' settings taken from a reference plan.

- AWS: moto, with a botocore hook that turns each API operation into its IAM action
  (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html).
- Azure and GCP: a fake ``urllib.request.urlopen`` that serves Blob Storage, Queue Storage,
  Azure Monitor ingestion, the App Service identity endpoint, the Cloud Storage JSON API, Cloud
  Monitoring and the GCE metadata server from a dict of objects, as the real APIs answer the
  requests the job makes; ``serve_gcs`` serves its Cloud Storage on a loopback port for SDKs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import email.message
import email.utils
import http.server
import io
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any
from xml.sax.saxutils import escape

from mlops_iac.drift.calls import LIST_BLOBS, Call
from tests.conftest import reference_recording

_BLOB = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"

DRIFT_PREFIXES = ("DRIFT_", "AZURE_", "IDENTITY_", "GOOGLE_", "STORAGE_EMULATOR", "AWS_", "GCLOUD")
"""Environment variables any handler (or an SDK it uses) could read: cleared before a run, so
the handler sees the plan's settings and the platform's documented variables only."""


# What Lambda sets in every function's environment (fake credentials here):
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
LAMBDA_PLATFORM = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_LAMBDA_FUNCTION_NAME": "mlops-drift-function",
}

# What App Service sets for a managed identity: the token endpoint and its secret header
# (``FakeCloud`` serves that endpoint)
# https://learn.microsoft.com/azure/app-service/overview-managed-identity#rest-endpoint-reference
APP_SERVICE_PLATFORM = {
    "IDENTITY_ENDPOINT": "http://identity.local/msi/token",
    "IDENTITY_HEADER": "platform-secret",
}


def lambda_environment(stack: str) -> tuple[dict[str, str], Any]:
    """The drift Lambda's ``environment.variables`` as the plan records them, and the plan."""
    recording = reference_recording(stack)
    function = recording.named("mlops-drift-function", "aws:lambda/function:Function")
    return dict(function.inputs["environment"]["variables"]), recording


def webapp_settings(stack: str) -> tuple[dict[str, str], Any]:
    """The drift Function App's ``siteConfig.appSettings`` as the plan records them."""
    recording = reference_recording(stack)
    app = recording.named("mlops-drift-function", "azure-native:web:WebApp")
    settings = {s["name"]: s["value"] for s in app.inputs["siteConfig"]["appSettings"]}
    return settings, recording


def function_environment(stack: str) -> tuple[dict[str, str], Any]:
    """The drift Cloud Function's ``serviceConfig.environmentVariables`` as the plan records."""
    recording = reference_recording(stack)
    function = recording.named("mlops-drift-function", "gcp:cloudfunctionsv2/function:Function")
    return dict(function.inputs["serviceConfig"]["environmentVariables"]), recording


class RecordingEnviron(dict):  # type: ignore[type-arg]
    """``os.environ`` stand-in that remembers every name read."""

    def __init__(self, values: Mapping[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.read.add(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.read.add(key)
        return super().__contains__(key)


def aws_call(service: str, operation: str, params: Mapping[str, Any]) -> Call:
    """The IAM action (and condition keys) of one AWS API operation."""
    if service == "s3":
        bucket = params.get("Bucket", "")
        if operation in ("ListObjectsV2", "ListObjects"):
            prefix = params.get("Prefix", "")
            return Call("s3:ListBucket", f"arn:aws:s3:::{bucket}", "", "", (("s3:prefix", prefix),))
        action = {"GetObject": "s3:GetObject", "PutObject": "s3:PutObject"}.get(operation)
        if action:
            return Call(action, f"arn:aws:s3:::{bucket}/{params.get('Key', '')}", "", "")
    if service in ("monitoring", "cloudwatch") and operation == "PutMetricData":
        namespace = params.get("Namespace", "")
        return Call("cloudwatch:PutMetricData", "*", "", "", (("cloudwatch:namespace", namespace),))
    return Call(f"{service}:{operation}", "?", "unmapped operation", "")


class Response(io.BytesIO):
    status = 200

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _not_found(url: str) -> urllib.error.HTTPError:
    return urllib.error.HTTPError(url, 404, "Not Found", email.message.Message(), io.BytesIO())


class FakeCloud:
    """Objects by (bucket or ``account/container``, name); ``calls`` what the job asked for."""

    def __init__(self, token: str | None = "token") -> None:
        """``token=None``: requests carry no ``Authorization`` (the anonymous credentials
        google-cloud-storage uses under ``STORAGE_EMULATOR_HOST``) and no identity is served."""
        self.objects: dict[tuple[str, str], tuple[bytes, dt.datetime]] = {}
        self.metadata: dict[tuple[str, str], dict[str, str]] = {}
        self.calls: list[Call] = []
        self.posts: list[tuple[str, bytes]] = []
        self.token = token
        self.identity_requests: list[dict[str, str]] = []

    def put(self, where: str, name: str, body: bytes) -> None:
        self.objects[(where, name)] = (body, dt.datetime.now(dt.UTC))

    def get(self, where: str, name: str) -> bytes:
        return self.objects[(where, name)][0]

    def names(self, where: str, prefix: str = "") -> list[str]:
        return sorted(n for (w, n) in self.objects if w == where and n.startswith(prefix))

    def urlopen(self, request: Any, timeout: float | None = None) -> Response:
        url = request.full_url if hasattr(request, "full_url") else str(request)
        method = request.get_method() if hasattr(request, "get_method") else "GET"
        headers = {k.lower(): v for k, v in getattr(request, "header_items", list)()}
        body = (request.data or b"") if hasattr(request, "data") else b""
        parts = urllib.parse.urlsplit(url)
        query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
        host = parts.hostname or ""
        if host == "metadata.google.internal":
            assert self.token is not None, "the job asked the metadata server for a token"
            assert headers.get("metadata-flavor") == "Google"
            return Response(json.dumps({"access_token": self.token}).encode())
        if host == "identity.local":
            assert headers.get("x-identity-header") == "platform-secret"
            self.identity_requests.append(query)
            return Response(json.dumps({"access_token": self.token}).encode())
        assert headers.get("authorization") == (self.token and f"Bearer {self.token}"), url
        if host == "storage.googleapis.com":
            if query.get("uploadType") == "multipart":
                body, query["name"], metadata = _multipart(headers["content-type"], body)
                segments = [urllib.parse.unquote(s) for s in parts.path.split("/")]
                self.metadata[(segments[5], query["name"])] = metadata
            return self._gcs(method, parts.path, query, body, url)
        if host == "monitoring.googleapis.com":
            project = parts.path.split("/")[3]
            self.calls.append(Call("monitoring.timeSeries.create", f"projects/{project}", "", ""))
            self.posts.append((url, body))
            return Response(b"{}")
        if host.endswith(".blob.core.windows.net"):
            return self._blob(method, host.split(".")[0], parts.path, query, body, url)
        if host.endswith(".queue.core.windows.net"):
            account, queue = host.split(".")[0], parts.path.strip("/").split("/")[0]
            resource = f"storageAccounts/{account}/queueServices/default/queues/{queue}"
            action = "Microsoft.Storage/storageAccounts/queueServices/queues/messages/add/action"
            self.calls.append(Call(action, resource, "", ""))
            self.posts.append((url, body))
            return Response(b"")
        if host.endswith(".monitoring.azure.com"):
            resource = parts.path.removesuffix("/metrics")
            self.calls.append(Call("Microsoft.Insights/Metrics/Write", resource, "", ""))
            self.posts.append((url, body))
            return Response(b"")
        raise AssertionError(f"the job called {method} {url}, which nothing here serves")

    def _gcs(
        self, method: str, path: str, query: dict[str, str], body: bytes, url: str
    ) -> Response:
        segments = [urllib.parse.unquote(s) for s in path.split("/")]
        if path.startswith("/upload/storage/v1/b/") and method == "POST":
            bucket, name = segments[5], query["name"]
            resource = f"projects/_/buckets/{bucket}/objects/{name}"
            self.calls.append(Call("storage.objects.create", resource, "", ""))
            if (bucket, name) in self.objects:  # an overwrite also takes delete
                self.calls.append(Call("storage.objects.delete", resource, "", ""))
            self.put(bucket, name, body)
            return Response(b"{}")
        bucket = segments[4]
        if len(segments) == 5:
            # A bucket's metadata: google-cloud-storage looks it up in the background for its
            # trace attributes and falls back on 403; object roles do not grant it.
            self.calls.append(Call("storage.buckets.get", f"projects/_/buckets/{bucket}", "", ""))
            raise urllib.error.HTTPError(url, 403, "Forbidden", email.message.Message(), None)
        if len(segments) == 6 and segments[5] == "o":
            prefix = query.get("prefix", "")
            self.calls.append(
                Call("storage.objects.list", f"projects/_/buckets/{bucket}", "", "",
                     (("prefix", prefix),))
            )  # fmt: skip
            items = [
                {"name": n, "updated": self.objects[(bucket, n)][1].isoformat()}
                for n in self.names(bucket, prefix)
            ]
            return Response(json.dumps({"items": items}).encode())
        name = "/".join(segments[6:])
        self.calls.append(
            Call("storage.objects.get", f"projects/_/buckets/{bucket}/objects/{name}", "", "")
        )
        if (bucket, name) not in self.objects:
            raise _not_found(url)
        return Response(self.get(bucket, name))

    def _blob(
        self, method: str, account: str, path: str, query: dict[str, str], body: bytes, url: str
    ) -> Response:
        container, _, name = urllib.parse.unquote(path).strip("/").partition("/")
        where = f"{account}/{container}"
        base = f"storageAccounts/{account}/blobServices/default/containers/{container}"
        if query.get("comp") == "list":
            prefix = query.get("prefix", "")
            self.calls.append(
                Call(f"{_BLOB}/read", base, "", "", ((f"{_BLOB}:prefix", prefix),), LIST_BLOBS)
            )
            blobs = "".join(
                f"<Blob><Name>{escape(n)}</Name><Properties><Last-Modified>"
                f"{email.utils.format_datetime(self.objects[(where, n)][1], usegmt=True)}"
                "</Last-Modified></Properties></Blob>"
                for n in self.names(where, prefix)
            )
            return Response(
                f"<EnumerationResults><Blobs>{blobs}</Blobs><NextMarker/></EnumerationResults>"
                .encode()
            )  # fmt: skip
        resource = f"{base}/blobs/{name}"
        if method == "PUT":
            self.calls.append(Call(f"{_BLOB}/write", resource, "", ""))
            self.put(where, name, body)
            return Response(b"")
        self.calls.append(Call(f"{_BLOB}/read", resource, "", ""))
        if (where, name) not in self.objects:
            raise _not_found(url)
        return Response(self.get(where, name))


def _multipart(content_type: str, body: bytes) -> tuple[bytes, str, dict[str, str]]:
    """A JSON API multipart upload's media, object name and custom metadata
    (https://cloud.google.com/storage/docs/uploading-objects#uploading-an-object)."""
    message = email.message_from_bytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    resource, media = message.get_payload()
    fields = json.loads(resource.get_payload(decode=True))
    return media.get_payload(decode=True), fields["name"], dict(fields.get("metadata") or {})


@contextlib.contextmanager
def serve_gcs(cloud: FakeCloud) -> Iterator[str]:
    """Serve ``cloud``'s Cloud Storage on a loopback port (for SDKs that honour
    ``STORAGE_EMULATOR_HOST``, such as google-cloud-storage); yields its base URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request = urllib.request.Request(
                f"https://storage.googleapis.com{self.path}",
                data=body,
                headers=dict(self.headers.items()),
                method=self.command,
            )
            try:
                with cloud.urlopen(request) as response:
                    status, payload = 200, response.read()
            except urllib.error.HTTPError as exc:
                status, payload = exc.code, b'{"error": {"code": %d}}' % exc.code
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def only_settings(monkeypatch: Any, settings: Mapping[str, str]) -> RecordingEnviron:
    """Make ``os.environ`` the process's environment without any variable a handler or its SDK
    could read (``DRIFT_PREFIXES``), plus ``settings``; returns it (it records what is read)."""
    import os

    kept = {k: v for k, v in os.environ.items() if not k.startswith(DRIFT_PREFIXES)}
    environ = RecordingEnviron({**kept, **settings})
    monkeypatch.setattr(os, "environ", environ)
    return environ
