from __future__ import annotations

import pulumi
import pytest

from mlops_iac.components.aws import ModelVersion, ServingEndpoint, ServingEndpointArgs
from mlops_iac.plan.testing import ProgramError, run
from tests.components.aws._helpers import REGION, children_by_name, statements, wildcard_allows

COMPONENT = "mlops:aws:ServingEndpoint"
TOPIC = "arn:aws:sns:us-east-1:123456789012:alerts"
KEY = "arn:aws:kms:us-east-1:123456789012:key/artifacts"
REPO_ARN = "arn:aws:ecr:us-east-1:123456789012:repository/models"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.3-cpu-py311"
V7 = ModelVersion(
    name="fraud",
    version="7",
    artifact_uri="s3://models/fraud/7/model.tar.gz",
    image=IMAGE,
    tags={"mlops:model": "fraud", "mlops:model-version": "7"},
)
V6 = ModelVersion(
    name="fraud",
    version="6",
    artifact_uri="s3://models/fraud/6/",
    image=IMAGE,
    tags={"mlops:model": "fraud", "mlops:model-version": "6"},
)
OUTPUTS = (
    "endpoint_name",
    "endpoint_url",
    "active_model_version",
    "previous_model_version",
    "active_endpoint_config_name",
    "previous_endpoint_config_name",
    "alarm_names",
    "execution_role_arn",
)
CHILDREN = {
    "srv-role": "aws:iam/role:Role",
    "srv-role-policy": "aws:iam/rolePolicy:RolePolicy",
    "srv-model-v7": "aws:sagemaker/model:Model",
    "srv-config-v7": "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
    "srv-model-v6": "aws:sagemaker/model:Model",
    "srv-config-v6": "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
    "srv-5xx-alarm": "aws:cloudwatch/metricAlarm:MetricAlarm",
    "srv-latency-alarm": "aws:cloudwatch/metricAlarm:MetricAlarm",
    "srv-endpoint": "aws:sagemaker/endpoint:Endpoint",
    "srv-scaling-target": "aws:appautoscaling/target:Target",
    "srv-scaling-policy": "aws:appautoscaling/policy:Policy",
}


def build(**kwargs):
    kwargs.setdefault("active_model", V7)
    kwargs.setdefault("previous_model", V6)
    kwargs.setdefault("artifact_bucket_name", "artifacts")
    kwargs.setdefault("kms_key_arn", KEY)
    kwargs.setdefault("alert_topic_arn", TOPIC)
    kwargs.setdefault("image_repository_arn", REPO_ARN)

    def program():
        srv = ServingEndpoint("srv", ServingEndpointArgs(**kwargs))
        for key in OUTPUTS:
            pulumi.export(key, getattr(srv, key))

    return run(program, config=REGION)


@pytest.fixture(scope="module")
def dev():
    return build(min_replicas=1, max_replicas=3, latency_p99_ms=250, error_rate_percent=2)


def test_children_are_exact_and_parented(dev):
    found = children_by_name(dev, dev.named("srv", COMPONENT))
    assert {name: r.type for name, r in found.items()} == CHILDREN
    assert len(dev) == len(CHILDREN) + 1
    assert dev.unmocked_invokes == []


def test_both_versions_are_deployable_models_with_network_isolation(dev):
    role_arn = dev.named("srv-role").outputs["arn"]
    for model in (V7, V6):
        sm = dev.named(f"srv-model-v{model.version}").inputs
        assert sm["enableNetworkIsolation"] is True
        assert sm["executionRoleArn"] == role_arn
        assert sm["primaryContainer"] == {"image": IMAGE, "modelDataUrl": model.artifact_uri}
        assert sm["tags"] == dict(model.tags)
        assert "vpcConfig" not in sm
        assert "name" not in sm, "physical names are auto-generated"


