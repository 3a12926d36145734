"""Every alarm and alert of the six reference stacks, proven against its signal.

For each alarm the plan records, a scenario feeds the evaluators of ``mlops_iac.plan.signals``
with the signal as the cloud (or the toolkit's own code) emits it, named after the resource that
emits it in the same plan (the endpoint, the node group's autoscaling group, the drift function,
the repository), not after the alarm: an alarm watching the wrong name stays quiet in its failure
test. Each alarm must stay quiet in the healthy case and fire in the failure it watches.

The inventory test enumerates the alarms from the recordings: a new alarm without a scenario,
or a scenario whose alarm is gone, fails the suite.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from mlops_iac.plan.signals import Timeline, azure, budgets, cloudwatch, emitters, events, gcp
from mlops_iac.plan.signals.emitters import Minute, traffic
from mlops_iac.plan.testing import Recording
from tests.conftest import platform_raw, reference_recording
from tests.signals import _drift
from tests.signals._rollout import ROLLOUT_ALARMS

STACKS = ("aws-dev", "aws-prod", "azure-dev", "azure-prod", "gcp-dev", "gcp-prod")
ALARM_TYPES = {
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:budgets/budget:Budget",
    # EventBridge rules that notify people or trigger retraining.
    "aws:cloudwatch/eventRule:EventRule",
    "gcp:monitoring/alertPolicy:AlertPolicy",
    "gcp:billing/budget:Budget",
    "azure-native:monitor:MetricAlert",
    "azure-native:monitor:ScheduledQueryRule",
    "azure-native:consumption:Budget",
    # An Azure ML model monitor emails on a breach: an alert like the others (none is planned).
    "azure-native:machinelearningservices:Schedule",
}
HOUR = 3600.0
DAY = 86400.0


def alarms_of(rec: Recording) -> dict[str, Any]:
    return {r.name: r for r in rec if r.type in ALARM_TYPES}


# --- AWS ----------------------------------------------------------------------------------


def _endpoint(rec: Recording) -> str:
    [endpoint] = rec.of_type("aws:sagemaker/endpoint:Endpoint")
    return str(endpoint.inputs["name"])


def _variant(rec: Recording) -> str:
    """The variant of the config the endpoint serves (blue/green keeps the previous one too)."""
    [endpoint] = rec.of_type("aws:sagemaker/endpoint:Endpoint")
    [config] = [
        c
        for c in rec.of_type("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
        if c.outputs.get("name", c.inputs.get("name")) == endpoint.inputs["endpointConfigName"]
    ]
    return str(config.inputs["productionVariants"][0]["variantName"])


def _sagemaker(rec: Recording, name: str, minutes: list[Minute]) -> Timeline:
    store = cloudwatch.MetricStore()
    emitters.sagemaker_invocations(store, _endpoint(rec), _variant(rec), minutes)
    return cloudwatch.evaluate_alarm(rec.named(name).inputs, store, until=60 * len(minutes))


def _error_percent(rec: Recording) -> float:
    return float(rec.named("mlops-serving-5xx-alarm").inputs["threshold"])


def _latency_ms(rec: Recording, name: str) -> float:
    return float(rec.named(name).inputs["threshold"]) / 1000  # ModelLatency is in µs


def aws_5xx(rec: Recording, name: str, failing: bool) -> Timeline:
    limit = _error_percent(rec)
    if failing:  # a bad model version: ten times the error budget for ten minutes
        minutes = traffic(30, 200) + traffic(10, 200, errors=int(200 * limit * 10 / 100))
    else:  # steady traffic, a single error now and then, a quiet night without requests
        blip = Minute(200, errors=int(200 * limit / 100))
        minutes = (traffic(9, 200) + [blip]) * 6 + traffic(40, 0) + traffic(20, 200)
    return _sagemaker(rec, name, minutes)


def aws_latency(rec: Recording, name: str, failing: bool) -> Timeline:
    limit = _latency_ms(rec, name)
    if failing:
        minutes = traffic(30, 100, latency_ms=limit / 5) + traffic(10, 100, latency_ms=limit * 2)
    else:  # one slow minute (a cold container) does not page
        minutes = (
            traffic(19, 100, latency_ms=limit / 5) + traffic(1, 100, latency_ms=limit * 2)
        ) * 3
    return _sagemaker(rec, name, minutes)


def aws_zero_invocations(rec: Recording, name: str, failing: bool) -> Timeline:
    if failing:  # clients cannot reach the endpoint: requests stop for more than a day
        minutes = traffic(120, 100) + traffic(26 * 60, 0)
    else:  # a quiet night of eight hours: no client sends anything, nothing is wrong
        minutes = traffic(120, 100) + traffic(8 * 60, 0) + traffic(60, 100)
    return _sagemaker(rec, name, minutes)


def aws_gpu_saturation(rec: Recording, name: str, failing: bool) -> Timeline:
    [group] = rec.named("mlops-training-gpu").outputs["resources"]
    asg = group["autoscalingGroups"][0]["name"]
    max_nodes = int(rec.named("mlops-training-gpu").inputs["scalingConfig"]["maxSize"])
    until = 4 * HOUR
    if failing:  # every node the pool may have runs for three hours: jobs queue
        nodes = {f"i-{n}": (0.0, 3 * HOUR) for n in range(max_nodes)}
    else:  # one node below the cap (at least one) for three hours, at the cap for half an hour
        below = max(1, max_nodes - 1)
        nodes = {f"i-{n}": (0.0, 3 * HOUR) for n in range(below)}
        if below < max_nodes:
            nodes[f"i-{below}"] = (HOUR, 1.5 * HOUR)
    store = cloudwatch.MetricStore()
    emitters.ec2_basic_monitoring(store, asg, nodes, until)
    return cloudwatch.evaluate_alarm(rec.named(name).inputs, store, until)


def aws_drift(
    rec: Recording, name: str, failing: bool, monkeypatch: pytest.MonkeyPatch
) -> Timeline:
    store = cloudwatch.MetricStore()
    for day in range(3):  # the daily runs; the third one sees shifted inputs when failing
        run = _drift.aws_run(rec, monkeypatch, shifted=failing and day == 2)
        assert run.error is None, run.error
        for call in run.published:
            store.put_metric_data(day * DAY + HOUR, **call)
    return cloudwatch.evaluate_alarm(rec.named(name).inputs, store, until=3 * DAY)


def aws_drift_errors(
    rec: Recording, name: str, failing: bool, monkeypatch: pytest.MonkeyPatch
) -> Timeline:
    function = str(rec.named("mlops-drift-function").outputs["name"])
    runs = []
    for day in range(3):
        # On the failing day the baseline is gone: the handler raises.
        run = _drift.aws_run(rec, monkeypatch, shifted=False, baseline=not (failing and day == 2))
        runs.append((day * DAY + HOUR, run.error is None))
    store = cloudwatch.MetricStore()
    emitters.lambda_invocations(store, function, runs)
    return cloudwatch.evaluate_alarm(rec.named(name).inputs, store, until=3 * DAY)


def aws_drift_retrain(
    rec: Recording, name: str, failing: bool, monkeypatch: pytest.MonkeyPatch
) -> Timeline:
    """The drift alarm's own state changes, as CloudWatch sends them to EventBridge."""
    alarm = rec.named("mlops-drift-alarm").outputs
    other = rec.named("mlops-drift-errors-alarm").outputs
    sent = [(0.0, events.alarm_state_change(other["arn"], other["name"], "OK", "ALARM"))]
    previous = "INSUFFICIENT_DATA"
    for t, state, _ in aws_drift(rec, "mlops-drift-alarm", failing, monkeypatch).points:
        if state != previous:
            sent.append(
                (t, events.alarm_state_change(alarm["arn"], alarm["name"], previous, state))
            )
            previous = state
    return events.evaluate_rule(rec.named(name).inputs, sent)


