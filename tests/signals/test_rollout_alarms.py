"""The rollout functions' alerts of the reference stacks, proven against their signals: each
watches the new version only (the revision tagged ``current`` on GCP, deployment ``green`` on
Azure), stays quiet while the new version is healthy, even when the previous version fails, and
fires when the new version fails the way it watches. The signals are emitted under the names the
plan's service or endpoint carries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mlops_iac.plan.signals import Timeline, azure, emitters, gcp
from mlops_iac.plan.signals.emitters import AML_ENDPOINT_NAMESPACE, Minute, traffic
from mlops_iac.plan.testing import Recording
from tests.conftest import reference_recording
from tests.signals._rollout import ROLLOUT_ALARMS

ALERT_TYPES = {
    "gcp:monitoring/alertPolicy:AlertPolicy",
    "azure-native:monitor:MetricAlert",
    "azure-native:monitor:ScheduledQueryRule",
}


# --- GCP ----------------------------------------------------------------------------------


def _revisions(rec: Recording) -> tuple[str, str, str]:
    # The serving endpoint's service (a stack may run other Cloud Run services, e.g. tracking).
    service = rec.named("mlops-serving-service", "gcp:cloudrunv2/service:Service")
    tags = {t["tag"]: t["revision"] for t in service.inputs["traffics"]}
    return str(service.inputs["name"]), tags["current"], tags.get("previous", "none")


def _threshold(rec: Recording, name: str) -> float:
    return float(rec.named(name).inputs["conditions"][0]["conditionThreshold"]["thresholdValue"])


def _gcp(rec: Recording, name: str, new: list[Minute], old: list[Minute]) -> Timeline:
    service, current, previous = _revisions(rec)
    series = emitters.cloud_run_requests(service, current, new)
    series += emitters.cloud_run_requests(service, previous, old)
    return gcp.evaluate_policy(rec.named(name).inputs, until=60 * len(new), series=series)


def gcp_errors(rec: Recording, name: str, failing: bool) -> Timeline:
    errors = int(200 * _threshold(rec, name) * 10)
    if failing:  # the canary fails, the previous revision is fine
        return _gcp(rec, name, traffic(10, 20) + traffic(20, 20, errors=errors // 10 or 1),
                    traffic(30, 180))  # fmt: skip
    # The previous revision fails (not the rollout's fault), the canary is fine.
    return _gcp(rec, name, traffic(30, 20), traffic(30, 180, errors=errors))


def gcp_latency(rec: Recording, name: str, failing: bool) -> Timeline:
    limit = _threshold(rec, name)
    if failing:
        new = traffic(10, 20, latency_ms=limit / 5) + traffic(20, 20, latency_ms=limit * 2)
        return _gcp(rec, name, new, traffic(30, 180, latency_ms=limit / 5))
    return _gcp(rec, name, traffic(30, 20, latency_ms=limit / 5),
                traffic(30, 180, latency_ms=limit * 3))  # fmt: skip


# --- Azure --------------------------------------------------------------------------------


def _aml(rec: Recording, by_slot: dict[str, list[Minute]]) -> tuple[azure.AzureMetrics, dict]:
    """The endpoint's ``RequestLatency_P99`` split by ``deployment`` and one
    ``AmlOnlineEndpointTrafficLog`` row per request with its ``DeploymentName``.
    https://learn.microsoft.com/azure/machine-learning/monitor-azure-machine-learning-reference
    https://learn.microsoft.com/azure/azure-monitor/reference/tables/amlonlineendpointtrafficlog"""
    endpoint = str(rec.named("mlops-serving-endpoint").id)
    metrics = azure.AzureMetrics()
    rows: list[dict[str, Any]] = []
    for slot, minutes in by_slot.items():
        for i, minute in enumerate(minutes):
            t = 60.0 * i
            if minute.requests:
                metrics.put(endpoint, AML_ENDPOINT_NAMESPACE, "RequestLatency_P99", t,
                            minute.latency_ms, {"deployment": slot})  # fmt: skip
            for r in range(minute.requests):
                rows.append({
                    "TimeGenerated": t + 60 * r / minute.requests, "_ResourceId": endpoint,
                    "DeploymentName": slot, "ResponseCode": "500" if r < minute.errors else "200",
                })  # fmt: skip
    return metrics, {"AmlOnlineEndpointTrafficLog": rows}


def _criterion(rec: Recording, name: str) -> dict[str, Any]:
    return rec.named(name).inputs["criteria"]["allOf"][0]


