"""REST calls to Azure Resource Manager and Google Cloud APIs for the day-2 commands.

One transport per command: ``transport(method, url, body)`` returns the parsed JSON answer and
raises ``ApiError`` for an HTTP error. The real one sends the request with ``requests`` and a bearer
token from the cloud's default credential chain (``azure.identity.DefaultAzureCredential``,
``google.auth.default``), fetched on the first call.

Endpoints follow the clouds' own conventions: ``AZURE_RESOURCE_MANAGER_ENDPOINT`` replaces ARM's
``https://management.azure.com`` (a sovereign cloud; the Azure CLI calls it the cloud's
``resourceManager`` endpoint) and gcloud's ``CLOUDSDK_API_ENDPOINT_OVERRIDES_<API>`` replaces a
Google API's host (Private Service Connect, a regional endpoint). An override is https, or plain
http on a loopback host (an emulator or a replay). The credential chain's token only travels over
https: plain http takes the static token of ``MLOPS_IAC_TEST_TOKEN``, which in turn is refused
unless every endpoint of the cloud is on this machine.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

from mlops_iac.cli import EXIT_BAD_INPUT, EXIT_FAILED, OpsError

ARM = "https://management.azure.com"
ARM_SCOPE = "https://management.azure.com/.default"
# https://learn.microsoft.com/cli/azure/manage-clouds-azure-cli (a cloud's resourceManager endpoint)
ARM_ENDPOINT_ENV = "AZURE_RESOURCE_MANAGER_ENDPOINT"
# https://cloud.google.com/sdk/gcloud/reference/topic/endpoint-override: the API's root, per API
GCP_APIS = {
    "STORAGE": "https://storage.googleapis.com",
    "CLOUDKMS": "https://cloudkms.googleapis.com",
    "MONITORING": "https://monitoring.googleapis.com",
    "RUN": "https://run.googleapis.com",
}
GCP_OVERRIDE_ENV = "CLOUDSDK_API_ENDPOINT_OVERRIDES_"
TEST_TOKEN_ENV = "MLOPS_IAC_TEST_TOKEN"
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
GCP_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
TIMEOUT_SECONDS = 30


class ApiError(Exception):
    """An HTTP error answer: status, the service's error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}".rstrip(": "))
        self.status = status
        self.code = code
        self.message = message


def refused(what: str, exc: ApiError) -> OpsError:
    """One line for a failed request: exit 2 when the resource is not there (bad input), 1 when
    the cloud refused (permissions, conflicts)."""
    return OpsError(f"{what}: {exc}", EXIT_BAD_INPUT if exc.status == 404 else EXIT_FAILED)


class Transport(Protocol):
    """Send one request; the parsed JSON answer (``{}`` when empty), ``ApiError`` on an error."""

    def __call__(self, method: str, url: str, body: Any | None = None) -> Any: ...


def error_from(status: int, payload: Any) -> ApiError:
    """The ``ApiError`` of an error answer: ARM's ``{"error": {"code", "message"}}`` and Google's
    ``{"error": {"code", "status", "message"}}`` alike."""
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        code = str(error.get("status") or error.get("code") or status)
        return ApiError(status, code, str(error.get("message", "")))
    return ApiError(status, str(status), str(payload)[:200] if payload else "")


def _missing(extra: str, exc: ImportError) -> OpsError:
    return OpsError(f"{exc.name} is not installed: pip install 'mlops-iac[{extra}]'")


def _azure_token(scope: str = ARM_SCOPE) -> str:
    try:
        from azure.core.exceptions import ClientAuthenticationError
        from azure.identity import DefaultAzureCredential
    except ImportError as exc:
        raise _missing("azure", exc) from None

    try:
        return str(DefaultAzureCredential().get_token(scope).token)
    except ClientAuthenticationError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OpsError(
            f"no Azure credentials ({first}); run `az login` or set AZURE_CLIENT_ID, "
            "AZURE_TENANT_ID and AZURE_CLIENT_SECRET"
        ) from None


def _gcp_token() -> str:
    try:
        import google.auth
        import google.auth.exceptions
        import google.auth.transport.requests
    except ImportError as exc:
        raise _missing("gcp", exc) from None

    try:
        credentials, _ = google.auth.default(scopes=[GCP_SCOPE])
        credentials.refresh(google.auth.transport.requests.Request())
    except google.auth.exceptions.GoogleAuthError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OpsError(
            f"no Google Cloud credentials ({first}); run `gcloud auth application-default "
            "login` or set GOOGLE_APPLICATION_CREDENTIALS"
        ) from None
    return str(credentials.token)


