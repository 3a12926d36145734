"""Cloud Monitoring alert policies evaluated against synthetic time series and log entries.

What is modelled (https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.alertPolicies,
https://cloud.google.com/monitoring/alerts/concepts-indepth,
https://cloud.google.com/logging/docs/view/logging-query-language):

- filters: ``field = "v"``, ``field != "v"``, ``field : "v"`` (has / substring), ``AND``, ``OR``,
  ``NOT`` and parentheses; ``metric.type``, ``metric.labels.*``, ``resource.type``,
  ``resource.labels.*`` (``label`` or ``labels``) for metrics, any dotted path for log entries;
- ``conditionThreshold``: ``aggregations`` (``alignmentPeriod``; aligners ``ALIGN_RATE``,
  ``ALIGN_DELTA``, ``ALIGN_SUM``, ``ALIGN_MEAN``, ``ALIGN_MAX``, ``ALIGN_MIN``, ``ALIGN_COUNT``,
  ``ALIGN_PERCENTILE_99/95/50``; reducers ``REDUCE_SUM``, ``REDUCE_MAX``, ``REDUCE_MIN``,
  ``REDUCE_MEAN``, ``REDUCE_COUNT``, ``REDUCE_NONE`` with ``groupByFields``), the ratio form
  (``denominatorFilter`` + ``denominatorAggregations``: a group with no numerator series is 0,
  one with no denominator has no value), ``comparison``, ``thresholdValue``, ``duration`` (every
  aligned value for that long violates) and ``trigger.count`` (how many series must violate);
- ``conditionAbsent``: a series that had data and then none for ``duration``;
- ``conditionMatchedLog``: an incident per matching entry, at most one notification per
  ``alertStrategy.notificationRateLimit.period``;
- ``combiner`` ``OR`` / ``AND``.

Simplification: policies are evaluated every ``step`` seconds (60 by default) over the window
ending then; Monitoring's own evaluation cadence and ingestion delay are not modelled.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlops_iac.plan.signals.cloudwatch import percentile
from mlops_iac.plan.signals.timeline import Timeline

OPEN = "OPEN"
CLOSED = "CLOSED"


@dataclass
class TimeSeries:
    """One time series: its metric/resource identity and ``(t, value)`` points.

    ``value``: a number, or a list of numbers for a ``DISTRIBUTION`` point (the samples of that
    interval, e.g. request latencies). DELTA points hold what happened since the previous point.
    """

    metric_type: str
    metric_labels: dict[str, str]
    resource_type: str
    resource_labels: dict[str, str]
    points: list[tuple[float, Any]] = field(default_factory=list)

    def as_filterable(self) -> dict[str, Any]:
        return {
            "metric": {"type": self.metric_type, "labels": self.metric_labels},
            "resource": {"type": self.resource_type, "labels": self.resource_labels},
        }


def time_series_from_api(body: Mapping[str, Any], t: float) -> list[TimeSeries]:
    """The series of one ``projects.timeSeries.create`` request body, written at time ``t``."""
    out = []
    for series in body["timeSeries"]:
        points = []
        for point in series["points"]:
            value = point["value"]
            number = (
                float(value["int64Value"]) if "int64Value" in value else float(value["doubleValue"])
            )
            points.append((t, number))
        out.append(
            TimeSeries(
                series["metric"]["type"],
                dict(series["metric"].get("labels", {})),
                series["resource"]["type"],
                dict(series["resource"].get("labels", {})),
                points,
            )
        )
    return out


# --- filters ------------------------------------------------------------------------------

_FILTER_TOKEN = re.compile(
    r"\s*(?:(?P<str>\"(?:[^\"\\]|\\.)*\")|(?P<op>!=|=|:|\(|\))"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_.\-/]*))"
)


def _resolve(entry: Mapping[str, Any], path: str) -> Any:
    value: Any = entry
    for part in path.split("."):
        part = "labels" if part == "label" else part
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


class Filter:
    """A parsed monitoring or logging filter; ``matches(entry)`` on a nested mapping."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        stripped = text.strip()
        while pos < len(stripped):
            match = _FILTER_TOKEN.match(stripped, pos)
            if match is None or match.end() == pos:
                raise ValueError(f"unsupported filter syntax at {stripped[pos : pos + 20]!r}")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            pos = match.end()
            while pos < len(stripped) and stripped[pos].isspace():
                pos += 1
        self.pos = 0
        self.tree = self._or()
        if self.pos != len(self.tokens):
            raise ValueError(f"{text!r}: unexpected {self.tokens[self.pos][1]!r}")

    def _peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def _or(self) -> Any:
        terms = [self._and()]
        while self._peek() == "OR":
            self._take()
            terms.append(self._and())
        return ("or", terms) if len(terms) > 1 else terms[0]

    def _and(self) -> Any:
        terms = [self._not()]
        while self._peek() not in (None, "OR", ")"):
            if self._peek() == "AND":
                self._take()
            terms.append(self._not())  # juxtaposition is AND in the logging language
        return ("and", terms) if len(terms) > 1 else terms[0]

    def _not(self) -> Any:
        if self._peek() == "NOT":
            self._take()
            return ("not", self._not())
        if self._peek() == "(":
            self._take()
            node = self._or()
            self._take()
            return node
        _, path = self._take()
        _, op = self._take()
        kind, value = self._take()
        if kind == "str":
            value = value[1:-1].replace('\\"', '"')
        return ("cmp", path, op, value)

    def matches(self, entry: Mapping[str, Any]) -> bool:
        return self._eval(self.tree, entry)

    def _eval(self, node: Any, entry: Mapping[str, Any]) -> bool:
        kind = node[0]
        if kind == "or":
            return any(self._eval(n, entry) for n in node[1])
        if kind == "and":
            return all(self._eval(n, entry) for n in node[1])
        if kind == "not":
            return not self._eval(node[1], entry)
        _, path, op, expected = node
        actual = _resolve(entry, path)
        if op == ":":
            return actual is not None and expected.lower() in str(actual).lower()
        if op == "=":
            return actual is not None and str(actual) == expected
        return actual is None or str(actual) != expected


