"""CloudWatch metric alarms evaluated against a synthetic metric store.

>>> store = MetricStore()
>>> store.put("AWS/SageMaker", "Invocations", {"EndpointName": "e", "VariantName": "AllTraffic"},
...           t=30, value=1.0)
>>> timeline = evaluate_alarm(recorded_alarm.inputs, store, until=3600)
>>> timeline.fired
False

What is modelled (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation.html):

- a metric is (namespace, name, the exact set of dimensions): an alarm on ``AutoScalingGroupName``
  sees only data published with exactly that dimension set;
- a datum is a raw value or a statistic set (``SampleCount``/``Sum``/``Minimum``/``Maximum``, as
  EC2 basic monitoring publishes); percentiles (``p99``) need raw values;
- statistics ``SampleCount``, ``Sum``, ``Average``, ``Minimum``, ``Maximum`` and ``pNN`` /
  ``pNN.N`` extended statistics, per ``period``;
- ``metricQueries`` with metric math: arithmetic, comparisons, ``IF(c, a, b)``, ``FILL(m, v)``;
  the query with ``returnData: true`` is what the alarm compares. ``FILL`` fills the gaps of a
  series that has data in the range the alarm queries (its ``evaluationPeriods``); a series with
  no datapoint in that range stays empty (missing), so it is not filled out of nothing
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html);
- ``evaluationPeriods`` N and ``datapointsToAlarm`` M (default N): ALARM when M of the last N
  periods breach;
- ``treatMissingData``: ``notBreaching`` (a missing period is good), ``breaching`` (bad),
  ``ignore`` (all N missing keeps the current state), ``missing`` (default; all N missing is
  ``INSUFFICIENT_DATA``); with ``ignore``/``missing`` only present periods are counted;
- comparison operators ``GreaterThanThreshold``, ``GreaterThanOrEqualToThreshold``,
  ``LessThanThreshold``, ``LessThanOrEqualToThreshold``.

Simplifications (stated so a reader can judge a result): the alarm is evaluated once per period
at its end over complete periods (CloudWatch evaluates every minute and may look further back
than N periods for ``missing``); anomaly-detection bands are not modelled.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlops_iac.plan.signals import _expr
from mlops_iac.plan.signals.timeline import Timeline

OK = "OK"
ALARM = "ALARM"
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"

_COMPARE = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


@dataclass(frozen=True)
class StatisticSet:
    """A pre-aggregated datum (``PutMetricData`` ``StatisticValues``)."""

    sample_count: float
    sum: float
    minimum: float
    maximum: float


@dataclass(frozen=True)
class Datum:
    namespace: str
    name: str
    dimensions: frozenset[tuple[str, str]]
    t: float
    """Seconds since the start of the synthetic series."""
    value: float | StatisticSet


@dataclass
class MetricStore:
    """What was published to CloudWatch (``PutMetricData`` by a service or by code)."""

    data: list[Datum] = field(default_factory=list)
    _index: dict[tuple[str, str, frozenset[tuple[str, str]]], list[tuple[float, Any]]] = field(
        default_factory=dict, repr=False
    )

    def put(
        self,
        namespace: str,
        name: str,
        dimensions: Mapping[str, str],
        t: float,
        value: float | StatisticSet,
    ) -> None:
        datum = Datum(namespace, name, frozenset(dimensions.items()), t, value)
        self.data.append(datum)
        insort(
            self._index.setdefault((namespace, name, datum.dimensions), []),
            (t, value),
            key=lambda item: item[0],
        )

    def put_metric_data(
        self, t: float, Namespace: str, MetricData: Iterable[Mapping[str, Any]]
    ) -> None:  # noqa: N803 (boto3's names)
        """Record one ``cloudwatch.put_metric_data`` call made at time ``t`` (boto3's arguments)."""
        for item in MetricData:
            dims = {d["Name"]: d["Value"] for d in item.get("Dimensions", [])}
            stats = item.get("StatisticValues")
            value: float | StatisticSet = (
                StatisticSet(stats["SampleCount"], stats["Sum"], stats["Minimum"], stats["Maximum"])
                if stats
                else float(item["Value"])
            )
            self.put(Namespace, item["MetricName"], dims, t, value)

    def values(
        self, namespace: str, name: str, dimensions: Mapping[str, str], start: float, end: float
    ) -> list[float | StatisticSet]:
        """The data of one metric with ``start <= t < end``."""
        series = self._index.get((namespace, name, frozenset(dimensions.items())), [])
        times = [t for t, _ in series]
        return [value for _, value in series[bisect_left(times, start) : bisect_left(times, end)]]


def statistic(name: str, values: list[float | StatisticSet]) -> float | None:
    """One period's statistic of ``values`` (``None``: no datapoint in that period)."""
    if not values:
        return None
    sets = [
        v if isinstance(v, StatisticSet) else StatisticSet(1.0, float(v), float(v), float(v))
        for v in values
    ]
    if name == "SampleCount":
        return sum(s.sample_count for s in sets)
    if name == "Sum":
        return sum(s.sum for s in sets)
    if name == "Average":
        return sum(s.sum for s in sets) / sum(s.sample_count for s in sets)
    if name == "Minimum":
        return min(s.minimum for s in sets)
    if name == "Maximum":
        return max(s.maximum for s in sets)
    if name.startswith("p"):
        if any(isinstance(v, StatisticSet) for v in values):
            raise ValueError(f"{name}: percentiles need raw values, not statistic sets")
        return percentile(sorted(float(v) for v in values), float(name[1:]))  # type: ignore[arg-type]
    raise ValueError(f"unsupported statistic {name!r}")


def percentile(ordered: list[float], p: float) -> float:
    """The nearest-rank percentile ``p`` (0-100) of sorted values."""
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def _metric_series(
    metric: Mapping[str, Any], stat: str, period: float, store: MetricStore, ends: list[float]
) -> list[float | None]:
    dims = metric.get("dimensions") or {}
    return [
        statistic(
            stat,
            store.values(metric["namespace"], metric["metricName"], dims, end - period, end),
        )
        for end in ends
    ]


def _if(cond: Any, a: Any, b: Any) -> Any:
    return None if cond is None else (a if cond else b)


def _fill(value: Any, default: Any) -> Any:
    return default if value is None else value


_LAZY = frozenset({"FILL"})


def _at(series: Mapping[str, list[float | None]], i: int) -> dict[str, float | None]:
    return {k: v[i] for k, v in series.items()}


def _windowed(
    series: Mapping[str, list[float | None]], i: int, window: int
) -> dict[str, Callable[..., Any]]:
    """The math functions at period ``i``: ``FILL`` sees the ``window`` periods up to it."""
    functions: dict[str, Callable[..., Any]] = {"IF": _if}

    def fill(arg: Any, default: Any) -> Any:
        def value(j: int) -> Any:
            return _expr.evaluate(arg, _at(series, j), functions, _LAZY)

        if all(value(j) is None for j in range(max(0, i - window + 1), i + 1)):
            return None  # nothing in the queried range: nothing to fill
        return _fill(value(i), _expr.evaluate(default, _at(series, i), functions, _LAZY))

    functions["FILL"] = fill
    return functions


def alarm_values(
    inputs: Mapping[str, Any], store: MetricStore, ends: list[float], window: int = 1
) -> list[float | None]:
    """The value the alarm compares for each period ending at ``ends``; ``FILL`` looks at the
    ``window`` periods up to each one (the range the alarm queries)."""
    queries = inputs.get("metricQueries")
    if not queries:
        stat = inputs.get("extendedStatistic") or inputs.get("statistic")
        if not stat:
            raise ValueError("alarm has neither statistic nor extendedStatistic")
        return _metric_series(inputs, stat, float(inputs["period"]), store, ends)
    series: dict[str, list[float | None]] = {}
    for query in queries:
        if "metric" in query and query["metric"]:
            metric = query["metric"]
            series[query["id"]] = _metric_series(
                metric, metric["stat"], float(metric["period"]), store, ends
            )
    for query in queries:
        if query.get("expression"):
            tree = _expr.parse(query["expression"])
            series[query["id"]] = [
                _expr.evaluate(tree, _at(series, i), _windowed(series, i, window), _LAZY)
                for i in range(len(ends))
            ]
    [returned] = [q["id"] for q in queries if q.get("returnData")]
    return series[returned]


def _period(inputs: Mapping[str, Any]) -> float:
    if inputs.get("period"):
        return float(inputs["period"])
    return min(
        float(q["metric"]["period"]) for q in inputs.get("metricQueries", []) if q.get("metric")
    )


def evaluate_alarm(
    inputs: Mapping[str, Any], store: MetricStore, until: float, start: float = 0.0
) -> Timeline:
    """The alarm's state at the end of every period from ``start`` to ``until`` (seconds).

    ``inputs``: the recorded ``aws:cloudwatch/metricAlarm:MetricAlarm`` inputs (camelCase).
    """
    period = _period(inputs)
    n = int(inputs["evaluationPeriods"])
    m = int(inputs.get("datapointsToAlarm") or n)
    threshold = float(inputs["threshold"])
    compare = _COMPARE[inputs["comparisonOperator"]]
    missing = inputs.get("treatMissingData") or "missing"
    ends = [start + period * (i + 1) for i in range(int((until - start) // period))]
    values = alarm_values(inputs, store, ends, window=n)
    timeline = Timeline(OK, ALARM)
    state = INSUFFICIENT_DATA
    for i, end in enumerate(ends):
        recent = values[max(0, i - n + 1) : i + 1]
        # Periods before the first one count as missing (the alarm was just created).
        window: list[float | None] = [*([None] * (n - len(recent))), *recent]
        present = [v for v in window if v is not None]
        if missing in ("notBreaching", "breaching"):
            bad = sum(1 for v in present if compare(v, threshold))
            if missing == "breaching":
                bad += n - len(present)
            state = ALARM if bad >= m else OK
        elif not present:
            state = state if missing == "ignore" else INSUFFICIENT_DATA
        else:
            bad = sum(1 for v in present if compare(v, threshold))
            state = ALARM if bad >= m else OK
        timeline.append(end, state, values[i])
    return timeline
