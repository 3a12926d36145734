"""Azure Monitor metric alerts and log search (scheduled query) alerts, evaluated offline.

What is modelled (https://learn.microsoft.com/azure/azure-monitor/alerts/alerts-types,
https://learn.microsoft.com/rest/api/monitor/metric-alerts/create-or-update,
https://learn.microsoft.com/rest/api/monitor/scheduled-query-rules/create-or-update):

- metric alerts: every ``evaluationFrequency`` the ``timeAggregation`` (``Average``, ``Minimum``,
  ``Maximum``, ``Total``, ``Count``) of each time series of the criterion's metric (namespace,
  name, ``dimensions`` Include/Exclude) over the last ``windowSize`` is compared with the
  ``threshold``; ``allOf`` criteria must all hold; one series violating is enough;
- log search alerts: the rule's KQL query runs over the rows of the last ``windowSize`` (by
  ``TimeGenerated``) every ``evaluationFrequency``; without ``metricMeasureColumn`` the measure is
  the number of result rows (``timeAggregation: Count``), with it the aggregation of that column;
  ``failingPeriods`` (``minFailingPeriodsToAlert`` of ``numberOfEvaluationPeriods``);
- KQL, only the subset the toolkit's queries use: ``T | where <predicate>``, ``summarize a =
  count(), b = countif(<predicate>) [by c, d]`` (no ``by`` on no rows gives one row of zeros, as
  Kusto does), ``extend x = <expr>``; scalar ``iff``, ``toint``, ``todouble``, ``tostring``,
  ``== != =~ < <= > >= and or`` and arithmetic.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlops_iac.plan.signals import _expr
from mlops_iac.plan.signals.timeline import Timeline

FIRED = "FIRED"
RESOLVED = "RESOLVED"


def iso_seconds(text: str) -> float:
    """Seconds of an ISO 8601 duration such as ``PT5M``, ``PT1H``, ``P1D``."""
    match = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?", text)
    if match is None or not any(match.groups()):
        raise ValueError(f"unsupported duration {text!r}")
    d, h, m, s = (int(g or 0) for g in match.groups())
    return float(((d * 24 + h) * 60 + m) * 60 + s)


@dataclass(frozen=True)
class MetricSample:
    """One pre-aggregated metric value (what Azure Monitor stores per minute)."""

    resource_id: str
    namespace: str
    name: str
    dimensions: Mapping[str, str]
    t: float
    minimum: float
    maximum: float
    total: float
    count: float


@dataclass
class AzureMetrics:
    """Platform and custom metric values of Azure resources."""

    samples: list[MetricSample] = field(default_factory=list)

    def put(
        self,
        resource_id: str,
        namespace: str,
        name: str,
        t: float,
        value: float,
        dimensions: Mapping[str, str] | None = None,
    ) -> None:
        self.samples.append(
            MetricSample(
                resource_id, namespace, name, dict(dimensions or {}), t, value, value, value, 1
            )
        )

    def ingest(self, resource_id: str, document: Mapping[str, Any], t: float) -> None:
        """One custom-metrics ingestion document (``POST …/<resource id>/metrics``) at ``t``."""
        base = document["data"]["baseData"]
        for series in base["series"]:
            dims = dict(zip(base.get("dimNames", []), series.get("dimValues", []), strict=True))
            self.samples.append(
                MetricSample(
                    resource_id,
                    base["namespace"],
                    base["metric"],
                    dims,
                    t,
                    float(series["min"]),
                    float(series["max"]),
                    float(series["sum"]),
                    float(series["count"]),
                )
            )


def _aggregate(kind: str, samples: list[MetricSample]) -> float:
    if kind == "Average":
        return sum(s.total for s in samples) / sum(s.count for s in samples)
    if kind == "Minimum":
        return min(s.minimum for s in samples)
    if kind == "Maximum":
        return max(s.maximum for s in samples)
    if kind == "Total":
        return sum(s.total for s in samples)
    if kind == "Count":
        return sum(s.count for s in samples)
    raise ValueError(f"unsupported timeAggregation {kind}")


_OPERATORS = {
    "GreaterThan": lambda v, t: v > t,
    "GreaterThanOrEqual": lambda v, t: v >= t,
    "LessThan": lambda v, t: v < t,
    "LessThanOrEqual": lambda v, t: v <= t,
    "Equals": lambda v, t: v == t,
}


def _dimensions_match(criterion: Mapping[str, Any], dims: Mapping[str, str]) -> bool:
    for rule in criterion.get("dimensions") or []:
        values = [v.lower() for v in rule["values"]]
        actual = str(dims.get(rule["name"], "")).lower()
        inside = "*" in values or actual in values
        if inside != (rule.get("operator", "Include") == "Include"):
            return False
    return True


def evaluate_metric_alert(
    inputs: Mapping[str, Any], metrics: AzureMetrics, until: float, start: float = 0.0
) -> Timeline:
    """The recorded ``azure-native:monitor:MetricAlert`` inputs, every ``evaluationFrequency``."""
    step = iso_seconds(inputs["evaluationFrequency"])
    window = iso_seconds(inputs["windowSize"])
    scopes = {s.lower() for s in inputs["scopes"]}
    timeline = Timeline(RESOLVED, FIRED)
    t = start + step
    while t <= until:
        verdicts = []
        values: dict[str, Any] = {}
        for criterion in inputs["criteria"]["allOf"]:
            series: dict[tuple[tuple[str, str], ...], list[MetricSample]] = {}
            for s in metrics.samples:
                if (
                    s.resource_id.lower() in scopes
                    and s.name == criterion["metricName"]
                    and s.namespace.lower() == criterion.get("metricNamespace", s.namespace).lower()
                    and t - window <= s.t < t
                    and _dimensions_match(criterion, s.dimensions)
                ):
                    series.setdefault(tuple(sorted(s.dimensions.items())), []).append(s)
            compare = _OPERATORS[criterion["operator"]]
            aggregated = [_aggregate(criterion["timeAggregation"], v) for v in series.values()]
            values[criterion["name"]] = aggregated
            verdicts.append(any(compare(v, float(criterion["threshold"])) for v in aggregated))
        timeline.append(t, FIRED if verdicts and all(verdicts) else RESOLVED, values)
        t += step
    return timeline


# --- KQL subset ---------------------------------------------------------------------------


def _split(text: str, sep: str) -> list[str]:
    """``text`` split at ``sep`` outside quotes and parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    parts.append("".join(current).strip())
    return parts


