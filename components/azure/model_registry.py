"""ModelRegistry on Azure: an AzureML registry, a hardened container registry, approver alerts."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import pulumi
from pulumi_azure_native import (
    containerregistry,
    machinelearningservices,
    monitor,
    operationalinsights,
)

from mlops_iac.components._component import (
    Component,
    child_opts,
    component_opts,
    given,
    secure_default,
)
from mlops_iac.components.azure import _defaults as defaults
from mlops_iac.components.azure._common import (
    client_config,
    location_or_config,
    new_workspace_log_alert,
    private_endpoint,
    unique_name,
)
from mlops_iac.components.contract_types import ModelRegistryArgsBase

TYPE = "mlops:azure:ModelRegistry"

# Resource-log category of the registry's data-plane writes (model versions and other assets).
REGISTRY_WRITE_LOG = "RegistryAssetWriteEvent"


@dataclass(frozen=True, kw_only=True)
class ModelRegistryArgs(ModelRegistryArgsBase):
    """Inputs of ``ModelRegistry``. Only the resource group is required."""

    FIELD_NOTES: ClassVar[Mapping[str, str]] = {
        "environment": (
            "``dev``, ``staging`` or ``prod``. Default ``dev``. Prod uses a Premium, zone-"
            "redundant ACR with public network access disabled and export disabled, and "
            "disables public access to the AzureML registry."
        ),
        "approvers": (
            "Emails notified when a model version is registered. Default: none (no action group)."
        ),
        "tags": (
            "Extra tags on every child. Default: none (the stack's lineage transform adds lineage)."
        ),
        "model_names": (
            "Models whose new versions page the approvers. Default: none (every asset write "
            "to the registry pages)."
        ),
    }

    resource_group_name: pulumi.Input[str]
    """Resource group of the registries and the action group. Required."""
    location: pulumi.Input[str] | None = None
    """Region of the registries. Default: the provider's ``azure-native:location``."""
    acr_sku: str | None = None
    """Container registry SKU. Default: ``Premium`` in prod, ``Standard`` elsewhere.
    Untagged-manifest retention needs Premium."""
    private_endpoint_subnet_id: pulumi.Input[str] | None = None
    """Subnet for private endpoints (``PrivateNetwork.subnet_id``). Default: none (no private
    endpoint)."""
    private_dns_zone_ids: Mapping[str, pulumi.Input[str]] | None = None
    """Private DNS zone ids by zone name (``PrivateNetwork.dns_zone_ids``), required with
    ``private_endpoint_subnet_id``. Default: none."""
    untagged_image_days: int | None = None
    """Days before untagged manifests are purged (Premium only). Default: 30."""
    model_names: Sequence[str] = ()
    """Models whose new versions page the approvers (the write log's ``AssetName``). The log
    records writes of every asset kind (models, environments, components, data) without a
    column naming the kind, so only these names page. Default: none (every asset write pages)."""


