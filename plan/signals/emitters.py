"""Synthetic signals shaped the way the clouds document their emission.

Each generator writes into the stores the evaluators read (``cloudwatch.MetricStore``,
``gcp.TimeSeries`` lists, ``azure.AzureMetrics``, log rows). Times are seconds since the start of
the series; traffic is described per minute so a scenario reads like an incident timeline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mlops_iac.plan.signals.azure import AzureMetrics
from mlops_iac.plan.signals.cloudwatch import MetricStore, StatisticSet
from mlops_iac.plan.signals.gcp import TimeSeries


@dataclass(frozen=True)
class Minute:
    """One minute of traffic: ``requests`` requests, ``errors`` of them 5xx, latency in ms."""

    requests: int
    errors: int = 0
    latency_ms: float = 50.0


def traffic(minutes: int, requests: int, errors: int = 0, latency_ms: float = 50.0) -> list[Minute]:
    """``minutes`` identical minutes of traffic."""
    return [Minute(requests, errors, latency_ms)] * minutes


def ec2_basic_monitoring(
    store: MetricStore,
    asg: str,
    instances: Mapping[str, tuple[float, float]],
    until: float,
    cpu_percent: float = 40.0,
) -> None:
    """EC2 basic monitoring of ``instances`` (id → running from, to) in the group ``asg``.

    "The hypervisor measures five separate samples per metric during each five-minute interval
    … The statistic set for this data point includes a SampleCount of 5" (one sample per running
    minute; a period the instance ran in part has fewer). Each datum is published per
    ``InstanceId`` and aggregated by ``AutoScalingGroupName``.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/ec2-metricscollected.html
    """
    period = 300.0
    start = 0.0
    while start < until:
        for instance, (up, down) in instances.items():
            samples = sum(1 for m in range(5) if up <= start + 60 * m < down)
            if samples:
                stats = StatisticSet(samples, samples * cpu_percent, cpu_percent, cpu_percent)
                for dims in ({"InstanceId": instance}, {"AutoScalingGroupName": asg}):
                    store.put("AWS/EC2", "CPUUtilization", dims, start, stats)
        start += period


def sagemaker_invocations(
    store: MetricStore,
    endpoint: str,
    variant: str,
    minutes: Iterable[Minute],
    start: float = 0.0,
) -> None:
    """``AWS/SageMaker`` invocation metrics of a real-time endpoint (``EndpointName`` +
    ``VariantName``), one datum per request: ``Invocations`` 1; ``Invocation5XXErrors`` "for
    each 5xx response, 1 is sent; otherwise, 0 is sent"; ``ModelLatency`` in microseconds. A
    minute without requests publishes nothing (the metrics are per request).
    https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html
    """
    dims = {"EndpointName": endpoint, "VariantName": variant}
    for i, minute in enumerate(minutes):
        t = start + 60 * i
        for r in range(minute.requests):
            when = t + 60 * r / max(minute.requests, 1)
            store.put("AWS/SageMaker", "Invocations", dims, when, 1.0)
            store.put("AWS/SageMaker", "Invocation5XXErrors", dims, when, float(r < minute.errors))
            store.put("AWS/SageMaker", "ModelLatency", dims, when, minute.latency_ms * 1000)


def lambda_invocations(
    store: MetricStore, function_name: str, runs: Iterable[tuple[float, bool]]
) -> None:
    """``AWS/Lambda`` ``Invocations`` and ``Errors`` (dimension ``FunctionName``) of runs
    ``(t, succeeded)``: "Errors: the number of invocations that result in a function error".
    https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
    """
    dims = {"FunctionName": function_name}
    for t, ok in runs:
        store.put("AWS/Lambda", "Invocations", dims, t, 1.0)
        store.put("AWS/Lambda", "Errors", dims, t, 0.0 if ok else 1.0)


def cloud_run_requests(
    service: str,
    revision: str,
    minutes: Iterable[Minute],
    start: float = 0.0,
    location: str = "us-central1",
) -> list[TimeSeries]:
    """``run.googleapis.com/request_count`` (DELTA, one series per ``response_code_class``
    that occurred) and ``request_latencies`` (DELTA distribution, ms) of one revision, a point
    per minute. A class that never occurred has no series.
    https://cloud.google.com/monitoring/api/metrics_gcp_p_z#gcp-run
    """
    resource = {"service_name": service, "revision_name": revision, "location": location}
    by_class: dict[str, TimeSeries] = {}
    latencies = TimeSeries(
        "run.googleapis.com/request_latencies", {}, "cloud_run_revision", resource
    )
    for i, minute in enumerate(minutes):
        t = start + 60 * (i + 1)
        for klass, count in (("2xx", minute.requests - minute.errors), ("5xx", minute.errors)):
            if count:
                series = by_class.setdefault(
                    klass,
                    TimeSeries(
                        "run.googleapis.com/request_count",
                        {"response_code_class": klass, "response_code": klass[0] + "00"},
                        "cloud_run_revision",
                        resource,
                    ),
                )
                series.points.append((t, float(count)))
        if minute.requests:
            latencies.points.append((t, [minute.latency_ms] * minute.requests))
    return [*by_class.values(), latencies]


AML_ENDPOINT_NAMESPACE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"


def aml_online_endpoint(
    metrics: AzureMetrics,
    tables: dict[str, list[dict[str, Any]]],
    endpoint_id: str,
    minutes: Iterable[Minute],
    start: float = 0.0,
) -> None:
    """An Azure ML managed online endpoint's signals: the ``RequestLatency_P99`` metric (ms,
    per minute with traffic) and one ``AmlOnlineEndpointTrafficLog`` row per request
    (``ResponseCode``, ``_ResourceId`` = the endpoint).
    https://learn.microsoft.com/azure/machine-learning/monitor-azure-machine-learning-reference,
    https://learn.microsoft.com/azure/azure-monitor/reference/tables/amlonlineendpointtrafficlog
    """
    rows = tables.setdefault("AmlOnlineEndpointTrafficLog", [])
    for i, minute in enumerate(minutes):
        t = start + 60 * i
        if minute.requests:
            metrics.put(
                endpoint_id, AML_ENDPOINT_NAMESPACE, "RequestLatency_P99", t, minute.latency_ms
            )
        for r in range(minute.requests):
            rows.append(
                {
                    "TimeGenerated": t + 60 * r / minute.requests,
                    "_ResourceId": endpoint_id,
                    "ResponseCode": "500" if r < minute.errors else "200",
                }
            )


_REGISTRIES = "Microsoft.MachineLearningServices/registries"


def aml_registry_write(
    tables: dict[str, list[dict[str, Any]]],
    registry_id: str,
    t: float,
    asset_name: str,
    asset_version: str,
    asset_type: str = "models",
) -> None:
    """One ``AmlRegistryWriteEventsLog`` row: a write of an asset (model, environment,
    component, data) to the registry. The table records writes of every asset kind; the kind is
    assumed to show in ``OperationName`` (the table reference lists the columns, not its values).
    https://learn.microsoft.com/azure/azure-monitor/reference/tables/amlregistrywriteeventslog
    """
    tables.setdefault("AmlRegistryWriteEventsLog", []).append(
        {
            "TimeGenerated": t,
            "RegistryResourceId": registry_id,
            "AssetName": asset_name,
            "AssetVersion": asset_version,
            "OperationType": "WRITE",
            "OperationName": f"{_REGISTRIES}/{asset_type}/versions/write",
        }
    )


def function_app_run(
    tables: dict[str, list[dict[str, Any]]],
    app_id: str,
    t: float,
    function: str,
    error: str | None = None,
) -> None:
    """The ``FunctionAppLogs`` rows the Functions host writes for one execution of ``function``
    of the app ``app_id`` (``FunctionName`` ``Functions.<name>``, ``Category``
    ``Function.<name>``): ``Executing`` and ``Executed 'Functions.<name>' (Succeeded|Failed,
    ...)`` and, on a failure, the exception, both at level ``Error``.
    https://learn.microsoft.com/azure/azure-monitor/reference/tables/functionapplogs
    https://learn.microsoft.com/azure/azure-monitor/reference/queries/functionapplogs
    """
    rows = tables.setdefault("FunctionAppLogs", [])
    name = f"Functions.{function}"
    # The host names the function ``Functions.<name>`` in FunctionName, as in a raw event:
    # https://github.com/Azure/azure-functions-host/issues/7603
    base = {"_ResourceId": app_id.lower(), "FunctionName": name, "Category": f"Function.{function}"}
    rows.append(
        {**base, "TimeGenerated": t, "Level": "Information", "Message": f"Executing '{name}'"}
    )
    if error is not None:
        rows.append(
            {
                **base,
                "TimeGenerated": t + 1,
                "Level": "Error",
                "ExceptionMessage": error,
                "Message": f"Exception while executing function: {name}",
            }
        )
    result, level = ("Failed", "Error") if error is not None else ("Succeeded", "Information")
    rows.append(
        {**base, "TimeGenerated": t + 1, "Level": level, "Message": f"Executed '{name}' ({result})"}
    )


def artifact_registry_push(
    project: str, location: str, repository: str, image: str, digest: str
) -> dict[str, Any]:
    """The Data Access audit log entry Artifact Registry writes for a pushed image manifest
    (``Docker-PutManifest``). https://cloud.google.com/artifact-registry/docs/audit-logging
    """
    return {
        "logName": f"projects/{project}/logs/cloudaudit.googleapis.com%2Fdata_access",
        "protoPayload": {
            "serviceName": "artifactregistry.googleapis.com",
            "methodName": "Docker-PutManifest",
            "resourceName": (
                f"projects/{project}/locations/{location}/repositories/{repository}"
                f"/dockerImages/{image}@{digest}"
            ),
        },
    }


def cloud_run_stdout(project: str, service: str, lines: Iterable[str]) -> list[dict[str, Any]]:
    """The log entries Cloud Run (and Cloud Run functions) make of a container's stdout: a
    JSON object line becomes ``jsonPayload``, any other line ``textPayload``, in the log
    ``run.googleapis.com/stdout``. https://cloud.google.com/run/docs/logging#container-logs
    """
    import json

    entries = []
    for line in lines:
        entry: dict[str, Any] = {
            "logName": f"projects/{project}/logs/run.googleapis.com%2Fstdout",
            "resource": {"type": "cloud_run_revision", "labels": {"service_name": service}},
        }
        try:
            payload = json.loads(line)
        except ValueError:
            payload = None
        if isinstance(payload, dict):
            entry["jsonPayload"] = payload
        else:
            entry["textPayload"] = line
        entries.append(entry)
    return entries
