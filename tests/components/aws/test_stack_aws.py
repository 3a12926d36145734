"""The root program on the AWS stack files, run offline end to end."""

from __future__ import annotations

import pytest

from mlops_iac.plan.testing import run_project
from tests.components._contract import REQUIRED_EXPORTS
from tests.components.aws._helpers import statements as policy_statements
from tests.components.aws._helpers import wildcard_allows
from tests.conftest import REPO, platform_raw

AWS_EXTRAS = {
    "serving_instance_type",
    "serving_autoscaling",
    "dvc_policy_arn",
    # Where tracked runs keep their artifacts (every cloud; tracking_uri is in the contract).
    "tracking_artifact_uri",
    "active_endpoint_config_name",
    "previous_endpoint_config_name",
    "alarm_names",
    "approvers_topic",
    "autoscaler_role_arn",
    # What `mlops-iac train-smoke` reads: where and as whom training jobs run.
    "trainer_role_arn",
    # The security group a runner's network needs a rule on (private API).
    "cluster_security_group_id",
    "training_namespace",
    "training_service_account",
    "training_operator",
    # The cluster's kubeconfig: train-smoke --apply targets the stack's cluster with it.
    "kubeconfig",
    "drift_job_function",
    "drift_alarm_name",
    "drift_baseline_uri",
}
COMPONENTS = {
    "mlops-artifacts": "mlops:aws:ArtifactStore",
    "mlops-training": "mlops:aws:TrainingCluster",
    "mlops-alerts": "mlops:aws:AlertChannel",
    "mlops-registry": "mlops:aws:ModelRegistry",
    "mlops-serving": "mlops:aws:ServingEndpoint",
    "mlops-monitoring": "mlops:aws:Monitoring",
    "mlops-drift": "mlops:aws:DriftJob",
    "mlops-tracking": "mlops:aws:Tracking",
}


@pytest.fixture(scope="module")
def dev():
    return run_project(REPO, "aws-dev")


@pytest.fixture(scope="module")
def prod():
    return run_project(REPO, "aws-prod")


def with_platform(stack: str, edit) -> dict:
    raw = platform_raw(stack)
    edit(raw)
    return {"mlops:platform": raw}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_platform_is_five_components_and_a_channel(stack, request):
    recording = request.getfixturevalue(stack)
    root = recording.named("mlops", "mlops:index:MlopsStack")
    assert {r.name: r.type for r in recording.children(root)} == COMPONENTS
    assert set(recording.exports) == REQUIRED_EXPORTS | AWS_EXTRAS
    assert recording.unmocked_invokes == []
    assert wildcard_allows(recording) == []
    assert recording.warnings == []


def test_prod_protects_the_data_the_registry_and_every_key(prod):
    protected = {r.name for r in prod if r.protect}
    keys = {r.name for r in prod.of_type("aws:kms/key:Key")}
    assert protected == keys | {
        "mlops-artifacts-bucket",
        "mlops-artifacts-replica-bucket",
        "mlops-registry-group",
        "mlops-registry-images",
        "mlops-tracking-server",
        # Replacing the endpoint (e.g. new rollback alarms) deletes it first: refused in prod.
        "mlops-serving-endpoint",
    }
    assert all(r.retain_on_delete for r in prod if r.protect)


def test_dev_protects_nothing(dev):
    assert not [r.name for r in dev if r.protect]


def test_every_alarm_notifies_the_stack_channel(prod):
    topic = prod.named("mlops-alerts-topic").outputs["arn"]
    alarms = prod.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert {a.name for a in alarms} == {
        "mlops-serving-5xx-alarm",
        "mlops-serving-latency-alarm",
        "mlops-monitoring-zero-invocations-alarm",
        "mlops-monitoring-gpu-saturation-alarm",
        "mlops-drift-alarm",
        "mlops-drift-errors-alarm",
    }
    assert all(a.inputs["alarmActions"] == [topic] for a in alarms)
    assert prod.exports["alert_topic"] == topic
    assert sorted(prod.exports["alarm_names"]) == sorted(a.outputs["name"] for a in alarms)
    approved = prod.named("mlops-registry-approved-target")
    assert approved.inputs["arn"] == topic


