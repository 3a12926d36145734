"""Budget notifications of the three clouds, evaluated against synthetic daily cost lines.

A :class:`Cost` is one day's charge of one resource with the attributes the budgets filter on
(tags, instance type, project, resource id). Each evaluator returns a day-by-day timeline whose
value is the set of thresholds that notify that day (each notifies once per budget period).

- AWS Budgets (https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-managing-costs.html,
  https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_Notification.html):
  ``costFilters`` ``TagKeyValue`` (``user:<key>$<value>``; the tag must be an activated cost
  allocation tag) and ``InstanceType``; ``ACTUAL`` / ``FORECASTED`` notifications with
  ``PERCENTAGE`` thresholds of ``limitAmount``;
- GCP budgets (https://cloud.google.com/billing/docs/reference/budget/rest/v1/billingAccounts.budgets):
  ``budgetFilter.projects`` (``projects/<number>``), ``thresholdRules`` (``thresholdPercent`` as
  a fraction, ``CURRENT_SPEND`` / ``FORECASTED_SPEND``);
- Azure consumption budgets (https://learn.microsoft.com/rest/api/consumption/budgets/create-or-update):
  ``scope`` (a charge counts when its resource id is under the scope), ``notifications``
  (``Actual`` / ``Forecasted``, ``GreaterThan`` / ``GreaterThanOrEqualTo`` / ``EqualTo``,
  percentage of ``amount``).

Simplifications: a month has ``days`` days (30 by default); the forecast is the month-to-date
spend extrapolated linearly (the clouds use their own models); the clouds' billing-data delay
(hours to a day) is not modelled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlops_iac.plan.signals.timeline import Timeline

NOTIFIED = "NOTIFIED"
UNDER = "UNDER"


@dataclass(frozen=True)
class Cost:
    day: int
    """Day of the month, from 1."""
    amount: float
    tags: Mapping[str, str] = field(default_factory=dict)
    instance_type: str = ""
    project: str = ""
    """GCP: ``projects/<number>``."""
    resource_id: str = ""
    """Azure: the resource's id."""


def _run(
    costs: list[Cost],
    counts: Callable[[Cost], bool],
    limit: float,
    rules: list[tuple[str, float, bool, Callable[[float, float], bool]]],
    days: int,
) -> Timeline:
    """``rules``: (label, fraction of the limit, forecast?, comparison)."""
    timeline = Timeline(UNDER, NOTIFIED)
    spent = 0.0
    done: set[str] = set()
    for day in range(1, days + 1):
        spent += sum(c.amount for c in costs if c.day == day and counts(c))
        forecast = spent / day * days
        new = set()
        for label, fraction, forecasted, compare in rules:
            value = forecast if forecasted else spent
            if label not in done and compare(value, fraction * limit):
                done.add(label)
                new.add(label)
        timeline.append(day, NOTIFIED if new else UNDER, sorted(new))
    return timeline


def evaluate_aws_budget(inputs: Mapping[str, Any], costs: list[Cost], days: int = 30) -> Timeline:
    """The recorded ``aws:budgets/budget:Budget`` inputs over one month of ``costs``."""
    filters = {f["name"]: list(f["values"]) for f in inputs.get("costFilters") or []}

    def counts(cost: Cost) -> bool:
        for value in filters.get("TagKeyValue", []):
            key, _, expected = value.removeprefix("user:").partition("$")
            if cost.tags.get(key) != expected:
                return False
        types = filters.get("InstanceType")
        return not types or cost.instance_type in types

    rules = [
        (
            f"{n['notificationType']}-{n['threshold']:g}",
            float(n["threshold"]) / 100
            if n.get("thresholdType", "PERCENTAGE") == "PERCENTAGE"
            else float(n["threshold"]) / float(inputs["limitAmount"]),
            n["notificationType"] == "FORECASTED",
            {
                "GREATER_THAN": lambda v, t: v > t,
                "LESS_THAN": lambda v, t: v < t,
                "EQUAL_TO": lambda v, t: v == t,
            }[n["comparisonOperator"]],
        )
        for n in inputs["notifications"]
    ]
    return _run(costs, counts, float(inputs["limitAmount"]), rules, days)


def evaluate_gcp_budget(inputs: Mapping[str, Any], costs: list[Cost], days: int = 30) -> Timeline:
    """The recorded ``gcp:billing/budget:Budget`` inputs over one month of ``costs``."""
    projects = set((inputs.get("budgetFilter") or {}).get("projects") or [])
    amount = inputs["amount"]["specifiedAmount"]
    limit = float(amount.get("units", 0)) + float(amount.get("nanos", 0)) / 1e9
    rules = [
        (
            f"{r.get('spendBasis', 'CURRENT_SPEND')}-{r['thresholdPercent']:g}",
            float(r["thresholdPercent"]),
            r.get("spendBasis") == "FORECASTED_SPEND",
            lambda v, t: v >= t,
        )
        for r in inputs["thresholdRules"]
    ]
    return _run(costs, lambda c: not projects or c.project in projects, limit, rules, days)


def evaluate_azure_budget(inputs: Mapping[str, Any], costs: list[Cost], days: int = 30) -> Timeline:
    """The recorded ``azure-native:consumption:Budget`` inputs over one month of ``costs``."""
    scope = inputs["scope"].lower().rstrip("/") + "/"
    rules = [
        (
            label,
            float(n["threshold"]) / 100,
            n.get("thresholdType", "Actual") == "Forecasted",
            {
                "GreaterThan": lambda v, t: v > t,
                "GreaterThanOrEqualTo": lambda v, t: v >= t,
                "EqualTo": lambda v, t: v == t,
            }[n["operator"]],
        )
        for label, n in inputs["notifications"].items()
        if n.get("enabled", True)
    ]
    return _run(
        costs,
        lambda c: c.resource_id.lower().startswith(scope),
        float(inputs["amount"]),
        rules,
        days,
    )
