from __future__ import annotations

import pulumi
import pytest

from mlops_iac.components.azure import ModelDeployment, ServingEndpoint, ServingEndpointArgs
from mlops_iac.plan.testing import ProgramError, run

LOCATION = {"azure-native:location": "eastus"}
COMPONENT = "mlops:azure:ServingEndpoint"
V7 = ModelDeployment(
    name="fraud-detector",
    version="7",
    tags={"mlops:model-version": "7", "mlops:approved-by": "jane@example.com"},
)
V6 = ModelDeployment(name="fraud-detector", version="6", tags={"mlops:model-version": "6"})
CHILDREN = {
    "srv-endpoint": "azure-native:machinelearningservices:OnlineEndpoint",
    "srv-blue": "azure-native:machinelearningservices:OnlineDeployment",
    "srv-blue-autoscale": "azure-native:monitor:AutoscaleSetting",
    "srv-green": "azure-native:machinelearningservices:OnlineDeployment",
    "srv-green-autoscale": "azure-native:monitor:AutoscaleSetting",
    "srv-traffic": "azure-native:resources:Deployment",
}


def build(**kwargs):
    args = {
        "resource_group_name": "rg",
        "workspace_name": "ws",
        "active_model": V7,
        "previous_model": V6,
        "registry_name": "models",
        "min_replicas": 2,
        "max_replicas": 5,
    }

    def program():
        endpoint = ServingEndpoint("srv", ServingEndpointArgs(**{**args, **kwargs}))
        for output in (
            "endpoint_name",
            "endpoint_url",
            "active_model_version",
            "previous_model_version",
        ):
            pulumi.export(output, getattr(endpoint, output))

    return run(program, config=LOCATION)


def traffic_of(recording, name="srv"):
    """The traffic map the ``-traffic`` template deployment PUTs on the endpoint."""
    template = recording.named(f"{name}-traffic").inputs["properties"]["template"]
    [endpoint] = template["resources"]
    return endpoint["properties"]["traffic"]


def children(recording):
    component = recording.named("srv", COMPONENT)
    return recording.children_by_name(component)


def test_children_are_exact_and_parented():
    recording = build()
    assert {n: r.type for n, r in children(recording).items()} == CHILDREN
    assert len(recording) == len(CHILDREN) + 1


def test_blue_serves_everything_and_green_is_a_warm_standby():
    recording = build()
    endpoint = recording.named("srv-endpoint").inputs
    assert traffic_of(recording) == {"blue": 100, "green": 0}
    assert endpoint["identity"] == {"type": "SystemAssigned"}
    blue = recording.named("srv-blue").inputs
    green = recording.named("srv-green").inputs
    assert blue["deploymentName"] == "blue" and green["deploymentName"] == "green"
    endpoint_name = recording.named("srv-endpoint").outputs["name"]
    assert blue["endpointName"] == green["endpointName"] == endpoint_name
    assert blue["properties"]["model"] == (
        "azureml://registries/models/models/fraud-detector/versions/7"
    )
    assert green["properties"]["model"].endswith("/fraud-detector/versions/6")
    assert recording.exports["active_model_version"] == "7"
    assert recording.exports["previous_model_version"] == "6"


def test_canary_starts_the_new_version_on_green_with_its_share():
    recording = build(rollout_in_progress=True)
    assert traffic_of(recording) == {"blue": 90, "green": 10}
    # The previous version keeps the deployment that served everything; the new one starts on
    # the deployment that took no traffic.
    assert recording.named("srv-blue").inputs["properties"]["model"].endswith("/versions/6")
    assert recording.named("srv-green").inputs["properties"]["model"].endswith("/versions/7")
    assert recording.exports["active_model_version"] == "7"
    assert recording.exports["previous_model_version"] == "6"


@pytest.mark.parametrize(
    ("strategy", "traffic"),
    [
        ("canary", {"blue": 75, "green": 25}),
        ("linear", {"blue": 60, "green": 40}),
        ("all-at-once", {"blue": 100, "green": 0}),
    ],
)
def test_rollout_strategy_sets_the_new_versions_share(strategy, traffic):
    recording = build(
        rollout_strategy=strategy,
        canary_percent=25,
        linear_step_percent=40,
        rollout_in_progress=True,
    )
    assert traffic_of(recording) == traffic
    new_slot = "green" if traffic["green"] else "blue"
    model = recording.named(f"srv-{new_slot}").inputs["properties"]["model"]
    assert model.endswith("/fraud-detector/versions/7")


def test_a_finished_rollout_serves_the_new_version_on_blue():
    recording = build(rollout_strategy="linear", rollout_in_progress=False)
    assert traffic_of(recording) == {"blue": 100, "green": 0}
    assert recording.named("srv-blue").inputs["properties"]["model"].endswith("/versions/7")