def azure_errors(rec: Recording, name: str, failing: bool) -> Timeline:
    limit = float(_criterion(rec, name)["threshold"])  # percent
    bad = int(100 * limit / 100 * 10)
    if failing:
        slots = {"green": traffic(10, 100) + traffic(20, 100, errors=bad), "blue": traffic(30, 200)}
    else:
        slots = {"green": traffic(30, 100), "blue": traffic(30, 200, errors=bad * 2)}
    _, tables = _aml(rec, slots)
    return azure.evaluate_log_alert(rec.named(name).inputs, tables, until=60 * 30)


def azure_latency(rec: Recording, name: str, failing: bool) -> Timeline:
    limit = float(_criterion(rec, name)["threshold"])
    if failing:
        green = traffic(10, 100, latency_ms=limit / 5) + traffic(20, 100, latency_ms=limit * 2)
        slots = {"green": green, "blue": traffic(30, 200, latency_ms=limit / 5)}
    else:
        slots = {"green": traffic(30, 100, latency_ms=limit / 5),
                 "blue": traffic(30, 200, latency_ms=limit * 3)}  # fmt: skip
    metrics, _ = _aml(rec, slots)
    return azure.evaluate_metric_alert(rec.named(name).inputs, metrics, until=60 * 30)


def azure_failed_runs(rec: Recording, name: str, failing: bool) -> Timeline:
    """The rollout app's host logs: promotion ticks every five minutes, and one rollback call
    that raises (a 409 while the endpoint updates) when failing. A drift run failing in the
    drift app is not the rollout's."""
    app = str(rec.named("mlops-rollout-function").id)
    drift = str(rec.named("mlops-drift-function").id)
    tables: dict[str, list[dict[str, Any]]] = {}
    for tick in range(6):
        emitters.function_app_run(tables, app, 300.0 * tick, "rollout_timer")
    emitters.function_app_run(tables, drift, 600.0, "drift_timer", "baseline missing")
    error = "409 Conflict: the endpoint is updating" if failing else None
    emitters.function_app_run(tables, app, 900.0, "rollout_alert", error)
    return azure.evaluate_log_alert(rec.named(name).inputs, tables, until=1800)


SCENARIOS: dict[tuple[str, str], Callable[[Recording, str, bool], Timeline]] = {
    ("azure", "mlops-rollout-failed-runs"): azure_failed_runs,
    ("gcp", "mlops-rollout-errors"): gcp_errors,
    ("gcp", "mlops-rollout-latency"): gcp_latency,
    ("azure", "mlops-rollout-errors"): azure_errors,
    ("azure", "mlops-rollout-latency"): azure_latency,
}


def _cases() -> list[Any]:
    return [
        pytest.param(stack, name, id=f"{stack}:{name}")
        for stack, names in sorted(ROLLOUT_ALARMS.items())
        for name in sorted(names)
    ]


@pytest.mark.parametrize("stack", sorted(ROLLOUT_ALARMS))
def test_the_rollout_alerts_are_the_ones_the_plan_records(stack: str) -> None:
    recorded = {
        r.name for r in reference_recording(stack)
        if r.type in ALERT_TYPES and r.name.startswith("mlops-rollout-")
    }  # fmt: skip
    assert recorded == ROLLOUT_ALARMS[stack]


@pytest.mark.parametrize(("stack", "name"), _cases())
def test_quiet_while_the_new_version_is_healthy(stack: str, name: str) -> None:
    timeline = SCENARIOS[(stack.split("-")[0], name)](reference_recording(stack), name, False)
    assert timeline.points, "the scenario evaluated nothing"
    assert not timeline.fired, f"{name} fired on the previous version's failure: {timeline!r}"


@pytest.mark.parametrize(("stack", "name"), _cases())
def test_fires_when_the_new_version_fails(stack: str, name: str) -> None:
    timeline = SCENARIOS[(stack.split("-")[0], name)](reference_recording(stack), name, True)
    assert timeline.fired, f"{name} stayed quiet: {timeline!r}"


@pytest.mark.parametrize("stack", ["azure-dev", "azure-prod"])
def test_one_error_at_low_traffic_does_not_roll_back(stack: str) -> None:
    """Two requests a minute to the canary, one 5xx: 10% of a 5-minute window, but below the
    minimum request count the share does not count."""
    rec = reference_recording(stack)
    name = "mlops-rollout-errors"
    green = traffic(10, 2) + traffic(1, 2, errors=1) + traffic(19, 2)
    _, tables = _aml(rec, {"green": green, "blue": traffic(30, 200)})
    timeline = azure.evaluate_log_alert(rec.named(name).inputs, tables, until=60 * 30)
    assert timeline.points and not timeline.fired, timeline
    # The same share over enough requests rolls back.
    green = traffic(10, 20) + traffic(1, 20, errors=10) + traffic(19, 20)
    _, tables = _aml(rec, {"green": green, "blue": traffic(30, 200)})
    assert azure.evaluate_log_alert(rec.named(name).inputs, tables, until=60 * 30).fired
