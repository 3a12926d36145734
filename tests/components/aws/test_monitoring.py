from __future__ import annotations

import json

import pulumi
import pytest

from mlops_iac.components.aws import AlertChannel, AlertChannelArgs, Monitoring, MonitoringArgs
from mlops_iac.plan.testing import ProgramError, run
from tests.components.aws._helpers import REGION, children_by_name, statements, wildcard_allows

COMPONENT = "mlops:aws:Monitoring"
KEY = "arn:aws:kms:us-east-1:123456789012:key/artifacts"
CHANNEL_CHILDREN = {
    "mon-alerts-key": "aws:kms/key:Key",
    "mon-alerts-key-alias": "aws:kms/alias:Alias",
    "mon-alerts-topic": "aws:sns/topic:Topic",
    "mon-alerts-topic-policy": "aws:sns/topicPolicy:TopicPolicy",
    "mon-alerts-email-0": "aws:sns/topicSubscription:TopicSubscription",
    "mon-alerts-webhook": "aws:sns/topicSubscription:TopicSubscription",
}
CHILDREN = {
    "mon-alerts": "mlops:aws:AlertChannel",
    "mon-latency-alarm": "aws:cloudwatch/metricAlarm:MetricAlarm",
    "mon-5xx-alarm": "aws:cloudwatch/metricAlarm:MetricAlarm",
    "mon-zero-invocations-alarm": "aws:cloudwatch/metricAlarm:MetricAlarm",
    "mon-gpu-saturation-alarm": "aws:cloudwatch/metricAlarm:MetricAlarm",
    "mon-dashboard": "aws:cloudwatch/dashboard:Dashboard",
    "mon-monitor-role": "aws:iam/role:Role",
    "mon-monitor-role-policy": "aws:iam/rolePolicy:RolePolicy",
    "mon-data-quality": "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition",
    "mon-drift-schedule": "aws:sagemaker/monitoringSchedule:MonitoringSchedule",
    "mon-retraining": "aws:sns/topic:Topic",
    "mon-retraining-policy": "aws:sns/topicPolicy:TopicPolicy",
    "mon-violations-rule": "aws:cloudwatch/eventRule:EventRule",
    "mon-violations-target": "aws:cloudwatch/eventTarget:EventTarget",
    "mon-gpu-budget": "aws:budgets/budget:Budget",
}


def build(**kwargs):
    def program():
        mon = Monitoring("mon", MonitoringArgs(**kwargs))
        for key in ("alert_topic", "dashboard_url", "retraining_trigger", "alarm_names"):
            pulumi.export(key, getattr(mon, key))

    return run(program, config=REGION)


FULL = {
    "environment": "prod",
    "project": "fraud-detection",
    "alert_emails": ["oncall@example.com"],
    "webhook_url": "https://chat.example.com/hook",
    "endpoint_name": "srv-123",
    "latency_p99_ms": 250,
    "error_rate_percent": 1.5,
    "artifact_bucket_name": "artifacts",
    "artifact_kms_key_arn": KEY,
    "drift": "hourly",
    "model_monitor": True,
    "gpu_asg_name": "eks-gpu-asg",
    "gpu_max_nodes": 4,
    "monthly_budget_usd": 3650.0,
}


@pytest.fixture(scope="module")
def prod():
    return build(**FULL)


def test_children_are_exact_and_parented(prod):
    component = prod.named("mon", COMPONENT)
    assert {n: r.type for n, r in children_by_name(prod, component).items()} == CHILDREN
    channel = prod.named("mon-alerts", "mlops:aws:AlertChannel")
    assert {n: r.type for n, r in children_by_name(prod, channel).items()} == CHANNEL_CHILDREN
    assert len(prod) == len(CHILDREN) + len(CHANNEL_CHILDREN) + 1
    assert {r.name for r in prod if r.protect} == {"mon-alerts-key"}
    assert prod.unmocked_invokes == []


def test_alert_channel_is_encrypted_and_subscribed(prod):
    key = prod.named("mon-alerts-key")
    topic = prod.named("mon-alerts-topic")
    assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"]
    assert key.inputs["enableKeyRotation"] is True
    email = prod.named("mon-alerts-email-0").inputs
    assert (email["protocol"], email["endpoint"]) == ("email", "oncall@example.com")
    webhook = prod.named("mon-alerts-webhook")
    assert webhook.inputs["protocol"] == "https"
    assert webhook.inputs["endpoint"] == "https://chat.example.com/hook"
    policy = {s["Sid"]: s for s in statements(prod.named("mon-alerts-topic-policy"))}
    assert sorted(policy["ServicesPublish"]["Principal"]["Service"]) == [
        "budgets.amazonaws.com",
        "cloudwatch.amazonaws.com",
        "events.amazonaws.com",
    ]
    assert policy["ServicesPublish"]["Resource"] == topic.outputs["arn"]
    assert prod.exports["alert_topic"] == topic.outputs["arn"]


