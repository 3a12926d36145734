"""Realistic outputs and invoke answers for pulumi-azure-native resource types."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

from mlops_iac.plan.mocks.base import SUBSCRIPTION_ID, TENANT_ID, MockContext, live_resource

# Inputs that name the resource itself (the first one present wins); everything else ending in
# "Name" names a parent (resourceGroupName, accountName of a container, …).
_SELF_NAME_KEYS = ("name",)


def _guid(ctx: MockContext, salt: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{ctx.type}/{ctx.name}/{salt}"))


# Types whose own-name input is not ``<kind>Name`` (``endpointName`` of an OnlineDeployment
# names its parent; its own name is ``deploymentName``).
_SELF_NAME_INPUT = {
    "applicationinsights:Component": "resourceName",
    "authorization:RoleAssignment": "roleAssignmentName",
    "consumption:Budget": "budgetName",
    "eventgrid:SystemTopicEventSubscription": "eventSubscriptionName",
    "machinelearningservices:OnlineDeployment": "deploymentName",
    "machinelearningservices:OnlineEndpoint": "endpointName",
    "managedidentity:UserAssignedIdentity": "resourceName",
    "monitor:MetricAlert": "ruleName",
    "storage:BlobContainer": "containerName",
    "storage:BlobServiceProperties": "blobServicesName",
    "storage:StorageAccount": "accountName",
}


def _self_name(ctx: MockContext) -> str:
    """The resource's own name input (``accountName`` for a StorageAccount …) or an auto-name."""
    module, kind = ctx.type.split(":")[1], ctx.type.rsplit(":", 1)[-1]
    override = _SELF_NAME_INPUT.get(f"{module}:{kind}")
    candidates = [override] if override else [f"{kind[0].lower()}{kind[1:]}Name"]
    candidates += list(_SELF_NAME_KEYS)
    if kind == "RoleAssignment" and not ctx.inputs.get("roleAssignmentName"):
        # Role assignment names are GUIDs.
        return _guid(ctx, "name")
    for key in candidates:
        if ctx.inputs.get(key):
            return str(ctx.inputs[key])
    # The provider's auto-name as is (logical name + 8 hex, no dash): never repaired here, so a
    # name Azure refuses reaches the deploy-constraint catalogue.
    return ctx.physical_name


# ARM resource-provider namespace of each azure-native module (where it is not the module name).
_NAMESPACES = {
    "applicationinsights": "Microsoft.Insights",
    "authorization": "Microsoft.Authorization",
    "consumption": "Microsoft.Consumption",
    "containerregistry": "Microsoft.ContainerRegistry",
    "eventgrid": "Microsoft.EventGrid",
    "keyvault": "Microsoft.KeyVault",
    "machinelearningservices": "Microsoft.MachineLearningServices",
    "managedidentity": "Microsoft.ManagedIdentity",
    "monitor": "Microsoft.Insights",
    "operationalinsights": "Microsoft.OperationalInsights",
    "portal": "Microsoft.Portal",
    "storage": "Microsoft.Storage",
    "web": "Microsoft.Web",
}

# ARM path of each type below its provider namespace: ``{input}`` is an input's value, ``{name}``
# the resource's own name. Types not listed get ``<kind>s/{name}``.
_PATHS = {
    "keyvault:Key": "vaults/{vaultName}/keys/{name}",
    "storage:BlobContainer": "storageAccounts/{accountName}/blobServices/default/containers/{name}",
    "storage:BlobServiceProperties": "storageAccounts/{accountName}/blobServices/{name}",
    "storage:ManagementPolicy": "storageAccounts/{accountName}/managementPolicies/{name}",
    "managedidentity:UserAssignedIdentity": "userAssignedIdentities/{name}",
    "machinelearningservices:Registry": "registries/{name}",
    "containerregistry:Registry": "registries/{name}",
    "machinelearningservices:Compute": "workspaces/{workspaceName}/computes/{name}",
    "machinelearningservices:OnlineEndpoint": "workspaces/{workspaceName}/onlineEndpoints/{name}",
    "machinelearningservices:OnlineDeployment": (
        "workspaces/{workspaceName}/onlineEndpoints/{endpointName}/deployments/{name}"
    ),
    "machinelearningservices:Schedule": "workspaces/{workspaceName}/schedules/{name}",
    "eventgrid:SystemTopicEventSubscription": (
        "systemTopics/{systemTopicName}/eventSubscriptions/{name}"
    ),
    "monitor:AutoscaleSetting": "autoscalesettings/{name}",
    "storage:Queue": "storageAccounts/{accountName}/queueServices/default/queues/{name}",
    "storage:Blob": (
        "storageAccounts/{accountName}/blobServices/default/containers/{containerName}/blobs/{name}"
    ),
    "web:WebApp": "sites/{name}",
    "web:AppServicePlan": "serverfarms/{name}",
}