# --- aggregation --------------------------------------------------------------------------


def _seconds(text: str | None, default: float = 0.0) -> float:
    return float(text.rstrip("s")) if text else default


def _align(aligner: str, points: list[tuple[float, Any]], period: float) -> float | None:
    if not points:
        return None
    values = [v for _, v in points]
    flat = [x for v in values for x in (v if isinstance(v, list) else [v])]
    if aligner.startswith("ALIGN_PERCENTILE_"):
        return percentile(sorted(flat), float(aligner.rsplit("_", 1)[1])) if flat else None
    if aligner == "ALIGN_RATE":
        return sum(flat) / period
    if aligner in ("ALIGN_DELTA", "ALIGN_SUM"):
        return float(sum(flat))
    if aligner == "ALIGN_MEAN":
        return sum(flat) / len(flat)
    if aligner == "ALIGN_MAX":
        return max(flat)
    if aligner == "ALIGN_MIN":
        return min(flat)
    if aligner == "ALIGN_COUNT":
        return float(len(flat))
    raise ValueError(f"unsupported aligner {aligner}")


def _reduce(reducer: str, values: list[float]) -> float:
    if reducer == "REDUCE_SUM":
        return sum(values)
    if reducer == "REDUCE_MAX":
        return max(values)
    if reducer == "REDUCE_MIN":
        return min(values)
    if reducer == "REDUCE_MEAN":
        return sum(values) / len(values)
    if reducer == "REDUCE_COUNT":
        return float(len(values))
    raise ValueError(f"unsupported reducer {reducer}")


def _identity(series: TimeSeries) -> tuple[str, ...]:
    labels = {**series.metric_labels, **series.resource_labels}
    return (series.metric_type, *(f"{k}={v}" for k, v in sorted(labels.items())))


def aggregate(
    series: list[TimeSeries], flt: str, aggregations: list[Mapping[str, Any]], end: float
) -> dict[tuple[str, ...], float]:
    """The aligned (and reduced) value of each output series for the window ending at ``end``."""
    matcher = Filter(flt)
    chosen = [s for s in series if matcher.matches(s.as_filterable())]
    agg = aggregations[0] if aggregations else {}
    period = _seconds(agg.get("alignmentPeriod"), 60.0)
    aligner = agg.get("perSeriesAligner", "ALIGN_NONE")
    aligned: list[tuple[TimeSeries, float]] = []
    for s in chosen:
        window = [(t, v) for t, v in s.points if end - period < t <= end]
        if aligner == "ALIGN_NONE":
            value = window[-1][1] if window else None
        else:
            value = _align(aligner, window, period)
        if value is not None:
            aligned.append((s, value))
    reducer = agg.get("crossSeriesReducer", "REDUCE_NONE")
    if reducer == "REDUCE_NONE":
        return {_identity(s): value for s, value in aligned}
    fields = list(agg.get("groupByFields", []))
    groups: dict[tuple[str, ...], list[float]] = {}
    for s, v in aligned:
        key = tuple(str(_resolve(s.as_filterable(), f)) for f in fields)
        groups.setdefault(key, []).append(v)
    return {key: _reduce(reducer, values) for key, values in groups.items()}


