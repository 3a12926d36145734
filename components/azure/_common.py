"""Helpers shared by the Azure components (no resources of their own)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

import pulumi
from pulumi_azure_native import authorization, keyvault, monitor, network, web

from mlops_iac.components._component import child_opts
from mlops_iac.components.azure import _defaults as defaults

Tags = pulumi.Input[Mapping[str, pulumi.Input[str]]] | None


def client_config(parent: pulumi.Resource) -> pulumi.Output[authorization.GetClientConfigResult]:
    """The deploying principal's subscription and tenant (an invoke parented to ``parent``)."""
    return authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=parent))


def new_workspace_log_alert() -> dict[str, object]:
    """Settings every log alert (``monitor.ScheduledQueryRule``) of the toolkit shares: a log
    alert, enabled, evaluated every 5 minutes over 5 minutes. Its workspace is new, so the table
    has no data yet and query validation would refuse the rule ("Failed to resolve table"):
    validation happens at evaluation instead.
    https://learn.microsoft.com/en-us/rest/api/monitor/scheduled-query-rules/create-or-update"""
    return {
        "kind": "LogAlert",
        "enabled": True,
        "skip_query_validation": True,
        "evaluation_frequency": "PT5M",
        "window_size": "PT5M",
    }


def error_rate_criteria(
    query: pulumi.Input[str], threshold: pulumi.Input[float]
) -> monitor.ScheduledQueryRuleCriteriaArgs:
    """Criteria of a log alert on the ``ErrorRatePercent`` column of ``query``: fires when its
    maximum is above ``threshold`` in one evaluation period."""
    return monitor.ScheduledQueryRuleCriteriaArgs(
        all_of=[
            monitor.ConditionArgs(
                query=query,
                time_aggregation="Maximum",
                metric_measure_column="ErrorRatePercent",
                operator="GreaterThan",
                threshold=threshold,
                failing_periods=monitor.ConditionFailingPeriodsArgs(
                    number_of_evaluation_periods=1, min_failing_periods_to_alert=1
                ),
            )
        ]
    )


def function_app(
    parent: pulumi.Resource,
    name: str,
    *,
    site_name: pulumi.Input[str],
    resource_group_name: pulumi.Input[str],
    location: pulumi.Input[str] | None,
    plan_id: pulumi.Input[str],
    integration_subnet_id: pulumi.Input[str] | None,
    identity_id: pulumi.Input[str],
    settings: Mapping[str, pulumi.Input[str | None]],
    tags: Tags,
    depends_on: list[pulumi.Resource],
) -> web.WebApp:
    """``{name}-function``: a Linux Function App on ``plan_id`` under the user-assigned identity
    ``identity_id``, HTTPS only, FTPS off, TLS 1.2, with ``settings`` as its app settings. With
    ``integration_subnet_id`` every outbound call (storage, queue, metrics, ARM) goes through
    the subnet."""
    return web.WebApp(
        f"{name}-function",
        name=site_name,
        resource_group_name=resource_group_name,
        location=location,
        kind="functionapp,linux",
        reserved=True,
        server_farm_id=plan_id,
        https_only=True,
        client_affinity_enabled=False,
        virtual_network_subnet_id=integration_subnet_id,
        outbound_vnet_routing={"all_traffic": True} if integration_subnet_id is not None else None,
        identity={"type": "UserAssigned", "user_assigned_identities": [identity_id]},
        site_config=web.SiteConfigArgs(
            linux_fx_version=defaults.DRIFT_FUNCTION_RUNTIME,
            ftps_state="Disabled",
            min_tls_version="1.2",
            http20_enabled=True,
            app_settings=[{"name": key, "value": value} for key, value in settings.items()],
        ),
        tags=tags,
        opts=child_opts(parent, depends_on=depends_on),
    )


def role_definition_id(
    config: pulumi.Output[authorization.GetClientConfigResult], role: str
) -> pulumi.Output[str]:
    """ARM id of a built-in role in the deploying subscription."""
    return config.subscription_id.apply(
        lambda sub: f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role}"
    )


