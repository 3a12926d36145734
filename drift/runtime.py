"""The cloud-independent core of the drift job: its settings, one run, and what the per-cloud
clients share (``drift/aws.py``, ``drift/azure.py``, ``drift/gcp.py`` hold the clouds' storage and
metrics clients and entry points).

One scheduled run = read baseline and recent capture, compare, write the report to the artifact
store, publish the drift metric. The job is configured by environment variables that the
per-cloud ``DriftJob`` component sets:

=========================  ========================================================================
``DRIFT_CAPTURE_URI``      capture prefix, e.g. ``s3://bucket/capture/<endpoint>/``
``DRIFT_BASELINE_URI``     the baseline of the deployed model's dataset version
                           (``…/drift/baselines/<datasetVersion>/baseline.json``)
``DRIFT_REPORT_URI``       report prefix, e.g. ``s3://bucket/drift/reports/<endpoint>``
``DRIFT_FORMAT``           capture format (default ``sagemaker-capture``)
``DRIFT_WINDOW_HOURS``     how far back capture objects are read (by last-modified time)
``DRIFT_ENDPOINT``         endpoint name: the metric dimension and report folder
``DRIFT_METRIC_NAMESPACE`` metric namespace (AWS) / metric type prefix (GCP)
``DRIFT_PSI`` …            thresholds: ``DRIFT_PSI``, ``DRIFT_KS``, ``DRIFT_JS``, ``DRIFT_MIN_ROWS``
``DRIFT_SIGNIFICANCE`` …   significance test: ``DRIFT_SIGNIFICANCE``,
                           ``DRIFT_SHARE``, ``DRIFT_FEATURE_THRESHOLDS`` (JSON object: feature ->
                           ``{psi, ks, jensenShannon}``), ``DRIFT_EXCLUDE`` (JSON list of names)
=========================  ========================================================================

Metrics published per run (dimension ``Endpoint``): ``DriftedFeatures`` (count; the alarm fires
when it is >= 1), ``MaxPsi`` and ``RowsChecked``. A run with too few rows publishes
``DriftedFeatures = 0`` and says so in the report, unless a shift is overwhelming even so
(verdict ``drift-small-sample``): then its features count, so the alarm fires on it too.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from mlops_iac.drift import wire
from mlops_iac.drift.profile import (
    MAX_BASELINE_BYTES,
    Columns,
    Comparison,
    DriftError,
    Thresholds,
    dumps,
    parse_baseline,
    printable,
    read_limited,
)
from mlops_iac.drift.readers import Source, read

DEFAULT_WINDOW_HOURS = 24
MAX_WINDOW_HOURS = 24 * 31
"""The longest window (the stack file's ``windowHours`` limit)."""


@dataclass(frozen=True)
class JobConfig:
    """One run's settings (from the environment, optionally overridden by the event)."""

    capture_uri: str
    baseline_uri: str
    report_uri: str
    endpoint: str
    fmt: str = "sagemaker-capture"
    window_hours: int = DEFAULT_WINDOW_HOURS
    namespace: str = wire.NAMESPACE
    thresholds: Thresholds = Thresholds()

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, event: Mapping[str, Any] | None = None
    ) -> JobConfig:
        env = os.environ if env is None else env
        event = event if isinstance(event, Mapping) else {}
        missing = [
            key
            for key in ("DRIFT_CAPTURE_URI", "DRIFT_BASELINE_URI", "DRIFT_REPORT_URI")
            if not env.get(key)
        ]
        if missing:
            raise DriftError(f"environment: {', '.join(missing)} not set")

        def number(key: str, default: float, kind: type = float) -> Any:
            raw = env.get(key)
            try:
                return kind(raw) if raw not in (None, "") else default
            except (TypeError, ValueError):
                raise DriftError(
                    f"environment: {key} is not {'an integer' if kind is int else 'a number'}: "
                    f"{printable(repr(raw), 40)}"
                ) from None

        def listed(key: str, kind: type) -> Any:
            raw = env.get(key)
            if raw in (None, ""):
                return () if kind is list else {}
            value: Any
            try:
                value = json.loads(raw)
            except ValueError:
                value = None
            if not isinstance(value, kind):
                what = "a JSON object" if kind is dict else "a JSON list"
                raise DriftError(f"environment: {key} is not {what}: {printable(repr(raw), 40)}")
            return tuple(value) if isinstance(value, list) else value

        defaults = Thresholds()
        thresholds = Thresholds(
            number("DRIFT_PSI", defaults.psi),
            number("DRIFT_KS", defaults.ks),
            number("DRIFT_JS", defaults.js),
            number("DRIFT_MIN_ROWS", defaults.min_rows, int),
            number("DRIFT_SIGNIFICANCE", defaults.significance),
            number("DRIFT_SHARE", defaults.drift_share),
            listed("DRIFT_FEATURE_THRESHOLDS", dict),
            listed("DRIFT_EXCLUDE", list),
        ).validated("environment")
        window = number("DRIFT_WINDOW_HOURS", DEFAULT_WINDOW_HOURS, int)
        where = "environment: DRIFT_WINDOW_HOURS"
        if "windowHours" in event:
            window, where = event["windowHours"], "event: windowHours"
        # A window of 0 or less (or in the future) reads no capture and would say "no verdict"
        # forever: drift switched off. Refused like a bad threshold.
        if (
            isinstance(window, bool)
            or not isinstance(window, int)
            or not 1 <= window <= MAX_WINDOW_HOURS
        ):
            raise DriftError(
                f"{where}: must be an integer >= 1 and <= {MAX_WINDOW_HOURS}, "
                f"got {printable(repr(window), 40)}"
            )
        fmt = env.get("DRIFT_FORMAT", "sagemaker-capture")
        from mlops_iac.drift.readers import FORMATS

        if fmt not in FORMATS:
            raise DriftError(
                f"environment: DRIFT_FORMAT must be one of {', '.join(FORMATS)}, "
                f"got {printable(repr(fmt), 40)}"
            )
        return cls(
            capture_uri=env["DRIFT_CAPTURE_URI"],
            baseline_uri=env["DRIFT_BASELINE_URI"],
            report_uri=env["DRIFT_REPORT_URI"],
            endpoint=env.get("DRIFT_ENDPOINT", "endpoint"),
            fmt=fmt,
            window_hours=window,
            namespace=env.get("DRIFT_METRIC_NAMESPACE", wire.NAMESPACE),
            thresholds=thresholds,
        )


