"""The evaluators of mlops_iac.plan.signals against the semantics the clouds document."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_iac.plan.signals import azure, budgets, cloudwatch, emitters, events, gcp
from mlops_iac.plan.signals._expr import ExprError
from mlops_iac.plan.signals.emitters import Minute, traffic

DIMS = {"EndpointName": "ep", "VariantName": "AllTraffic"}


def _alarm(**overrides: Any) -> dict[str, Any]:
    alarm = {
        "namespace": "ns",
        "metricName": "m",
        "dimensions": {"k": "v"},
        "statistic": "Maximum",
        "period": 60.0,
        "evaluationPeriods": 3.0,
        "threshold": 1.0,
        "comparisonOperator": "GreaterThanOrEqualToThreshold",
    }
    return alarm | overrides


def _store(values: list[float | None]) -> cloudwatch.MetricStore:
    """One datum per minute; ``None``: nothing published that minute."""
    store = cloudwatch.MetricStore()
    for minute, value in enumerate(values):
        if value is not None:
            store.put("ns", "m", {"k": "v"}, minute * 60 + 5, value)
    return store


# --- CloudWatch ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("treat", "expected"),
    [
        # just created (all missing), ..., the three bad minutes, ..., all missing again
        ("notBreaching", ["OK", "OK", "OK", "OK", "ALARM", "OK", "OK", "OK", "OK"]),
        ("breaching", ["ALARM", "OK", "OK", "OK", "ALARM", "OK", "OK", "OK", "ALARM"]),
        (
            "missing",
            ["INSUFFICIENT_DATA", "OK", "OK", "OK", "ALARM", "OK", "OK", "OK", "INSUFFICIENT_DATA"],
        ),
        ("ignore", ["INSUFFICIENT_DATA", "OK", "OK", "OK", "ALARM", "OK", "OK", "OK", "OK"]),
    ],
)
def test_treat_missing_data(treat: str, expected: list[str]) -> None:
    # Per minute: missing, good, bad, bad, bad, good, missing, missing, missing (3 of 3 to alarm).
    values: list[float | None] = [None, 0, 5, 5, 5, 0, None, None, None]
    timeline = cloudwatch.evaluate_alarm(
        _alarm(treatMissingData=treat), _store(values), until=9 * 60
    )
    assert timeline.states() == expected


def test_m_of_n_needs_m_breaching_periods() -> None:
    store = _store([5, 0, 5, 0, 0, 0])
    two_of_three = _alarm(datapointsToAlarm=2.0, treatMissingData="notBreaching")
    three_of_three = _alarm(treatMissingData="notBreaching")
    assert cloudwatch.evaluate_alarm(two_of_three, store, until=360).states() == [
        "OK",
        "OK",
        "ALARM",
        "OK",
        "OK",
        "OK",
    ]
    assert not cloudwatch.evaluate_alarm(three_of_three, store, until=360).fired


def test_ec2_basic_monitoring_counts_five_samples_per_running_node_and_period() -> None:
    store = cloudwatch.MetricStore()
    # i-1 runs from minute 2 of the first period: three samples there, five afterwards.
    emitters.ec2_basic_monitoring(store, "asg", {"i-0": (0, 900), "i-1": (120, 900)}, 900)
    by_asg = store.values("AWS/EC2", "CPUUtilization", {"AutoScalingGroupName": "asg"}, 0, 300)
    assert cloudwatch.statistic("SampleCount", by_asg) == 8
    later = store.values("AWS/EC2", "CPUUtilization", {"AutoScalingGroupName": "asg"}, 300, 600)
    assert cloudwatch.statistic("SampleCount", later) == 10
    one = store.values("AWS/EC2", "CPUUtilization", {"InstanceId": "i-0"}, 300, 600)
    assert cloudwatch.statistic("SampleCount", one) == 5
    assert cloudwatch.statistic("Average", later) == 40.0
    with pytest.raises(ValueError, match="percentiles need raw values"):
        cloudwatch.statistic("p99", later)


def test_statistics_and_nearest_rank_percentiles() -> None:
    values: list[float | cloudwatch.StatisticSet] = [float(v) for v in range(1, 101)]
    assert cloudwatch.statistic("p99", values) == 99.0
    assert cloudwatch.statistic("p50", values) == 50.0
    assert cloudwatch.statistic("p99.9", values) == 100.0
    assert cloudwatch.statistic("Sum", values) == 5050.0
    assert cloudwatch.statistic("SampleCount", values) == 100.0
    assert cloudwatch.statistic("Minimum", values) == 1.0
    assert cloudwatch.statistic("Sum", []) is None


def _rate_alarm() -> dict[str, Any]:
    def metric(name: str) -> dict[str, Any]:
        return {
            "namespace": "AWS/SageMaker",
            "metricName": name,
            "dimensions": DIMS,
            "stat": "Sum",
            "period": 60.0,
        }

    return {
        "metricQueries": [
            {"id": "errors", "metric": metric("Invocation5XXErrors"), "returnData": False},
            {"id": "invocations", "metric": metric("Invocations"), "returnData": False},
            {
                "id": "rate",
                "expression": "IF(invocations > 0, 100 * errors / invocations, 0)",
                "returnData": True,
            },
        ],
        "evaluationPeriods": 1.0,
        "threshold": 5.0,
        "comparisonOperator": "GreaterThanThreshold",
        "treatMissingData": "notBreaching",
    }


def test_metric_math_error_rate_from_per_request_metrics() -> None:
    store = cloudwatch.MetricStore()
    minutes = [Minute(100, 2), Minute(0), Minute(100, 10)]
    emitters.sagemaker_invocations(store, "ep", "AllTraffic", minutes)
    values = cloudwatch.alarm_values(_rate_alarm(), store, [60.0, 120.0, 180.0])
    # No request in the second minute: SageMaker publishes nothing, so the rate has no value.
    assert values == [2.0, None, 10.0]
    assert cloudwatch.evaluate_alarm(_rate_alarm(), store, until=180).states() == [
        "OK",
        "OK",
        "ALARM",
    ]


def test_put_metric_data_takes_boto3_arguments() -> None:
    store = cloudwatch.MetricStore()
    store.put_metric_data(
        30,
        Namespace="mlops/drift",
        MetricData=[
            {
                "MetricName": "DriftedFeatures",
                "Dimensions": [{"Name": "Endpoint", "Value": "e"}],
                "Value": 2.0,
            },
            {
                "MetricName": "Set",
                "StatisticValues": {"SampleCount": 4, "Sum": 8, "Minimum": 1, "Maximum": 3},
            },
        ],
    )
    assert store.values("mlops/drift", "DriftedFeatures", {"Endpoint": "e"}, 0, 60) == [2.0]
    # An alarm sees only the exact dimension set it names.
    assert store.values("mlops/drift", "DriftedFeatures", {}, 0, 60) == []
    assert cloudwatch.statistic("Average", store.values("mlops/drift", "Set", {}, 0, 60)) == 2.0


# --- GCP ----------------------------------------------------------------------------------


def test_filters_of_monitoring_and_logging() -> None:
    entry = {
        "logName": "projects/p/logs/run.googleapis.com%2Fstdout",
        "jsonPayload": {"event": "drift_detected", "service": "svc"},
        "resource": {"labels": {"service_name": "svc"}},
    }
    assert gcp.Filter(
        'logName:"run.googleapis.com" AND jsonPayload.event="drift_detected"'
    ).matches(entry)
    assert not gcp.Filter(
        'logName:"logs/mlops-drift" AND jsonPayload.event="drift_detected"'
    ).matches(entry)
    assert gcp.Filter('resource.label.service_name = "svc" OR jsonPayload.x = "y"').matches(entry)
    assert not gcp.Filter('NOT jsonPayload.service = "svc"').matches(entry)
    assert gcp.Filter('(jsonPayload.missing != "a") jsonPayload.service="svc"').matches(entry)
    with pytest.raises(ValueError, match="unsupported filter syntax"):
        gcp.Filter("metric.type = starts_with('x') {")


def _ratio_policy(duration: str = "300s", count: float = 1.0) -> dict[str, Any]:
    base = (
        'resource.type = "cloud_run_revision" AND metric.type = "run.googleapis.com/request_count"'
    )
    agg = [
        {
            "perSeriesAligner": "ALIGN_RATE",
            "crossSeriesReducer": "REDUCE_SUM",
            "alignmentPeriod": "60s",
            "groupByFields": ["resource.label.revision_name"],
        }
    ]
    return {
        "combiner": "OR",
        "conditions": [
            {
                "conditionThreshold": {
                    "filter": base + ' AND metric.labels.response_code_class = "5xx"',
                    "denominatorFilter": base,
                    "aggregations": agg,
                    "denominatorAggregations": agg,
                    "comparison": "COMPARISON_GT",
                    "thresholdValue": 0.05,
                    "duration": duration,
                    "trigger": {"count": count},
                }
            }
        ],
    }


def test_ratio_without_5xx_series_is_zero_and_duration_must_pass() -> None:
    quiet = emitters.cloud_run_requests("svc", "r1", traffic(20, 100))
    assert [s.metric_labels.get("response_code_class") for s in quiet] == ["2xx", None]
    assert not gcp.evaluate_policy(_ratio_policy(), until=1200, series=quiet).fired
    # Three bad minutes are shorter than the 300 s duration; ten are not.
    blip = emitters.cloud_run_requests(
        "svc", "r1", traffic(5, 100) + traffic(3, 100, 20) + traffic(5, 100)
    )
    assert not gcp.evaluate_policy(_ratio_policy(), until=780, series=blip).fired
    long = emitters.cloud_run_requests("svc", "r1", traffic(5, 100) + traffic(10, 100, 20))
    timeline = gcp.evaluate_policy(_ratio_policy(), until=900, series=long)
    assert timeline.first_fired() == 660.0  # 6th bad minute: five minutes of violation behind it


def test_trigger_count_needs_that_many_violating_series() -> None:
    one_bad = emitters.cloud_run_requests("svc", "r1", traffic(10, 100, 20))
    one_bad += emitters.cloud_run_requests("svc", "r2", traffic(10, 100))
    assert gcp.evaluate_policy(_ratio_policy("0s", 1), until=600, series=one_bad).fired
    assert not gcp.evaluate_policy(_ratio_policy("0s", 2), until=600, series=one_bad).fired


def test_metric_absence_needs_a_series_that_stopped() -> None:
    policy = {
        "conditions": [{"conditionAbsent": {"filter": 'metric.type = "m"', "duration": "600s"}}]
    }
    stopped = gcp.TimeSeries("m", {}, "global", {}, [(t * 60.0, 1.0) for t in range(1, 11)])
    timeline = gcp.evaluate_policy(policy, until=1800, series=[stopped])
    assert timeline.first_fired() == 1200.0  # ten minutes after the last point, at 600 s
    assert not gcp.evaluate_policy(policy, until=1800, series=[]).fired


def test_log_match_notifies_at_most_once_per_rate_limit() -> None:
    policy = {
        "alertStrategy": {"notificationRateLimit": {"period": "300s"}},
        "conditions": [{"conditionMatchedLog": {"filter": 'jsonPayload.event="x"'}}],
    }
    logs = [(t, {"jsonPayload": {"event": "x"}}) for t in (30.0, 90.0, 400.0)]
    timeline = gcp.evaluate_policy(policy, until=600, logs=logs)
    assert [t for t, state, _ in timeline.points if state == "OPEN"] == [60.0, 420.0]


def test_distribution_percentile_and_drift_series_from_the_api_body() -> None:
    policy = {
        "conditions": [
            {
                "conditionThreshold": {
                    "filter": 'metric.type = "run.googleapis.com/request_latencies"',
                    "aggregations": [
                        {"perSeriesAligner": "ALIGN_PERCENTILE_99", "alignmentPeriod": "60s"}
                    ],
                    "comparison": "COMPARISON_GT",
                    "thresholdValue": 100.0,
                    "duration": "0s",
                }
            }
        ]
    }
    series = emitters.cloud_run_requests(
        "svc", "r1", [Minute(100, latency_ms=50), Minute(100, latency_ms=150)]
    )
    assert gcp.evaluate_policy(policy, until=120, series=series).states() == ["CLOSED", "OPEN"]
    body = {
        "timeSeries": [
            {
                "metric": {
                    "type": "custom.googleapis.com/mlops/drift/drifted_features",
                    "labels": {"endpoint": "e"},
                },
                "resource": {"type": "global", "labels": {"project_id": "p"}},
                "points": [
                    {"interval": {"endTime": "2026-01-01T00:00:00Z"}, "value": {"int64Value": "2"}}
                ],
            }
        ]
    }
    [drift] = gcp.time_series_from_api(body, 500.0)
    assert (drift.metric_labels, drift.points) == ({"endpoint": "e"}, [(500.0, 2.0)])


# --- Azure --------------------------------------------------------------------------------


def test_kql_summarize_gives_one_row_without_by_and_none_with_by_on_no_rows() -> None:
    query = (
        "T | where Id =~ 'ABC' | summarize Errors = countif(toint(Code) >= 500), Requests = count()"
        " | extend Rate = iff(Requests == 0, 0.0, 100.0 * Errors / Requests)"
    )
    assert azure.run_kql(query, {"T": []}) == [{"Errors": 0, "Requests": 0, "Rate": 0.0}]
    rows = [
        {"Id": "abc", "Code": "503"},
        {"Id": "abc", "Code": "200"},
        {"Id": "other", "Code": "500"},
    ]
    assert azure.run_kql(query, {"T": rows}) == [{"Errors": 1, "Requests": 2, "Rate": 50.0}]
    by = "T | summarize N = count() by Id"
    assert azure.run_kql(by, {"T": []}) == []
    assert azure.run_kql(by, {"T": rows}) == [{"Id": "abc", "N": 2}, {"Id": "other", "N": 1}]
    with pytest.raises(ExprError, match="unsupported KQL operator 'join'"):
        azure.run_kql("T | join (U) on Id", {"T": rows})


def test_log_alert_failing_periods_and_row_count() -> None:
    rule = {
        "evaluationFrequency": "PT5M",
        "windowSize": "PT5M",
        "criteria": {
            "allOf": [
                {
                    "query": "T | summarize N = count() by Name",
                    "timeAggregation": "Count",
                    "operator": "GreaterThan",
                    "threshold": 0.0,
                    "failingPeriods": {
                        "numberOfEvaluationPeriods": 3.0,
                        "minFailingPeriodsToAlert": 2.0,
                    },
                }
            ]
        },
    }
    rows = [{"TimeGenerated": t, "Name": "a"} for t in (100.0, 700.0)]
    # Windows [0, 300) and [600, 900) have a row: two of the last three evaluations at 900 s.
    timeline = azure.evaluate_log_alert(rule, {"T": rows}, until=1200)
    assert timeline.states() == ["RESOLVED", "RESOLVED", "FIRED", "RESOLVED"]


def test_metric_alert_aggregates_each_dimension_series_over_the_window() -> None:
    alert = {
        "scopes": ["/r/x"],
        "evaluationFrequency": "PT1M",
        "windowSize": "PT5M",
        "criteria": {
            "allOf": [
                {
                    "name": "c",
                    "metricName": "m",
                    "metricNamespace": "ns",
                    "timeAggregation": "Average",
                    "operator": "GreaterThan",
                    "threshold": 10.0,
                    "dimensions": [{"name": "Endpoint", "operator": "Include", "values": ["E1"]}],
                }
            ]
        },
    }
    metrics = azure.AzureMetrics()
    for minute in range(10):
        metrics.put(
            "/r/X", "ns", "m", minute * 60, 20.0 if minute >= 5 else 5.0, {"Endpoint": "e1"}
        )
        metrics.put("/r/x", "ns", "m", minute * 60, 99.0, {"Endpoint": "e2"})  # excluded
    states = azure.evaluate_metric_alert(alert, metrics, until=600).states()
    # The 5-minute average of e1 passes 10 once two of its five minutes are at 20 (t = 420 s).
    assert states == ["RESOLVED"] * 6 + ["FIRED"] * 4
    assert azure.iso_seconds("P1D") == 86400 and azure.iso_seconds("PT1H30M") == 5400
    with pytest.raises(ValueError, match="unsupported duration"):
        azure.iso_seconds("5m")


# --- budgets ------------------------------------------------------------------------------


def test_aws_budget_filters_on_tag_and_instance_type_and_notifies_once() -> None:
    budget = {
        "limitAmount": "300.00",
        "costFilters": [
            {"name": "TagKeyValue", "values": ["user:mlops:project$p"]},
            {"name": "InstanceType", "values": ["g5.xlarge"]},
        ],
        "notifications": [
            {
                "notificationType": "ACTUAL",
                "threshold": 80.0,
                "thresholdType": "PERCENTAGE",
                "comparisonOperator": "GREATER_THAN",
            },
            {
                "notificationType": "FORECASTED",
                "threshold": 100.0,
                "thresholdType": "PERCENTAGE",
                "comparisonOperator": "GREATER_THAN",
            },
        ],
    }
    tags = {"mlops:project": "p"}
    costs = [budgets.Cost(d, 12.0, tags, "g5.xlarge") for d in range(1, 31)]  # 360 a month
    costs += [budgets.Cost(d, 1000.0, {}, "g5.xlarge") for d in range(1, 31)]
    costs += [budgets.Cost(d, 1000.0, tags, "m6i.large") for d in range(1, 31)]
    timeline = budgets.evaluate_aws_budget(budget, costs)
    notified = {day: labels for day, state, labels in timeline.points if state == "NOTIFIED"}
    assert notified == {1: ["FORECASTED-100"], 21: ["ACTUAL-80"]}


def test_gcp_and_azure_budgets() -> None:
    gcp_budget = {
        "amount": {"specifiedAmount": {"currencyCode": "USD", "units": "300"}},
        "budgetFilter": {"projects": ["projects/1"]},
        "thresholdRules": [
            {"thresholdPercent": 0.5},
            {"thresholdPercent": 1.0, "spendBasis": "FORECASTED_SPEND"},
        ],
    }
    costs = [budgets.Cost(d, 10.0, project="projects/1") for d in range(1, 31)]
    costs += [budgets.Cost(d, 99.0, project="projects/2") for d in range(1, 31)]
    days = {
        d: v for d, s, v in budgets.evaluate_gcp_budget(gcp_budget, costs).points if s == "NOTIFIED"
    }
    assert days == {1: ["FORECASTED_SPEND-1"], 15: ["CURRENT_SPEND-0.5"]}
    azure_budget = {
        "amount": 300.0,
        "scope": "/subscriptions/s/resourceGroups/rg",
        "notifications": {
            "actual-100": {
                "enabled": True,
                "threshold": 100.0,
                "operator": "GreaterThanOrEqualTo",
                "thresholdType": "Actual",
            },
            "off": {
                "enabled": False,
                "threshold": 1.0,
                "operator": "GreaterThan",
                "thresholdType": "Actual",
            },
        },
    }
    costs = [
        budgets.Cost(d, 10.0, resource_id="/subscriptions/s/resourceGroups/RG/x")
        for d in range(1, 31)
    ]
    costs += [
        budgets.Cost(d, 99.0, resource_id="/subscriptions/s/resourceGroups/rg2/x")
        for d in range(1, 31)
    ]
    days = {
        d: v
        for d, s, v in budgets.evaluate_azure_budget(azure_budget, costs).points
        if s == "NOTIFIED"
    }
    assert days == {30: ["actual-100"]}


# --- EventBridge --------------------------------------------------------------------------


def test_event_patterns_follow_eventbridge_matching() -> None:
    event = events.processing_job_state_change(
        "job", "Completed", "CompletedWithViolations: 3 violations", "us-east-1", "1"
    )
    assert events.matches(
        {"detail": {"ExitMessage": [{"prefix": "CompletedWithViolations"}]}}, event
    )
    assert not events.matches({"detail": {"ExitMessage": [{"prefix": "Failed"}]}}, event)
    assert events.matches(
        {"detail": {"ProcessingJobStatus": [{"anything-but": ["Failed"]}]}}, event
    )
    assert events.matches({"detail": {"Missing": [{"exists": False}]}}, event)
    assert not events.matches({"detail": {"Missing": ["x"]}}, event)
    assert events.matches(
        {
            "resources": [{"suffix": "/job"}],
            "detail-type": [{"equals-ignore-case": "sagemaker processing job state change"}],
        },
        event,
    )
    numbers = {"detail": {"n": 5}}
    assert events.matches({"detail": {"n": [{"numeric": [">", 1, "<=", 5]}]}}, numbers)
    assert not events.matches({"detail": {"n": [{"numeric": [">", 5]}]}}, numbers)


def test_alarm_state_changes_reach_a_rule_on_the_alarm_arn() -> None:
    arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:a"
    rule = {
        "eventPattern": '{"source": ["aws.cloudwatch"], "resources": ["'
        + arn
        + '"], "detail": {"state": {"value": ["ALARM"]}}}'
    }
    sent = [
        (1.0, events.alarm_state_change(arn, "a", "INSUFFICIENT_DATA", "OK")),
        (2.0, events.alarm_state_change(arn + "-other", "b", "OK", "ALARM")),
        (3.0, events.alarm_state_change(arn, "a", "OK", "ALARM")),
    ]
    assert events.evaluate_rule(rule, sent).states() == ["UNMATCHED", "UNMATCHED", "MATCHED"]