class ModelRegistry(Component):
    """AzureML registry for model versions plus an ACR for serving images.

    Children: ``{name}-registry`` (AzureML registry, system-assigned identity, system-created ACR
    and storage without public blob access), ``{name}-images`` (ACR: admin user off, anonymous
    pull off, trusted Azure services only; on Premium also retention of untagged
    manifests, zone redundancy; in prod public network access and export disabled) and, with
    approvers, ``{name}-approvers`` (action group emailing them), ``{name}-logs`` (Log
    Analytics), ``{name}-registry-logs`` (the registry's RegistryAssetWriteEvent log into it) and
    ``{name}-model-registered`` (log alert on asset writes to the registry, acting on that group).
    With ``private_endpoint_subnet_id``: ``{name}-registry-pe`` and, on Premium,
    ``{name}-images-pe``; in prod also ``{name}-registry-storage-pe`` and ``{name}-registry-acr-pe``
    (the registry's system-created storage and ACR), so that a client in the network can
    register models into the private registry.

    Tag immutability and image scanning: ACR has no registry-wide immutable-tags switch (tags are
    locked per repository with ``az acr repository update --write-enabled false``), and scanning
    is Microsoft Defender for Containers, a subscription-level plan; both are outside this
    component (documented gap). Docker Content Trust is not enabled: it "cannot be enabled on new
    container registries" from May 31, 2026 and is retired in 2028; sign images with Notation
    (Notary Project) instead, see docs/azure-gcp.md.
    https://learn.microsoft.com/en-us/azure/container-registry/container-registry-content-trust-deprecation

    Outputs: ``registry_name``, ``registry_id`` (the AzureML registry), ``image_repository_url``
    (ACR login server), ``container_registry_id``, ``container_registry_name``,
    ``approvers_topic`` (the approvers' action group id; None without approvers).
    """

    registry_name: pulumi.Output[str]
    registry_id: pulumi.Output[str]
    image_repository_url: pulumi.Output[str]
    container_registry_id: pulumi.Output[str]
    container_registry_name: pulumi.Output[str]
    approvers_topic: pulumi.Output[str | None]

    def __init__(
        self, name: str, args: ModelRegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, component_opts(opts))
        label = f"ModelRegistry {name}"
        prod = args.environment == "prod"
        sku = secure_default(
            label,
            "acr_sku",
            args.acr_sku,
            defaults.ACR_SKU_PROD if prod else defaults.ACR_SKU_DEV,
        )
        location = location_or_config(args.location)
        if location is None:
            raise ValueError(f"{label}: set location or the azure-native:location config")
        registry = self._registry(name, args, location, prod)
        images = self._images(name, args, location, sku, prod)
        self._private_endpoints(name, args, location, registry, images, sku == "Premium", prod)
        group = self._approvers(name, args) if args.approvers else None
        if group is not None:
            self._registration_alert(name, args, location, registry, group)
        self.register(
            registry_name=registry.name,
            registry_id=registry.id,
            image_repository_url=images.login_server,
            container_registry_id=images.id,
            container_registry_name=images.name,
            approvers_topic=pulumi.Output.from_input(group.id if group else None),
        )

    def _registry(
        self, name: str, args: ModelRegistryArgs, location: pulumi.Input[str], prod: bool
    ) -> machinelearningservices.Registry:
        """The AzureML registry, with a system-created ACR and storage (no public blobs)."""
        return machinelearningservices.Registry(
            f"{name}-registry",
            resource_group_name=args.resource_group_name,
            location=location,
            identity={"type": "SystemAssigned"},
            public_network_access="Disabled" if prod else "Enabled",
            region_details=[
                {
                    "location": location,
                    "acr_details": [
                        {"system_created_acr_account": {"acr_account_sku": defaults.ACR_SKU_PROD}}
                    ],
                    "storage_account_details": [
                        {
                            "system_created_storage_account": {
                                "allow_blob_public_access": False,
                                "storage_account_hns_enabled": False,
                                "storage_account_type": (
                                    defaults.STORAGE_SKU_PROD if prod else defaults.STORAGE_SKU_DEV
                                ),
                            }
                        }
                    ],
                }
            ],
            tags=args.tags,
            opts=child_opts(self, protect=prod),
        )

    def _images(
        self,
        name: str,
        args: ModelRegistryArgs,
        location: pulumi.Input[str],
        sku: str,
        prod: bool,
    ) -> containerregistry.Registry:
        """The hardened container registry for serving images."""
        premium = sku == "Premium"
        policies: dict[str, object] | None = None
        if premium:
            policies = {
                "retention_policy": {
                    "status": "enabled",
                    # ACR accepts 0 to 365 (0: purge untagged manifests at once).
                    "days": given(args.untagged_image_days, defaults.ACR_UNTAGGED_RETENTION_DAYS),
                },
                # Export (import/transfer out) is only disabled together with public access.
                "export_policy": {"status": "disabled" if prod else "enabled"},
            }
        return containerregistry.Registry(
            f"{name}-images",
            registry_name=unique_name(self, client_config(self), name, "cr", limit=50),
            resource_group_name=args.resource_group_name,
            location=location,
            sku={"name": sku},
            admin_user_enabled=defaults.ACR_ADMIN_USER,
            anonymous_pull_enabled=defaults.ACR_ANONYMOUS_PULL,
            public_network_access="Disabled" if prod else "Enabled",
            network_rule_bypass_options="AzureServices",
            zone_redundancy="Enabled" if premium and prod else "Disabled",
            policies=policies,
            tags=args.tags,
            opts=child_opts(self, protect=prod),
        )

    def _private_endpoints(
        self,
        name: str,
        args: ModelRegistryArgs,
        location: pulumi.Input[str],
        registry: machinelearningservices.Registry,
        images: containerregistry.Registry,
        premium: bool,
        prod: bool,
    ) -> None:
        """With a subnet: ``{name}-registry-pe`` and, on Premium, ``{name}-images-pe``; in prod
        (the registry's public access off) also ``{name}-registry-storage-pe`` and
        ``{name}-registry-acr-pe`` to the registry's system-created storage and ACR, which a
        client uploads model files and images to: "Create a private endpoint to the registry,
        storage, and ACR in the same subnet".
        https://learn.microsoft.com/en-us/azure/machine-learning/how-to-registry-network-isolation
        """
        subnet_id = args.private_endpoint_subnet_id
        if subnet_id is None:
            return
        targets: list[tuple[str, pulumi.Input[str], str]] = [
            ("registry-pe", registry.id, "amlregistry")
        ]
        if premium:
            # ACR private link is a Premium feature.
            # https://learn.microsoft.com/en-us/azure/container-registry/container-registry-private-link
            targets.append(("images-pe", images.id, "registry"))
        if prod:
            targets += [
                ("registry-storage-pe", _system_created(registry, "storage"), "blob"),
                ("registry-acr-pe", _system_created(registry, "acr"), "registry"),
            ]
        for suffix, target_id, group_id in targets:
            private_endpoint(
                self,
                f"{name}-{suffix}",
                resource_group_name=args.resource_group_name,
                location=location,
                subnet_id=subnet_id,
                target_id=target_id,
                group_id=group_id,
                zone_ids=args.private_dns_zone_ids or {},
                tags=args.tags,
            )

    def _approvers(self, name: str, args: ModelRegistryArgs) -> monitor.ActionGroup:
        """The action group emailing the approvers."""
        return monitor.ActionGroup(
            f"{name}-approvers",
            resource_group_name=args.resource_group_name,
            location=defaults.ACTION_GROUP_LOCATION,
            group_short_name="mlapprove",
            enabled=True,
            email_receivers=[
                {
                    "name": f"approver-{index}",
                    "email_address": email,
                    "use_common_alert_schema": True,
                }
                for index, email in enumerate(args.approvers)
            ],
            tags=args.tags,
            opts=child_opts(self),
        )

    def _registration_alert(
        self,
        name: str,
        args: ModelRegistryArgs,
        location: pulumi.Input[str],
        registry: machinelearningservices.Registry,
        group: monitor.ActionGroup,
    ) -> None:
        """The registry's write log in a Log Analytics workspace and the log alert on it that
        tells the approvers a model version was registered."""
        rg, tags = args.resource_group_name, args.tags
        # Writing a model version is a data-plane operation of the registry: it shows up in
        # the RegistryAssetWriteEvent resource log (table AmlRegistryWriteEventsLog), not as
        # an activity-log operation, so the alert is a log query over that resource log.
        # https://learn.microsoft.com/azure/azure-monitor/reference/supported-logs/microsoft-machinelearningservices-registries-logs
        # https://learn.microsoft.com/azure/azure-monitor/reference/tables/amlregistrywriteeventslog
        logs = operationalinsights.Workspace(
            f"{name}-logs",
            resource_group_name=rg,
            location=location,
            sku={"name": "PerGB2018"},
            retention_in_days=defaults.LOG_RETENTION_DAYS,
            tags=tags,
            opts=child_opts(self),
        )
        setting = monitor.DiagnosticSetting(
            f"{name}-registry-logs",
            resource_uri=registry.id,
            workspace_id=logs.id,
            log_analytics_destination_type="Dedicated",
            logs=[{"category": REGISTRY_WRITE_LOG, "enabled": True}],
            opts=child_opts(self),
        )
        monitor.ScheduledQueryRule(
            f"{name}-model-registered",
            resource_group_name=rg,
            location=location,
            description="A model version was registered: review it and record an approval",
            severity=3,
            auto_mitigate=False,
            scopes=[logs.id],
            **new_workspace_log_alert(),
            criteria=monitor.ScheduledQueryRuleCriteriaArgs(
                all_of=[
                    monitor.ConditionArgs(
                        query=pulumi.Output.concat(
                            "AmlRegistryWriteEventsLog | where RegistryResourceId =~ '",
                            registry.id,
                            "'",
                            _asset_names(args.model_names),
                            " | summarize Writes = count() by AssetName, AssetVersion",
                        ),
                        time_aggregation="Count",
                        operator="GreaterThan",
                        threshold=0,
                        failing_periods=monitor.ConditionFailingPeriodsArgs(
                            number_of_evaluation_periods=1, min_failing_periods_to_alert=1
                        ),
                    )
                ]
            ),
            actions=monitor.ActionsArgs(action_groups=[group.id]),
            tags=tags,
            opts=child_opts(self, depends_on=[setting]),
        )


def _asset_names(names: Sequence[str]) -> str:
    """The KQL clause keeping writes of these asset names (none: no clause)."""
    for model in names:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", model):
            raise ValueError(f"ModelRegistry: model name {model!r} is not lowercase/digits/dashes")
    if not names:
        return ""
    return " | where " + " or ".join(f"AssetName == '{model}'" for model in sorted(set(names)))


def _system_created(registry: machinelearningservices.Registry, kind: str) -> pulumi.Output[str]:
    """ARM id of the registry's system-created storage account (``storage``) or ACR (``acr``)
    in its first region, which ARM reports once the registry exists."""

    def pick(
        regions: list[machinelearningservices.outputs.RegistryRegionArmDetailsResponse],
    ) -> str:
        region = regions[0]
        if kind == "storage":
            details = region.storage_account_details or []
            created = details[0].system_created_storage_account if details else None
        else:
            acrs = region.acr_details or []
            created = acrs[0].system_created_acr_account if acrs else None
        arm = created.arm_resource_id if created else None
        return arm.resource_id if arm and arm.resource_id else ""

    return registry.region_details.apply(pick)
