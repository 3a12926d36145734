"""Azure's cross-field and lifecycle rules (registered in ``lifecycle.base.RULES``)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from typing import Any

from mlops_iac.plan.deploy.base import DeployError, error, physical_name_of
from mlops_iac.plan.deploy.lifecycle.base import (
    get,
    of,
    rolled_back,
    rolled_back_message,
    rule,
    today,
)
from mlops_iac.plan.deploy.state import StateResource

AML_ROLLOUT = "https://learn.microsoft.com/en-us/azure/machine-learning/how-to-safely-rollout-online-endpoints"


@rule("azure-endpoint-traffic-unknown-deployment", AML_ROLLOUT)
def azure_endpoint_traffic(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    existing = {
        (str(s.inputs.get("endpointName") or ""), str(s.inputs.get("deploymentName") or s.name))
        for s in state
        if s.type == "azure-native:machinelearningservices:OnlineDeployment"
    }
    for endpoint in of(resources, "azure-native:machinelearningservices:OnlineEndpoint"):
        name = physical_name_of(endpoint)
        for deployment, weight in (get(endpoint.inputs, "properties.traffic") or {}).items():
            if (name, str(deployment)) in existing:
                continue
            yield error(
                endpoint,
                "azure-endpoint-traffic-unknown-deployment",
                f"properties.traffic.{deployment}",
                weight,
                f"traffic names deployment {deployment!r}, which does not exist when the endpoint "
                "is created or updated (deployments are created after their endpoint in the same "
                "update); create the endpoint without traffic first",
                AML_ROLLOUT,
            )


AML_MANAGED_NETWORK = (
    "https://learn.microsoft.com/en-us/azure/machine-learning/how-to-managed-network"
    "#list-of-required-rules"
)


@rule("azure-aml-registry-unreachable", AML_MANAGED_NETWORK)
def azure_registry_outbound(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    """A deployment whose model is in an AzureML registry with public access off can only pull it
    through a private endpoint outbound rule of its workspace's managed network: the required
    (automatic) rules cover the workspace's own key vault, storage and container registry only."""
    private = {
        str(r.inputs.get("registryName") or physical_name_of(r)): r
        for r in of(resources, "azure-native:machinelearningservices:Registry")
        if r.inputs.get("publicNetworkAccess") == "Disabled"
    }
    workspaces = {
        str(w.inputs.get("workspaceName") or physical_name_of(w)): w
        for w in of(resources, "azure-native:machinelearningservices:Workspace")
    }
    for deployment in of(resources, "azure-native:machinelearningservices:OnlineDeployment"):
        model = str(get(deployment.inputs, "properties.model") or "")
        match = re.match(r"azureml://registries/([^/]+)/", model)
        registry_name = match.group(1) if match else None
        registry = private.get(registry_name) if registry_name else None
        workspace = workspaces.get(str(deployment.inputs.get("workspaceName") or ""))
        if registry is None or workspace is None:
            continue
        rules = (get(workspace.inputs, "managedNetwork.outboundRules") or {}).values()
        registry_id = str(getattr(registry, "id", "") or "")
        reached = any(
            isinstance(r, Mapping)
            and get(r, "destination.subresourceTarget") == "amlregistry"
            and str(get(r, "destination.serviceResourceId")) == registry_id
            for r in rules
        )
        if not reached:
            yield error(
                deployment,
                "azure-aml-registry-unreachable",
                "properties.model",
                model,
                f"the model is in registry {registry_name!r} (public network "
                "access disabled), "
                "and the workspace's managed network has no private endpoint outbound rule to it "
                "(amlregistry): the deployment cannot download the model",
                AML_MANAGED_NETWORK,
            )


FUNCTIONS_NETWORK = (
    "https://learn.microsoft.com/en-us/azure/azure-functions/functions-networking-options"
    "#virtual-network-integration-outbound"
)
STORAGE_VNET_RULES = (
    "https://learn.microsoft.com/en-us/azure/storage/common/storage-network-security"
    "#grant-access-from-a-virtual-network"
)
_ACCOUNT_URL = re.compile(r"https://([a-z0-9]{3,24})\.(?:blob|queue|table|dfs)\.core\.windows\.net")
_SUBNET_DELEGATION = {"FlexConsumption": "Microsoft.App/environments"}
_DEFAULT_DELEGATION = "Microsoft.Web/serverFarms"