# Extension resources live below the resource (or scope) they apply to.
_SCOPED = {
    "authorization:RoleAssignment": "Microsoft.Authorization/roleAssignments",
    "consumption:Budget": "Microsoft.Consumption/budgets",
}


def _arm_id(ctx: MockContext, name: str) -> str:
    module, kind = ctx.type.split(":")[1], ctx.type.split(":")[2]
    subscription = f"/subscriptions/{SUBSCRIPTION_ID}"
    if kind == "ResourceGroup":
        return f"{subscription}/resourceGroups/{name}"
    scoped = _SCOPED.get(f"{module}:{kind}")
    if scoped is not None:
        scope = str(ctx.inputs.get("scope") or subscription)
        return f"{scope}/providers/{scoped}/{name}"
    group = ctx.inputs.get("resourceGroupName") or "rg"
    namespace = _NAMESPACES.get(module, f"Microsoft.{module[0].upper()}{module[1:]}")
    template = _PATHS.get(f"{module}:{kind}", f"{kind[0].lower()}{kind[1:]}s/{{name}}")
    values = {key: str(value) for key, value in ctx.inputs.items() if isinstance(value, str)}
    path = template.format_map({**values, "name": name})
    return f"{subscription}/resourceGroups/{group}/providers/{namespace}/{path}"


def _identity(ctx: MockContext) -> dict[str, Any] | None:
    """Inputs take ``userAssignedIdentities`` as a list of ids; outputs return a map of them."""
    identity = ctx.inputs.get("identity")
    if not isinstance(identity, Mapping):
        return None
    out = dict(identity)
    kind = str(identity.get("type", ""))
    if "SystemAssigned" in kind:
        out["principalId"] = _guid(ctx, "principal")
        out["tenantId"] = TENANT_ID
    assigned = identity.get("userAssignedIdentities")
    if isinstance(assigned, list):
        out["userAssignedIdentities"] = {
            str(i): {"principalId": _guid(ctx, str(i)), "clientId": _guid(ctx, f"c{i}")}
            for i in assigned
        }
    return out


def _per_type(ctx: MockContext, name: str) -> dict[str, Any]:
    kind = ctx.type.rsplit(":", 1)[-1]
    if kind == "StorageAccount":
        return {
            "primaryEndpoints": {
                "blob": f"https://{name}.blob.core.windows.net/",
                "dfs": f"https://{name}.dfs.core.windows.net/",
            }
        }
    if kind == "Vault":
        props = dict(ctx.inputs.get("properties") or {})
        props["vaultUri"] = f"https://{name}.vault.azure.net/"
        return {"properties": props}
    if kind == "Key":
        vault = ctx.inputs.get("vaultName", "vault")
        uri = f"https://{vault}.vault.azure.net/keys/{name}"
        return {"keyUri": uri, "keyUriWithVersion": f"{uri}/{_guid(ctx, 'v').replace('-', '')}"}
    if kind == "UserAssignedIdentity":
        return {
            "principalId": _guid(ctx, "principal"),
            "clientId": _guid(ctx, "client"),
            "tenantId": TENANT_ID,
        }
    if kind == "RoleDefinition" and ctx.inputs.get("roleDefinitionId"):
        # ARM names a role definition by its GUID (the roleDefinitionId input).
        scope = str(ctx.inputs.get("scope") or f"/subscriptions/{SUBSCRIPTION_ID}")
        guid = ctx.inputs["roleDefinitionId"]
        return {"__id": f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}"}
    if kind == "Registry" and ctx.type.startswith("azure-native:machinelearningservices"):
        return {"regionDetails": _registry_regions(ctx, name)}
    if kind == "Registry":
        return {"loginServer": f"{name}.azurecr.io"}
    if kind == "Component":
        key = _guid(ctx, "ikey")
        return {
            "instrumentationKey": key,
            "connectionString": f"InstrumentationKey={key}",
            "appId": _guid(ctx, "app"),
        }
    if kind == "Workspace" and ctx.type.startswith("azure-native:operationalinsights"):
        return {"customerId": _guid(ctx, "customer")}
    if kind == "Workspace" and ctx.type.startswith("azure-native:machinelearningservices"):
        return {"workspaceId": _guid(ctx, "workspace")}
    if kind == "WebApp":
        return {"defaultHostName": f"{name}.azurewebsites.net"}
    if kind == "Blob" and ctx.type.startswith("azure-native:storage"):
        # A blob's own ``type`` (Block/Append) replaces the generic ``type`` output.
        account, container = ctx.inputs.get("accountName"), ctx.inputs.get("containerName")
        return {
            "type": ctx.inputs.get("type", "Block"),
            "url": f"https://{account}.blob.core.windows.net/{container}/{name}",
        }
    if kind == "OnlineEndpoint":
        props = dict(ctx.inputs.get("properties") or {})
        host = f"{name}.{ctx.azure_location}.inference.ml.azure.com"
        props.update(scoringUri=f"https://{host}/score", swaggerUri=f"https://{host}/swagger.json")
        return {"properties": props}
    if kind == "Topic" and ctx.type.startswith("azure-native:eventgrid"):
        return {"endpoint": f"https://{name}.{ctx.azure_location}-1.eventgrid.azure.net/api/events"}
    return {}