def test_rollback_alarms_exist(prod):
    endpoint = prod.named("mlops-serving-endpoint").inputs
    referenced = {
        a["alarmName"] for a in endpoint["deploymentConfig"]["autoRollbackConfiguration"]["alarms"]
    }
    alarm_names = {
        a.outputs["name"] for a in prod.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    assert referenced and referenced <= alarm_names


def test_components_are_wired(prod):
    bucket = prod.named("mlops-artifacts-bucket").outputs["bucket"]
    key = prod.named("mlops-artifacts-key").outputs["arn"]
    config = prod.named("mlops-serving-config-v7").inputs
    assert config["dataCaptureConfig"]["destinationS3Uri"] == f"s3://{bucket}/capture/"
    assert config["kmsKeyArn"] == key
    assert config["productionVariants"][0]["initialInstanceCount"] == 4
    private = [prod.named(f"mlops-training-private-{i}").id for i in range(2)]
    model = prod.named("mlops-serving-model-v7").inputs
    assert model["vpcConfig"]["subnets"] == private
    assert model["enableNetworkIsolation"] is True
    target = prod.named("mlops-serving-scaling-target").inputs
    assert (target["minCapacity"], target["maxCapacity"]) == (2, 4)
    asg = prod.named("mlops-training-gpu").outputs["resources"][0]["autoscalingGroups"][0]["name"]
    gpu_alarm = prod.named("mlops-monitoring-gpu-saturation-alarm").inputs
    assert gpu_alarm["metricQueries"][0]["metric"]["dimensions"] == {"AutoScalingGroupName": asg}
    assert gpu_alarm["threshold"] == 4
    repo = prod.named("mlops-registry-images").outputs["arn"]
    statements = {s["Sid"]: s for s in policy_statements(prod.named("mlops-serving-role-policy"))}
    assert repo in statements["PullImages"]["Resource"]
    budget = prod.named("mlops-monitoring-gpu-budget").inputs
    assert budget["limitAmount"] == f"{50 * 730:.2f}"


def test_prod_serves_the_approved_version_with_lineage(prod):
    tags = prod.named("mlops-serving-endpoint").inputs["tags"]
    assert tags["mlops:model-version"] == "7"
    assert tags["mlops:approved-by"] == "jane@example.com"
    assert tags["mlops:approval-ticket"] == "CHG-1234"
    assert tags["mlops:project"] == "fraud-detection"
    assert prod.exports["max_gpus"] == 4
    # Spot g5 pool: g5.xlarge or g5.2xlarge; the cap prices 4 nodes of the dearer (1.212 USD/h).
    assert prod.exports["max_usd_per_hour"] == pytest.approx(4.85)


def _data_plane_diff(before, after):
    old = {r.urn: r for r in before if r.custom}
    new = {r.urn: r for r in after if r.custom}
    assert old.keys() == new.keys()
    return {new[urn].name: new[urn] for urn in new if new[urn].inputs != old[urn].inputs}


@pytest.mark.parametrize("how", ["rollback-flag", "swapped-models"])
def test_switching_to_the_previous_version_changes_only_the_endpoint(prod, how):
    def edit(raw):
        if how == "rollback-flag":
            raw["serving"]["rollback"] = True
        else:
            serving = raw["serving"]
            serving["model"], serving["previousModel"] = serving["previousModel"], serving["model"]

    rolled = run_project(REPO, "aws-prod", extra_config=with_platform("aws-prod", edit))
    changed = _data_plane_diff(prod, rolled)
    assert set(changed) == {"mlops-serving-endpoint"}
    old = prod.named("mlops-serving-endpoint").inputs
    new = changed["mlops-serving-endpoint"].inputs
    assert {k for k in new if new[k] != old.get(k)} == {"endpointConfigName", "tags"}
    assert new["endpointConfigName"] == rolled.named("mlops-serving-config-v6").outputs["name"]
    assert new["tags"]["mlops:model-version"] == "6"
    assert new["tags"]["mlops:approved-by"] == "raj@example.com"
    assert (rolled.exports["active_model_version"], rolled.exports["previous_model_version"]) == (
        "6",
        "7",
    )
    assert (
        rolled.exports["active_endpoint_config_name"]
        == prod.exports["previous_endpoint_config_name"]
    )


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_private_api_admits_https_from_the_stacks_vpc(stack, request):
    # Bring-up step 2 runs pulumi up from the new VPC: its CIDR reaches the API on 443 through
    # the cluster security group the private endpoint carries.
    recording = request.getfixturevalue(stack)
    cluster = recording.named("mlops-training-cluster")
    sg = cluster.outputs["vpcConfig"]["clusterSecurityGroupId"]
    vpc_cidr = recording.named("mlops-training-vpc").inputs["cidrBlock"]
    rules = recording.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert [
        (
            r.name,
            r.inputs["securityGroupId"],
            r.inputs["ipProtocol"],
            r.inputs["fromPort"],
            r.inputs["toPort"],
            r.inputs["cidrIpv4"],
        )
        for r in rules
    ] == [("mlops-training-api-from-0", sg, "tcp", 443, 443, vpc_cidr)]
    assert recording.exports["cluster_security_group_id"] == sg


def test_private_cidrs_from_the_stack_file_replace_the_vpc_default():
    def edit(raw):
        raw["training"]["access"] = {"privateCidrs": ["10.50.0.0/16", "192.168.8.0/24"]}

    recording = run_project(REPO, "aws-prod", extra_config=with_platform("aws-prod", edit))
    rules = recording.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert sorted((r.inputs["cidrIpv4"], r.inputs["fromPort"]) for r in rules) == [
        ("10.50.0.0/16", 443),
        ("192.168.8.0/24", 443),
    ]


def test_webhook_and_existing_network_flow_through():
    def edit(raw):
        raw["monitoring"]["webhookUrl"] = "https://chat.example.com/hook"
        raw["aws"] = {"vpcId": "vpc-0abc", "subnetIds": ["subnet-a", "subnet-b"]}

    recording = run_project(REPO, "aws-prod", extra_config=with_platform("aws-prod", edit))
    webhook = recording.named("mlops-alerts-webhook").inputs
    assert (webhook["protocol"], webhook["endpoint"]) == ("https", "https://chat.example.com/hook")
    assert not recording.of_type("aws:ec2/vpc:Vpc")
    model = recording.named("mlops-serving-model-v7").inputs
    assert model["vpcConfig"]["subnets"] == ["subnet-a", "subnet-b"]
    assert recording.named("mlops-serving-sg").inputs["vpcId"] == "vpc-0abc"
    # A given VPC gets no default API ingress: its runners are listed in privateCidrs.
    assert not recording.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
