"""A candidate's recorded metrics, for the evaluation gate of ``mlops-iac approve``.

Two sources, the same result (``{name: finite float}``):

- a metrics file committed with the training run: JSON, either ``{"metrics": {name: value}, …}``
  (other keys such as ``run_id`` are ignored) or a flat ``{name: value}`` object;
- an MLflow-compatible tracking server, by run id: ``GET <uri>/api/2.0/mlflow/runs/get?run_id=``
  (https://mlflow.org/docs/latest/api_reference/rest-api.html#get-run), which answers with the
  latest value of each metric. ``$MLFLOW_TRACKING_TOKEN`` is sent as a bearer token when set.

Both refuse what could let a candidate pass by accident or by design: a key given twice (JSON
keeps the last one silently), a run that has not finished, a body that is not JSON or is too
large. Metric names outside ``spec.evaluation.METRIC_NAME`` (a Cyrillic ``аuc``) are not recorded,
so they can never stand in for a criterion's metric; values that are not finite numbers are kept
out too, and a criterion naming one fails with its value shown.
"""

from __future__ import annotations

import json
import math
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlops_iac.cli import OpsError
from mlops_iac.spec import evaluation

#: A metrics file or a tracking server's answer larger than this is not one run's metrics.
MAX_BYTES = 4 * 1024 * 1024
TIMEOUT_SECONDS = 10
_RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_NAME = re.compile(evaluation.METRIC_NAME)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"key {key!r} is given twice")
        seen[key] = value
    return seen


def _json(data: bytes, what: str) -> Any:
    if len(data) > MAX_BYTES:
        raise OpsError(f"{what} is larger than {MAX_BYTES} bytes")
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError:
        raise OpsError(f"{what} is not UTF-8") from None
    except ValueError as exc:
        raise OpsError(f"{what} is not valid JSON: {exc}") from None


def recorded(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The metrics worth recording: ASCII names (as criteria name them), values kept as given
    (a non-finite or non-number value is kept so the gate can name it, then refused)."""
    return {
        name: value for name, value in raw.items() if isinstance(name, str) and _NAME.match(name)
    }


def from_file(path: Path) -> dict[str, Any]:
    """Metrics from a JSON file committed with the training run."""
    try:
        data = path.read_bytes()[: MAX_BYTES + 1]
    except OSError as exc:
        raise OpsError(f"cannot read metrics file {path}: {exc.strerror or exc}") from None
    document = _json(data, f"metrics file {path}")
    if isinstance(document, Mapping) and isinstance(document.get("metrics"), Mapping):
        document = document["metrics"]
    if not isinstance(document, Mapping):
        raise OpsError(f"metrics file {path} is not a JSON object of metric values")
    return recorded(document)


def from_tracking_server(
    uri: str, run_id: str, *, timeout: float = TIMEOUT_SECONDS
) -> dict[str, Any]:
    """The latest metrics of ``run_id`` from an MLflow-compatible REST API at ``uri``."""
    parsed = urllib.parse.urlsplit(uri)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise OpsError(f"tracking URI {uri!r} is not an http(s) URL")
    if not _RUN_ID.match(run_id):
        raise OpsError(f"run id {run_id!r} is not an MLflow run id (letters, digits, '_', '-')")
    url = f"{uri.rstrip('/')}/api/2.0/mlflow/runs/get?{urllib.parse.urlencode({'run_id': run_id})}"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    if token := os.environ.get("MLFLOW_TRACKING_TOKEN"):
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body = response.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise OpsError(f"tracking server {uri} answered HTTP {exc.code} for run {run_id}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise OpsError(f"cannot reach tracking server {uri}: {reason}") from None
    document = _json(body, f"the answer of {uri} for run {run_id}")
    run = document.get("run") if isinstance(document, Mapping) else None
    info = run.get("info") if isinstance(run, Mapping) else None
    data = run.get("data") if isinstance(run, Mapping) else None
    if not isinstance(info, Mapping) or not isinstance(data, Mapping):
        raise OpsError(f"the answer of {uri} for run {run_id} is not an MLflow run")
    status = info.get("status")
    if status != "FINISHED":
        raise OpsError(f"run {run_id} is {status}, not FINISHED: its metrics can still change")
    metrics: dict[str, Any] = {}
    for item in data.get("metrics") or ():
        key = item.get("key") if isinstance(item, Mapping) else None
        if not isinstance(key, str):
            raise OpsError(f"the answer of {uri} for run {run_id} has a metric without a key")
        if key in metrics:
            raise OpsError(f"run {run_id} reports metric {key!r} twice")
        metrics[key] = item.get("value")
    return recorded(metrics)


def judged(metrics: Mapping[str, Any], criteria: list[evaluation.Criterion]) -> dict[str, float]:
    """The metrics an approval records: every finite one, at most ``MAX_METRICS`` (those the
    criteria name first). Raises ``OpsError`` naming the first criterion missed."""
    misses = evaluation.misses(criteria, metrics)
    if misses:
        raise OpsError(misses[0])
    finite = {
        name: float(value)
        for name, value in metrics.items()
        if not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(float(value))
    }
    named = [c.metric for c in criteria]
    order = named + sorted(n for n in finite if n not in named)
    return {name: finite[name] for name in order[: evaluation.MAX_METRICS]}
