"""TrainingCluster on Azure: an AzureML workspace and a GPU AmlCompute cluster (scales to 0)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import pulumi
from pulumi_azure_native import (
    applicationinsights,
    machinelearningservices,
    monitor,
    operationalinsights,
)

from mlops_iac.components._component import (
    Component,
    at_least,
    child_opts,
    component_opts,
    given,
    require_not_prod,
    secure_default,
)
from mlops_iac.components.azure import _defaults as defaults
from mlops_iac.components.azure._common import (
    client_config,
    key_vault_name,
    private_endpoint,
    secure_vault,
)
from mlops_iac.components.contract_types import TrainingClusterArgsBase
from mlops_iac.spec import gpu as gpu_catalogue

TYPE = "mlops:azure:TrainingCluster"


@dataclass(frozen=True, kw_only=True)
class TrainingClusterArgs(TrainingClusterArgsBase):
    """Inputs of ``TrainingCluster``. Azure needs a resource group and the workspace's storage
    account and key vault; everything else is optional."""

    FIELD_NOTES: ClassVar[Mapping[str, str]] = {
        "environment": (
            "``dev``, ``staging`` or ``prod``. Default ``dev``. Prod disables public network "
            "access, isolates the managed network to approved outbound, and marks the "
            "workspace high business impact (``hbi_workspace``)."
        ),
        "gpu": (
            "Neutral GPU name from ``mlops_iac.spec.gpu``. Default ``t4`` "
            "(``Standard_NC4as_T4_v3``)."
        ),
        "min_nodes": ("Nodes kept warm. Default 0: the cluster scales to zero."),
        "max_nodes": ("Upper bound of the cluster. Default 2."),
        "spot": ("Use low-priority (evictable) VMs. Default: dedicated."),
        "public_endpoint": (
            "Keep public network access on beside a private endpoint. Default: false; refused"
            " in prod. Without a private endpoint a non-prod workspace is public (Entra ID "
            "authenticated)."
        ),
        "tags": (
            "Extra tags on every child. Default: none (the stack's lineage transform adds lineage)."
        ),
    }

    resource_group_name: pulumi.Input[str]
    """Resource group of the workspace and its logging. Required."""
    storage_account_id: pulumi.Input[str]
    """ARM id of the workspace's default storage (the artifact store's account). Required."""
    key_vault_id: pulumi.Input[str] | None = None
    """ARM id of the workspace's Key Vault (the stack passes the artifact store's vault).
    Default: a new ``{name}-vault`` with the same secure settings."""
    container_registry_id: pulumi.Input[str] | None = None
    """ARM id of the registry for environment images. Default: none (AzureML creates one on first
    image build); the stack passes the ModelRegistry's ACR."""
    model_registry_id: pulumi.Input[str] | None = None
    """ARM id of the AzureML registry the workspace's deployments pull models from. With
    approved-outbound isolation (prod) the managed network gets a private endpoint outbound
    rule to it (``amlregistry``): only the workspace's own storage, key vault and container
    registry get one automatically. Default: none; the stack passes the ModelRegistry's."""
    location: pulumi.Input[str] | None = None
    """Azure region. Default: the resource group's."""
    log_retention_days: int | None = None
    """Retention of the workspace's Log Analytics logs. Default: 90 days."""
    key_vault_incarnation: int = 1
    """Part of the name of the workspace's own vault (without ``key_vault_id``): a re-created
    stack takes the next incarnation, since a deleted vault holds its name for 90 days.
    Default: 1."""
    private_endpoint_subnet_id: pulumi.Input[str] | None = None
    """Subnet for private endpoints (``PrivateNetwork.subnet_id``). Default: none (no private
    endpoint)."""
    private_dns_zone_ids: Mapping[str, pulumi.Input[str]] | None = None
    """Private DNS zone ids by zone name (``PrivateNetwork.dns_zone_ids``), required with
    ``private_endpoint_subnet_id``. Default: none."""

    compute_identity_id: pulumi.Input[str] | None = None
    """ARM id of a user-assigned identity for the GPU cluster; AzureML command jobs with
    ``identity: managed`` reach identity-based datastores as it. The stack passes the artifact
    store's DVC identity (Storage Blob Data Contributor on the DVC container). Default: none."""
    artifact_account_name: pulumi.Input[str] | None = None
    """Storage account of the artifact store, for the ``artifacts`` datastore. Default: none."""
    artifact_container_name: pulumi.Input[str] | None = None
    """Container of the ``artifacts`` datastore (the DVC container). Default: none (no
    datastore)."""