def test_configs_encrypt_and_capture_to_the_artifact_store(dev):
    for model in (V7, V6):
        config = dev.named(f"srv-config-v{model.version}").inputs
        assert config["kmsKeyArn"] == KEY
        [variant] = config["productionVariants"]
        assert variant["modelName"] == dev.named(f"srv-model-v{model.version}").outputs["name"]
        assert variant["instanceType"] == "ml.m5.large"
        # Configs start at max_replicas: a new fleet serves peak load.
        assert variant["initialInstanceCount"] == 3
        assert variant["variantName"] == "AllTraffic"
        capture = config["dataCaptureConfig"]
        assert capture["enableCapture"] is True
        assert capture["destinationS3Uri"] == "s3://artifacts/capture/"
        assert capture["initialSamplingPercentage"] == 100
        assert capture["kmsKeyId"] == KEY
        assert capture["captureOptions"] == [{"captureMode": "Input"}, {"captureMode": "Output"}]
        assert config["tags"] == dict(model.tags)


def test_endpoint_rolls_out_by_canary_and_rolls_back_on_its_own_alarms(dev):
    endpoint = dev.named("srv-endpoint")
    assert endpoint.inputs["endpointConfigName"] == dev.named("srv-config-v7").outputs["name"]
    assert endpoint.inputs["tags"] == dict(V7.tags)
    policy = endpoint.inputs["deploymentConfig"]["blueGreenUpdatePolicy"]
    assert policy["trafficRoutingConfiguration"] == {
        "type": "CANARY",
        "waitIntervalInSeconds": 600,
        "canarySize": {"type": "CAPACITY_PERCENT", "value": 10},
    }
    assert policy["terminationWaitInSeconds"] == 300
    # Provisioning margin 1800 s + canary and remainder shifts x 600 s bake + 300 s termination.
    assert policy["maximumExecutionTimeoutInSeconds"] == 1800 + 2 * 600 + 300
    rollback = endpoint.inputs["deploymentConfig"]["autoRollbackConfiguration"]["alarms"]
    alarm_names = {a.inputs["name"] for a in dev.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert {a["alarmName"] for a in rollback} == alarm_names
    assert len(rollback) == 2
    assert {dev.named(n).urn for n in ("srv-5xx-alarm", "srv-latency-alarm")} <= set(
        endpoint.dependencies
    )


def test_alarms_watch_the_endpoint_and_notify_the_topic(dev):
    name = dev.named("srv-endpoint").inputs["name"]
    latency = dev.named("srv-latency-alarm").inputs
    assert latency["name"] == f"{name}-p99-latency"
    assert latency["metricName"] == "ModelLatency"
    assert latency["extendedStatistic"] == "p99"
    assert latency["threshold"] == 250_000, "ModelLatency is in microseconds"
    assert latency["dimensions"] == {"EndpointName": name, "VariantName": "AllTraffic"}
    errors = dev.named("srv-5xx-alarm").inputs
    assert errors["name"] == f"{name}-5xx-rate"
    assert errors["threshold"] == 2
    queries = {q["id"]: q for q in errors["metricQueries"]}
    assert queries["errors"]["metric"]["metricName"] == "Invocation5XXErrors"
    assert queries["invocations"]["metric"]["metricName"] == "Invocations"
    assert queries["errors"]["metric"]["dimensions"] == latency["dimensions"]
    assert queries["rate"]["returnData"] is True
    for alarm in (latency, errors):
        assert alarm["alarmActions"] == [TOPIC]
        assert alarm["okActions"] == [TOPIC]


def test_autoscaling_bounds_follow_the_replicas(dev):
    name = dev.named("srv-endpoint").outputs["name"]
    target = dev.named("srv-scaling-target").inputs
    assert target["resourceId"] == f"endpoint/{name}/variant/AllTraffic"
    assert target["scalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert target["serviceNamespace"] == "sagemaker"
    assert (target["minCapacity"], target["maxCapacity"]) == (1, 3)
    assert dev.named("srv-endpoint").urn in dev.named("srv-scaling-target").dependencies
    policy = dev.named("srv-scaling-policy").inputs
    assert policy["policyType"] == "TargetTrackingScaling"
    assert policy["resourceId"] == target["resourceId"]
    tracking = policy["targetTrackingScalingPolicyConfiguration"]
    assert tracking["predefinedMetricSpecification"] == {
        "predefinedMetricType": "SageMakerVariantInvocationsPerInstance"
    }
    assert tracking["targetValue"] == 100


def test_execution_role_is_scoped(dev):
    found = {s["Sid"]: s for s in statements(dev.named("srv-role-policy"))}
    assert found["ReadModelArtifacts"]["Action"] == ["s3:GetObject"]
    assert sorted(found["ReadModelArtifacts"]["Resource"]) == [
        "arn:aws:s3:::models/fraud/6/*",
        "arn:aws:s3:::models/fraud/7/model.tar.gz",
    ]
    assert found["WriteCapture"] == {
        "Sid": "WriteCapture",
        "Effect": "Allow",
        "Action": ["s3:PutObject"],
        "Resource": "arn:aws:s3:::artifacts/capture/*",
    }
    assert found["UseKey"]["Resource"] == KEY
    assert sorted(found["PullImages"]["Resource"]) == sorted(
        ["arn:aws:ecr:us-east-1:763104351884:repository/pytorch-inference", REPO_ARN]
    )
    assert found["EcrLogin"]["Action"] == ["ecr:GetAuthorizationToken"]
    assert "VpcNetworkInterfaces" not in found
    assert wildcard_allows(dev) == []


def test_outputs(dev):
    exports = dev.exports
    name = dev.named("srv-endpoint").inputs["name"]
    assert exports["endpoint_name"] == name
    assert exports["endpoint_url"] == (
        f"https://runtime.sagemaker.us-east-1.amazonaws.com/endpoints/{name}/invocations"
    )
    assert (exports["active_model_version"], exports["previous_model_version"]) == ("7", "6")
    assert exports["active_endpoint_config_name"] == dev.named("srv-config-v7").outputs["name"]
    assert exports["previous_endpoint_config_name"] == dev.named("srv-config-v6").outputs["name"]
    assert exports["alarm_names"] == [f"{name}-5xx-rate", f"{name}-p99-latency"]
    assert exports["execution_role_arn"] == dev.named("srv-role").outputs["arn"]


def test_switching_versions_changes_only_the_endpoint(dev):
    rolled_back = build(
        active_model=V6,
        previous_model=V7,
        min_replicas=1,
        max_replicas=3,
        latency_p99_ms=250,
        error_rate_percent=2,
    )
    before = {r.urn: r for r in dev}
    after = {r.urn: r for r in rolled_back}
    assert before.keys() == after.keys()
    changed = {after[urn].name for urn in after if after[urn].inputs != before[urn].inputs}
    assert changed == {"srv-endpoint"}
    old, new = (
        before[dev.named("srv-endpoint").urn].inputs,
        rolled_back.named("srv-endpoint").inputs,
    )
    assert {k for k in new if new[k] != old.get(k)} == {"endpointConfigName", "tags"}
    assert new["endpointConfigName"] == rolled_back.named("srv-config-v6").outputs["name"]
    assert new["tags"]["mlops:model-version"] == "6"
    assert rolled_back.exports["active_model_version"] == "6"
    assert rolled_back.exports["previous_model_version"] == "7"


@pytest.mark.parametrize(
    "kwargs, routing",
    [
        (
            {"rollout_strategy": "linear", "linear_step_percent": 25, "bake_minutes": 3},
            {
                "type": "LINEAR",
                "waitIntervalInSeconds": 180,
                "linearStepSize": {"type": "CAPACITY_PERCENT", "value": 25},
            },
        ),
        (
            {"rollout_strategy": "all-at-once", "bake_minutes": 0},
            {"type": "ALL_AT_ONCE", "waitIntervalInSeconds": 0},
        ),
    ],
)
def test_other_rollout_strategies(kwargs, routing):
    recording = build(previous_model=None, **kwargs)
    policy = recording.named("srv-endpoint").inputs["deploymentConfig"]["blueGreenUpdatePolicy"]
    assert policy["trafficRoutingConfiguration"] == routing
    assert [m.name for m in recording.of_type("aws:sagemaker/model:Model")] == ["srv-model-v7"]
    assert recording.exports["previous_model_version"] is None
    assert recording.exports["previous_endpoint_config_name"] is None


def test_prod_runs_models_in_private_subnets():
    recording = build(
        environment="prod",
        vpc_id="vpc-1",
        subnet_ids=["subnet-a", "subnet-b"],
        kms_key_arn=None,
    )
    sg = recording.named("srv-sg")
    assert sg.inputs["vpcId"] == "vpc-1"
    assert "ingress" not in sg.inputs or sg.inputs["ingress"] == []
    for version in ("7", "6"):
        model = recording.named(f"srv-model-v{version}").inputs
        assert model["vpcConfig"] == {
            "subnets": ["subnet-a", "subnet-b"],
            "securityGroupIds": [sg.id],
        }
        assert model["enableNetworkIsolation"] is True
    key = recording.named("srv-key")
    assert key.protect is True and key.inputs["enableKeyRotation"] is True
    config = recording.named("srv-config-v7").inputs
    assert config["kmsKeyArn"] == key.outputs["arn"]
    found = {s["Sid"] for s in statements(recording.named("srv-role-policy"))}
    assert "VpcNetworkInterfaces" in found
    assert wildcard_allows(recording) == []


def test_missing_topic_and_weakened_isolation_warn():
    recording = build(alert_topic_arn=None, network_isolation=False, capture_sampling_percent=20)
    assert recording.named("srv-latency-alarm").inputs.get("alarmActions", []) == []
    assert recording.named("srv-model-v7").inputs["enableNetworkIsolation"] is False
    capture = recording.named("srv-config-v7").inputs["dataCaptureConfig"]
    assert capture["initialSamplingPercentage"] == 20
    warnings = "\n".join(recording.warnings)
    assert "no alert_topic_arn" in warnings
    assert "network_isolation is False" in warnings
    assert "capture_sampling_percent is 20" in warnings


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"min_replicas": 3, "max_replicas": 2}, "min_replicas <= max_replicas"),
        ({"canary_percent": 0}, "canary_percent must be within 1..50"),
        ({"canary_percent": 51}, "canary_percent must be within 1..50"),
        ({"rollout_strategy": "blue"}, "rollout_strategy must be one of"),
        (
            {"rollout_strategy": "linear", "linear_step_percent": 5},
            "linear_step_percent must be within 10..50",
        ),
        ({"bake_minutes": 61}, "bake_minutes must be within 0..60"),
        (
            {"min_replicas": 1, "max_replicas": 1},
            r"canary_percent 10% of 1 instance\(s\) is 1 instance\(s\), more than half",
        ),
        (
            {"rollout_strategy": "linear", "linear_step_percent": 40, "max_replicas": 3},
            r"linear_step_percent 40% of 3 instance\(s\) is 2 instance\(s\)",
        ),
        ({"previous_model": V7}, "previous_model must be a different version"),
        (
            {
                "rollout_strategy": "linear",
                "linear_step_percent": 10,
                "max_replicas": 10,
                "bake_minutes": 60,
            },
            r"10 traffic shift\(s\) x 3600 s bake .* over SageMaker's 28800 s blue/green "
            "execution timeout; lower bake_minutes or use larger steps",
        ),
        ({"environment": "prod", "network_isolation": False}, "network_isolation off"),
        ({"environment": "prod", "public_endpoint": True}, "public_endpoint is refused"),
    ],
)
def test_bad_args_fail_clearly(kwargs, message):
    with pytest.raises(ProgramError, match=message):
        build(**kwargs)