def test_deployments_are_managed_log_requests_and_carry_lineage():
    recording = build()
    blue = recording.named("srv-blue").inputs
    props = blue["properties"]
    assert props["endpointComputeType"] == "Managed"
    assert props["appInsightsEnabled"] is True
    assert props["scaleSettings"] == {"scaleType": "Default"}
    assert props["instanceType"] == "Standard_DS3_v2"
    collections = props["dataCollector"]["collections"]
    assert set(collections) == {"model_inputs", "model_outputs"}
    assert all(c["dataCollectionMode"] == "Enabled" for c in collections.values())
    assert "captureHeaders" in props["dataCollector"]["requestLogging"]
    assert blue["sku"] == {"name": "Default", "capacity": 2}
    assert blue["tags"]["mlops:approved-by"] == "jane@example.com"
    assert blue["tags"]["mlops:deployment-slot"] == "blue"
    assert recording.named("srv-green").inputs["tags"]["mlops:model-version"] == "6"


def test_autoscale_targets_each_deployment_within_bounds():
    recording = build()
    for slot in ("blue", "green"):
        deployment = recording.named(f"srv-{slot}")
        scale = recording.named(f"srv-{slot}-autoscale").inputs
        assert scale["targetResourceUri"] == deployment.id
        assert scale["enabled"] is True
        [profile] = scale["profiles"]
        assert profile["capacity"] == {"minimum": "2", "maximum": "5", "default": "2"}
        assert {r["metricTrigger"]["metricName"] for r in profile["rules"]} == {
            "CpuUtilizationPercentage"
        }
        directions = {r["scaleAction"]["direction"] for r in profile["rules"]}
        assert directions == {"Increase", "Decrease"}
        assert all(
            r["metricTrigger"]["metricResourceUri"] == deployment.id for r in profile["rules"]
        )


def test_dev_uses_keys_and_prod_uses_entra_tokens_without_public_access():
    # Dev has no private endpoint, so it is public (key auth) rather than unreachable.
    dev = build().named("srv-endpoint").inputs["properties"]
    assert dev["authMode"] == "Key" and dev["publicNetworkAccess"] == "Enabled"
    private = build(private_network=True).named("srv-endpoint").inputs["properties"]
    assert private["publicNetworkAccess"] == "Disabled"
    recording = build(environment="prod")
    prod = recording.named("srv-endpoint").inputs["properties"]
    assert prod["authMode"] == "AADToken"
    assert prod["publicNetworkAccess"] == "Disabled"
    for slot in ("blue", "green"):
        egress = recording.named(f"srv-{slot}").inputs["properties"]["egressPublicNetworkAccess"]
        assert egress == "Disabled"


def test_public_endpoint_only_outside_prod():
    props = build(public_endpoint=True).named("srv-endpoint").inputs["properties"]
    assert props["publicNetworkAccess"] == "Enabled"
    with pytest.raises(ProgramError, match="public_endpoint is refused in prod"):
        build(environment="prod", public_endpoint=True)


def test_outputs():
    recording = build()
    endpoint = recording.named("srv-endpoint")
    assert recording.exports["endpoint_name"] == endpoint.outputs["name"]
    assert recording.exports["endpoint_url"] == endpoint.outputs["properties"]["scoringUri"]
    assert recording.exports["endpoint_url"].endswith(".inference.ml.azure.com/score")


def test_endpoint_itself_never_carries_traffic():
    recording = build()
    assert "traffic" not in recording.named("srv-endpoint").inputs["properties"]
    assert {"srv-blue", "srv-green", "srv-traffic"} <= set(children(recording))


def test_without_standby_only_blue():
    recording = build(previous_model=None)
    assert set(children(recording)) == {
        "srv-endpoint",
        "srv-blue",
        "srv-blue-autoscale",
        "srv-traffic",
    }
    assert traffic_of(recording) == {"blue": 100}
    assert "previous_model_version" not in recording.exports or (
        recording.exports["previous_model_version"] is None
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"canary_percent": 60}, "canary_percent must be between 1 and 50"),
        ({"linear_step_percent": 0}, "linear_step_percent must be between 1 and 50"),
        (
            {"rollout_strategy": "blue-green"},
            "rollout_strategy 'blue-green' is not one of canary, linear, all-at-once",
        ),
        ({"previous_model": None, "rollout_in_progress": True}, "rollout_in_progress needs a"),
        ({"min_replicas": 3, "max_replicas": 2}, "min_replicas <= max_replicas"),
    ],
)
def test_bad_rollout_settings_are_refused(kwargs, message):
    with pytest.raises(ProgramError, match=message):
        build(**kwargs)
