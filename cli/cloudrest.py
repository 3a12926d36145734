"""REST calls to Azure Resource Manager and Google Cloud APIs for the day-2 commands.

One transport per command: ``transport(method, url, body)`` returns the parsed JSON answer and
raises ``ApiError`` for an HTTP error. The real one sends the request with ``requests`` and a bearer
token from the cloud's default credential chain (``azure.identity.DefaultAzureCredential``,
``google.auth.default``), fetched on the first call. Tests swap ``transport_for`` for one that
replays recorded answers, so nothing here is reached without a cloud.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, Protocol

from mlops_iac.cli import EXIT_BAD_INPUT, EXIT_FAILED, OpsError

ARM = "https://management.azure.com"
ARM_SCOPE = "https://management.azure.com/.default"
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


def _azure_token() -> str:
    try:
        from azure.core.exceptions import ClientAuthenticationError
        from azure.identity import DefaultAzureCredential
    except ImportError as exc:
        raise _missing("azure", exc) from None

    try:
        return str(DefaultAzureCredential().get_token(ARM_SCOPE).token)
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


def bearer_transport(token: Callable[[], str]) -> Transport:
    """A transport over ``requests`` that asks ``token()`` once, on the first request."""
    cached: list[str] = []

    def send(method: str, url: str, body: Any | None = None) -> Any:
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


def transport_for(cloud: str) -> Transport:
    """The real transport of ``cloud`` (``azure`` or ``gcp``); credentials load on first use."""
    return bearer_transport(_azure_token if cloud == "azure" else _gcp_token)


def add_region_arguments(parser: argparse.ArgumentParser) -> None:
    """``--region`` (AWS or GCP) and ``--profile`` (AWS)."""
    parser.add_argument(
        "--region",
        help="AWS region (default: the stack's aws:region, else the AWS config) or GCP region of "
        "the Cloud Run service (default: the stack's gcp:region)",
    )
    parser.add_argument("--profile", help="AWS profile (default: the usual AWS credential chain)")
