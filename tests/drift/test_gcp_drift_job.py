"""``DriftJob`` on GCP as gcp-prod builds it: source, schedule, identity, alert, retraining."""

from __future__ import annotations

import pytest

from tests.conftest import platform_raw, reference_recording


@pytest.fixture(scope="module")
def prod():
    return reference_recording("gcp-prod")


def test_children(prod):
    job = prod.named("mlops-drift", "mlops:gcp:DriftJob")
    assert sorted((r.type, r.name) for r in prod.children(job)) == [
        ("gcp:cloudfunctionsv2/function:Function", "mlops-drift-function"),
        ("gcp:cloudrunv2/serviceIamMember:ServiceIamMember", "mlops-drift-invoker-run"),
        ("gcp:cloudscheduler/job:Job", "mlops-drift-schedule"),
        ("gcp:monitoring/alertPolicy:AlertPolicy", "mlops-drift-alert"),
        (
            "gcp:monitoring/notificationChannel:NotificationChannel",
            "mlops-drift-retraining-channel",
        ),
        ("gcp:projects/iAMMember:IAMMember", "mlops-drift-metric-writer"),
        ("gcp:serviceaccount/account:Account", "mlops-drift-invoker"),
        ("gcp:serviceaccount/account:Account", "mlops-drift-sa"),
        ("gcp:storage/bucketIAMMember:BucketIAMMember", "mlops-drift-read"),
        ("gcp:storage/bucketIAMMember:BucketIAMMember", "mlops-drift-write-reports"),
        ("gcp:storage/bucketObject:BucketObject", "mlops-drift-source"),
    ]


def test_function_source_and_settings(prod):
    source = prod.named("mlops-drift-source").inputs["source"]["assets"]
    assert "main.py" in source and "mlops_iac/drift/handlers.py" in source
    function = prod.named("mlops-drift-function").inputs
    assert function["buildConfig"]["runtime"] == "python312"
    assert function["buildConfig"]["entryPoint"] == "handler"
    service = function["serviceConfig"]
    assert service["ingressSettings"] == "ALLOW_INTERNAL_ONLY"
    assert service["serviceAccountEmail"] == prod.named("mlops-drift-sa").outputs["email"]
    env = service["environmentVariables"]
    capture = next(
        e["value"]
        for e in prod.named("mlops-serving-service").inputs["template"]["containers"][0]["envs"]
        if e["name"] == "CAPTURE_URI"
    )
    assert env["DRIFT_CAPTURE_URI"] == capture  # the job reads what the container writes
    version = platform_raw("gcp-prod")["lineage"]["datasetVersion"].replace(":", "_")
    assert env["DRIFT_BASELINE_URI"].endswith(f"/drift/baselines/{version}/baseline.json")
    assert env["DRIFT_ENDPOINT"] == prod.named("mlops-serving-service").inputs["name"]


def test_identity_is_scoped(prod):
    write = prod.named("mlops-drift-write-reports").inputs
    assert write["role"] == "roles/storage.objectCreator"
    assert "/objects/drift/reports/" in write["condition"]["expression"]
    assert prod.named("mlops-drift-read").inputs["role"] == "roles/storage.objectViewer"
    invoker = prod.named("mlops-drift-invoker-run").inputs
    assert invoker["role"] == "roles/run.invoker"
    assert invoker["name"] == prod.named("mlops-drift-function").inputs["name"]


def test_schedule_calls_the_function_with_an_oidc_token(prod):
    job = prod.named("mlops-drift-schedule").inputs
    assert job["schedule"] == "0 0 * * *"
    target = job["httpTarget"]
    assert target["uri"] == prod.named("mlops-drift-function").outputs["url"]
    assert (
        target["oidcToken"]["serviceAccountEmail"]
        == prod.named("mlops-drift-invoker").outputs["email"]
    )


def test_alert_notifies_the_channels_and_the_retraining_topic(prod):
    alert = prod.named("mlops-drift-alert").inputs
    channels = alert["notificationChannels"]
    retrain = prod.named("mlops-drift-retraining-channel")
    assert retrain.inputs["type"] == "pubsub"
    assert retrain.inputs["labels"]["topic"] == prod.exports["retraining_trigger"]
    assert retrain.outputs["name"] in channels
    assert prod.exports["alert_topic"] in channels  # the primary alert channel
    assert len(channels) >= 2
    condition = alert["conditions"][0]["conditionThreshold"]
    assert "custom.googleapis.com/mlops/drift/drifted_features" in condition["filter"]
    assert condition["comparison"] == "COMPARISON_GT"