def test_one_instance_fleet_can_deploy_all_at_once():
    recording = build(min_replicas=1, max_replicas=1, rollout_strategy="all-at-once")
    routing = recording.named("srv-endpoint").inputs["deploymentConfig"]["blueGreenUpdatePolicy"]
    assert routing["trafficRoutingConfiguration"]["type"] == "ALL_AT_ONCE"


def test_autoscaling_off_leaves_a_fixed_fleet_at_the_maximum():
    recording = build(min_replicas=1, max_replicas=3, autoscaling=False)
    names = {r.name for r in recording}
    assert not names & {"srv-scaling-target", "srv-scaling-policy"}
    variant = recording.named("srv-config-v7").inputs["productionVariants"][0]
    assert variant["initialInstanceCount"] == 3


def test_prod_endpoint_is_protected_against_replacement():
    recording = build(
        environment="prod", vpc_id="vpc-1", subnet_ids=["subnet-a", "subnet-b"], max_replicas=2
    )
    endpoint = recording.named("srv-endpoint")
    assert endpoint.protect is True
    assert recording.named("srv-5xx-alarm").protect is not True


def test_execution_role_may_describe_exactly_the_rollback_alarms():
    recording = build(extra_rollback_alarms=["business-kpi"])
    alarms = recording.named("srv-endpoint").inputs["deploymentConfig"]
    names = [a["alarmName"] for a in alarms["autoRollbackConfiguration"]["alarms"]]
    found = {s["Sid"]: s for s in statements(recording.named("srv-role-policy"))}
    assert found["DescribeRollbackAlarms"]["Resource"] == [
        f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}" for name in names
    ]
    assert names[-1] == "business-kpi"


