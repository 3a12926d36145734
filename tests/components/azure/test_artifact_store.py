from __future__ import annotations

import re

import pulumi
import pytest

from mlops_iac.components.azure import ArtifactStore, ArtifactStoreArgs
from mlops_iac.plan.mocks import SUBSCRIPTION_ID, TENANT_ID
from mlops_iac.plan.testing import ProgramError, run

LOCATION = {"azure-native:location": "eastus"}
COMPONENT = "mlops:azure:ArtifactStore"
CHILDREN = {
    "art-rg": "azure-native:resources:ResourceGroup",
    "art-vault": "azure-native:keyvault:Vault",
    "art-key": "azure-native:keyvault:Key",
    "art-identity": "azure-native:managedidentity:UserAssignedIdentity",
    "art-identity-key-access": "azure-native:authorization:RoleAssignment",
    "art-account": "azure-native:storage:StorageAccount",
    "art-blob-service": "azure-native:storage:BlobServiceProperties",
    "art-dvc": "azure-native:storage:BlobContainer",
    "art-lifecycle": "azure-native:storage:ManagementPolicy",
    "art-dvc-identity": "azure-native:managedidentity:UserAssignedIdentity",
    "art-dvc-access": "azure-native:authorization:RoleAssignment",
}
ROLES = f"/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions"


def build(**kwargs):
    def program():
        store = ArtifactStore("art", ArtifactStoreArgs(**kwargs))
        for output in ("bucket_name", "bucket_uri", "dvc_remote_url", "kms_key_id"):
            pulumi.export(output, getattr(store, output))
        pulumi.export("storage_account_name", store.storage_account_name)

    return run(program, config=LOCATION)


def children(recording):
    component = recording.named("art", COMPONENT)
    return recording.children_by_name(component)


def test_dev_children_are_exact_and_parented():
    recording = build()
    found = children(recording)
    assert {name: r.type for name, r in found.items()} == CHILDREN
    assert len(recording) == len(CHILDREN) + 1
    assert not any(r.protect for r in recording)
    assert recording.unmocked_invokes == []


def test_vault_uses_rbac_purge_protection_soft_delete_and_default_deny():
    recording = build()
    props = recording.named("art-vault").inputs["properties"]
    assert props["tenantId"] == TENANT_ID
    assert props["enableRbacAuthorization"] is True
    assert props["enablePurgeProtection"] is True
    assert props["enableSoftDelete"] is True
    assert props["softDeleteRetentionInDays"] == 90
    assert props["networkAcls"] == {"defaultAction": "Deny", "bypass": "AzureServices"}
    assert "accessPolicies" not in props


def test_key_rotates_yearly_and_is_wrap_only():
    recording = build()
    key = recording.named("art-key")
    assert key.inputs["vaultName"] == recording.named("art-vault").outputs["name"]
    props = key.inputs["properties"]
    assert props["kty"] == "RSA" and props["keySize"] == 3072
    assert props["keyOps"] == ["wrapKey", "unwrapKey"]
    policy = props["rotationPolicy"]
    assert policy["attributes"] == {"expiryTime": "P2Y"}
    actions = {a["action"]["type"]: a["trigger"] for a in policy["lifetimeActions"]}
    assert actions == {"rotate": {"timeAfterCreate": "P1Y"}, "notify": {"timeBeforeExpiry": "P30D"}}


def test_identity_gets_crypto_service_encryption_user_on_the_vault_only():
    recording = build()
    grant = recording.named("art-identity-key-access").inputs
    identity = recording.named("art-identity")
    assert grant["scope"] == recording.named("art-vault").id
    assert grant["principalId"] == identity.outputs["principalId"]
    assert grant["principalType"] == "ServicePrincipal"
    assert grant["roleDefinitionId"] == f"{ROLES}/e147488a-f6f5-4113-8e2d-b22465e65bf6"


def test_account_is_private_tls_only_and_encrypted_with_the_key():
    recording = build()
    account = recording.named("art-account")
    inputs = account.inputs
    assert re.fullmatch(r"st[a-z0-9]{3,22}", inputs["accountName"]), "explicit, valid global name"
    assert inputs["kind"] == "StorageV2"
    assert inputs["sku"] == {"name": "Standard_LRS"}
    assert inputs["enableHttpsTrafficOnly"] is True
    assert inputs["minimumTlsVersion"] == "TLS1_2"
    assert inputs["allowBlobPublicAccess"] is False
    assert inputs["allowSharedKeyAccess"] is False
    assert inputs["networkRuleSet"] == {"defaultAction": "Deny", "bypass": "AzureServices"}
    identity_id = recording.named("art-identity").id
    assert inputs["identity"] == {"type": "UserAssigned", "userAssignedIdentities": [identity_id]}
    encryption = inputs["encryption"]
    assert encryption["keySource"] == "Microsoft.Keyvault"
    assert encryption["requireInfrastructureEncryption"] is True
    assert encryption["keyVaultProperties"] == {
        "keyName": recording.named("art-key").outputs["name"],
        "keyVaultUri": recording.named("art-vault").outputs["properties"]["vaultUri"],
    }
    assert encryption["encryptionIdentity"] == {"encryptionUserAssignedIdentity": identity_id}
    # The account checks key access when it is created: the grant must come first.
    assert recording.named("art-identity-key-access").urn in account.dependencies


