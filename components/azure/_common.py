"""Helpers shared by the Azure components (no resources of their own)."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
from pulumi_azure_native import authorization, keyvault

from mlops_iac.components._component import child_opts
from mlops_iac.components.azure import _defaults as defaults

Tags = pulumi.Input[Mapping[str, pulumi.Input[str]]] | None


def client_config(parent: pulumi.Resource) -> pulumi.Output[authorization.GetClientConfigResult]:
    """The deploying principal's subscription and tenant (an invoke parented to ``parent``)."""
    return authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=parent))


def role_definition_id(
    config: pulumi.Output[authorization.GetClientConfigResult], role: str
) -> pulumi.Output[str]:
    """ARM id of a built-in role in the deploying subscription."""
    return config.subscription_id.apply(
        lambda sub: f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role}"
    )


def location_or_config(location: pulumi.Input[str] | None) -> pulumi.Input[str] | None:
    """``location`` if given, else the provider's ``azure-native:location`` config (or None)."""
    if location is not None:
        return location
    return pulumi.Config("azure-native").get("location")


def secure_vault(
    parent: pulumi.Resource,
    name: str,
    *,
    resource_group_name: pulumi.Input[str],
    location: pulumi.Input[str] | None,
    tenant_id: pulumi.Input[str],
    tags: Tags,
    protect: bool,
) -> keyvault.Vault:
    """Key Vault with RBAC authorization, purge protection, 90-day soft delete and a
    default-deny network that lets trusted Azure services through."""
    return keyvault.Vault(
        name,
        resource_group_name=resource_group_name,
        location=location,
        properties=keyvault.VaultPropertiesArgs(
            tenant_id=tenant_id,
            sku={"family": "A", "name": defaults.KEY_VAULT_SKU},
            enable_rbac_authorization=True,
            enable_soft_delete=True,
            soft_delete_retention_in_days=defaults.KEY_VAULT_SOFT_DELETE_DAYS,
            enable_purge_protection=defaults.KEY_VAULT_PURGE_PROTECTION,
            network_acls={
                "default_action": defaults.NETWORK_DEFAULT_ACTION,
                "bypass": defaults.NETWORK_BYPASS,
            },
        ),
        tags=tags,
        opts=child_opts(parent, protect=protect),
    )