def _registry_regions(ctx: MockContext, name: str) -> list[Any]:
    """An AzureML registry's regions with the ARM ids of the storage accounts and ACRs it
    created (in its managed resource group), as ARM reports them once it exists."""
    group = f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/azureml-rg-{name}"
    digest = hashlib.sha1(name.encode()).hexdigest()[:10]
    regions = []
    for region in ctx.inputs.get("regionDetails") or []:
        region = dict(region) if isinstance(region, Mapping) else {}
        for key, created, path in (
            (
                "storageAccountDetails",
                "systemCreatedStorageAccount",
                "Microsoft.Storage/storageAccounts/st",
            ),
            ("acrDetails", "systemCreatedAcrAccount", "Microsoft.ContainerRegistry/registries/cr"),
        ):
            details = []
            for detail in region.get(key) or []:
                detail = dict(detail) if isinstance(detail, Mapping) else {}
                if isinstance(detail.get(created), Mapping):
                    resource_id = f"{group}/providers/{path}{digest}"
                    detail[created] = {
                        **detail[created],
                        "armResourceId": {"resourceId": resource_id},
                    }
                details.append(detail)
            region[key] = details
        regions.append(region)
    return regions


def outputs(ctx: MockContext) -> dict[str, Any]:
    """Outputs for one Azure resource: ARM id, name, location, identity and per-type outputs."""
    name = _self_name(ctx)
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    out: dict[str, Any] = {
        "__id": _arm_id(ctx, name),
        "name": name,
        "azureApiVersion": "2024-01-01",
        "etag": f'W/"{digest}"',
        "type": ctx.type.split(":")[1],
    }
    if "location" not in ctx.inputs:
        out["location"] = ctx.azure_location
    identity = _identity(ctx)
    if identity is not None:
        out["identity"] = identity
    out.update(_per_type(ctx, name))
    return out


def _client_config(args: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "clientId": "22222222-2222-2222-2222-222222222222",
        "objectId": "33333333-3333-3333-3333-333333333333",
        "subscriptionId": SUBSCRIPTION_ID,
        "tenantId": TENANT_ID,
    }


def _function_keys(args: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    # A function's keys (https://learn.microsoft.com/rest/api/appservice/web-apps/list-function-keys).
    return {"kind": None, "properties": {"default": "mock-function-key"}}


def _online_endpoint(args: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """``machinelearningservices.getOnlineEndpoint``: the live endpoint as the saved state shows
    it (tags, including the rollout record); one the state does not hold is not found."""
    name = str(args.get("endpointName", ""))
    token = "azure-native:machinelearningservices:OnlineEndpoint"
    return live_resource(config, token, name)


INVOKES: dict[str, Any] = {
    "azure-native:authorization:getClientConfig": _client_config,
    "azure-native:machinelearningservices:getOnlineEndpoint": _online_endpoint,
    "azure-native:web:listWebAppFunctionKeys": _function_keys,
}
