"""``DriftJob`` on AWS as aws-prod builds it: code, schedule, identity, alarm, trigger."""

from __future__ import annotations

import json

import pytest

from mlops_iac.components.aws.drift_job import _ALARM_PERIOD
from mlops_iac.plan.testing import run_project
from tests.components.aws._helpers import statements
from tests.conftest import REPO, platform_raw, reference_recording
from tests.drift._package import import_unpacked


@pytest.fixture(scope="module")
def prod():
    return reference_recording("aws-prod")


def test_the_job_is_a_scheduled_function_with_alarms_and_a_retraining_rule(prod):
    job = prod.named("mlops-drift", "mlops:aws:DriftJob")
    children = sorted((r.type, r.name) for r in prod.children(job))
    assert children == [
        ("aws:cloudwatch/eventRule:EventRule", "mlops-drift-retrain-rule"),
        ("aws:cloudwatch/eventTarget:EventTarget", "mlops-drift-retrain-target"),
        ("aws:cloudwatch/logGroup:LogGroup", "mlops-drift-logs"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "mlops-drift-alarm"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "mlops-drift-errors-alarm"),
        ("aws:iam/role:Role", "mlops-drift-role"),
        ("aws:iam/role:Role", "mlops-drift-scheduler-role"),
        ("aws:iam/rolePolicy:RolePolicy", "mlops-drift-role-policy"),
        ("aws:iam/rolePolicy:RolePolicy", "mlops-drift-scheduler-role-policy"),
        ("aws:kms/alias:Alias", "mlops-drift-key-alias"),
        ("aws:kms/key:Key", "mlops-drift-key"),
        ("aws:lambda/function:Function", "mlops-drift-function"),
        ("aws:scheduler/schedule:Schedule", "mlops-drift-schedule"),
    ]


def test_function_code_is_the_drift_package_and_its_settings_come_from_the_spec(prod):
    function = prod.named("mlops-drift-function").inputs
    assets = function["code"]["assets"]
    assert "mlops_iac/drift/handlers.py" in assets and "mlops_iac/drift/profile.py" in assets
    assert function["handler"] == "drift_lambda.handler"
    assert function["runtime"] == "python3.12"
    env = function["environment"]["variables"]
    bucket = prod.named("mlops-artifacts-bucket").outputs["bucket"]
    endpoint = prod.named("mlops-serving-endpoint").outputs["name"]
    version = platform_raw("aws-prod")["lineage"]["datasetVersion"].replace(":", "_")
    assert env["DRIFT_CAPTURE_URI"] == f"s3://{bucket}/capture/{endpoint}/"
    assert env["DRIFT_BASELINE_URI"] == f"s3://{bucket}/drift/baselines/{version}/baseline.json"
    assert env["DRIFT_REPORT_URI"] == f"s3://{bucket}/drift/reports/{endpoint}"
    assert (env["DRIFT_PSI"], env["DRIFT_KS"], env["DRIFT_JS"]) == ("0.2", "0.1", "0.1")
    assert env["DRIFT_WINDOW_HOURS"] == "24"
    # No reserved concurrency: a new account (quota 10) refuses any reservation. Runs still
    # cannot overlap: a run ends (timeout) before the most frequent schedule ticks again.
    assert "reservedConcurrentExecutions" not in function
    assert function["timeout"] < 3600 == _ALARM_PERIOD["hourly"]


def test_the_archive_runs_on_the_standard_library_alone(prod, tmp_path):
    """Unpack the archive as Lambda does and import the handler with no site-packages at all."""
    assets = prod.named("mlops-drift-function").inputs["code"]["assets"]
    sdks = ("boto", "pulumi", "mlops_iac.c")
    assert import_unpacked(assets, tmp_path, "drift_lambda", "handler", sdks) == "[]"


def test_schedule_invokes_only_this_function(prod):
    schedule = prod.named("mlops-drift-schedule").inputs
    function_arn = prod.named("mlops-drift-function").outputs["arn"]
    assert schedule["scheduleExpression"] == "cron(0 0 ? * * *)"
    assert schedule["target"]["arn"] == function_arn
    (stmt,) = statements(prod.named("mlops-drift-scheduler-role-policy"))
    assert (stmt["Action"], stmt["Resource"]) == ("lambda:InvokeFunction", function_arn)