def test_every_alarm_notifies_the_channel(prod):
    topic = prod.named("mon-alerts-topic").outputs["arn"]
    alarms = prod.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert len(alarms) == 4
    for alarm in alarms:
        assert alarm.inputs["alarmActions"] == [topic]
        assert alarm.inputs["okActions"] == [topic]
    assert sorted(prod.exports["alarm_names"]) == sorted(a.outputs["name"] for a in alarms)


def test_endpoint_alarms(prod):
    dims = {"EndpointName": "srv-123", "VariantName": "AllTraffic"}
    latency = prod.named("mon-latency-alarm").inputs
    assert (latency["metricName"], latency["extendedStatistic"]) == ("ModelLatency", "p99")
    assert latency["threshold"] == 250_000 and latency["dimensions"] == dims
    errors = prod.named("mon-5xx-alarm").inputs
    assert errors["threshold"] == 1.5
    assert {q["id"] for q in errors["metricQueries"]} == {"errors", "invocations", "rate"}
    zero = prod.named("mon-zero-invocations-alarm").inputs
    invocations, hourly = zero["metricQueries"]
    assert invocations["metric"]["metricName"] == "Invocations"
    assert (invocations["metric"]["stat"], invocations["metric"]["period"]) == ("Sum", 3600)
    assert invocations["metric"]["dimensions"] == dims and not invocations["returnData"]
    assert (hourly["expression"], hourly["returnData"]) == ("FILL(invocations, 0)", True)
    assert (zero["comparisonOperator"], zero["threshold"]) == ("LessThanThreshold", 1)
    # A day of empty hours (filled with 0) within two days pages; no invocation at all in two
    # days (a new endpoint before its clients switch over) is missing data, which does not.
    assert zero["treatMissingData"] == "notBreaching"
    assert (zero["evaluationPeriods"], zero["datapointsToAlarm"]) == (48, 24)
    # CloudWatch's evaluation range for periods of an hour or more: at most seven days.
    assert 3600 * zero["evaluationPeriods"] <= 7 * 86400


def test_gpu_capacity_alarm(prod):
    gpu = prod.named("mon-gpu-saturation-alarm").inputs
    # Published by EC2 without enabling ASG group metrics: five samples per running node per
    # 5 minutes, so the nodes are the SampleCount over 5.
    samples, nodes = gpu["metricQueries"]
    assert samples == {
        "id": "samples",
        "returnData": False,
        "metric": {
            "namespace": "AWS/EC2",
            "metricName": "CPUUtilization",
            "dimensions": {"AutoScalingGroupName": "eks-gpu-asg"},
            "period": 300,
            "stat": "SampleCount",
        },
    }
    assert nodes == {
        "id": "nodes",
        "expression": "samples / 5",
        "label": "GPU nodes running",
        "returnData": True,
    }
    assert gpu["threshold"] == 4
    assert gpu["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert samples["metric"]["period"] * gpu["evaluationPeriods"] == 3600
    assert gpu["datapointsToAlarm"] == gpu["evaluationPeriods"] - 1
    assert "statistic" not in gpu and "metricName" not in gpu


def test_drift_monitoring_on_captured_data(prod):
    role = prod.named("mon-monitor-role")
    job = prod.named("mon-data-quality").inputs
    assert job["roleArn"] == role.outputs["arn"]
    assert job["dataQualityJobInput"]["endpointInput"]["endpointName"] == "srv-123"
    assert job["dataQualityAppSpecification"]["imageUri"] == (
        "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
    )
    assert job["dataQualityBaselineConfig"]["constraintsResource"]["s3Uri"] == (
        "s3://artifacts/monitoring/baseline/constraints.json"
    )
    output = job["dataQualityJobOutputConfig"]
    assert output["kmsKeyId"] == KEY
    assert output["monitoringOutputs"]["s3Output"]["s3Uri"] == "s3://artifacts/monitoring/reports/"
    assert job["jobResources"]["clusterConfig"]["volumeKmsKeyId"] == KEY
    assert job["networkConfig"]["enableNetworkIsolation"] is True
    schedule = prod.named("mon-drift-schedule").inputs["monitoringScheduleConfig"]
    assert schedule["monitoringJobDefinitionName"] == prod.named("mon-data-quality").outputs["name"]
    assert schedule["monitoringType"] == "DataQuality"
    assert schedule["scheduleConfig"] == {"scheduleExpression": "cron(0 * ? * * *)"}
    found = {s["Sid"]: s for s in statements(prod.named("mon-monitor-role-policy"))}
    assert found["ReadCaptureAndBaseline"]["Resource"] == [
        "arn:aws:s3:::artifacts/capture/*",
        "arn:aws:s3:::artifacts/monitoring/*",
    ]
    assert found["WriteReports"]["Resource"] == "arn:aws:s3:::artifacts/monitoring/*"
    assert found["UseKey"]["Resource"] == KEY
    assert found["PutMetrics"]["Condition"] == {
        "StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*"]}
    }
    assert wildcard_allows(prod) == []


