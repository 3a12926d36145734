"""Where baselines and reports live in the artifact store.

Layout (the same on every cloud, relative to the store root, e.g. ``s3://bucket``)::

    drift/baselines/<datasetVersion>/baseline.json    one per DVC dataset version
    drift/reports/<endpoint>/<UTC timestamp>.json      one per run
    drift/reports/<endpoint>/latest.json               the last run

``<datasetVersion>`` is the lineage ``datasetVersion`` (the DVC hash, e.g. ``md5:3b1f…``) with
every character outside ``[A-Za-z0-9._-]`` replaced by ``_`` (``md5_3b1f…``), so the key is valid
in S3, Blob Storage and GCS alike. A retrained model's stack names a new dataset version, so its
drift job reads the baseline of the data it was trained on.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from pathlib import Path

from mlops_iac.drift.profile import DriftError

BASELINES = "drift/baselines"
REPORTS = "drift/reports"


def version_key(dataset_version: str) -> str:
    """The dataset version as one safe path segment (``md5:ab`` → ``md5_ab``)."""
    if not dataset_version or not dataset_version.strip():
        raise DriftError("dataset version: must not be empty")
    return re.sub(r"[^A-Za-z0-9._-]", "_", dataset_version.strip())


def baseline_key(dataset_version: str) -> str:
    """Object key of the baseline for one dataset version."""
    return f"{BASELINES}/{version_key(dataset_version)}/baseline.json"


def report_keys(endpoint: str, when: dt.datetime | None = None) -> tuple[str, str]:
    """Object keys of one run's report and of ``latest.json`` for an endpoint."""
    when = when or dt.datetime.now(dt.UTC)
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    return f"{REPORTS}/{endpoint}/{stamp}.json", f"{REPORTS}/{endpoint}/latest.json"


def split_uri(uri: str) -> tuple[str, str, str]:
    """``(scheme, bucket, key)`` of ``s3://``, ``gs://``, ``az://container/…``; local: ``file``."""
    match = re.match(r"^(s3|gs|az)://([^/]+)/?(.*)$", uri)
    if match:
        return match.group(1), match.group(2), match.group(3)
    if "://" in uri:
        raise DriftError(f"{uri}: unsupported URI (use s3://, gs://, az:// or a local path)")
    return "file", "", uri


def join(prefix: str, key: str) -> str:
    return f"{prefix.rstrip('/')}/{key}" if prefix else key


def write_baseline(
    store_uri: str, dataset_version: str, text: str, env: Mapping[str, str] | None = None
) -> str:
    """Write a baseline under the store's layout; returns where it went.

    Credentials come from the caller's environment (nothing is stored):
    ``s3://`` the AWS SDK's chain; ``gs://`` ``GOOGLE_OAUTH_ACCESS_TOKEN`` (e.g. the output of
    ``gcloud auth print-access-token``), or no token with ``STORAGE_EMULATOR_HOST``; ``az://``
    the account from ``AZURE_STORAGE_ACCOUNT`` (or a blob endpoint in
    ``DRIFT_STORAGE_ACCOUNT_URL``) and ``AZURE_STORAGE_ACCESS_TOKEN`` (e.g. ``az account
    get-access-token --resource https://storage.azure.com/ --query accessToken -o tsv``), or
    ``DRIFT_EMULATOR_ACCOUNT_KEY`` against Azurite.
    """
    env = os.environ if env is None else env
    scheme, bucket, prefix = split_uri(store_uri)
    key = join(prefix, baseline_key(dataset_version))
    if scheme == "file":
        path = Path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return str(path)
    target = f"{scheme}://{bucket}/{key}"
    try:
        _write_remote(target, text, env)
    except DriftError:
        raise
    except Exception as exc:  # HTTP, network and SDK errors: one line, no traceback
        raise DriftError(f"{target}: could not write the baseline: {exc}") from None
    return target


def _write_remote(target: str, text: str, env: Mapping[str, str]) -> None:
    scheme, bucket, key = split_uri(target)
    if scheme == "s3":
        import boto3  # the aws extra; also present in every Lambda Python runtime

        boto3.client("s3").put_object(
            Bucket=bucket, Key=key, Body=text.encode(), ContentType="application/json"
        )
        return
    from mlops_iac.drift import handlers  # stdlib-only REST clients, imported when needed

    if scheme == "gs":
        token = env.get("GOOGLE_OAUTH_ACCESS_TOKEN")
        emulator = env.get("STORAGE_EMULATOR_HOST")
        if not token and not emulator:
            raise DriftError(
                f"{target}: set GOOGLE_OAUTH_ACCESS_TOKEN (e.g. to the output of "
                "`gcloud auth print-access-token`) to write to Cloud Storage"
            )
        handlers.GcsStorage(handlers._Http(token or None), base=emulator).write_text(target, text)
        return
    account_url = env.get("DRIFT_STORAGE_ACCOUNT_URL") or (
        f"https://{env['AZURE_STORAGE_ACCOUNT']}.blob.core.windows.net"
        if env.get("AZURE_STORAGE_ACCOUNT")
        else ""
    )
    emulator_key = env.get("DRIFT_EMULATOR_ACCOUNT_KEY")
    token = env.get("AZURE_STORAGE_ACCESS_TOKEN")
    if not account_url or not (token or emulator_key):
        raise DriftError(
            f"{target}: set AZURE_STORAGE_ACCOUNT (the stack's storage_account_name) and "
            "AZURE_STORAGE_ACCESS_TOKEN (e.g. the output of `az account get-access-token "
            "--resource https://storage.azure.com/ --query accessToken -o tsv`) to write to "
            "Blob Storage"
        )
    if not emulator_key and not account_url.startswith("https://"):
        raise DriftError(f"{account_url}: a bearer token goes to an https:// endpoint only")
    if emulator_key:
        account = account_url.rstrip("/").rsplit("/", 1)[-1]
        rest = handlers.AzureRest(shared_key=handlers.SharedKey(account, emulator_key))
    else:
        rest = handlers.AzureRest(token=lambda _resource: token)
    handlers.AzureBlobStorage(account_url, rest).write_text(target, text)
