"""``serving.rollout`` on three clouds: the alarms a rollout rolls back on (5xx, p99, an optional
model metric), the rollout function's least-privilege grants on Azure and GCP, and
``autoRollback`` (refused false in prod)."""

from __future__ import annotations

import json

import pytest

from mlops_iac.plan.testing import run_project
from mlops_iac.spec.errors import SpecError
from mlops_iac.spec.parse import parse_spec
from tests.conftest import REPO, platform_raw, reference_recording, stack_config

METRIC = {
    "namespace": "mlops/drift",
    "name": "DriftedFeatures",
    "threshold": 3,
    "comparison": "above",
}


def _with_rollout(stack: str, **rollout) -> object:
    config = stack_config(stack)
    config["mlops:platform"]["serving"]["rollout"].update(rollout)
    return run_project(REPO, stack, extra_config=config)


@pytest.fixture(scope="module")
def aws_metric():
    return _with_rollout("aws-prod", alarms={"modelMetric": METRIC, "latencyP99Ms": 250})


@pytest.fixture(scope="module")
def gcp_metric():
    metric = {
        **METRIC,
        "namespace": "custom.googleapis.com/mlops/drift",
        "name": "drifted_features",
    }
    return _with_rollout("gcp-prod", alarms={"modelMetric": metric, "errorRatePercent": 2.5})


@pytest.fixture(scope="module")
def azure_metric():
    return _with_rollout("azure-prod", alarms={"modelMetric": {**METRIC, "comparison": "below"}})


def test_aws_guardrails_roll_back_on_the_model_metric_too(aws_metric):
    alarm = aws_metric.named(
        "mlops-serving-model-metric-alarm", "aws:cloudwatch/metricAlarm:MetricAlarm"
    )
    endpoint = alarm.inputs["dimensions"]["Endpoint"]
    assert alarm.inputs["name"] == f"{endpoint}-model-metric"
    assert (alarm.inputs["namespace"], alarm.inputs["metricName"]) == (
        "mlops/drift",
        "DriftedFeatures",
    )
    assert (alarm.inputs["threshold"], alarm.inputs["comparisonOperator"]) == (
        3,
        "GreaterThanThreshold",
    )
    config = aws_metric.named("mlops-serving-endpoint", "aws:sagemaker/endpoint:Endpoint").inputs
    names = [
        a["alarmName"] for a in config["deploymentConfig"]["autoRollbackConfiguration"]["alarms"]
    ]
    assert names == [f"{endpoint}-5xx-rate", f"{endpoint}-p99-latency", f"{endpoint}-model-metric"]
    latency = aws_metric.named("mlops-serving-latency-alarm").inputs
    assert latency["threshold"] == 250 * 1000  # rollout.alarms overrides monitoring's 500 ms
    policy = json.loads(aws_metric.named("mlops-serving-role-policy").inputs["policy"])
    describe = next(s for s in policy["Statement"] if s.get("Sid") == "DescribeRollbackAlarms")
    assert describe["Resource"][-1].endswith(f":alarm:{endpoint}-model-metric")


def test_aws_without_a_model_metric_keeps_its_two_alarms():
    recording = reference_recording("aws-prod")
    assert not [r for r in recording.resources if r.name.endswith("model-metric-alarm")]


def test_gcp_alerts_watch_the_current_revision_and_the_model_metric(gcp_metric):
    policies = {
        r.name: r.inputs["conditions"][0]["conditionThreshold"]
        for r in gcp_metric.of_type("gcp:monitoring/alertPolicy:AlertPolicy")
        if r.name.startswith("mlops-rollout-")
    }
    assert sorted(policies) == [
        "mlops-rollout-errors",
        "mlops-rollout-latency",
        "mlops-rollout-model-metric",
    ]
    service = gcp_metric.named("mlops-serving-service", "gcp:cloudrunv2/service:Service").inputs
    current = service["template"]["revision"]
    for name in ("mlops-rollout-errors", "mlops-rollout-latency"):
        assert f'resource.labels.revision_name = "{current}"' in policies[name]["filter"]
    assert policies["mlops-rollout-errors"]["thresholdValue"] == 0.025
    model = policies["mlops-rollout-model-metric"]
    # The new revision's values only: the previous revision's must not roll back.
    assert model["filter"] == (
        'metric.type = "custom.googleapis.com/mlops/drift/drifted_features"'
        f' AND metric.labels.endpoint = "{service["name"]}"'
        f' AND metric.labels.revision = "{current}"'
    )
    assert (model["comparison"], model["thresholdValue"]) == ("COMPARISON_GT", 3)
    channel = gcp_metric.named("mlops-rollout-channel").inputs
    assert channel["type"] == "pubsub"
    for policy in gcp_metric.of_type("gcp:monitoring/alertPolicy:AlertPolicy"):
        if policy.name.startswith("mlops-rollout-"):
            assert len(policy.inputs["notificationChannels"]) >= 2