def test_role_is_least_privilege(prod):
    by_sid = {s["Sid"]: s for s in statements(prod.named("mlops-drift-role-policy"))}
    assert set(by_sid) == {
        "ListCapture",
        "FindBaseline",
        "ReadCaptureAndBaseline",
        "WriteReports",
        "PublishDriftMetrics",
        "WriteOwnLogs",
        "UseBucketKey",
    }
    assert by_sid["PublishDriftMetrics"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "mlops/drift"}
    }
    assert by_sid["WriteReports"]["Action"] == "s3:PutObject"
    # Listing the baseline's exact key only (a missing baseline is otherwise a bare 403).
    baseline = prod.named("mlops-drift-function").inputs["environment"]["variables"][
        "DRIFT_BASELINE_URI"
    ]
    bucket = prod.named("mlops-artifacts-bucket").outputs["bucket"]
    assert by_sid["FindBaseline"]["Action"] == "s3:ListBucket"
    assert by_sid["FindBaseline"]["Resource"] == f"arn:aws:s3:::{bucket}"
    assert by_sid["FindBaseline"]["Condition"] == {
        "StringEquals": {"s3:prefix": baseline.removeprefix(f"s3://{bucket}/")}
    }
    assert by_sid["WriteReports"]["Resource"].endswith(
        "/drift/reports/" + prod.named("mlops-serving-endpoint").outputs["name"] + "/*"
    )
    assert all("*" not in json.dumps(s["Action"]) for s in by_sid.values())
    key = prod.named("mlops-artifacts-key").outputs["arn"]
    assert by_sid["UseBucketKey"]["Resource"] == key
    # Its own log streams, by the log group's real ARN (a CloudWatch Logs ARN, as the key's
    # encryption-context condition names it).
    logs = prod.named("mlops-drift-logs")
    group_arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{logs.inputs['name']}"
    assert logs.outputs["arn"] == group_arn
    assert by_sid["WriteOwnLogs"]["Resource"] == f"{group_arn}:*"
    (logs_statement,) = [
        s
        for s in statements(prod.named("mlops-drift-key"))
        if s["Sid"] == "CloudWatchLogsUsesKeyForItsLogGroups"
    ]
    assert logs_statement["Condition"]["ArnEquals"] == {
        "kms:EncryptionContext:aws:logs:arn": group_arn
    }


def test_alarm_routes_to_the_channel_and_feeds_the_retraining_topic(prod):
    topic = prod.named("mlops-alerts-topic").outputs["arn"]
    alarm = prod.named("mlops-drift-alarm")
    assert alarm.inputs["alarmActions"] == [topic]
    assert (alarm.inputs["metricName"], alarm.inputs["threshold"]) == ("DriftedFeatures", 1.0)
    assert alarm.inputs["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
    pattern = json.loads(prod.named("mlops-drift-retrain-rule").inputs["eventPattern"])
    assert pattern["resources"] == [alarm.outputs["arn"]]
    assert pattern["detail"] == {"state": {"value": ["ALARM"]}}
    retraining = prod.named("mlops-monitoring-retraining").outputs["arn"]
    assert prod.named("mlops-drift-retrain-target").inputs["arn"] == retraining
    assert prod.exports["drift_alarm_name"] == alarm.outputs["name"]


def test_thresholds_and_schedule_follow_the_stack_file():
    raw = platform_raw("aws-prod")
    raw["monitoring"]["drift"] = {"schedule": "hourly", "psi": 0.5, "minRows": 50}
    rec = run_project(REPO, "aws-prod", extra_config={"mlops:platform": raw})
    env = rec.named("mlops-drift-function").inputs["environment"]["variables"]
    assert (env["DRIFT_PSI"], env["DRIFT_MIN_ROWS"], env["DRIFT_WINDOW_HOURS"]) == (
        "0.5",
        "50",
        "1",
    )
    assert rec.named("mlops-drift-schedule").inputs["scheduleExpression"] == "cron(0 * ? * * *)"
    assert rec.named("mlops-drift-alarm").inputs["period"] == 3600