def _account(rec: Recording) -> str:
    """The account the plan deploys into (from an ARN it recorded)."""
    return str(rec.named("mlops-drift-alarm").outputs["arn"].split(":")[4])


def _registry_events(rec: Recording, name: str, status: str, failing: bool) -> Timeline:
    [group] = rec.of_type("aws:sagemaker/modelPackageGroup:ModelPackageGroup")
    ours = group.inputs["modelPackageGroupName"]
    region, account = rec.config["aws:region"], _account(rec)
    other_status = "Approved" if status == "PendingManualApproval" else "PendingManualApproval"
    sent = [
        (60.0, events.model_package_state_change("another-teams-group", status, region, account)),
        (120.0, events.model_package_state_change(ours, other_status, region, account)),
    ]
    if failing:
        sent.append((180.0, events.model_package_state_change(ours, status, region, account, 2)))
    return events.evaluate_rule(rec.named(name).inputs, sent)


def aws_registry_pending(rec: Recording, name: str, failing: bool) -> Timeline:
    return _registry_events(rec, name, "PendingManualApproval", failing)


def aws_registry_approved(rec: Recording, name: str, failing: bool) -> Timeline:
    return _registry_events(rec, name, "Approved", failing)


def _gpu_costs(rec: Recording, share: float, limit: float) -> list[budgets.Cost]:
    """GPU instances tagged by the launch template the node group uses, spending ``share`` of
    the limit over the month, split evenly over every instance type the pool may launch (spot
    pools list more than one), plus an untagged and a non-GPU instance that must not count."""
    template = rec.named("mlops-training-gpu-nodes").inputs
    [tags] = [s["tags"] for s in template["tagSpecifications"] if s["resourceType"] == "instance"]
    gpu_types = list(rec.named("mlops-training-gpu").inputs["instanceTypes"])
    [system_type] = rec.named("mlops-training-system").inputs["instanceTypes"]
    per_day = share * limit / 30 / len(gpu_types)
    costs = []
    for day in range(1, 31):
        costs += [budgets.Cost(day, per_day, tags, t) for t in gpu_types]
        costs.append(budgets.Cost(day, limit, {}, gpu_types[0]))  # another team's GPU
        costs.append(budgets.Cost(day, limit, tags, system_type))  # the system nodes
    return costs