def global_name(name: str, prefix: str, *, limit: int, scope: str, dashes: bool = False) -> str:
    """An explicit, valid, collision-resistant name for a globally unique Azure resource.

    ``<prefix><name, sanitised and shortened><8-hex hash of scope/name/prefix>``, within
    ``limit`` characters. Storage accounts (3-24 lowercase letters and digits) and container
    registries (5-50 alphanumerics) take ``dashes=False``; key vaults (3-24 letters, digits and
    dashes, starting with a letter, no ``--``) take ``dashes=True``. Names must be explicit: the
    provider's auto-name appends a random suffix to the logical name and keeps its dashes, which
    these three refuse.
    https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/resource-name-rules
    ``scope`` should hold the subscription, Pulumi project and stack so that two stacks (or two
    subscriptions using this repository's stack names) never ask for the same global name.
    """
    digest = hashlib.sha256(f"{scope}/{name}/{prefix}".encode()).hexdigest()[:8]
    if dashes:
        body = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]+", "-", name.lower())).strip("-")
        room = limit - len(prefix) - len(digest) - 2
        body = body[:room].strip("-")
        return f"{prefix}-{body}-{digest}" if body else f"{prefix}-{digest}"
    body = re.sub(r"[^a-z0-9]+", "", name.lower())
    return f"{prefix}{body[: limit - len(prefix) - len(digest)]}{digest}"


def unique_name(
    parent: pulumi.Resource,
    config: pulumi.Output[authorization.GetClientConfigResult],
    name: str,
    prefix: str,
    *,
    limit: int,
    dashes: bool = False,
) -> pulumi.Output[str]:
    """``global_name`` scoped by the deploying subscription and the Pulumi project and stack."""
    stack = f"{pulumi.get_project()}/{pulumi.get_stack()}"
    return config.subscription_id.apply(
        lambda sub: global_name(name, prefix, limit=limit, scope=f"{sub}/{stack}", dashes=dashes)
    )


def key_vault_name(
    parent: pulumi.Resource,
    config: pulumi.Output[authorization.GetClientConfigResult],
    name: str,
    incarnation: int = 1,
) -> pulumi.Output[str]:
    """The key vault name of ``name`` in its ``incarnation``.

    A deleted vault holds its name for its soft-delete retention, and purge protection forbids
    purging it, so a re-created stack needs new names: incarnation 1 keeps the first names,
    each later one hashes differently.
    https://learn.microsoft.com/azure/key-vault/general/soft-delete-overview
    """
    if incarnation < 1:
        raise ValueError(f"{name}: key vault incarnation must be 1 or more, got {incarnation}")
    scoped = name if incarnation == 1 else f"{name}-{incarnation}"
    return unique_name(parent, config, scoped, "kv", limit=24, dashes=True)


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
    vault_name: pulumi.Input[str] | None = None,
) -> keyvault.Vault:
    """Key Vault with RBAC authorization, purge protection, 90-day soft delete and a
    default-deny network that lets trusted Azure services through."""
    return keyvault.Vault(
        name,
        vault_name=vault_name or key_vault_name(parent, client_config(parent), name),
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


def private_endpoint(
    parent: pulumi.Resource,
    name: str,
    *,
    resource_group_name: pulumi.Input[str],
    location: pulumi.Input[str] | None,
    subnet_id: pulumi.Input[str],
    target_id: pulumi.Input[str],
    group_id: str,
    zone_ids: Mapping[str, pulumi.Input[str]],
    tags: Tags,
) -> network.PrivateEndpoint:
    """Private endpoint ``name`` to ``target_id`` (private-link ``group_id``) in ``subnet_id``,
    and ``{name}-dns``: its DNS zone group, which writes the A records into the group's private
    DNS zones (``zone_ids``: zone name -> zone id, from ``PrivateNetwork``).
    https://learn.microsoft.com/azure/private-link/private-endpoint-dns
    """
    zones = defaults.PRIVATE_DNS_ZONES[group_id]
    missing = [zone for zone in zones if zone not in zone_ids]
    if missing:
        raise ValueError(f"{name}: private_dns_zone_ids lacks {', '.join(missing)}")
    endpoint = network.PrivateEndpoint(
        name,
        resource_group_name=resource_group_name,
        location=location,
        subnet={"id": subnet_id},
        private_link_service_connections=[
            {"name": group_id, "private_link_service_id": target_id, "group_ids": [group_id]}
        ],
        tags=tags,
        opts=child_opts(parent),
    )
    network.PrivateDnsZoneGroup(
        f"{name}-dns",
        resource_group_name=resource_group_name,
        private_endpoint_name=endpoint.name,
        private_dns_zone_group_name="default",
        private_dns_zone_configs=[
            {"name": zone.replace(".", "-"), "private_dns_zone_id": zone_ids[zone]}
            for zone in zones
        ],
        opts=child_opts(parent),
    )
    return endpoint
