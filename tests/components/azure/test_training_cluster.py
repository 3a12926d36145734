from __future__ import annotations

import pulumi
import pytest

from mlops_iac.components.azure import TrainingCluster, TrainingClusterArgs
from mlops_iac.plan.testing import ProgramError, run

LOCATION = {"azure-native:location": "eastus"}
COMPONENT = "mlops:azure:TrainingCluster"
STORAGE = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/art"
VAULT = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"
ACR = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr"
CHILDREN = {
    "train-logs": "azure-native:operationalinsights:Workspace",
    "train-insights": "azure-native:applicationinsights:Component",
    "train-workspace": "azure-native:machinelearningservices:Workspace",
    "train-audit-logs": "azure-native:monitor:DiagnosticSetting",
    "train-gpu": "azure-native:machinelearningservices:Compute",
}


def build(**kwargs):
    base = {
        "resource_group_name": "rg",
        "storage_account_id": STORAGE,
        "key_vault_id": VAULT,
        "container_registry_id": ACR,
    }

    def program():
        cluster = TrainingCluster("train", TrainingClusterArgs(**{**base, **kwargs}))
        for output in ("cluster_name", "gpu_pool_name", "max_gpus", "max_usd_per_hour"):
            pulumi.export(output, getattr(cluster, output))

    return run(program, config=LOCATION)


def children(recording):
    component = recording.named("train", COMPONENT)
    return recording.children_by_name(component)


def test_children_are_exact_and_parented():
    recording = build()
    assert {n: r.type for n, r in children(recording).items()} == CHILDREN
    assert len(recording) == len(CHILDREN) + 1


def test_workspace_links_storage_vault_insights_registry_and_is_private():
    recording = build(
        private_endpoint_subnet_id="/subnets/pe",
        private_dns_zone_ids={
            "privatelink.api.azureml.ms": "/zones/api",
            "privatelink.notebooks.azure.net": "/zones/nb",
        },
    )
    inputs = recording.named("train-workspace").inputs
    assert inputs["identity"] == {"type": "SystemAssigned"}
    assert inputs["storageAccount"] == STORAGE
    assert inputs["keyVault"] == VAULT
    assert inputs["containerRegistry"] == ACR
    assert inputs["applicationInsights"] == recording.named("train-insights").id
    assert inputs["publicNetworkAccess"] == "Disabled"
    assert inputs["hbiWorkspace"] is False
    # The artifact account has shared keys off: datastores must use identities.
    assert inputs["systemDatastoresAuthMode"] == "Identity"
    insights = recording.named("train-insights").inputs
    assert insights["workspaceResourceId"] == recording.named("train-logs").id
    assert insights["disableLocalAuth"] is True
    assert recording.named("train-logs").inputs["retentionInDays"] == 90


def test_workspace_audit_logs_go_to_log_analytics():
    recording = build()
    setting = recording.named("train-audit-logs").inputs
    assert setting["resourceUri"] == recording.named("train-workspace").id
    assert setting["workspaceId"] == recording.named("train-logs").id
    assert setting["logs"] == [{"categoryGroup": "allLogs", "enabled": True}]


def test_gpu_cluster_scales_to_zero_without_public_ips_or_local_auth():
    recording = build(gpu="t4", max_nodes=3, spot=True)
    compute = recording.named("train-gpu").inputs
    assert compute["workspaceName"] == recording.named("train-workspace").outputs["name"]
    props = compute["properties"]
    assert props["computeType"] == "AmlCompute"
    assert props["disableLocalAuth"] is True
    aml = props["properties"]
    assert aml["vmSize"] == "Standard_NC4as_T4_v3"
    assert aml["vmPriority"] == "LowPriority"
    assert aml["scaleSettings"] == {
        "minNodeCount": 0,
        "maxNodeCount": 3,
        "nodeIdleTimeBeforeScaleDown": "PT10M",
    }
    assert aml["enableNodePublicIp"] is False
    assert aml["remoteLoginPortPublicAccess"] == "Disabled"


def test_outputs_cap_gpus_and_dollars():
    recording = build(gpu="a100-80gb", max_nodes=4)
    assert recording.exports["cluster_name"] == recording.named("train-workspace").outputs["name"]
    assert recording.exports["gpu_pool_name"] == recording.named("train-gpu").outputs["name"]
    assert recording.exports["max_gpus"] == 4
    assert recording.exports["max_usd_per_hour"] == pytest.approx(14.69)
    assert recording.named("train-gpu").inputs["properties"]["properties"]["vmPriority"] == (
        "Dedicated"
    )


def test_prod_is_high_business_impact_with_isolated_managed_network():
    recording = build(environment="prod")
    inputs = recording.named("train-workspace").inputs
    assert inputs["hbiWorkspace"] is True
    assert inputs["publicNetworkAccess"] == "Disabled"
    network = inputs["managedNetwork"]
    assert network["isolationMode"] == "AllowOnlyApprovedOutbound"
    # Only the package hosts of image builds (no model registry given here).
    assert {r["type"] for r in network["outboundRules"].values()} == {"FQDN"}
    assert inputs["provisionNetworkNow"] is True
    assert inputs["imageBuildCompute"] == "image-build"
    assert recording.named("train-image-build").inputs["computeName"] == "image-build"


def test_public_workspace_only_outside_prod():
    assert build(public_endpoint=True).named("train-workspace").inputs["publicNetworkAccess"] == (
        "Enabled"
    )
    with pytest.raises(ProgramError, match="public_endpoint is refused in prod"):
        build(environment="prod", public_endpoint=True)


def test_without_a_vault_one_is_created_securely():
    recording = build(key_vault_id=None)
    vault = recording.named("train-vault")
    assert vault.parent == recording.named("train", COMPONENT).urn
    assert vault.inputs["properties"]["enableRbacAuthorization"] is True
    assert vault.inputs["properties"]["enablePurgeProtection"] is True
    assert recording.named("train-workspace").inputs["keyVault"] == vault.id


def test_bad_bounds_are_refused():
    with pytest.raises(ProgramError, match="min_nodes <= max_nodes"):
        build(min_nodes=3, max_nodes=2)


IDENTITY = (
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/"
    "userAssignedIdentities/dvc"
)


def test_command_jobs_reach_the_artifact_store_through_an_identity_based_datastore():
    # AzureML compute needs no Kubernetes: jobs run on the cluster under its managed identity
    # and read/write the artifact store through the identity-based datastore.
    recording = build(
        compute_identity_id=IDENTITY,
        artifact_account_name="artacct",
        artifact_container_name="dvc",
    )
    assert children(recording)["train-artifacts-datastore"].type == (
        "azure-native:machinelearningservices:Datastore"
    )
    compute = recording.named("train-gpu").inputs
    assert compute["identity"]["type"] == "UserAssigned"
    assert IDENTITY in compute["identity"]["userAssignedIdentities"]
    datastore = recording.named("train-artifacts-datastore").inputs
    assert datastore["name"] == "artifacts"
    assert datastore["workspaceName"] == recording.named("train-workspace").outputs["name"]
    props = datastore["properties"]
    assert props["datastoreType"] == "AzureBlob"
    assert (props["accountName"], props["containerName"]) == ("artacct", "dvc")
    # No key or SAS stored: the job's identity is what reaches the blobs.
    assert props["credentials"] == {"credentialsType": "None"}


def test_no_datastore_without_the_artifact_store():
    recording = build()
    assert not recording.of_type("azure-native:machinelearningservices:Datastore")
    assert "identity" not in recording.named("train-gpu").inputs