def bearer_transport(token: Callable[[], str], roots: dict[str, str] | None = None) -> Transport:
    """A transport over ``requests`` that asks ``token()`` once, on the first request; a URL
    under a key of ``roots`` (a default root such as ``https://run.googleapis.com``) goes to its
    value instead (the override)."""
    cached: list[str] = []
    moved = {k: v for k, v in (roots or {}).items() if k != v}

    def send(method: str, url: str, body: Any | None = None) -> Any:
        for default, root in moved.items():
            if url == default or url.startswith(default + "/"):
                url = root + url[len(default) :]
                break
        if not cached:
            cached.append(token())
        import requests  # after the token: a missing extra is named by the token's import

        headers = {"Authorization": f"Bearer {cached[0]}", "Accept": "application/json"}
        try:
            response = requests.request(
                method, url, json=body, headers=headers, timeout=TIMEOUT_SECONDS
            )
        except requests.RequestException as exc:
            raise OpsError(f"cannot reach {url.split('/')[2]}: {type(exc).__name__}") from None
        try:
            payload = response.json() if response.content else {}
        except ValueError:
            payload = {}
        if response.status_code >= 400:
            raise error_from(response.status_code, payload)
        return payload

    return send


def endpoint_root(name: str, value: str) -> str:
    """``value`` as an endpoint root ``scheme://host[:port]``: https, or http on a loopback host;
    ``OpsError`` (exit 2) naming ``name`` otherwise. A plain-http remote host would receive the
    bearer token in the clear, so an environment variable must not be able to ask for one."""
    try:
        parts = urlsplit(value.strip())
        host = parts.hostname or ""
        parts.port  # noqa: B018  (raises ValueError on a malformed port)
    except ValueError:
        parts, host = urlsplit(""), ""
    problem = ""
    if parts.scheme not in ("https", "http") or not host:
        problem = "is not an https URL"
    elif parts.scheme == "http" and host not in LOOPBACK:
        problem = "is plain http to a remote host (only https, or http on 127.0.0.1/::1/localhost)"
    elif parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        problem = "must be scheme://host[:port] without a path"
    if problem:
        raise OpsError(f"{name}={value!r} {problem}", EXIT_BAD_INPUT)
    return f"{parts.scheme}://{parts.netloc}"


def endpoints(cloud: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The root each default API root of ``cloud`` is sent to (itself unless overridden)."""
    if cloud == "azure":
        value = environ.get(ARM_ENDPOINT_ENV)
        return {ARM: endpoint_root(ARM_ENDPOINT_ENV, value) if value else ARM}
    roots = {}
    for api, default in GCP_APIS.items():
        value = environ.get(GCP_OVERRIDE_ENV + api)
        roots[default] = endpoint_root(GCP_OVERRIDE_ENV + api, value) if value else default
    return roots


def _static_token(roots: dict[str, str], environ: Mapping[str, str]) -> str | None:
    """``MLOPS_IAC_TEST_TOKEN`` when set, only with every endpoint on this machine; ``None``
    (the credential chain) when unset, refused when an endpoint is plain http."""
    token = environ.get(TEST_TOKEN_ENV)
    if token:
        remote = sorted(r for r in roots.values() if urlsplit(r).hostname not in LOOPBACK)
        if remote:
            raise OpsError(
                f"{TEST_TOKEN_ENV} is only sent to loopback endpoints, not to {remote[0]}: "
                "unset it to use the cloud's credential chain",
                EXIT_BAD_INPUT,
            )
        return token
    plain = sorted(r for r in roots.values() if r.startswith("http://"))
    if plain:
        raise OpsError(
            f"endpoint {plain[0]} is plain http: the credential chain's token is only sent "
            f"over https (set {TEST_TOKEN_ENV} for a local emulator or replay)",
            EXIT_BAD_INPUT,
        )
    return None


def transport_for(cloud: str, environ: Mapping[str, str] | None = None) -> Transport:
    """The real transport of ``cloud`` (``azure`` or ``gcp``) at its endpoints (overridden by
    ``environ``, default ``os.environ``); credentials load on first use. On Azure the token's
    scope follows the endpoint (``<endpoint>/.default``)."""
    env = os.environ if environ is None else environ
    roots = endpoints(cloud, env)
    static = _static_token(roots, env)
    if static is not None:
        return bearer_transport(lambda: static, roots)
    if cloud == "azure":
        scope = f"{roots[ARM]}/.default"
        return bearer_transport(lambda: _azure_token(scope), roots)
    return bearer_transport(_gcp_token, roots)


def add_region_arguments(parser: argparse.ArgumentParser) -> None:
    """``--region`` (AWS or GCP) and ``--profile`` (AWS)."""
    parser.add_argument(
        "--region",
        help="AWS region (default: the stack's aws:region, else the AWS config) or GCP region of "
        "the Cloud Run service (default: the stack's gcp:region)",
    )
    parser.add_argument("--profile", help="AWS profile (default: the usual AWS credential chain)")