def test_model_without_image_uses_the_registry():
    bare = ModelVersion(name="fraud", version="8", artifact_uri="s3://models/8/model.tar.gz")
    recording = build(
        active_model=bare,
        previous_model=None,
        image_repository_url="123.dkr.ecr.us-east-1.amazonaws.com/m",
    )
    container = recording.named("srv-model-v8").inputs["primaryContainer"]
    assert container["image"] == "123.dkr.ecr.us-east-1.amazonaws.com/m:8"
    with pytest.raises(ProgramError, match="has no image"):
        build(active_model=bare, previous_model=None)


def test_extra_rollback_alarms_are_watched_too():
    recording = build(extra_rollback_alarms=["fraud-precision-drop"])
    endpoint = recording.of_type("aws:sagemaker/endpoint:Endpoint")[0]
    rollback = endpoint.inputs["deploymentConfig"]["autoRollbackConfiguration"]["alarms"]
    names = [a["alarmName"] for a in rollback]
    assert names[-1] == "fraud-precision-drop"
    own = {a.inputs["name"] for a in recording.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert set(names[:-1]) == own and len(own) == 2


def test_instance_type_change_of_an_autoscaled_deployment_is_refused():
    with pytest.raises(ProgramError, match=r"instance_type ml\.m5\.large -> ml\.c5\.xlarge"):
        build(instance_type="ml.c5.xlarge", deployed_instance_type="ml.m5.large")


@pytest.mark.parametrize(
    "deployed",
    [
        {"deployed_instance_type": "ml.c5.xlarge"},
        {"deployed_instance_type": "ml.m5.large", "deployed_autoscaling": False},
        {"deployed_instance_type": None},
    ],
)
def test_instance_type_transitions_aws_accepts(deployed):
    recording = build(instance_type="ml.c5.xlarge", **deployed)
    variant = recording.named("srv-config-v7").inputs["productionVariants"][0]
    assert variant["instanceType"] == "ml.c5.xlarge"


@pytest.mark.parametrize(
    ("kwargs", "timeout"),
    [
        # The canary's hour of bake alone (3600 s + 300 s termination) outran the old 3600 s.
        ({"bake_minutes": 60}, 1800 + 2 * 3600 + 300),
        # Linear 10 % of 10 instances: ten shifts of 10 minutes.
        (
            {"rollout_strategy": "linear", "linear_step_percent": 10, "max_replicas": 10},
            1800 + 10 * 600 + 300,
        ),
        ({"rollout_strategy": "all-at-once", "bake_minutes": 0}, 1800 + 300),
    ],
)
def test_execution_timeout_is_longer_than_every_wait_of_the_rollout(kwargs, timeout):
    policy = build(**kwargs).named("srv-endpoint").inputs["deploymentConfig"]
    blue_green = policy["blueGreenUpdatePolicy"]
    assert blue_green["maximumExecutionTimeoutInSeconds"] == timeout
    assert (
        timeout
        > blue_green["terminationWaitInSeconds"]
        + blue_green["trafficRoutingConfiguration"]["waitIntervalInSeconds"]
    )