def test_gcp_the_model_metric_descriptor_exists_before_its_alert(gcp_metric):
    descriptor = gcp_metric.named(
        "mlops-rollout-model-metric-descriptor", "gcp:monitoring/metricDescriptor:MetricDescriptor"
    )
    inputs = descriptor.inputs
    assert inputs["type"] == "custom.googleapis.com/mlops/drift/drifted_features"
    assert (inputs["metricKind"], inputs["valueType"]) == ("GAUGE", "DOUBLE")
    assert [label["key"] for label in inputs["labels"]] == ["endpoint", "revision"]
    assert inputs["deletionPolicy"] == "ABANDON"
    assert descriptor.urn in gcp_metric.named("mlops-rollout-model-metric").dependencies
    assert not [
        r for r in reference_recording("gcp-prod").resources if r.name.endswith("-descriptor")
        if r.name.startswith("mlops-rollout")
    ]  # fmt: skip


def test_gcp_the_trigger_may_invoke_the_function_once_the_function_exists():
    """The grant is on the function's Cloud Run service, which the function's create makes: the
    grant comes after it, never before (an IAM grant on a service not created yet fails)."""
    recording = reference_recording("gcp-prod")
    function = recording.named("mlops-rollout-function", "gcp:cloudfunctionsv2/function:Function")
    invoker = recording.named(
        "mlops-rollout-trigger-run", "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
    )
    assert function.urn in invoker.dependencies
    assert invoker.urn not in function.dependencies
    assert invoker.inputs["name"] == function.inputs["name"]
    assert invoker.inputs["role"] == "roles/run.invoker"
    trigger = function.inputs["eventTrigger"]["serviceAccountEmail"]
    assert invoker.inputs["member"] == f"serviceAccount:{trigger}"


def test_gcp_the_entry_point_is_built_as_a_cloudevent_function():
    recording = reference_recording("gcp-prod")
    build = recording.named("mlops-rollout-function").inputs["buildConfig"]
    assert build["environmentVariables"] == {"GOOGLE_FUNCTION_SIGNATURE_TYPE": "cloudevent"}
    archive = next(
        r for r in recording.of_type("gcp:storage/bucketObject:BucketObject")
        if r.inputs["name"] == build["source"]["storageSource"]["object"]
    )  # fmt: skip
    assets = archive.inputs["source"]["assets"]
    assert assets["requirements.txt"]["text"].splitlines() == ["functions-framework>=3,<4"]
    assert "functions_framework.cloud_event(handler)" in assets["main.py"]["text"]


def test_gcp_only_the_guards_own_policies_roll_back():
    recording = reference_recording("gcp-prod")
    env = recording.named("mlops-rollout-function").inputs["serviceConfig"]["environmentVariables"]
    names = sorted(
        r.inputs["displayName"]
        for r in recording.of_type("gcp:monitoring/alertPolicy:AlertPolicy")
        if r.name in ("mlops-rollout-errors", "mlops-rollout-latency")
    )
    assert sorted(json.loads(env["ROLLOUT_POLICIES"])) == names


def test_gcp_function_holds_two_permissions_on_one_service():
    recording = reference_recording("gcp-prod")
    role = recording.named("mlops-rollout-role", "gcp:projects/iAMCustomRole:IAMCustomRole").inputs
    assert role["permissions"] == ["run.services.get", "run.services.update"]
    function = recording.named("mlops-rollout-function").inputs
    member = f"serviceAccount:{function['serviceConfig']['serviceAccountEmail']}"
    bindings = [
        r for r in recording.resources
        if r.type.endswith("IAMMember") or r.type.endswith("IamMember")
        if r.inputs.get("member") == member
    ]  # fmt: skip
    assert sorted(b.name for b in bindings) == ["mlops-rollout-act-as", "mlops-rollout-run-update"]
    run_update = recording.named("mlops-rollout-run-update").inputs
    assert run_update["name"] == recording.named("mlops-serving-service").inputs["name"]
    assert run_update["role"] == f"projects/{role['project']}/roles/{role['roleId']}"
    act_as = recording.named("mlops-rollout-act-as").inputs
    runtime = recording.named("mlops-serving-service").inputs["template"]["serviceAccount"]
    assert act_as["serviceAccountId"].endswith(f"/serviceAccounts/{runtime}")
    assert act_as["role"] == "roles/iam.serviceAccountUser"
    trigger = function["eventTrigger"]
    assert trigger["eventType"] == "google.cloud.pubsub.topic.v1.messagePublished"
    assert function["serviceConfig"]["ingressSettings"] == "ALLOW_INTERNAL_ONLY"
    schedule = recording.named("mlops-rollout-schedule").inputs
    assert schedule["pubsubTarget"]["topicName"] == trigger["pubsubTopic"]