def job_environment(
    *,
    capture_uri: Any,
    baseline_uri: Any,
    report_uri: Any,
    endpoint: Any,
    fmt: str,
    window_hours: int,
    namespace: str,
    thresholds: Thresholds,
) -> dict[str, Any]:
    """The settings ``JobConfig.from_env`` reads, for a deployment to give the job: the one place
    that writes what it reads. The URIs and endpoint may be a deployment tool's placeholders
    (passed through); numbers are written as text. Every setting is written, defaults
    included, so the plan records each one the job reads."""
    extra: dict[str, Any] = {
        "DRIFT_SIGNIFICANCE": str(thresholds.significance),
        "DRIFT_SHARE": str(thresholds.drift_share),
        "DRIFT_FEATURE_THRESHOLDS": json.dumps(
            {name: dict(own) for name, own in thresholds.features.items()}, sort_keys=True
        ),
        "DRIFT_EXCLUDE": json.dumps(list(thresholds.exclude)),
    }
    return {
        "DRIFT_CAPTURE_URI": capture_uri,
        "DRIFT_BASELINE_URI": baseline_uri,
        "DRIFT_REPORT_URI": report_uri,
        "DRIFT_ENDPOINT": endpoint,
        "DRIFT_FORMAT": fmt,
        "DRIFT_WINDOW_HOURS": str(window_hours),
        "DRIFT_METRIC_NAMESPACE": namespace,
        "DRIFT_PSI": str(thresholds.psi),
        "DRIFT_KS": str(thresholds.ks),
        "DRIFT_JS": str(thresholds.js),
        "DRIFT_MIN_ROWS": str(thresholds.min_rows),
        **extra,
    }


