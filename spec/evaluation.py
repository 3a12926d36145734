"""The evaluation gate and artifact binding, as pure functions over plain values.

``serving.model.criteria`` lists what a candidate's recorded metrics must meet (``auc >= 0.91``,
``p95_latency_ms <= 80``); ``mlops-iac approve`` refuses to sign a version that misses one, and
``plan`` re-checks the signed metrics of the served version's approval against the stack file's
criteria and against the criteria the approval itself signed (so lowering criteria in the stack
file changes nothing until an approver signs an approval under the lowered ones).

Everything here reads values the pack process may hand over unvalidated, so nothing trusts a
shape: a metric that is not a finite number never meets a criterion. No pydantic, no Pulumi.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

COMPARISONS = (">=", "<=", ">", "<")
#: Metric names are ASCII (lowercase, digits, ``_ . / -``): a Cyrillic ``аuc`` or a fullwidth
#: letter cannot stand in for ``auc``, and names compare exactly.
METRIC_NAME = r"^[a-z][a-z0-9_./-]{0,63}$"
_METRIC = re.compile(METRIC_NAME)
_CRITERION = re.compile(r"^\s*(?P<metric>\S+?)\s*(?P<op>>=|<=|>|<)\s*(?P<threshold>\S+)\s*$")
#: An image pinned by digest: ``repository[:tag]@sha256:<64 lowercase hex>``.
IMAGE_DIGEST = re.compile(r"^[^\s@]+@(?P<digest>sha256:[0-9a-f]{64})$")
SHA256 = r"^[0-9a-f]{64}$"
#: The most metrics an approval records (the criteria name them; a run may log more).
MAX_METRICS = 64


@dataclass(frozen=True)
class Criterion:
    """One criterion: ``metric comparison threshold``."""

    metric: str
    comparison: str
    threshold: float

    @property
    def text(self) -> str:
        """The canonical spelling, ``auc >= 0.91`` (what an approval signs)."""
        return f"{self.metric} {self.comparison} {self.threshold!r}"

    def met_by(self, value: Any) -> bool:
        """Whether ``value`` meets it; a non-number, NaN or infinity never does."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        value = float(value)
        if not math.isfinite(value):
            return False
        return {
            ">=": value >= self.threshold,
            "<=": value <= self.threshold,
            ">": value > self.threshold,
            "<": value < self.threshold,
        }[self.comparison]


def parse_criterion(value: Any) -> Criterion:
    """A criterion from ``"auc >= 0.91"`` or ``{metric, comparison, threshold}``.

    Raises ``ValueError`` with one line naming what is wrong.
    """
    if isinstance(value, str):
        found = _CRITERION.match(value)
        if not found:
            raise ValueError(f"{value!r} is not 'metric comparison threshold' (e.g. 'auc >= 0.91')")
        metric, comparison, raw = found["metric"], found["op"], found["threshold"]
        try:
            threshold: Any = float(raw)
        except ValueError:
            raise ValueError(f"threshold {raw!r} of {value!r} is not a number") from None
    elif isinstance(value, Mapping):
        unknown = set(value) - {"metric", "comparison", "threshold"}
        if unknown:
            raise ValueError(f"unknown key {sorted(unknown)[0]!r} (metric, comparison, threshold)")
        metric, comparison, threshold = (
            value.get("metric"),
            value.get("comparison"),
            value.get("threshold"),
        )
    else:
        raise ValueError("must be 'metric comparison threshold' or {metric, comparison, threshold}")
    if not isinstance(metric, str) or not _METRIC.match(metric):
        raise ValueError(
            f"metric {metric!r} must be lowercase ASCII letters, digits, '_', '.', '/', '-'"
        )
    if comparison not in COMPARISONS:
        raise ValueError(f"comparison {comparison!r} must be one of {', '.join(COMPARISONS)}")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise ValueError(f"threshold of {metric} must be a number, got {threshold!r}")
    if not math.isfinite(float(threshold)):
        raise ValueError(f"threshold of {metric} must be finite, got {threshold!r}")
    return Criterion(metric, str(comparison), float(threshold))


def parse_criteria(values: Iterable[Any]) -> list[Criterion]:
    """Criteria in order; a metric named twice is refused (which one would hold?)."""
    criteria: list[Criterion] = []
    for value in values:
        criterion = parse_criterion(value)
        if any(c.metric == criterion.metric for c in criteria):
            raise ValueError(f"metric {criterion.metric!r} has more than one criterion")
        criteria.append(criterion)
    return criteria


def metric_value(value: Any) -> float:
    """A recorded metric as a finite float; ``ValueError`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"is not a number ({value!r})")
    if not math.isfinite(float(value)):
        raise ValueError(f"is not finite ({value!r})")
    return float(value)


def misses(criteria: Iterable[Criterion], metrics: Mapping[str, Any]) -> list[str]:
    """One line per criterion the metrics miss: ``auc is 0.88, below auc >= 0.91``."""
    found = []
    for criterion in criteria:
        if criterion.metric not in metrics:
            found.append(f"{criterion.metric} is not recorded (criterion {criterion.text})")
        elif not criterion.met_by(metrics[criterion.metric]):
            found.append(
                f"{criterion.metric} is {metrics[criterion.metric]!r}, which misses "
                f"{criterion.text}"
            )
    return found


def canonical_metrics(metrics: Mapping[str, Any]) -> str:
    """The metrics as the signature covers them: ``name=value`` pairs, sorted, ``;``-joined."""
    return ";".join(f"{name}={float(metrics[name])!r}" for name in sorted(metrics))


def image_digest(image: Any) -> str | None:
    """``sha256:<hex>`` of an image reference pinned by digest, else ``None`` (a tag)."""
    if not isinstance(image, str):
        return None
    found = IMAGE_DIGEST.match(image)
    return found["digest"] if found else None


def lowered(signed: Iterable[Criterion], current: Iterable[Criterion]) -> list[str]:
    """Each criterion of ``signed`` that ``current`` drops or loosens (``auc >= 0.95`` → ``auc >=
    0.91``, or ``>`` → ``>=`` at the same threshold), as ``old → new`` text."""
    now = {c.metric: c for c in current}
    found = []
    for old in signed:
        new = now.get(old.metric)
        if new is None:
            found.append(f"{old.text} → (removed)")
            continue
        up = old.comparison in (">=", ">")
        if up != (new.comparison in (">=", ">")):
            found.append(f"{old.text} → {new.text}")
            continue
        strict_old, strict_new = old.comparison in (">", "<"), new.comparison in (">", "<")
        looser = (new.threshold < old.threshold if up else new.threshold > old.threshold) or (
            new.threshold == old.threshold and strict_old and not strict_new
        )
        if looser:
            found.append(f"{old.text} → {new.text}")
    return found