def test_model_monitor_is_opt_in():
    recording = build(**{**FULL, "model_monitor": False})
    names = {r.name for r in recording}
    assert not names & {
        "mon-monitor-role",
        "mon-monitor-role-policy",
        "mon-data-quality",
        "mon-drift-schedule",
        # No Model Monitor job can complete with violations: no rule waits for one.
        "mon-violations-rule",
        "mon-violations-target",
    }
    assert recording.named("mon-retraining")


def test_violations_fire_the_retraining_trigger(prod):
    retraining = prod.named("mon-retraining")
    assert retraining.inputs["kmsMasterKeyId"] == prod.named("mon-alerts-key").outputs["arn"]
    rule = prod.named("mon-violations-rule")
    pattern = json.loads(rule.inputs["eventPattern"])
    assert pattern["source"] == ["aws.sagemaker"]
    assert pattern["detail"]["ExitMessage"] == [{"prefix": "CompletedWithViolations"}]
    target = prod.named("mon-violations-target").inputs
    assert (target["rule"], target["arn"]) == (rule.outputs["name"], retraining.outputs["arn"])
    policy = {s["Sid"]: s for s in statements(prod.named("mon-retraining-policy"))}
    assert policy["ServicesPublish"]["Principal"] == {"Service": ["events.amazonaws.com"]}
    assert prod.exports["retraining_trigger"] == retraining.outputs["arn"]


def test_gpu_budget(prod):
    budget = prod.named("mon-gpu-budget").inputs
    assert (budget["budgetType"], budget["timeUnit"]) == ("COST", "MONTHLY")
    assert (budget["limitAmount"], budget["limitUnit"]) == ("3650.00", "USD")
    assert budget["costFilters"] == [
        {"name": "TagKeyValue", "values": ["user:mlops:project$fraud-detection"]}
    ]
    assert [n["threshold"] for n in budget["notifications"]] == [80, 100]
    for notification in budget["notifications"]:
        assert notification["subscriberEmailAddresses"] == ["oncall@example.com"]
        assert notification["thresholdType"] == "PERCENTAGE"


def test_gpu_budget_counts_only_the_gpu_instance_types():
    recording = build(**{**FULL, "gpu_instance_types": ["g5.xlarge"]})
    assert recording.named("mon-gpu-budget").inputs["costFilters"] == [
        {"name": "TagKeyValue", "values": ["user:mlops:project$fraud-detection"]},
        {"name": "InstanceType", "values": ["g5.xlarge"]},
    ]


def test_dashboard(prod):
    dashboard = prod.named("mon-dashboard").inputs
    body = json.loads(dashboard["dashboardBody"])
    titles = [w["properties"]["title"] for w in body["widgets"]]
    assert titles == ["Invocations", "p99 model latency (µs)", "Errors", "GPU nodes running"]
    gpu = body["widgets"][3]["properties"]["metrics"]
    assert gpu == [
        [
            "AWS/EC2",
            "CPUUtilization",
            "AutoScalingGroupName",
            "eks-gpu-asg",
            {"id": "samples", "stat": "SampleCount", "visible": False},
        ],
        [{"expression": "samples / 5", "label": "GPU nodes running", "id": "nodes"}],
    ]
    name = dashboard["dashboardName"]
    assert prod.exports["dashboard_url"] == (
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
        f"#dashboards:name={name}"
    )


def test_existing_channel_and_serving_alarms_are_reused():
    topic = "arn:aws:sns:us-east-1:123456789012:alerts"
    recording = build(
        alert_topic_arn=topic,
        endpoint_name="srv-123",
        serving_alarm_names=["srv-123-5xx-rate", "srv-123-p99-latency"],
    )
    names = {r.name for r in recording.children(recording.named("mon", COMPONENT))}
    assert names == {
        "mon-retraining-key",
        "mon-retraining-key-alias",
        "mon-dashboard",
        "mon-retraining",
        "mon-retraining-policy",
    }
    assert recording.exports["alert_topic"] == topic
    assert recording.exports["alarm_names"] == ["srv-123-5xx-rate", "srv-123-p99-latency"]


def test_alert_channel_on_its_own():
    def program():
        AlertChannel("ch", AlertChannelArgs(emails=["a@example.com", "b@example.com"]))

    recording = run(program, config=REGION)
    assert sorted(
        r.name for r in recording.of_type("aws:sns/topicSubscription:TopicSubscription")
    ) == [
        "ch-email-0",
        "ch-email-1",
    ]
    assert wildcard_allows(recording) == []


def test_unknown_drift_schedule_fails():
    with pytest.raises(ProgramError, match="drift must be one of"):
        build(drift="monthly")