def _assignments(text: str) -> list[tuple[str, _expr.Node]]:
    out = []
    for part in _split(text, ","):
        match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*=(?![=~])\s*(.+)", part, re.S)
        if match is None:
            raise _expr.ExprError(f"unsupported KQL column definition {part!r}")
        out.append((match.group(1), _expr.parse(match.group(2))))
    return out


def _toint(value: Any) -> Any:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


_SCALAR: dict[str, Callable[..., Any]] = {
    "iff": lambda c, a, b: a if c else b,
    "iif": lambda c, a, b: a if c else b,
    "toint": _toint,
    "todouble": lambda v: None if v is None else float(v),
    "tostring": lambda v: "" if v is None else str(v),
}


def _scalar(node: _expr.Node, row: Mapping[str, Any]) -> Any:
    return _expr.evaluate(node, _Row(row), _SCALAR)


class _Row(dict):  # type: ignore[type-arg]
    """A row as an environment: a column the row lacks is null (Kusto: empty)."""

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> Any:
        return None


def run_kql(query: str, tables: Mapping[str, list[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """The result rows of ``query`` over ``tables`` (table name → rows)."""
    stages = _split(query, "|")
    table = stages[0].strip()
    if table not in tables and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", table):
        raise _expr.ExprError(f"unsupported KQL source {table!r}")
    rows: list[dict[str, Any]] = [dict(r) for r in tables.get(table, [])]
    for stage in stages[1:]:
        operator, _, rest = stage.partition(" ")
        rest = rest.strip()
        if operator == "where":
            predicate = _expr.parse(rest)
            rows = [r for r in rows if _scalar(predicate, r)]
        elif operator == "extend":
            for name, node in _assignments(rest):
                for r in rows:
                    r[name] = _scalar(node, r)
        elif operator == "summarize":
            match = re.fullmatch(r"(.*?)\s+by\s+(.+)", rest, re.S)
            aggs, by = (match.group(1), match.group(2)) if match else (rest, "")
            keys = [k.strip() for k in by.split(",")] if by else []
            groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
            for r in rows:
                groups.setdefault(tuple(r.get(k) for k in keys), []).append(r)
            if not keys and not groups:
                groups[()] = []  # summarize without by always returns one row
            out = []
            for key, members in groups.items():
                result: dict[str, Any] = dict(zip(keys, key, strict=True))
                for name, node in _assignments(aggs):
                    result[name] = _aggregate_rows(node, members)
                out.append(result)
            rows = out
        else:
            raise _expr.ExprError(f"unsupported KQL operator {operator!r}")
    return rows


def _aggregate_rows(node: _expr.Node, rows: list[dict[str, Any]]) -> Any:
    if node.kind != "call":
        raise _expr.ExprError("summarize needs an aggregation function")
    name = node.value.lower()
    if name == "count" and not node.args:
        return len(rows)
    if name == "countif":
        return sum(1 for r in rows if _scalar(node.args[0], r))
    values = [v for r in rows if (v := _scalar(node.args[0], r)) is not None]
    if name == "sum":
        return sum(values)
    if name == "max":
        return max(values) if values else None
    if name == "min":
        return min(values) if values else None
    if name == "avg":
        return sum(values) / len(values) if values else None
    raise _expr.ExprError(f"unsupported KQL aggregation {node.value}()")


def evaluate_log_alert(
    inputs: Mapping[str, Any],
    tables: Mapping[str, list[Mapping[str, Any]]],
    until: float,
    start: float = 0.0,
) -> Timeline:
    """The recorded ``azure-native:monitor:ScheduledQueryRule`` inputs against log rows.

    Each row carries ``TimeGenerated`` (seconds); the query sees the rows of the last
    ``windowSize``. ``FIRED`` marks the evaluations that alert.
    """
    step = iso_seconds(inputs["evaluationFrequency"])
    window = iso_seconds(inputs["windowSize"])
    [criterion] = inputs["criteria"]["allOf"]
    compare = _OPERATORS[criterion["operator"]]
    failing = criterion.get("failingPeriods") or {}
    n = int(failing.get("numberOfEvaluationPeriods", 1))
    m = int(failing.get("minFailingPeriodsToAlert", 1))
    history: list[bool] = []
    timeline = Timeline(RESOLVED, FIRED)
    t = start + step
    while t <= until:
        visible = {
            name: [r for r in rows if t - window <= r["TimeGenerated"] < t]
            for name, rows in tables.items()
        }
        result = run_kql(criterion["query"], visible)
        column = criterion.get("metricMeasureColumn")
        if column:
            values = [r[column] for r in result if r.get(column) is not None]
            measure = (
                _aggregate(
                    criterion["timeAggregation"],
                    [MetricSample("", "", "", {}, 0, v, v, v, 1) for v in values],
                )
                if values
                else None
            )
        else:
            measure = float(len(result))
        history.append(measure is not None and compare(measure, float(criterion["threshold"])))
        fired = sum(history[-n:]) >= m
        timeline.append(t, FIRED if fired else RESOLVED, measure)
        t += step
    return timeline