def aws_budget(rec: Recording, name: str, failing: bool) -> Timeline:
    inputs = rec.named(name).inputs
    limit = float(inputs["limitAmount"])
    top = max(float(n["threshold"]) for n in inputs["notifications"]) / 100
    if failing:  # 20 % over the highest threshold, spread over the pool's types
        share = 1.2 * top
    else:  # well below the lowest threshold
        share = min(float(n["threshold"]) for n in inputs["notifications"]) / 100 / 2
    return budgets.evaluate_aws_budget(inputs, _gpu_costs(rec, share, limit))


# --- GCP ----------------------------------------------------------------------------------


def _service(rec: Recording) -> str:
    # The serving service (the MLflow tracking server also runs on Cloud Run).
    service = rec.named("mlops-serving-service", "gcp:cloudrunv2/service:Service")
    return str(service.inputs["name"])


def _cloud_run(rec: Recording, name: str, minutes: list[Minute], other: list[Minute]) -> Timeline:
    service = _service(rec)
    series = emitters.cloud_run_requests(service, f"{service}-00002-abc", minutes)
    series += emitters.cloud_run_requests(service, f"{service}-00001-xyz", other)
    return gcp.evaluate_policy(rec.named(name).inputs, until=60 * len(minutes), series=series)


def _gcp_threshold(rec: Recording, name: str) -> float:
    return float(rec.named(name).inputs["conditions"][0]["conditionThreshold"]["thresholdValue"])


def gcp_errors(rec: Recording, name: str, failing: bool) -> Timeline:
    share = _gcp_threshold(rec, name)  # a fraction
    old = traffic(40, 20)
    if failing:
        minutes = traffic(20, 200) + traffic(20, 200, errors=int(200 * share * 10))
    else:  # no 5xx at all (Cloud Run then has no 5xx series), then a short blip
        minutes = traffic(30, 200) + traffic(3, 200, errors=int(200 * share * 10)) + traffic(7, 200)
    return _cloud_run(rec, name, minutes, old)


def gcp_latency(rec: Recording, name: str, failing: bool) -> Timeline:
    limit = _gcp_threshold(rec, name)
    old = traffic(40, 20, latency_ms=limit / 5)
    if failing:
        minutes = traffic(20, 100, latency_ms=limit / 5) + traffic(20, 100, latency_ms=limit * 2)
    else:
        minutes = traffic(20, 100, latency_ms=limit / 5) + traffic(3, 100, latency_ms=limit * 2)
        minutes += traffic(17, 100, latency_ms=limit / 5)
    return _cloud_run(rec, name, minutes, old)


def gcp_image_pushed(rec: Recording, name: str, failing: bool) -> Timeline:
    # The model registry's repository (the tracking server's remote repository is a cache).
    [repo] = [
        r
        for r in rec.of_type("gcp:artifactregistry/repository:Repository")
        if r.inputs.get("mode") != "REMOTE_REPOSITORY"
    ]
    project = rec.config["gcp:project"]
    ours = repo.inputs["repositoryId"]
    logs = [
        (
            600.0,
            emitters.artifact_registry_push(
                project, repo.inputs["location"], "other-team", "m", "sha256:1"
            ),
        ),
    ]
    if failing:
        logs.append(
            (
                1200.0,
                emitters.artifact_registry_push(
                    project, repo.inputs["location"], ours, "model", "sha256:2"
                ),
            )
        )
    return gcp.evaluate_policy(rec.named(name).inputs, until=HOUR, logs=logs, step=60)


def _gcp_drift_days(
    rec: Recording, failing: bool, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[gcp.TimeSeries], list[tuple[float, dict[str, Any]]]]:
    series: list[gcp.TimeSeries] = []
    logs: list[tuple[float, dict[str, Any]]] = []
    project = rec.config["gcp:project"]
    service = _drift.gcp_function(rec).inputs["name"]
    for day in range(3):
        run = _drift.gcp_run(rec, monkeypatch, shifted=failing and day == 2)
        assert run.error is None, run.error
        t = day * DAY + HOUR
        for body in run.published:
            series += gcp.time_series_from_api(body, t)
        logs += [(t, entry) for entry in emitters.cloud_run_stdout(project, service, run.lines)]
    return series, logs


def gcp_drift_metric(
    rec: Recording, name: str, failing: bool, monkeypatch: pytest.MonkeyPatch
) -> Timeline:
    series, logs = _gcp_drift_days(rec, failing, monkeypatch)
    return gcp.evaluate_policy(
        rec.named(name).inputs, until=3 * DAY, series=series, logs=logs, step=HOUR
    )