def _function_accounts(app: Any) -> set[str]:
    """Storage accounts a Function App's settings name: its host storage and any account URL."""
    settings = get(app.inputs, "siteConfig.appSettings") or []
    names: set[str] = set()
    for item in settings if isinstance(settings, list) else []:
        if not isinstance(item, Mapping):
            continue
        key, value = str(item.get("name") or ""), str(item.get("value") or "")
        if key.endswith("__accountName") and value:
            names.add(value)
        names.update(_ACCOUNT_URL.findall(value))
    return names


def _declared_subnets(resources: list[Any]) -> dict[str, Mapping[str, Any]]:
    """Subnets declared inline in the plan's virtual networks, by ARM id (lower case)."""
    subnets: dict[str, Mapping[str, Any]] = {}
    for vnet in of(resources, "azure-native:network:VirtualNetwork"):
        for subnet in vnet.inputs.get("subnets") or []:
            if isinstance(subnet, Mapping) and subnet.get("name"):
                subnet_id = f"{getattr(vnet, 'id', '')}/subnets/{subnet['name']}"
                subnets[subnet_id.lower()] = subnet
    return subnets


@rule("azure-function-storage-unreachable", FUNCTIONS_NETWORK)
def azure_function_storage(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    """A Function App reaches a storage account whose firewall denies by default only from a
    subnet the firewall admits: the Consumption plan has no VNet integration, an integrated app
    needs a subnet delegated to its plan's service, and a virtual network rule needs the subnet's
    ``Microsoft.Storage`` service endpoint (Azure refuses the rule otherwise)."""
    accounts = {}
    for account in of(resources, "azure-native:storage:StorageAccount"):
        accounts[str(account.inputs.get("accountName") or physical_name_of(account))] = account
    plans = {str(getattr(p, "id", "")): p for p in of(resources, "azure-native:web:AppServicePlan")}
    subnets = _declared_subnets(resources)
    for app in of(resources, "azure-native:web:WebApp"):
        if "functionapp" not in str(app.inputs.get("kind") or ""):
            continue
        subnet_id = str(app.inputs.get("virtualNetworkSubnetId") or "")
        plan = plans.get(str(app.inputs.get("serverFarmId") or ""))
        tier = str(get(plan.inputs, "sku.tier") or "") if plan is not None else ""
        subnet = subnets.get(subnet_id.lower())
        if subnet_id and tier == "Dynamic":
            yield error(
                app, "azure-function-storage-unreachable", "virtualNetworkSubnetId", subnet_id,
                "the Consumption plan has no virtual network integration", FUNCTIONS_NETWORK,
            )  # fmt: skip
        if subnet is not None:
            wanted = _SUBNET_DELEGATION.get(tier, _DEFAULT_DELEGATION)
            services = [str(d.get("serviceName")) for d in subnet.get("delegations") or []]
            if wanted not in services:
                yield error(
                    app, "azure-function-storage-unreachable", "virtualNetworkSubnetId",
                    subnet_id, f"the integration subnet is not delegated to {wanted}",
                    FUNCTIONS_NETWORK,
                )  # fmt: skip
        for name in sorted(_function_accounts(app)):
            account = accounts.get(name)
            rules = account.inputs.get("networkRuleSet") if account is not None else None
            if not isinstance(rules, Mapping) or rules.get("defaultAction") != "Deny":
                continue
            admitted = {
                str(r.get("virtualNetworkResourceId") or "").lower()
                for r in rules.get("virtualNetworkRules") or []
                if isinstance(r, Mapping)
            }
            if not subnet_id or subnet_id.lower() not in admitted:
                how = (
                    "joins a subnet its firewall does not admit (no virtual network rule)"
                    if subnet_id
                    else "has no VNet integration"
                )
                yield error(
                    app, "azure-function-storage-unreachable", "virtualNetworkSubnetId",
                    subnet_id or None,
                    f"storage account {name!r} denies by default and the app {how}: the host "
                    "and the job cannot reach it", FUNCTIONS_NETWORK,
                )  # fmt: skip
            elif subnet is not None and not any(
                isinstance(e, Mapping) and str(e.get("service", "")).startswith("Microsoft.Storage")
                for e in subnet.get("serviceEndpoints") or []
            ):
                yield error(
                    app, "azure-function-storage-unreachable", "virtualNetworkSubnetId",
                    subnet_id, f"storage account {name!r} admits the subnet by a virtual network "
                    "rule, which needs the subnet's Microsoft.Storage service endpoint",
                    STORAGE_VNET_RULES,
                )  # fmt: skip


EG_MONITOR = "https://learn.microsoft.com/en-us/azure/event-grid/event-handlers"


@rule("azure-eventgrid-monitor-alert-source", EG_MONITOR)
def eventgrid_monitor_alert(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    topics = {
        physical_name_of(t): str(t.inputs.get("topicType") or "")
        for t in of(resources, "azure-native:eventgrid:SystemTopic")
    }
    by_logical = {
        t.name: str(t.inputs.get("topicType") or "")
        for t in of(resources, "azure-native:eventgrid:SystemTopic")
    }
    for sub in of(resources, "azure-native:eventgrid:SystemTopicEventSubscription"):
        for path in ("destination", "deliveryWithResourceIdentity.destination"):
            destination = get(sub.inputs, path)
            if not isinstance(destination, Mapping):
                continue
            if destination.get("endpointType") != "MonitorAlert":
                continue
            topic = str(sub.inputs.get("systemTopicName"))
            topic_type = topics.get(topic) or next(
                (kind for logical, kind in by_logical.items() if topic.startswith(logical)), ""
            )
            if topic_type.lower() != "microsoft.keyvault.vaults":
                yield error(
                    sub,
                    "azure-eventgrid-monitor-alert-source",
                    f"{path}.endpointType",
                    "MonitorAlert",
                    "Azure Monitor alerts as an Event Grid handler take events from Azure Key "
                    f"Vault sources only; this system topic's source is {topic_type or 'unknown'}",
                    EG_MONITOR,
                )


ACR_DCT = (
    "https://learn.microsoft.com/en-us/azure/container-registry/container-registry-content-trust"
)
DCT_CUTOFF = dt.date(2026, 5, 31)


@rule("azure-acr-content-trust-new-registry", ACR_DCT)
def acr_content_trust(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    if today(config) < DCT_CUTOFF:
        return
    existing = {s.urn for s in state}
    for registry in of(resources, "azure-native:containerregistry:Registry"):
        trust = get(registry.inputs, "policies.trustPolicy") or {}
        if str(trust.get("status", "")).lower() == "enabled" and registry.urn not in existing:
            yield error(
                registry,
                "azure-acr-content-trust-new-registry",
                "policies.trustPolicy.status",
                trust.get("status"),
                "starting May 31, 2026, Docker Content Trust cannot be enabled on new container "
                "registries; sign images with Notation instead",
                ACR_DCT,
            )


BLOB_SHARED_KEY = "https://github.com/pulumi/pulumi-azure-native/issues/2015"


@rule("azure-blob-source-upload-refused", BLOB_SHARED_KEY)
def azure_blob_upload(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    """azure-native uploads a ``storage:Blob``'s ``source`` through the data plane with the
    account key (it lists the keys and signs with Shared Key), from wherever ``pulumi up`` runs:
    an account with shared keys off answers 403 ``KeyBasedAuthenticationNotPermitted``, and one
    whose firewall denies by default refuses the deployer (which no virtual network rule
    admits)."""
    accounts: dict[str, Any] = {}
    for account in of(resources, "azure-native:storage:StorageAccount"):
        for name in (account.inputs.get("accountName"), physical_name_of(account)):
            if name:
                accounts[str(name)] = account
    for blob in of(resources, "azure-native:storage:Blob"):
        if blob.inputs.get("source") is None:
            continue
        account = accounts.get(str(blob.inputs.get("accountName") or ""))
        if account is None:
            continue
        inputs = account.inputs
        why = None
        if inputs.get("allowSharedKeyAccess") is False:
            why = "has shared keys off (allowSharedKeyAccess: false)"
        elif inputs.get("publicNetworkAccess") == "Disabled":
            why = "has public network access disabled"
        elif get(inputs, "networkRuleSet.defaultAction") == "Deny":
            why = "denies by default in its firewall (networkRuleSet.defaultAction: Deny)"
        if why is not None:
            yield error(
                blob, "azure-blob-source-upload-refused", "source", "<asset>",
                f"the provider uploads the blob's source with the account key from the "
                f"deployer's network, and account {blob.inputs.get('accountName')!r} {why}",
                BLOB_SHARED_KEY,
            )  # fmt: skip


AML_PROVISION = (
    "https://learn.microsoft.com/en-us/azure/machine-learning/how-to-managed-network"
    "#manually-provision-a-managed-vnet"
)
_ISOLATED = {"allowinternetoutbound", "allowonlyapprovedoutbound"}


def _workspaces(resources: list[Any]) -> dict[str, Any]:
    """AzureML workspaces of the plan by physical name."""
    return {
        str(w.inputs.get("workspaceName") or physical_name_of(w)): w
        for w in of(resources, "azure-native:machinelearningservices:Workspace")
    }


@rule("azure-aml-online-deployment-network-not-provisioned", AML_PROVISION)
def azure_deployment_network(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    """A workspace with a managed network builds that network only when a compute instance is
    created or provisioning is started, and an online deployment needs it built: a new
    workspace must ask for it at creation (``provisionNetworkNow``)."""
    existing = {s.urn for s in state}
    workspaces = _workspaces(resources)
    for deployment in of(resources, "azure-native:machinelearningservices:OnlineDeployment"):
        workspace = workspaces.get(str(deployment.inputs.get("workspaceName") or ""))
        if workspace is None or workspace.urn in existing:
            continue
        mode = str(get(workspace.inputs, "managedNetwork.isolationMode") or "").lower()
        if mode in _ISOLATED and workspace.inputs.get("provisionNetworkNow") is not True:
            yield error(
                deployment, "azure-aml-online-deployment-network-not-provisioned",
                "workspaceName", deployment.inputs.get("workspaceName"),
                "the new workspace's managed network is not provisioned (no provisionNetworkNow,"
                " no compute instance), and an online deployment needs it",
                AML_PROVISION,
            )  # fmt: skip


AML_IMAGE_BUILD = (
    "https://learn.microsoft.com/en-us/azure/machine-learning/how-to-managed-network"
    "#configure-image-builds"
)
#: Hosts an image build installs conda and pip packages from (approved-outbound only).
IMAGE_BUILD_HOSTS = ("pypi.org", "*.pythonhosted.org", "*.anaconda.org")


@rule("azure-aml-image-build-private-acr", AML_IMAGE_BUILD)
def azure_image_build(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    """An online deployment without a prebuilt environment (an MLflow model) has its image
    built; a registry with public access off cannot build it, so the workspace must name an
    image build compute (``imageBuildCompute``) of its own, which with approved-outbound only
    also needs FQDN rules to the package hosts."""
    private_acrs = {
        str(getattr(r, "id", "") or "").lower()
        for r in of(resources, "azure-native:containerregistry:Registry")
        if r.inputs.get("publicNetworkAccess") == "Disabled"
    }
    computes = {
        (str(c.inputs.get("workspaceName") or ""), str(c.inputs.get("computeName") or ""))
        for c in of(resources, "azure-native:machinelearningservices:Compute")
    } | {
        (str(s.inputs.get("workspaceName") or ""), str(s.inputs.get("computeName") or ""))
        for s in state
        if s.type == "azure-native:machinelearningservices:Compute"
    }
    workspaces = _workspaces(resources)
    for deployment in of(resources, "azure-native:machinelearningservices:OnlineDeployment"):
        if get(deployment.inputs, "properties.environmentId"):
            continue
        name = str(deployment.inputs.get("workspaceName") or "")
        workspace = workspaces.get(name)
        registry = str(workspace.inputs.get("containerRegistry") or "") if workspace else ""
        if workspace is None or registry.lower() not in private_acrs:
            continue
        build = str(workspace.inputs.get("imageBuildCompute") or "")
        problem = None
        if not build:
            problem = "the workspace names no imageBuildCompute"
        elif (name, build) not in computes:
            problem = f"imageBuildCompute {build!r} is no compute of the workspace"
        elif get(workspace.inputs, "managedNetwork.isolationMode") == "AllowOnlyApprovedOutbound":
            rules = (get(workspace.inputs, "managedNetwork.outboundRules") or {}).values()
            hosts = {
                str(r.get("destination"))
                for r in rules
                if isinstance(r, Mapping) and str(r.get("type")).upper() == "FQDN"
            }
            missing = [h for h in IMAGE_BUILD_HOSTS if h not in hosts]
            if missing:
                problem = (
                    "the image build compute cannot reach the package hosts (approved outbound "
                    f"only, no FQDN rule for {', '.join(missing)})"
                )
        if problem is not None:
            yield error(
                deployment, "azure-aml-image-build-private-acr", "properties.environmentId",
                None, f"the deployment's image is built (no environmentId) and the workspace's "
                f"container registry has public access disabled: {problem}", AML_IMAGE_BUILD,
            )  # fmt: skip


LOG_ALERT_VALIDATION = (
    "https://learn.microsoft.com/en-us/rest/api/monitor/scheduled-query-rules/create-or-update"
)


@rule("azure-log-alert-new-table", LOG_ALERT_VALIDATION)
def azure_log_alert_new_table(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    """Creating a log alert validates its query against the scoped workspace, and a table
    that has received no data yet fails ("Failed to resolve table or column expression"): a
    workspace created in the same update has no data, so its alerts must skip validation."""
    existing = {s.urn for s in state}
    new = {
        str(getattr(w, "id", "") or "").lower()
        for w in of(resources, "azure-native:operationalinsights:Workspace")
        if w.urn not in existing
    }
    for alert in of(resources, "azure-native:monitor:ScheduledQueryRule"):
        if alert.inputs.get("skipQueryValidation") is True:
            continue
        scopes = [str(s).lower() for s in alert.inputs.get("scopes") or []]
        if any(scope in new for scope in scopes):
            yield error(
                alert, "azure-log-alert-new-table", "skipQueryValidation",
                alert.inputs.get("skipQueryValidation"),
                "the alert's query is validated against a Log Analytics workspace created in "
                "this update, whose tables have no data yet; set skipQueryValidation",
                LOG_ALERT_VALIDATION,
            )  # fmt: skip


@rule("azure-rollout-rolled-back", AML_ROLLOUT)
def online_endpoint_rolled_back(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    """The rollout function sent all of an endpoint's traffic back to the previous deployment
    (its record in the endpoint's ``mlops-rollout`` tag, in the state after a refresh): a
    traffic template that gives the rolled-back deployment, still serving the same model, a
    share again would silently undo it."""
    records = {
        str(old.outputs.get("name") or old.inputs.get("name") or old.name): record
        for old in state
        if old.type == "azure-native:machinelearningservices:OnlineEndpoint"
        and (record := rolled_back((old.outputs, old.inputs), "tags"))
    }
    if not records:
        return
    from mlops_iac.drift.rollout_azure import model_key

    models = {
        (str(d.inputs.get("endpointName")), str(d.inputs.get("deploymentName"))): str(
            get(d.inputs, "properties.model") or ""
        )
        for d in of(resources, "azure-native:machinelearningservices:OnlineDeployment")
    }
    for template in of(resources, "azure-native:resources:Deployment"):
        for body in get(template.inputs, "properties.template.resources") or []:
            if not isinstance(body, Mapping) or not str(body.get("type", "")).endswith(
                "/onlineEndpoints"
            ):
                continue
            endpoint = str(body.get("name", "")).rsplit("/", 1)[-1]
            record = records.get(endpoint)
            if record is None:
                continue
            slot, _, model = str(record.get("new", "")).partition(":")
            share = get(body, "properties.traffic") or {}
            served = models.get((endpoint, slot))
            if served is not None and model_key(served) == model and (share.get(slot) or 0) > 0:
                yield error(
                    template,
                    "azure-rollout-rolled-back",
                    f"properties.template.resources.properties.traffic.{slot}",
                    share.get(slot),
                    rolled_back_message(record, share.get(slot)),
                    AML_ROLLOUT,
                )