def test_blob_service_versioning_soft_delete_change_feed_and_lifecycle():
    recording = build(noncurrent_version_days=30)
    account_name = recording.named("art-account").outputs["name"]
    service = recording.named("art-blob-service").inputs
    assert service["accountName"] == account_name
    assert service["blobServicesName"] == "default"
    assert service["isVersioningEnabled"] is True
    assert service["deleteRetentionPolicy"] == {"enabled": True, "days": 30}
    assert service["containerDeleteRetentionPolicy"] == {"enabled": True, "days": 30}
    assert service["changeFeed"] == {"enabled": True, "retentionInDays": 90}
    container = recording.named("art-dvc").inputs
    assert container["containerName"] == "dvc" and container["publicAccess"] == "None"
    policy = recording.named("art-lifecycle").inputs
    assert policy["managementPolicyName"] == "default"
    [rule] = policy["policy"]["rules"]
    assert rule["enabled"] is True and rule["type"] == "Lifecycle"
    assert rule["definition"]["actions"] == {
        "version": {"delete": {"daysAfterCreationGreaterThan": 30}}
    }


def test_dvc_identity_is_scoped_to_the_dvc_container():
    recording = build()
    access = recording.named("art-dvc-access").inputs
    assert access["scope"] == recording.named("art-dvc").id
    assert access["scope"].endswith("/blobServices/default/containers/dvc")
    assert access["principalId"] == recording.named("art-dvc-identity").outputs["principalId"]
    assert access["roleDefinitionId"] == f"{ROLES}/ba92f5b4-2d11-453d-a403-e96b0029c9fe"


def test_outputs():
    recording = build()
    account = recording.named("art-account").outputs["name"]
    assert recording.exports["bucket_name"] == account
    assert recording.exports["storage_account_name"] == account
    assert recording.exports["bucket_uri"] == f"https://{account}.blob.core.windows.net/dvc"
    assert recording.exports["dvc_remote_url"] == "azure://dvc/"
    assert recording.exports["kms_key_id"] == recording.named("art-key").outputs["keyUri"]
    registered = recording.named("art", COMPONENT).registered_outputs
    assert {"bucket_name", "bucket_uri", "dvc_remote_url", "kms_key_id"} <= set(registered)


def test_prod_is_zone_redundant_and_protects_the_data():
    recording = build(environment="prod")
    assert recording.named("art-account").inputs["sku"] == {"name": "Standard_ZRS"}
    protected = {r.name for r in recording if r.protect}
    assert protected == {"art-account", "art-vault", "art-key"}
    assert all(r.retain_on_delete for r in recording if r.protect)


def test_prod_refuses_force_destroy():
    with pytest.raises(ProgramError, match="ArtifactStore art: force_destroy is refused in prod"):
        build(environment="prod", force_destroy=True)


def test_force_destroy_outside_prod_only_warns():
    recording = build(force_destroy=True)
    assert any("force_destroy is True" in w for w in recording.warnings)


def test_existing_resource_group_is_used():
    recording = build(resource_group_name="team-rg", location="westeurope")
    assert "art-rg" not in children(recording)
    assert recording.named("art-account").inputs["resourceGroupName"] == "team-rg"
    assert recording.named("art-account").inputs["location"] == "westeurope"


def test_turning_off_the_customer_managed_key_warns():
    recording = build(customer_managed_key=False)
    found = children(recording)
    assert not {"art-vault", "art-key", "art-identity", "art-identity-key-access"} & set(found)
    encryption = recording.named("art-account").inputs["encryption"]
    assert encryption["keySource"] == "Microsoft.Storage"
    assert encryption["requireInfrastructureEncryption"] is True
    assert any("customer_managed_key is False" in w for w in recording.warnings)
    assert "kms_key_id" not in recording.exports or recording.exports["kms_key_id"] is None


def test_caller_options_are_merged_not_replaced():
    def program():
        ArtifactStore("art", ArtifactStoreArgs(), opts=pulumi.ResourceOptions(protect=True))

    recording = run(program, config=LOCATION)
    component = recording.named("art", COMPONENT)
    assert component.protect is True
    assert all(r.protect for r in recording.children(component))


def test_a_re_created_stack_takes_new_key_vault_names_by_incarnation():
    """A deleted vault holds its name for its soft-delete retention and purge protection
    forbids purging it: https://learn.microsoft.com/azure/key-vault/general/soft-delete-overview"""
    from mlops_iac.plan.testing import run_project
    from tests.conftest import REPO, azure_problems, platform_raw, reference_recording

    first = reference_recording("azure-dev").named("mlops-artifacts-vault").inputs["vaultName"]
    platform = platform_raw("azure-dev")
    platform["azure"] = {**platform.get("azure", {}), "keyVaultIncarnation": 2}
    # Re-created from nothing, so brought up as any empty account is: first without serving.
    platform["serving"] = {**platform["serving"], "enabled": False}
    again = run_project(REPO, "azure-dev", extra_config={"mlops:platform": platform})
    second = again.named("mlops-artifacts-vault").inputs["vaultName"]
    assert second != first and len(second) <= 24 and second.startswith("kv-")
    assert (
        again.named("mlops-artifacts-account").inputs["encryption"]["keyVaultProperties"][
            "keyVaultUri"
        ]
        == again.named("mlops-artifacts-vault").outputs["properties"]["vaultUri"]
    )
    assert again.deploy_errors() == []
    (problem,) = azure_problems(keyVaultIncarnation=0)
    assert problem.startswith("mlops:platform.azure.keyVaultIncarnation: ")