def gcp_drift_failures(
    rec: Recording, name: str, failing: bool, monkeypatch: pytest.MonkeyPatch
) -> Timeline:
    """Daily runs of the real handler, each the scheduler's one request to the function's
    service; on the failing day the baseline is gone, the handler raises and the Functions
    Framework answers 500."""
    service = str(_drift.gcp_function(rec).inputs["name"])
    series: list[gcp.TimeSeries] = []
    for day in range(3):
        broken = failing and day == 2
        run = _drift.gcp_run(rec, monkeypatch, shifted=False, baseline=not broken)
        assert (run.error is not None) == broken, run.error
        request = Minute(1, errors=1 if run.error else 0)
        series += emitters.cloud_run_requests(
            service, f"{service}-00001-abc", [request], start=day * DAY + HOUR
        )
    return gcp.evaluate_policy(rec.named(name).inputs, until=3 * DAY, series=series, step=HOUR)


def gcp_budget(rec: Recording, name: str, failing: bool) -> Timeline:
    inputs = rec.named(name).inputs
    [project] = inputs["budgetFilter"]["projects"]
    limit = float(inputs["amount"]["specifiedAmount"]["units"])
    share = 1.1 if failing else 0.5
    costs = [budgets.Cost(d, share * limit / 30, project=project) for d in range(1, 31)]
    costs += [budgets.Cost(d, limit, project="projects/1") for d in range(1, 31)]
    return budgets.evaluate_gcp_budget(inputs, costs)


# --- Azure --------------------------------------------------------------------------------


def _aml(
    rec: Recording, minutes: list[Minute]
) -> tuple[azure.AzureMetrics, dict[str, list[dict[str, Any]]]]:
    metrics = azure.AzureMetrics()
    tables: dict[str, list[dict[str, Any]]] = {}
    emitters.aml_online_endpoint(
        metrics, tables, str(rec.named("mlops-serving-endpoint").id), minutes
    )
    return metrics, tables


def azure_latency(rec: Recording, name: str, failing: bool) -> Timeline:
    limit = float(rec.named(name).inputs["criteria"]["allOf"][0]["threshold"])
    if failing:
        minutes = traffic(20, 100, latency_ms=limit / 5) + traffic(15, 100, latency_ms=limit * 2)
    else:
        minutes = traffic(20, 100, latency_ms=limit / 5) + traffic(1, 100, latency_ms=limit * 2)
        minutes += traffic(20, 100, latency_ms=limit / 5) + traffic(30, 0)
    metrics, _ = _aml(rec, minutes)
    return azure.evaluate_metric_alert(rec.named(name).inputs, metrics, until=60 * len(minutes))


def azure_5xx(rec: Recording, name: str, failing: bool) -> Timeline:
    limit = float(rec.named(name).inputs["criteria"]["allOf"][0]["threshold"])
    if failing:
        minutes = traffic(20, 200) + traffic(15, 200, errors=int(200 * limit * 10 / 100))
    else:  # an error now and then, a quiet half hour
        blip = Minute(200, errors=1)
        minutes = (traffic(4, 200) + [blip]) * 6 + traffic(30, 0)
    _, tables = _aml(rec, minutes)
    return azure.evaluate_log_alert(rec.named(name).inputs, tables, until=60 * len(minutes))


def _model_name(stack: str) -> str:
    """The model the stack serves (its stack file's ``serving.model.name``)."""
    return str(platform_raw(stack)["serving"]["model"]["name"])


def _registry_rows(rec: Recording, kind: str | None, asset: str) -> dict[str, list[dict[str, Any]]]:
    tables: dict[str, list[dict[str, Any]]] = {}
    ours = str(rec.named("mlops-registry-registry").id)
    other = ours.rsplit("/", 1)[0] + "/another-teams-registry"
    emitters.aml_registry_write(tables, other, 100.0, asset, "7")
    if kind is not None:
        emitters.aml_registry_write(tables, ours, 700.0, asset, "8", asset_type=kind)
    return tables


def azure_model_registered(rec: Recording, name: str, failing: bool) -> Timeline:
    tables = _registry_rows(rec, "models" if failing else None, _model_name(rec.stack))
    return azure.evaluate_log_alert(rec.named(name).inputs, tables, until=HOUR)


def azure_drift(
    rec: Recording, name: str, failing: bool, monkeypatch: pytest.MonkeyPatch
) -> Timeline:
    metrics = azure.AzureMetrics()
    for day in range(3):
        run = _drift.azure_run(rec, monkeypatch, shifted=failing and day == 2)
        assert run.error is None, run.error
        for url, document in run.published:
            resource = url.split(".monitoring.azure.com", 1)[1].removesuffix("/metrics")
            metrics.ingest(resource, document, day * DAY + HOUR)
    return azure.evaluate_metric_alert(rec.named(name).inputs, metrics, until=3 * DAY)