class Storage(Protocol):
    """The object-store operations the job needs (one implementation per cloud)."""

    def list_since(self, uri: str, since: dt.datetime) -> list[str]: ...

    def source(self, uri: str) -> Source: ...

    def read_text(self, uri: str) -> str: ...

    def write_text(self, uri: str, text: str) -> None: ...


class Metrics(Protocol):
    def publish(self, config: JobConfig, report: Mapping[str, Any]) -> None: ...


def run_job(
    config: JobConfig, storage: Storage, metrics: Metrics, now: dt.datetime | None = None
) -> dict[str, Any]:
    """One drift run; returns a summary (the full report is written to the store)."""
    now = now or dt.datetime.now(dt.UTC)
    thresholds = config.thresholds.validated("environment")
    text = storage.read_text(config.baseline_uri)
    baseline = parse_baseline(text.encode("utf-8"), printable(config.baseline_uri))
    since = now - dt.timedelta(hours=config.window_hours)
    objects = storage.list_since(config.capture_uri, since)
    features = list(baseline["features"])
    columns = Columns(features)
    comparison = Comparison(baseline, features)
    if objects:  # the same readers, bounds and checks as `mlops-iac drift check`
        names, rows = read([storage.source(uri) for uri in objects], config.fmt, features, columns)
        comparison.add(rows)
    report = comparison.report(thresholds, columns if objects else None)
    report.update(
        endpoint=config.endpoint,
        captureObjects=len(objects),
        window={
            "from": since.isoformat(timespec="seconds"),
            "to": now.isoformat(timespec="seconds"),
        },
        baselineUri=config.baseline_uri,
    )
    text = dumps(report)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    prefix = config.report_uri.rstrip("/")
    report_uri = f"{prefix}/{stamp}.json"
    storage.write_text(report_uri, text)
    storage.write_text(f"{prefix}/latest.json", text)
    metrics.publish(config, report)
    return {
        "verdict": report["verdict"],
        "drifted": report["drifted"],
        "rows": report["rows"],
        "maxPsi": report["maxPsi"],
        "report": report_uri,
    }


def split_uri(uri: str) -> tuple[str, str, str]:
    """``(scheme, bucket, key)`` of ``s3://``, ``gs://``, ``az://container/…``; local: ``file``."""
    match = re.match(r"^(s3|gs|az)://([^/]+)/?(.*)$", uri)
    if match:
        return match.group(1), match.group(2), match.group(3)
    if "://" in uri:
        raise DriftError(f"{uri}: unsupported URI (use s3://, gs://, az:// or a local path)")
    return "file", "", uri


class LazyChunks:
    """An iterable that calls its factory on each iteration (a source can be read twice)."""

    def __init__(self, factory: Any) -> None:
        self.factory = factory

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.factory())


def baseline_text(uri: str, body: bytes) -> str:
    """A baseline object's text: at most ``MAX_BASELINE_BYTES``, UTF-8 (one line if not)."""
    if len(body) > MAX_BASELINE_BYTES:
        raise DriftError(
            f"{printable(uri)}: larger than {MAX_BASELINE_BYTES} bytes, not a baseline"
        )
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DriftError(f"{printable(uri)}: not UTF-8 text") from None


def no_baseline(uri: str) -> DriftError:
    return DriftError(f"{uri}: no baseline there (run `mlops-iac drift baseline`)")


def read_http_text(uri: str, request: Callable[[], Any]) -> str:
    """The body of ``request()`` as text; a 404 is a missing baseline, said in one line."""
    import urllib.error

    try:
        with request() as response:
            return baseline_text(uri, read_limited(response.read))
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 404:
            raise no_baseline(uri) from None
        raise
