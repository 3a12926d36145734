"""Issue 15: what the real Azure provider and ARM refuse, or deploy but cannot use."""

from __future__ import annotations

import re

from mlops_iac.components.azure import (
    ArtifactStore,
    ArtifactStoreArgs,
    ModelDeployment,
    ModelRegistry,
    ModelRegistryArgs,
    Monitoring,
    MonitoringArgs,
    ServingEndpoint,
    ServingEndpointArgs,
    TrainingCluster,
    TrainingClusterArgs,
)
from mlops_iac.components.azure._common import global_name
from mlops_iac.components.testing import run

LOCATION = {"azure-native:location": "eastus"}
STORAGE_NAME = re.compile(r"^[a-z0-9]{3,24}$")
VAULT_NAME = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")
ACR_NAME = re.compile(r"^[a-zA-Z0-9]{5,50}$")
V7 = ModelDeployment(name="fraud-detector", version="7")
V6 = ModelDeployment(name="fraud-detector", version="6")


def _store(**kwargs):
    return run(lambda: ArtifactStore("fraud-detection-prod-artifacts", ArtifactStoreArgs(**kwargs)))


# 1. Names --------------------------------------------------------------------------------------


def test_storage_account_and_vault_get_explicit_valid_names():
    recording = _store()
    account = recording.named("fraud-detection-prod-artifacts-account").inputs
    vault = recording.named("fraud-detection-prod-artifacts-vault").inputs
    assert STORAGE_NAME.match(account["accountName"]), account.get("accountName")
    assert VAULT_NAME.match(vault["vaultName"]), vault.get("vaultName")


def test_training_vault_gets_an_explicit_valid_name():
    recording = run(
        lambda: TrainingCluster(
            "fraud-detection-prod-training",
            TrainingClusterArgs(resource_group_name="rg", storage_account_id="/sa"),
        ),
        config=LOCATION,
    )
    vault = recording.named("fraud-detection-prod-training-vault").inputs
    assert VAULT_NAME.match(vault["vaultName"])


def test_container_registry_gets_an_explicit_valid_name():
    recording = run(
        lambda: ModelRegistry(
            "fraud-detection-prod-registry",
            ModelRegistryArgs(resource_group_name="rg", environment="prod"),
        ),
        config=LOCATION,
    )
    images = recording.named("fraud-detection-prod-registry-images").inputs
    assert ACR_NAME.match(images["registryName"])


def test_global_names_differ_per_scope_and_role_and_are_stable():
    a = global_name("fraud-detection-prod-artifacts", "st", limit=24, scope="sub-a/p/s")
    assert a == global_name("fraud-detection-prod-artifacts", "st", limit=24, scope="sub-a/p/s")
    assert a != global_name("fraud-detection-prod-artifacts", "st", limit=24, scope="sub-b/p/s")
    assert a != global_name("fraud-detection-prod-artifacts", "kv", limit=24, scope="sub-a/p/s")
    assert STORAGE_NAME.match(a)
    vault = global_name("x--y", "kv", limit=24, scope="s", dashes=True)
    assert VAULT_NAME.match(vault), vault


# 2. Event Grid: Azure Monitor alert handler is for Key Vault sources only -----------------------


def test_drift_events_are_not_delivered_to_a_monitor_alert():
    recording = run(
        lambda: Monitoring(
            "mon",
            MonitoringArgs(
                resource_group_name="rg",
                workspace_name="ws",
                workspace_id="/ws",
                deployment_id="/dep",
                production_data_uri="azureml:x:1",
                retraining_account_name="acct",
                retraining_account_id="/acct",
            ),
        ),
        config=LOCATION,
    )
    for sub in recording.of_type("azure-native:eventgrid:SystemTopicEventSubscription"):
        destination = sub.inputs.get("destination") or {}
        assert destination.get("endpointType") != "MonitorAlert", sub.name


# 3. Docker Content Trust cannot be enabled on new registries ------------------------------------


def test_premium_registry_does_not_enable_content_trust():
    recording = run(
        lambda: ModelRegistry(
            "reg", ModelRegistryArgs(resource_group_name="rg", environment="prod")
        ),
        config=LOCATION,
    )
    policies = recording.named("reg-images").inputs["policies"]
    assert "trustPolicy" not in policies
    assert policies["retentionPolicy"]["status"] == "enabled"


# 7. Autoscale owns the replica count after creation ---------------------------------------------


def _endpoint(**kwargs):
    args = {
        "resource_group_name": "rg",
        "workspace_name": "ws",
        "active_model": V7,
        "standby_model": V6,
        "candidate_percent": 10,
        **kwargs,
    }
    return run(lambda: ServingEndpoint("srv", ServingEndpointArgs(**args)), config=LOCATION)


def test_deployment_capacity_is_ignored_after_creation():
    recording = _endpoint()
    for slot in ("blue", "green"):
        deployment = recording.named(f"srv-{slot}")
        assert deployment.inputs["sku"]["capacity"] == 1
        assert "sku.capacity" in deployment.ignore_changes


# 8. systemDatastoresAuthMode takes the SDK enum value -------------------------------------------


def test_workspace_system_datastores_use_identity_enum_value():
    recording = run(
        lambda: TrainingCluster(
            "trn", TrainingClusterArgs(resource_group_name="rg", storage_account_id="/sa")
        ),
        config=LOCATION,
    )
    assert recording.named("trn-workspace").inputs["systemDatastoresAuthMode"] == "Identity"


# 4. A new endpoint comes up with one `pulumi up` --------------------------------------------------


def test_endpoint_is_created_without_traffic_and_ignores_it_afterwards():
    recording = _endpoint()
    endpoint = recording.named("srv-endpoint")
    assert "traffic" not in endpoint.inputs["properties"]
    assert "properties.traffic" in endpoint.ignore_changes


def test_traffic_is_set_after_both_deployments_exist():
    recording = _endpoint()
    traffic = recording.named("srv-traffic")
    assert traffic.type == "azure-native:resources:Deployment"
    for slot in ("blue", "green"):
        assert recording.named(f"srv-{slot}").urn in traffic.dependencies
    props = traffic.inputs["properties"]
    assert props["mode"] == "Incremental"
    [resource] = props["template"]["resources"]
    assert resource["type"] == "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
    assert resource["name"] == "ws/" + recording.named("srv-endpoint").outputs["name"]
    assert resource["properties"]["traffic"] == {"blue": 90, "green": 10}
    # The PUT carries the endpoint's whole body, so it never resets what the endpoint set.
    endpoint = recording.named("srv-endpoint").inputs
    assert resource["properties"]["authMode"] == endpoint["properties"]["authMode"]
    assert (
        resource["properties"]["publicNetworkAccess"]
        == (endpoint["properties"]["publicNetworkAccess"])
    )
    assert resource["identity"] == {"type": "SystemAssigned"}
    assert resource["location"] == "eastus"


def test_bootstrap_flag_is_gone():
    import dataclasses

    assert "bootstrap" not in {f.name for f in dataclasses.fields(ServingEndpointArgs)}
    from mlops_iac.components.spec import AzureSpec

    assert "endpoint_bootstrap" not in AzureSpec.model_fields