def azure_drift_failures(
    rec: Recording, name: str, failing: bool, monkeypatch: pytest.MonkeyPatch
) -> Timeline:
    """Daily runs of the real handler; on the failing day its baseline is gone and it raises.
    The host logs each run in ``FunctionAppLogs`` of the drift Function App."""
    app = str(rec.named("mlops-drift-function").id)
    tables: dict[str, list[dict[str, Any]]] = {}
    for day in range(3):
        broken = failing and day == 2
        run = _drift.azure_run(rec, monkeypatch, shifted=False, baseline=not broken)
        assert (run.error is not None) == broken, run.error
        emitters.function_app_run(tables, app, day * DAY + HOUR, "drift_timer", run.error)
    return azure.evaluate_log_alert(rec.named(name).inputs, tables, until=3 * DAY)


def azure_budget(rec: Recording, name: str, failing: bool) -> Timeline:
    inputs = rec.named(name).inputs
    endpoint = str(rec.named("mlops-serving-endpoint").id)
    limit = float(inputs["amount"])
    share = 1.1 if failing else 0.5
    costs = [budgets.Cost(d, share * limit / 30, resource_id=endpoint) for d in range(1, 31)]
    elsewhere = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/other/x"
    costs += [budgets.Cost(d, limit, resource_id=elsewhere) for d in range(1, 31)]
    return budgets.evaluate_azure_budget(inputs, costs)


# --- scenarios ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    check: Callable[..., Timeline]
    watches: str
    drift: bool = False
    """Runs the real drift handler (needs ``monkeypatch``)."""


SCENARIOS: dict[str, Scenario] = {
    "mlops-serving-5xx-alarm": Scenario(aws_5xx, "5XX share of SageMaker invocations"),
    "mlops-serving-latency-alarm": Scenario(aws_latency, "p99 SageMaker ModelLatency"),
    "mlops-monitoring-zero-invocations-alarm": Scenario(
        aws_zero_invocations, "prod endpoint receives no invocations"
    ),
    "mlops-monitoring-gpu-saturation-alarm": Scenario(
        aws_gpu_saturation, "GPU node group at its maximum size"
    ),
    "mlops-drift-alarm": Scenario(aws_drift, "the drift job's DriftedFeatures", drift=True),
    "mlops-drift-errors-alarm": Scenario(aws_drift_errors, "drift Lambda errors", drift=True),
    "mlops-monitoring-gpu-budget": Scenario(aws_budget, "monthly GPU spend"),
    "mlops-drift-retrain-rule": Scenario(
        aws_drift_retrain, "the drift alarm entering ALARM (retraining)", drift=True
    ),
    "mlops-registry-pending-rule": Scenario(
        aws_registry_pending, "a model version awaiting approval"
    ),
    "mlops-registry-approved-rule": Scenario(aws_registry_approved, "a model version approved"),
    "mlops-monitoring-errors": Scenario(gcp_errors, "5xx share of Cloud Run requests"),
    "mlops-monitoring-latency": Scenario(gcp_latency, "p99 Cloud Run request latency"),
    "mlops-registry-image-pushed": Scenario(gcp_image_pushed, "image pushed to the repository"),
    "mlops-drift-alert": Scenario(gcp_drift_metric, "the drift job's drifted_features", drift=True),
    "mlops-monitoring-budget": Scenario(gcp_budget, "monthly spend"),
    "mlops-monitoring-latency-p99": Scenario(azure_latency, "AML endpoint RequestLatency_P99"),
    "mlops-monitoring-5xx": Scenario(azure_5xx, "5xx share in AmlOnlineEndpointTrafficLog"),
    "mlops-registry-model-registered": Scenario(
        azure_model_registered, "model version written to the registry"
    ),
}
# Names shared by two clouds: the scenario is chosen by cloud.
BY_CLOUD: dict[tuple[str, str], Scenario] = {
    ("azure", "mlops-drift-alert"): Scenario(
        azure_drift, "the drift job's DriftedFeatures", drift=True
    ),
    ("azure", "mlops-monitoring-budget"): Scenario(azure_budget, "monthly spend"),
    ("gcp", "mlops-drift-failed-runs"): Scenario(
        gcp_drift_failures, "a drift run of the function that raised (HTTP 5xx)", drift=True
    ),
    ("azure", "mlops-drift-failed-runs"): Scenario(
        azure_drift_failures, "a drift run of the Function that raised", drift=True
    ),
}

EXPECTED = {
    "aws-dev": {
        "mlops-serving-5xx-alarm",
        "mlops-serving-latency-alarm",
        "mlops-monitoring-gpu-budget",
        "mlops-monitoring-gpu-saturation-alarm",
        "mlops-drift-alarm",
        "mlops-drift-errors-alarm",
        "mlops-drift-retrain-rule",
        "mlops-registry-pending-rule",
        "mlops-registry-approved-rule",
    },
    "gcp-dev": {
        "mlops-registry-image-pushed",
        "mlops-drift-alert",
        "mlops-monitoring-latency",
        "mlops-monitoring-errors",
        "mlops-drift-failed-runs",
    },
    "azure-dev": {
        "mlops-monitoring-budget",
        "mlops-registry-model-registered",
        "mlops-monitoring-latency-p99",
        "mlops-monitoring-5xx",
        "mlops-drift-alert",
        "mlops-drift-failed-runs",
    },
}
EXPECTED["aws-prod"] = EXPECTED["aws-dev"] | {"mlops-monitoring-zero-invocations-alarm"}
EXPECTED["gcp-prod"] = EXPECTED["gcp-dev"] | {"mlops-monitoring-budget"}
EXPECTED["azure-prod"] = set(EXPECTED["azure-dev"])


