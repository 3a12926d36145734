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
import re
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


def write_baseline(store_uri: str, dataset_version: str, text: str) -> str:
    """Write a baseline under the store's layout; returns where it went."""
    scheme, bucket, prefix = split_uri(store_uri)
    key = join(prefix, baseline_key(dataset_version))
    if scheme == "file":
        path = Path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return str(path)
    if scheme == "s3":
        import boto3  # the aws extra; also present in every Lambda Python runtime

        boto3.client("s3").put_object(
            Bucket=bucket, Key=key, Body=text.encode(), ContentType="application/json"
        )
        return f"s3://{bucket}/{key}"
    raise DriftError(
        f"{store_uri}: the CLI writes baselines to s3:// or a local directory; for {scheme}:// "
        f"write locally and copy to {baseline_key(dataset_version)} under the store"
    )
