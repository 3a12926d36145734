"""Where baselines and reports live in the artifact store.

Layout (the same on every cloud, relative to the store root, e.g. ``s3://bucket``)::

    drift/baselines/<datasetVersion>/baseline.json    one per DVC dataset version
    drift/reports/<endpoint>/<UTC timestamp>.json      one per run
    drift/reports/<endpoint>/latest.json               the last run

``<datasetVersion>`` is the lineage ``datasetVersion`` (the DVC hash, e.g. ``md5:3b1f…``) with
every character outside ``[A-Za-z0-9._-]`` replaced by ``_`` (``md5_3b1f…``), so the key is valid
in S3, Blob Storage and GCS alike. A version that is not one path segment (``..``, a ``/``
or ``\\``, control characters, empty) is refused (``segment``), so a key stays under its
prefix. A retrained model's stack names a new dataset version, so its drift job reads the
baseline of the data it was trained on.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

from mlops_iac.drift.profile import DriftError, printable
from mlops_iac.drift.runtime import split_uri

BASELINES = "drift/baselines"
REPORTS = "drift/reports"


MAX_SEGMENT = 128
"""The longest dataset version or endpoint name that becomes a path segment."""
_UNSAFE = re.compile(r"[/\\\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def segment(value: object, what: str) -> str:
    """``value`` as one path segment of a store key, or a ``DriftError`` naming ``what``.

    Refused, not rewritten (a rewritten ``..`` would still put the key elsewhere than its author
    thinks): not text, empty or blank, longer than ``MAX_SEGMENT``, ``.`` or ``..``,
    a ``/`` or ``\\`` (so no absolute path or drive either), control or bidi characters. Other
    characters outside ``[A-Za-z0-9._-]`` become ``_`` (``md5:3b1f`` → ``md5_3b1f``)."""
    if not isinstance(value, str) or not value.strip():
        raise DriftError(f"{what}: must not be empty")
    text = value.strip()
    if len(text) > MAX_SEGMENT:
        raise DriftError(f"{what}: longer than {MAX_SEGMENT} characters")
    if text in (".", "..") or _UNSAFE.search(text):
        raise DriftError(
            f"{what}: {printable(text)!r} is not one path segment (no /, \\, '.', '..' or "
            "control characters)"
        )
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


def version_key(dataset_version: str) -> str:
    """The dataset version as one safe path segment (``md5:ab`` → ``md5_ab``; see ``segment``)."""
    return segment(dataset_version, "dataset version")


def baseline_key(dataset_version: str) -> str:
    """Object key of the baseline for one dataset version."""
    return f"{BASELINES}/{version_key(dataset_version)}/baseline.json"


def report_keys(endpoint: str, when: dt.datetime | None = None) -> tuple[str, str]:
    """Object keys of one run's report and of ``latest.json`` for an endpoint."""
    when = when or dt.datetime.now(dt.UTC)
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    folder = f"{REPORTS}/{segment(endpoint, 'endpoint')}"
    return f"{folder}/{stamp}.json", f"{folder}/latest.json"


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
    relative = baseline_key(dataset_version)
    key = join(prefix, relative)
    if scheme == "file":
        return str(_write_local(Path(prefix or "."), relative, text))
    if not key.startswith(join(prefix, BASELINES) + "/") or "/../" in f"/{key}/":
        raise DriftError(f"{printable(key)}: not under {BASELINES}/ of the store")  # defence
    target = f"{scheme}://{bucket}/{key}"
    try:
        _write_remote(target, text, env)
    except DriftError:
        raise
    except Exception as exc:  # HTTP, network and SDK errors: one line, no traceback
        raise DriftError(f"{target}: could not write the baseline: {exc}") from None
    return target


def _write_local(root: Path, relative: str, text: str) -> Path:
    """Write under ``root/drift/baselines`` only: a symbolic link on the way (the version's
    folder, the file itself) that leads out of the store is refused, and the file is replaced
    whole (a temporary file, then a rename), so a failed write leaves the old baseline."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    base = root.resolve()
    resolved = path.resolve()
    if not resolved.is_relative_to(base / BASELINES) or path.parent.resolve() != resolved.parent:
        raise DriftError(
            f"{printable(path)}: leads out of the store's {BASELINES}/ (a symbolic link?)"
        )
    if resolved.is_dir():
        raise DriftError(f"{printable(path)}: is a directory")
    handle, temporary = tempfile.mkstemp(prefix=".baseline.", dir=resolved.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, resolved)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _write_remote(target: str, text: str, env: Mapping[str, str]) -> None:
    scheme, bucket, key = split_uri(target)
    if scheme == "s3":
        import boto3  # the aws extra; also present in every Lambda Python runtime

        boto3.client("s3").put_object(
            Bucket=bucket, Key=key, Body=text.encode(), ContentType="application/json"
        )
        return
    # The gs:// and az:// clients are the job's own (standard library only), imported when needed.

    if scheme == "gs":
        token = env.get("GOOGLE_OAUTH_ACCESS_TOKEN")
        emulator = env.get("STORAGE_EMULATOR_HOST")
        if not token and not emulator:
            raise DriftError(
                f"{target}: set GOOGLE_OAUTH_ACCESS_TOKEN (e.g. to the output of "
                "`gcloud auth print-access-token`) to write to Cloud Storage"
            )
        from mlops_iac.drift.gcp import GcsStorage, Http

        GcsStorage(Http(token or None), base=emulator).write_text(target, text)
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
    from mlops_iac.drift.azure import AzureBlobStorage, AzureRest, SharedKey

    if emulator_key:
        account = account_url.rstrip("/").rsplit("/", 1)[-1]
        rest = AzureRest(shared_key=SharedKey(account, emulator_key))
    else:
        rest = AzureRest(token=lambda _resource: token)
    AzureBlobStorage(account_url, rest).write_text(target, text)