class TrainingCluster(Component):
    """AzureML workspace with a GPU AmlCompute cluster: min 0, no public IPs, no local auth.

    Children: ``{name}-vault`` (only without ``key_vault_id``), ``{name}-logs`` (Log Analytics
    workspace), ``{name}-insights`` (workspace-based
    Application Insights, local auth off), ``{name}-workspace`` (AzureML, system-assigned
    identity, identity-based datastore auth so the storage account keeps shared keys off),
    ``{name}-audit-logs`` (diagnostic setting: all workspace logs and metrics to ``-logs``) and
    ``{name}-gpu`` (AmlCompute: catalogue VM size, low-priority or dedicated, min/max nodes,
    scale down after 10 idle minutes, no node public IP, SSH disabled, local auth disabled).

    The workspace's own metadata is encrypted with Microsoft-managed keys (``hbi_workspace``
    in prod adds encrypted local scratch disks and less telemetry); the data it reads and writes
    lives in the artifact store under its customer-managed key.

    AzureML compute needs no Kubernetes: jobs are scheduled by the workspace. With
    ``compute_identity_id`` the cluster runs as that identity, and with the artifact account and
    container ``{name}-artifacts-datastore`` (``artifacts``, identity-based: no key or SAS stored)
    points at the artifact store, so a command job reads ``azureml://datastores/artifacts/paths/…``
    and writes checkpoints there.

    Outputs: ``cluster_name`` (the AzureML workspace name: the control plane that schedules jobs),
    ``gpu_pool_name`` (the AmlCompute cluster name), ``max_gpus``, ``max_usd_per_hour`` (list
    price of ``max_nodes`` nodes, spot priced as on-demand), ``workspace_name``, ``workspace_id``,
    ``application_insights_id``, ``log_analytics_workspace_id``, ``blob_store_container`` (the
    container of the workspace's default ``workspaceblobstore`` datastore,
    ``azureml-blobstore-<workspace id>``, where online-endpoint data collection writes).
    """

    cluster_name: pulumi.Output[str]
    gpu_pool_name: pulumi.Output[str]
    max_gpus: pulumi.Output[int]
    max_usd_per_hour: pulumi.Output[float]
    workspace_name: pulumi.Output[str]
    workspace_id: pulumi.Output[str]
    application_insights_id: pulumi.Output[str]
    log_analytics_workspace_id: pulumi.Output[str]
    datastore_name: pulumi.Output[str]
    blob_store_container: pulumi.Output[str]

    def __init__(
        self, name: str, args: TrainingClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, component_opts(opts))
        label = f"TrainingCluster {name}"
        public = secure_default(
            label, "public_endpoint", args.public_endpoint, defaults.PUBLIC_ENDPOINT
        )
        require_not_prod(label, args.environment, "public_endpoint", public)
        gpu_pool_caps = gpu_catalogue.pool(
            args.gpu, "azure", args.min_nodes, args.max_nodes, label=label
        )
        # PerGB2018 workspaces keep logs 30 to 730 days.
        retention_days = at_least(
            label,
            "log_retention_days",
            given(args.log_retention_days, defaults.LOG_RETENTION_DAYS),
            30,
        )
        prod = args.environment == "prod"
        # Reachable either way: through a private endpoint (prod), or publicly with Entra ID
        # authentication (dev without one). Disabled with neither, nothing could reach it.
        # https://learn.microsoft.com/en-us/azure/machine-learning/how-to-configure-private-link
        private = args.private_endpoint_subnet_id is not None
        network = "Disabled" if prod or (private and not public) else "Enabled"
        if prod and not private:
            pulumi.log.warn(
                f"{label}: a prod workspace has public access off; give "
                "private_endpoint_subnet_id or nothing can reach it",
                self,
            )
        key_vault_id = args.key_vault_id
        if key_vault_id is None:
            key_vault_id = self._vault(name, args, prod)
        logs, insights = self._telemetry(name, args, retention_days)
        workspace = self._workspace(name, args, key_vault_id, insights, network, prod)
        self._workspace_access(name, args, workspace, logs)
        compute = self._gpu_pool(name, args, workspace, gpu_pool_caps.offering)
        if prod:
            self._image_build_pool(name, args, workspace)
        datastore_name = self._artifacts_datastore(name, args, workspace)
        self.register(
            cluster_name=workspace.name,
            gpu_pool_name=compute.name,
            max_gpus=pulumi.Output.from_input(gpu_pool_caps.max_gpus),
            max_usd_per_hour=pulumi.Output.from_input(gpu_pool_caps.max_usd_per_hour),
            workspace_name=workspace.name,
            workspace_id=workspace.id,
            application_insights_id=insights.id,
            log_analytics_workspace_id=logs.id,
            datastore_name=datastore_name,
            # https://learn.microsoft.com/en-us/azure/machine-learning/concept-data#default-datastores
            blob_store_container=pulumi.Output.concat("azureml-blobstore-", workspace.workspace_id),
        )

    def _vault(self, name: str, args: TrainingClusterArgs, prod: bool) -> pulumi.Output[str]:
        """The workspace's own key vault (when none is given); returns its id."""
        config = client_config(self)
        return secure_vault(
            self,
            f"{name}-vault",
            vault_name=key_vault_name(self, config, f"{name}-vault", args.key_vault_incarnation),
            resource_group_name=args.resource_group_name,
            location=args.location,
            tenant_id=config.tenant_id,
            tags=args.tags,
            protect=prod,
        ).id

    def _telemetry(
        self, name: str, args: TrainingClusterArgs, retention_days: int
    ) -> tuple[operationalinsights.Workspace, applicationinsights.Component]:
        """The Log Analytics workspace and the workspace-based Application Insights on it."""
        logs = operationalinsights.Workspace(
            f"{name}-logs",
            resource_group_name=args.resource_group_name,
            location=args.location,
            sku={"name": "PerGB2018"},
            retention_in_days=retention_days,
            tags=args.tags,
            opts=child_opts(self),
        )
        insights = applicationinsights.Component(
            f"{name}-insights",
            resource_group_name=args.resource_group_name,
            location=args.location,
            kind="web",
            application_type="web",
            ingestion_mode="LogAnalytics",
            workspace_resource_id=logs.id,
            disable_local_auth=True,
            tags=args.tags,
            opts=child_opts(self),
        )
        return logs, insights

    def _workspace(
        self,
        name: str,
        args: TrainingClusterArgs,
        key_vault_id: pulumi.Input[str],
        insights: applicationinsights.Component,
        network: str,
        prod: bool,
    ) -> machinelearningservices.Workspace:
        """The AzureML workspace: system-assigned identity, identity-based datastore auth."""
        return machinelearningservices.Workspace(
            f"{name}-workspace",
            resource_group_name=args.resource_group_name,
            location=args.location,
            identity={"type": "SystemAssigned"},
            sku={"name": "Basic", "tier": "Basic"},
            storage_account=args.storage_account_id,
            key_vault=key_vault_id,
            application_insights=insights.id,
            container_registry=args.container_registry_id,
            public_network_access=network,
            hbi_workspace=prod,
            # The SDK's enum value (``Identity``), not a lowercase spelling of it.
            system_datastores_auth_mode=machinelearningservices.SystemDatastoresAuthMode.IDENTITY,
            managed_network=_managed_network(prod, args.model_registry_id),
            # Online deployments need a provisioned managed network, which AzureML otherwise
            # builds only with the first compute instance (none here) or by a manual step.
            # https://learn.microsoft.com/en-us/azure/machine-learning/how-to-managed-network#manually-provision-a-managed-vnet
            provision_network_now=True,
            # A registry behind the network cannot build images (prod's is private): the
            # ``image-build`` cluster below builds them.
            # https://learn.microsoft.com/en-us/azure/machine-learning/how-to-managed-network#configure-image-builds
            image_build_compute=IMAGE_BUILD_COMPUTE if prod else None,
            tags=args.tags,
            opts=child_opts(self),
        )

    def _workspace_access(
        self,
        name: str,
        args: TrainingClusterArgs,
        workspace: machinelearningservices.Workspace,
        logs: operationalinsights.Workspace,
    ) -> None:
        """The workspace's private endpoint (with a subnet) and its audit trail."""
        if args.private_endpoint_subnet_id is not None:
            private_endpoint(
                self,
                f"{name}-workspace-pe",
                resource_group_name=args.resource_group_name,
                location=args.location,
                subnet_id=args.private_endpoint_subnet_id,
                target_id=workspace.id,
                group_id="amlworkspace",
                zone_ids=args.private_dns_zone_ids or {},
                tags=args.tags,
            )
        # Audit trail: workspace, compute and job events kept with the workspace's logs.
        monitor.DiagnosticSetting(
            f"{name}-audit-logs",
            resource_uri=workspace.id,
            workspace_id=logs.id,
            log_analytics_destination_type="Dedicated",
            logs=[
                {"category_group": "allLogs", "enabled": True},
            ],
            metrics=[{"category": "AllMetrics", "enabled": True}],
            opts=child_opts(self),
        )

    def _gpu_pool(
        self,
        name: str,
        args: TrainingClusterArgs,
        workspace: machinelearningservices.Workspace,
        offering: gpu_catalogue.GpuOffering,
    ) -> machinelearningservices.Compute:
        """The AmlCompute cluster: scales to 0, no node public IP, no SSH, no local auth."""
        return machinelearningservices.Compute(
            f"{name}-gpu",
            resource_group_name=args.resource_group_name,
            workspace_name=workspace.name,
            location=args.location,
            identity=(
                machinelearningservices.ManagedServiceIdentityArgs(
                    type="UserAssigned", user_assigned_identities=[args.compute_identity_id]
                )
                if args.compute_identity_id is not None
                else None
            ),
            properties=machinelearningservices.AmlComputeArgs(
                compute_type="AmlCompute",
                disable_local_auth=True,
                description=f"{offering.gpus_per_node}x {args.gpu} per node",
                properties=machinelearningservices.AmlComputePropertiesArgs(
                    vm_size=offering.node_type,
                    vm_priority="LowPriority" if args.spot else "Dedicated",
                    os_type="Linux",
                    scale_settings=machinelearningservices.ScaleSettingsArgs(
                        min_node_count=args.min_nodes,
                        max_node_count=args.max_nodes,
                        node_idle_time_before_scale_down=defaults.AML_IDLE_SCALE_DOWN,
                    ),
                    enable_node_public_ip=False,
                    remote_login_port_public_access="Disabled",
                ),
            ),
            tags=args.tags,
            opts=child_opts(self),
        )

    def _image_build_pool(
        self,
        name: str,
        args: TrainingClusterArgs,
        workspace: machinelearningservices.Workspace,
    ) -> machinelearningservices.Compute:
        """``image-build``: the small CPU cluster that builds environment images (the
        workspace's ``image_build_compute``), 0 to 1 node, no public IP, no SSH, no local auth."""
        return machinelearningservices.Compute(
            f"{name}-image-build",
            compute_name=IMAGE_BUILD_COMPUTE,
            resource_group_name=args.resource_group_name,
            workspace_name=workspace.name,
            location=args.location,
            properties=machinelearningservices.AmlComputeArgs(
                compute_type="AmlCompute",
                disable_local_auth=True,
                description="Builds environment images behind the private registry",
                properties=machinelearningservices.AmlComputePropertiesArgs(
                    vm_size=defaults.IMAGE_BUILD_VM_SIZE,
                    vm_priority="Dedicated",
                    os_type="Linux",
                    scale_settings=machinelearningservices.ScaleSettingsArgs(
                        min_node_count=0,
                        max_node_count=1,
                        node_idle_time_before_scale_down=defaults.AML_IDLE_SCALE_DOWN,
                    ),
                    enable_node_public_ip=False,
                    remote_login_port_public_access="Disabled",
                ),
            ),
            tags=args.tags,
            opts=child_opts(self),
        )

    def _artifacts_datastore(
        self,
        name: str,
        args: TrainingClusterArgs,
        workspace: machinelearningservices.Workspace,
    ) -> pulumi.Output[str]:
        """The ``artifacts`` datastore on the artifact store's container, when both are given;
        returns its name (``""`` without one)."""
        if args.artifact_account_name is None or args.artifact_container_name is None:
            return pulumi.Output.from_input("")
        # Credentials "None" = identity-based access: the job's identity (the compute's
        # managed identity for ``identity: managed``) reaches the blobs, no secret is stored.
        datastore = machinelearningservices.Datastore(
            f"{name}-artifacts-datastore",
            name=defaults.ARTIFACT_DATASTORE,
            resource_group_name=args.resource_group_name,
            workspace_name=workspace.name,
            properties=machinelearningservices.AzureBlobDatastoreArgs(
                datastore_type="AzureBlob",
                account_name=args.artifact_account_name,
                container_name=args.artifact_container_name,
                credentials=machinelearningservices.NoneDatastoreCredentialsArgs(
                    credentials_type="None"
                ),
                description="Artifact store (DVC data, checkpoints), identity-based access",
            ),
            opts=child_opts(self),
        )
        return datastore.name