def test_azure_function_holds_one_custom_role_on_one_endpoint(azure_metric):
    endpoint = azure_metric.named("mlops-rollout-function").inputs
    settings = {s["name"]: s["value"] for s in endpoint["siteConfig"]["appSettings"]}
    endpoint_id = settings["ROLLOUT_ENDPOINT_ID"]
    role = azure_metric.named("mlops-rollout-role").inputs
    # Assignable at the resource group (RBAC's narrowest documented assignable scope), assigned
    # on the one endpoint.
    group = endpoint_id.split("/providers/", 1)[0]
    assert group.split("/")[-2] == "resourceGroups"
    assert role["assignableScopes"] == [group] and role["scope"] == group
    assert role["permissions"] == [{
        "actions": [
            "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/read",
            "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/write",
            "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments/read",
        ],
        "notActions": [],
    }]  # fmt: skip
    assignment = azure_metric.named("mlops-rollout-endpoint").inputs
    assert assignment["scope"] == endpoint_id
    assert assignment["roleDefinitionId"].endswith(f"/roleDefinitions/{role['roleDefinitionId']}")
    identity = endpoint["identity"]["userAssignedIdentities"]
    drift = azure_metric.named("mlops-drift-function").inputs["identity"]["userAssignedIdentities"]
    assert identity != drift  # the drift job's code never holds the right to move traffic
    model = azure_metric.named("mlops-rollout-model-metric").inputs
    criterion = model["criteria"]["allOf"][0]
    assert (criterion["metricNamespace"], criterion["metricName"]) == (
        "mlops/drift",
        "DriftedFeatures",
    )
    assert (criterion["operator"], criterion["threshold"]) == ("LessThan", 3)
    assert model["scopes"] == [endpoint_id]
    latency = azure_metric.named("mlops-rollout-latency").inputs["criteria"]["allOf"][0]
    assert latency["dimensions"] == [
        {"name": "deployment", "operator": "Include", "values": ["green"]}
    ]
    group = azure_metric.named("mlops-rollout-actions").inputs
    receiver = group["azureFunctionReceivers"][0]
    assert receiver["functionName"] == "rollout_alert" and receiver["useCommonAlertSchema"] is True


def test_azure_custom_roles_of_two_stacks_do_not_collide():
    """A custom role's name is unique in the tenant and its id everywhere: dev and prod in one
    tenant get their own."""
    dev, prod = (reference_recording(s).named("mlops-rollout-role").inputs for s in
                 ("azure-dev", "azure-prod"))  # fmt: skip
    assert dev["roleName"] != prod["roleName"]
    assert dev["roleDefinitionId"] != prod["roleDefinitionId"]
    assert dev["roleName"].startswith("mlops rollout azure-dev mlops-serving-endpoint")


@pytest.mark.parametrize("stack", ["azure-dev", "gcp-dev"])
def test_auto_rollback_false_leaves_the_rollout_to_people(stack):
    recording = _with_rollout(stack, autoRollback=False)
    assert not [r.name for r in recording.resources if r.name.startswith("mlops-rollout")]


def _problems(raw: dict) -> list[str]:
    try:
        parse_spec(raw)
    except SpecError as exc:
        return exc.lines
    return []


@pytest.mark.parametrize("stack", ["aws-prod", "azure-prod", "gcp-prod"])
def test_prod_refuses_auto_rollback_false(stack):
    raw = platform_raw(stack)
    raw["serving"]["rollout"]["autoRollback"] = False
    problems = _problems(raw)
    assert any("serving.rollout.autoRollback" in p and "refused in prod" in p for p in problems)
    raw["serving"]["rollout"]["autoRollback"] = True
    assert _problems(raw) == []


@pytest.mark.parametrize(
    "bad",
    [
        {"autoRollback": "no"},
        {"autoRollback": 0},
        {
            "alarms": {
                "modelMetric": {"namespace": "x", "name": "y", "threshold": 1, "comparison": "gt"}
            }
        },
        {"alarms": {"modelMetric": {"namespace": "", "name": "y", "threshold": 1}}},
        {"alarms": {"errorRatePercent": 0}},
        {"alarms": {"latencyP99Ms": -1}},
        {"alarms": {"p99": 5}},
    ],
)
def test_hostile_rollout_values_are_refused(bad):
    raw = platform_raw("azure-dev")
    raw["serving"]["rollout"].update(bad)
    assert _problems(raw), bad


def test_dev_may_turn_auto_rollback_off():
    raw = platform_raw("gcp-dev")
    raw["serving"]["rollout"]["autoRollback"] = False
    assert _problems(raw) == []
