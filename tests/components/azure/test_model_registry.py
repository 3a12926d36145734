from __future__ import annotations

import pulumi
import pytest

from mlops_iac.components.azure import ModelRegistry, ModelRegistryArgs
from mlops_iac.plan.testing import ProgramError, run

LOCATION = {"azure-native:location": "eastus"}
COMPONENT = "mlops:azure:ModelRegistry"
CHILDREN = {
    "reg-registry": "azure-native:machinelearningservices:Registry",
    "reg-images": "azure-native:containerregistry:Registry",
    "reg-approvers": "azure-native:monitor:ActionGroup",
    "reg-logs": "azure-native:operationalinsights:Workspace",
    "reg-registry-logs": "azure-native:monitor:DiagnosticSetting",
    "reg-model-registered": "azure-native:monitor:ScheduledQueryRule",
}


def build(config=LOCATION, **kwargs):
    args = {"resource_group_name": "rg", "approvers": ("jane@example.com", "raj@example.com")}

    def program():
        registry = ModelRegistry("reg", ModelRegistryArgs(**{**args, **kwargs}))
        for output in ("registry_name", "registry_id", "image_repository_url"):
            pulumi.export(output, getattr(registry, output))
        pulumi.export("approvers_topic", registry.approvers_topic)

    return run(program, config=config)


def children(recording):
    component = recording.named("reg", COMPONENT)
    return recording.children_by_name(component)


def test_children_are_exact_and_parented():
    recording = build()
    assert {n: r.type for n, r in children(recording).items()} == CHILDREN
    assert len(recording) == len(CHILDREN) + 1
    assert not any(r.protect for r in recording)


def test_dev_acr_is_standard_without_admin_or_anonymous_pull():
    recording = build()
    acr = recording.named("reg-images").inputs
    assert acr["sku"] == {"name": "Standard"}
    assert acr["adminUserEnabled"] is False
    assert acr["anonymousPullEnabled"] is False
    assert acr["networkRuleBypassOptions"] == "AzureServices"
    assert "policies" not in acr, "trust and retention policies need Premium"


def test_prod_acr_is_premium_private_trusted_and_retains():
    recording = build(environment="prod")
    acr = recording.named("reg-images").inputs
    assert acr["sku"] == {"name": "Premium"}
    assert acr["publicNetworkAccess"] == "Disabled"
    assert acr["zoneRedundancy"] == "Enabled"
    assert acr["policies"] == {
        "retentionPolicy": {"status": "enabled", "days": 30},
        "exportPolicy": {"status": "disabled"},
    }
    registry = recording.named("reg-registry").inputs
    assert registry["publicNetworkAccess"] == "Disabled"
    assert {r.name for r in recording if r.protect} == {"reg-registry", "reg-images"}


def test_azureml_registry_has_private_system_storage():
    recording = build()
    registry = recording.named("reg-registry").inputs
    assert registry["identity"] == {"type": "SystemAssigned"}
    assert registry["location"] == "eastus"
    [region] = registry["regionDetails"]
    assert region["location"] == "eastus"
    [storage] = region["storageAccountDetails"]
    assert storage["systemCreatedStorageAccount"]["allowBlobPublicAccess"] is False


def test_approvers_are_emailed_when_a_model_version_is_registered():
    recording = build()
    group = recording.named("reg-approvers")
    receivers = group.inputs["emailReceivers"]
    assert [r["emailAddress"] for r in receivers] == ["jane@example.com", "raj@example.com"]
    assert group.inputs["enabled"] is True and len(group.inputs["groupShortName"]) <= 12
    # Asset writes are data-plane events: a resource log (RegistryAssetWriteEvent), not an
    # activity-log operation, so the alert is a log query over that log.
    setting = recording.named("reg-registry-logs").inputs
    assert setting["resourceUri"] == recording.named("reg-registry").id
    assert setting["workspaceId"] == recording.named("reg-logs").id
    assert setting["logs"] == [{"category": "RegistryAssetWriteEvent", "enabled": True}]
    alert = recording.named("reg-model-registered")
    assert alert.inputs["scopes"] == [recording.named("reg-logs").id]
    [condition] = alert.inputs["criteria"]["allOf"]
    assert condition["query"].startswith("AmlRegistryWriteEventsLog")
    assert condition["operator"] == "GreaterThan" and condition["threshold"] == 0
    assert alert.inputs["actions"] == {"actionGroups": [group.id]}
    assert recording.named("reg-registry-logs").urn in alert.dependencies
    assert recording.exports["approvers_topic"] == group.id


def test_outputs():
    recording = build()
    registry = recording.named("reg-registry")
    assert recording.exports["registry_name"] == registry.outputs["name"]
    assert recording.exports["registry_id"] == registry.id
    acr = recording.named("reg-images").outputs
    assert recording.exports["image_repository_url"] == acr["loginServer"]
    assert acr["loginServer"].endswith(".azurecr.io")


def test_without_approvers_no_action_group():
    recording = build(approvers=())
    assert set(children(recording)) == {"reg-registry", "reg-images"}


def test_downgrading_the_sku_warns():
    recording = build(environment="prod", acr_sku="Standard")
    assert any("acr_sku is 'Standard'" in w for w in recording.warnings)
    assert "policies" not in recording.named("reg-images").inputs


def test_location_is_required_without_provider_config():
    with pytest.raises(ProgramError, match="set location or the azure-native:location"):
        build(config={})


def test_untagged_image_days_sets_the_premium_retention_as_on_gcp():
    recording = build(environment="prod", untagged_image_days=7)
    policies = recording.named("reg-images").inputs["policies"]
    assert policies["retentionPolicy"] == {"status": "enabled", "days": 7}