#: Name of the managed network's outbound rule to the model registry.
REGISTRY_OUTBOUND_RULE = "model-registry"
#: The compute cluster that builds environment images where the registry is private.
IMAGE_BUILD_COMPUTE = "image-build"
#: Package hosts an image build reaches (FQDN outbound rules, approved-outbound only): the
#: conda and PyPI hosts of an MLflow model's environment.
#: https://learn.microsoft.com/en-us/azure/machine-learning/how-to-managed-network#scenario-access-public-machine-learning-packages
PACKAGE_HOSTS = {
    "conda": "anaconda.com",
    "conda-any": "*.anaconda.com",
    "conda-repodata": "*.anaconda.org",
    "pypi": "pypi.org",
    "pypi-files": "*.pythonhosted.org",
}


def _managed_network(prod: bool, registry_id: pulumi.Input[str] | None) -> dict[str, object]:
    """The workspace's managed network: approved outbound only in prod, where deployments reach
    the model registry through a private endpoint outbound rule.

    With approved-outbound isolation, private endpoint rules are created automatically only for
    the workspace and its associated key vault, storage account and container registry;
    AzureML registries are a supported private endpoint target, added as a user-defined rule.
    https://learn.microsoft.com/en-us/azure/machine-learning/how-to-managed-network#list-of-required-rules
    https://learn.microsoft.com/en-us/azure/machine-learning/how-to-managed-network#private-endpoints
    Deployments use the workspace's managed network for outbound traffic:
    https://learn.microsoft.com/en-us/azure/machine-learning/concept-secure-online-endpoint
    """
    network: dict[str, object] = {
        "isolation_mode": "AllowOnlyApprovedOutbound" if prod else "AllowInternetOutbound"
    }
    if not prod:
        return network
    # Image builds install the model environment's conda and pip packages. FQDN rules are
    # enforced by an Azure Firewall that AzureML adds to the managed network (billed).
    rules: dict[str, object] = {
        rule: machinelearningservices.FqdnOutboundRuleArgs(
            type="FQDN", category="UserDefined", destination=host
        )
        for rule, host in PACKAGE_HOSTS.items()
    }
    if registry_id is not None:
        rules[REGISTRY_OUTBOUND_RULE] = machinelearningservices.PrivateEndpointOutboundRuleArgs(
            type="PrivateEndpoint",
            category="UserDefined",
            destination=machinelearningservices.PrivateEndpointDestinationArgs(
                service_resource_id=registry_id,
                subresource_target="amlregistry",
                spark_enabled=False,
            ),
        )
    network["outbound_rules"] = rules
    return network