def scenario(stack: str, name: str) -> Scenario:
    cloud = stack.split("-")[0]
    return BY_CLOUD.get((cloud, name)) or SCENARIOS[name]


def _cases() -> list[Any]:
    return [
        pytest.param(stack, name, id=f"{stack}:{name}")
        for stack in STACKS
        for name in sorted(EXPECTED[stack])
    ]


def _timeline(stack: str, name: str, failing: bool, monkeypatch: pytest.MonkeyPatch) -> Timeline:
    rec = reference_recording(stack)
    chosen = scenario(stack, name)
    if chosen.drift:
        return chosen.check(rec, name, failing, monkeypatch)
    return chosen.check(rec, name, failing)


@pytest.mark.parametrize("stack", STACKS)
def test_every_recorded_alarm_has_a_scenario(stack: str) -> None:
    # The rollout functions' alerts have their scenarios in test_rollout_alarms.py.
    recorded = set(alarms_of(reference_recording(stack))) - ROLLOUT_ALARMS.get(stack, set())
    assert recorded == EXPECTED[stack], (
        f"{stack}: alarms without a scenario here: {sorted(recorded - EXPECTED[stack])}; "
        f"scenarios whose alarm is gone: {sorted(EXPECTED[stack] - recorded)}"
    )


@pytest.mark.parametrize(("stack", "name"), _cases())
def test_quiet_when_healthy(stack: str, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    timeline = _timeline(stack, name, False, monkeypatch)
    assert timeline.points, "the scenario evaluated nothing"
    assert not timeline.fired, f"{name} ({scenario(stack, name).watches}) fired: {timeline!r}"


@pytest.mark.parametrize(("stack", "name"), _cases())
def test_fires_on_the_failure_it_watches(
    stack: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    timeline = _timeline(stack, name, True, monkeypatch)
    assert timeline.fired, f"{name} ({scenario(stack, name).watches}) stayed quiet: {timeline!r}"


# --- feeders ------------------------------------------------------------------------------
# An alarm is fed when the plan holds what emits its signal, under the names the alarm watches.
# Each check returns what is missing (empty: fed).


def _dims(alarm: Any) -> dict[str, str]:
    return dict(
        alarm.inputs.get("dimensions") or alarm.inputs["metricQueries"][0]["metric"]["dimensions"]
    )


def _fed_sagemaker(rec: Recording, alarm: Any) -> list[str]:
    want = {"EndpointName": _endpoint(rec), "VariantName": _variant(rec)}
    return [] if _dims(alarm) == want else [f"watches {_dims(alarm)}, the endpoint emits {want}"]


def _fed_gpu_nodes(rec: Recording, alarm: Any) -> list[str]:
    [group] = rec.named("mlops-training-gpu").outputs["resources"]
    asg = group["autoscalingGroups"][0]["name"]
    return [] if _dims(alarm).get("AutoScalingGroupName") == asg else [f"no node group ASG {asg}"]


def _fed_aws_drift(rec: Recording, alarm: Any) -> list[str]:
    env = rec.named("mlops-drift-function").inputs["environment"]["variables"]
    emitted = (env["DRIFT_METRIC_NAMESPACE"], {"Endpoint": env["DRIFT_ENDPOINT"]})
    watched = (alarm.inputs["namespace"], _dims(alarm))
    return (
        [] if emitted == watched else [f"the job publishes {emitted}, the alarm watches {watched}"]
    )


def _fed_lambda(rec: Recording, alarm: Any) -> list[str]:
    function = rec.named("mlops-drift-function").outputs["name"]
    return [] if _dims(alarm) == {"FunctionName": function} else [f"not the function {function}"]


def _fed_aws_budget(rec: Recording, alarm: Any) -> list[str]:
    template = rec.named("mlops-training-gpu-nodes").inputs
    [tags] = [s["tags"] for s in template["tagSpecifications"] if s["resourceType"] == "instance"]
    pool_types = set(rec.named("mlops-training-gpu").inputs["instanceTypes"])
    problems = []
    for f in alarm.inputs["costFilters"]:
        if f["name"] == "TagKeyValue":
            for value in f["values"]:
                key, _, expected = value.removeprefix("user:").partition("$")
                if tags.get(key) != expected:
                    problems.append(f"GPU instances are not tagged {key}={expected}")
        if f["name"] == "InstanceType" and not pool_types <= set(f["values"]):
            # Spend on a type the filter leaves out escapes the budget.
            problems.append(f"the pool's types {sorted(pool_types - set(f['values']))} not counted")
    return problems


def _fed_cloud_run(rec: Recording, alarm: Any) -> list[str]:
    flt = alarm.inputs["conditions"][0]["conditionThreshold"]["filter"]
    probe = emitters.cloud_run_requests(_service(rec), "r1", traffic(1, 2, errors=1))
    return (
        []
        if any(gcp.Filter(flt).matches(s.as_filterable()) for s in probe)
        else [f"{flt} matches no series of the service"]
    )


def _fed_image_pushed(rec: Recording, alarm: Any) -> list[str]:
    audit = [
        c
        for r in rec.of_type("gcp:projects/iAMAuditConfig:IAMAuditConfig")
        if r.inputs["service"] == "artifactregistry.googleapis.com"
        for c in r.inputs["auditLogConfigs"]
        if c["logType"] == "DATA_WRITE"
    ]
    return [] if audit else ["Artifact Registry DATA_WRITE audit logs are off: no push is logged"]


def _fed_gcp_drift(rec: Recording, alarm: Any) -> list[str]:
    env = _drift.gcp_function(rec).inputs["serviceConfig"]["environmentVariables"]
    probe = gcp.TimeSeries(
        f"{env['DRIFT_METRIC_NAMESPACE']}/drifted_features",
        {"endpoint": env["DRIFT_ENDPOINT"]},
        "global",
        {"project_id": env["DRIFT_PROJECT"]},
    )
    flt = alarm.inputs["conditions"][0]["conditionThreshold"]["filter"]
    return (
        []
        if gcp.Filter(flt).matches(probe.as_filterable())
        else [f"{flt} matches no series the job writes"]
    )


def _fed_gcp_drift_failures(rec: Recording, alarm: Any) -> list[str]:
    service = str(_drift.gcp_function(rec).inputs["name"])
    probe = emitters.cloud_run_requests(service, "r1", [Minute(1, errors=1)])
    flt = alarm.inputs["conditions"][0]["conditionThreshold"]["filter"]
    return (
        []
        if any(gcp.Filter(flt).matches(s.as_filterable()) for s in probe)
        else [f"{flt} matches no 5xx series of the function's service {service}"]
    )


def _fed_gcp_budget(rec: Recording, alarm: Any) -> list[str]:
    return [] if alarm.inputs["budgetFilter"].get("projects") else ["the budget filters no project"]


def _diagnostics(rec: Recording, source: str, workspace: str, categories: set[str]) -> list[str]:
    for setting in rec.of_type("azure-native:monitor:DiagnosticSetting"):
        if setting.inputs["resourceUri"].lower() != source.lower():
            continue
        if setting.inputs.get("workspaceId", "").lower() != workspace.lower():
            continue
        sent = {
            log.get("category") or log.get("categoryGroup")
            for log in setting.inputs.get("logs", [])
            if log.get("enabled")
        }
        if sent & (categories | {"allLogs"}):
            return []
    return [
        f"no diagnostic setting sends {sorted(categories)} of {source.rsplit('/', 1)[-1]} "
        "to the alert's workspace"
    ]


def _fed_aml_traffic(rec: Recording, alarm: Any) -> list[str]:
    [workspace] = alarm.inputs["scopes"]
    return _diagnostics(
        rec, str(rec.named("mlops-serving-endpoint").id), workspace, {"AmlOnlineEndpointTrafficLog"}
    )


def _fed_registry_writes(rec: Recording, alarm: Any) -> list[str]:
    [workspace] = alarm.inputs["scopes"]
    # Category RegistryAssetWriteEvent lands in AmlRegistryWriteEventsLog.
    return _diagnostics(
        rec, str(rec.named("mlops-registry-registry").id), workspace, {"RegistryAssetWriteEvent"}
    )


def _fed_aml_metric(rec: Recording, alarm: Any) -> list[str]:
    endpoint = str(rec.named("mlops-serving-endpoint").id)
    return [] if alarm.inputs["scopes"] == [endpoint] else [f"scope is not the endpoint {endpoint}"]


def _fed_azure_drift(rec: Recording, alarm: Any) -> list[str]:
    settings = {
        s["name"]: s["value"]
        for s in rec.named("mlops-drift-function").inputs["siteConfig"]["appSettings"]
    }
    subject = settings.get("DRIFT_METRIC_RESOURCE_ID")
    if not subject or not settings.get("DRIFT_METRIC_REGION"):
        return [
            "the drift function has no DRIFT_METRIC_RESOURCE_ID/DRIFT_METRIC_REGION: "
            "every run fails"
        ]
    return [] if [subject] == alarm.inputs["scopes"] else [f"the job writes about {subject}"]


def _fed_function_logs(rec: Recording, alarm: Any) -> list[str]:
    [workspace] = alarm.inputs["scopes"]
    return _diagnostics(rec, str(rec.named("mlops-drift-function").id), workspace,
                        {"FunctionAppLogs"})  # fmt: skip


def _fed_azure_budget(rec: Recording, alarm: Any) -> list[str]:
    endpoint = str(rec.named("mlops-serving-endpoint").id).lower()
    return (
        []
        if endpoint.startswith(alarm.inputs["scope"].lower() + "/")
        else ["the platform's resources are outside the scope"]
    )


def _fed_drift_retrain(rec: Recording, alarm: Any) -> list[str]:
    arn = rec.named("mlops-drift-alarm").outputs["arn"]
    pattern = alarm.inputs["eventPattern"]
    return [] if arn in json.loads(pattern).get("resources", []) else [f"does not name {arn}"]


def _fed_registry(rec: Recording, alarm: Any) -> list[str]:
    [group] = rec.of_type("aws:sagemaker/modelPackageGroup:ModelPackageGroup")
    watched = json.loads(alarm.inputs["eventPattern"])["detail"]["ModelPackageGroupName"]
    ours = group.inputs["modelPackageGroupName"]
    return [] if watched == [ours] else [f"watches {watched}, the group is {ours}"]


FEEDERS: dict[tuple[str, str], Callable[[Recording, Any], list[str]]] = {
    ("aws", "mlops-drift-retrain-rule"): _fed_drift_retrain,
    ("aws", "mlops-registry-pending-rule"): _fed_registry,
    ("aws", "mlops-registry-approved-rule"): _fed_registry,
    ("aws", "mlops-serving-5xx-alarm"): _fed_sagemaker,
    ("aws", "mlops-serving-latency-alarm"): _fed_sagemaker,
    ("aws", "mlops-monitoring-zero-invocations-alarm"): _fed_sagemaker,
    ("aws", "mlops-monitoring-gpu-saturation-alarm"): _fed_gpu_nodes,
    ("aws", "mlops-drift-alarm"): _fed_aws_drift,
    ("aws", "mlops-drift-errors-alarm"): _fed_lambda,
    ("aws", "mlops-monitoring-gpu-budget"): _fed_aws_budget,
    ("gcp", "mlops-monitoring-errors"): _fed_cloud_run,
    ("gcp", "mlops-monitoring-latency"): _fed_cloud_run,
    ("gcp", "mlops-registry-image-pushed"): _fed_image_pushed,
    ("gcp", "mlops-drift-alert"): _fed_gcp_drift,
    ("gcp", "mlops-monitoring-budget"): _fed_gcp_budget,
    ("azure", "mlops-monitoring-latency-p99"): _fed_aml_metric,
    ("azure", "mlops-monitoring-5xx"): _fed_aml_traffic,
    ("azure", "mlops-registry-model-registered"): _fed_registry_writes,
    ("azure", "mlops-drift-alert"): _fed_azure_drift,
    ("azure", "mlops-monitoring-budget"): _fed_azure_budget,
    ("azure", "mlops-drift-failed-runs"): _fed_function_logs,
    ("gcp", "mlops-drift-failed-runs"): _fed_gcp_drift_failures,
}


@pytest.mark.parametrize(("stack", "name"), _cases())
def test_every_alert_has_a_feeder(stack: str, name: str) -> None:
    rec = reference_recording(stack)
    problems = FEEDERS[stack.split("-")[0], name](rec, rec.named(name))
    assert not problems, f"{stack} {name} is unfed: {'; '.join(problems)}"


@pytest.mark.parametrize("stack", ["azure-dev", "azure-prod"])
def test_model_registered_alert_ignores_other_asset_writes(stack: str) -> None:
    """The registry's write log has no asset-kind column: the alert keeps the stack's models'
    names, so an environment (or a component) written to the registry does not page."""
    rec = reference_recording(stack)
    name = "mlops-registry-model-registered"
    tables = _registry_rows(rec, "environments", f"{_model_name(stack)}-env")
    assert not azure.evaluate_log_alert(rec.named(name).inputs, tables, until=HOUR).fired


def test_zero_invocations_stays_quiet_until_clients_switch_over() -> None:
    """A new prod endpoint: clients move to it two hours after the deploy, or only after two
    days; before the first invocation the alarm has no data and does not page."""
    rec = reference_recording("aws-prod")
    name = "mlops-monitoring-zero-invocations-alarm"
    for idle in (2, 50):
        timeline = _sagemaker(rec, name, traffic(idle * 60, 0) + traffic(120, 100))
        assert timeline.points and not timeline.fired, timeline


def test_zero_invocations_pages_a_day_after_the_clients_are_lost() -> None:
    rec = reference_recording("aws-prod")
    name = "mlops-monitoring-zero-invocations-alarm"
    # Served for three hours after the deploy, then no request reaches it.
    timeline = _sagemaker(rec, name, traffic(180, 100) + traffic(30 * 60, 0))
    [first] = [t for t, state, _ in timeline.points if state == "ALARM"][:1]
    hours = (first - 3 * HOUR) / HOUR
    assert 24 <= hours <= 25, hours