_COMPARISON = {
    "COMPARISON_GT": lambda v, t: v > t,
    "COMPARISON_GE": lambda v, t: v >= t,
    "COMPARISON_LT": lambda v, t: v < t,
    "COMPARISON_LE": lambda v, t: v <= t,
    "COMPARISON_EQ": lambda v, t: v == t,
    "COMPARISON_NE": lambda v, t: v != t,
}


def _threshold_values(
    cond: Mapping[str, Any], series: list[TimeSeries], end: float
) -> dict[tuple[str, ...], float]:
    numerator = aggregate(series, cond["filter"], cond.get("aggregations", []), end)
    if not cond.get("denominatorFilter"):
        return numerator
    denominator = aggregate(
        series, cond["denominatorFilter"], cond.get("denominatorAggregations", []), end
    )
    return {key: numerator.get(key, 0.0) / d for key, d in denominator.items() if d}


def _threshold_met(
    cond: Mapping[str, Any], series: list[TimeSeries], end: float, step: float
) -> tuple[bool, Any]:
    duration = _seconds(cond.get("duration"))
    compare = _COMPARISON[cond.get("comparison", "COMPARISON_GT")]
    threshold = float(cond.get("thresholdValue", 0.0))
    times = [end - k * step for k in range(int(duration // step) + 1)]
    violating: set[tuple[str, ...]] | None = None
    last: dict[tuple[str, ...], float] = {}
    for t in times:
        values = _threshold_values(cond, series, t)
        if t == end:
            last = values
        bad = {key for key, v in values.items() if compare(v, threshold)}
        violating = bad if violating is None else violating & bad
    count = int((cond.get("trigger") or {}).get("count", 1))
    return len(violating or ()) >= count, last


def _absent_met(cond: Mapping[str, Any], series: list[TimeSeries], end: float) -> tuple[bool, Any]:
    duration = _seconds(cond.get("duration"), 60.0)
    matcher = Filter(cond["filter"])
    chosen = [s for s in series if matcher.matches(s.as_filterable())]
    absent = [
        s
        for s in chosen
        if any(t <= end - duration for t, _ in s.points)
        and not any(end - duration < t <= end for t, _ in s.points)
    ]
    return bool(absent), len(absent)


def evaluate_policy(
    inputs: Mapping[str, Any],
    until: float,
    series: list[TimeSeries] = (),  # type: ignore[assignment]
    logs: list[tuple[float, Mapping[str, Any]]] = (),  # type: ignore[assignment]
    step: float = 60.0,
    start: float = 0.0,
) -> Timeline:
    """The policy's incident state every ``step`` seconds from ``start`` to ``until``.

    ``inputs``: the recorded ``gcp:monitoring/alertPolicy:AlertPolicy`` inputs; ``series``: the
    metric data; ``logs``: ``(t, LogEntry as a mapping)`` pairs. For a log-match condition the
    timeline is ``OPEN`` at the evaluations that notify (rate limit applied).
    """
    series = list(series)
    logs = sorted(logs, key=lambda item: item[0])
    combiner = inputs.get("combiner", "OR")
    rate = _seconds(
        ((inputs.get("alertStrategy") or {}).get("notificationRateLimit") or {}).get("period")
    )
    last_notified: float | None = None
    timeline = Timeline(CLOSED, OPEN)
    t = start + step
    while t <= until:
        results = []
        for condition in inputs["conditions"]:
            if "conditionThreshold" in condition:
                results.append(_threshold_met(condition["conditionThreshold"], series, t, step))
            elif "conditionAbsent" in condition:
                results.append(_absent_met(condition["conditionAbsent"], series, t))
            elif "conditionMatchedLog" in condition:
                matcher = Filter(condition["conditionMatchedLog"]["filter"])
                hits = [e for when, e in logs if t - step < when <= t and matcher.matches(e)]
                met = bool(hits) and (last_notified is None or t - last_notified >= rate)
                if met:
                    last_notified = t
                results.append((met, len(hits)))
            else:
                raise ValueError(f"unsupported condition {sorted(condition)}")
        flags = [met for met, _ in results]
        met = all(flags) if combiner == "AND" else any(flags)
        timeline.append(t, OPEN if met else CLOSED, [value for _, value in results])
        t += step
    return timeline
