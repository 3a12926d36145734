"""Generic resources: nothing is created through a type whose content the rules cannot check.

Every other rule keys on resource type tokens. A CloudFormation stack, a Cloud Control resource,
an ARM template or a generic ``azure-native:resources:Resource`` creates a bucket, a key or an
endpoint under its own type, with the real resource inside a template or a JSON document, so no
rule would see it. Such types are refused (a waiver can let one through).

The one pass-through the toolkit itself uses is verified instead of refused: mlops' AzureML
ServingEndpoint sets its blue/green traffic with an ARM template that PUTs the endpoint once its
deployments exist. That template passes when it only repeats a typed online endpoint of the same
stack (same name, tags, identity, location, auth mode and network access) and adds the traffic
map, which ``mlops-serving-rollback`` reads; anything else in it is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import PolicyResource, StackValidationArgs

from ._base import Report, Rule, get, items, of_type, short_type, tags_of

#: Types that create other resources from a document, template or script, and what they create.
GENERIC_TYPES: Mapping[str, str] = {
    "aws:cloudcontrol/resource:Resource": "any CloudFormation type, from desiredState",
    "aws:cloudformation/stack:Stack": "the resources of a CloudFormation template",
    "aws:cloudformation/stackSet:StackSet": "the resources of a CloudFormation template",
    # Instances deploy a stack set, which may have been created outside this stack.
    "aws:cloudformation/stackInstances:StackInstances": "the resources of a stack set",
    "aws:cloudformation/stackSetInstance:StackSetInstance": "the resources of a stack set",
    "aws:servicecatalog/provisionedProduct:ProvisionedProduct": (
        "the resources of a Service Catalog product's CloudFormation template"
    ),
    "azure-native:resources:Resource": "any Azure resource type, from resourceType/properties",
    "azure-native:resources:Deployment": "the resources of an ARM template",
    "azure-native:resources:DeploymentAtScope": "the resources of an ARM template",
    "azure-native:resources:DeploymentAtManagementGroupScope": "the resources of an ARM template",
    "azure-native:resources:DeploymentAtSubscriptionScope": "the resources of an ARM template",
    "azure-native:resources:DeploymentAtTenantScope": "the resources of an ARM template",
    "azure-native:resources:DeploymentStackAtResourceGroup": "the resources of an ARM template",
    "azure-native:resources:DeploymentStackAtSubscription": "the resources of an ARM template",
    "azure-native:resources:DeploymentStackAtManagementGroup": "the resources of an ARM template",
    "azure-native:resources:AzureCliScript": "whatever its script creates",
    "azure-native:blueprint:Assignment": "the template artifacts of a blueprint",
    "azure-native:solutions:Application": "the resources of a managed application's template",
    "gcp:deploymentmanager/deployment:Deployment": "the resources of a Deployment Manager config",
    "gcp:configdeployment/deployment:Deployment": "the resources of a Terraform blueprint",
}

ARM_TEMPLATE_DEPLOYMENT = "azure-native:resources:Deployment"
ONLINE_ENDPOINT = "azure-native:machinelearningservices:OnlineEndpoint"
ARM_ONLINE_ENDPOINT = "microsoft.machinelearningservices/workspaces/onlineendpoints"

#: What a verified template may say about the endpoint it PUTs. ``traffic`` is the reason for
#: the template; every other property must be the typed endpoint's own value.
_TEMPLATE_KEYS = frozenset({"$schema", "contentVersion", "resources", "variables"})
_RESOURCE_KEYS = frozenset(
    {"type", "apiVersion", "name", "location", "identity", "tags", "properties"}
)
_REPEATED = ("authMode", "publicNetworkAccess")
_ENDPOINT_PROPERTIES = frozenset({*_REPEATED, "description", "traffic"})


def _expressions(value: Any, path: str = "") -> list[str]:
    """Paths of ARM template expressions (``"[...]"`` strings) anywhere in ``value``."""
    if isinstance(value, str):
        return [path or "."] if value.startswith("[") and not value.startswith("[[") else []
    if isinstance(value, Mapping):
        return [p for k, v in value.items() for p in _expressions(v, f"{path}.{k}")]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in _expressions(v, f"{path}[{i}]")]
    return []


def _endpoint_template(deployment: PolicyResource, resources: list[PolicyResource]) -> str | None:
    """Why an ARM template deployment is not the traffic PUT of a typed online endpoint (None:
    it is)."""
    properties = deployment.props.get("properties")
    if not isinstance(properties, Mapping) or set(properties) - {"mode", "template"}:
        return "its template is linked or parameterised (only an inline template can be read)"
    if properties.get("mode") != "Incremental":
        return "its mode is not Incremental (Complete deletes what the template leaves out)"
    template = properties.get("template")
    if not isinstance(template, Mapping) or set(template) - _TEMPLATE_KEYS:
        return "its template has parts other than resources and variables"
    entries = items(template.get("resources"))
    if not entries:
        return "its template has no resources"
    endpoints = of_type(resources, (ONLINE_ENDPOINT,))
    for i, entry in enumerate(entries):
        where = f"template.resources[{i}]"
        if not isinstance(entry, Mapping):
            return f"{where} is not an object"
        if str(entry.get("type", "")).lower() != ARM_ONLINE_ENDPOINT:
            return f"{where} is a {entry.get('type')!r}, not an AzureML online endpoint"
        if extra := sorted(set(entry) - _RESOURCE_KEYS):
            return f"{where} sets {', '.join(extra)}"
        if found := _expressions(entry):
            return f"{where} holds template expressions ({', '.join(found[:3])})"
        workspace, _, name = str(entry.get("name", "")).partition("/")
        # The template's resources live in the deployment's resource group.
        group = deployment.props.get("resourceGroupName")
        typed = [
            e
            for e in endpoints
            if e.props.get("name") == name
            and e.props.get("workspaceName") == workspace
            and e.props.get("resourceGroupName") == group
        ]
        if len(typed) != 1:
            return f"{where} PUTs endpoint {entry.get('name')!r}, which this stack does not declare"
        if problem := _repeats(entry, typed[0]):
            return f"{where} {problem}"
    return None


def _repeats(entry: Mapping[str, Any], endpoint: PolicyResource) -> str | None:
    """Why a template's endpoint PUT does not repeat the typed endpoint (None: it does)."""
    body = entry.get("properties")
    if not isinstance(body, Mapping):
        return "has no properties"
    if extra := sorted(set(body) - _ENDPOINT_PROPERTIES):
        return f"sets properties.{', properties.'.join(extra)}"
    typed = endpoint.props
    for key in (*_REPEATED, "description"):
        if (key in _REPEATED or key in body) and body.get(key) != get(typed, "properties", key):
            return (
                f"sets properties.{key} to {body.get(key)!r}; the endpoint declares "
                f"{get(typed, 'properties', key)!r}"
            )
    if dict(tags_of(entry)) != dict(tags_of(typed)):
        return "sets tags other than the endpoint's own"
    if "location" in entry and entry["location"] != typed.get("location"):
        return "sets a location other than the endpoint's own"
    # The typed endpoint's identity also holds what Azure assigns (principalId, tenantId).
    identity, own = entry.get("identity"), typed.get("identity")
    if "identity" in entry and not (
        isinstance(identity, Mapping)
        and isinstance(own, Mapping)
        and all(own.get(k) == v for k, v in identity.items())
    ):
        return "sets an identity other than the endpoint's own"
    return None


def _validate(args: StackValidationArgs, report: Report) -> None:
    resources = list(args.resources)
    generic = of_type(resources, GENERIC_TYPES)
    if not generic:
        args.not_applicable("no generic resources in the stack")
    for resource in generic:
        what = GENERIC_TYPES[resource.resource_type]
        problem = None
        if resource.resource_type == ARM_TEMPLATE_DEPLOYMENT:  # rules see canonical tokens
            problem = _endpoint_template(resource, resources)
            if problem is None:
                continue  # the toolkit's traffic PUT, checked against the typed endpoint
        detail = f" ({problem})" if problem else ""
        report(
            f"{short_type(resource.resource_type)} '{resource.name}' creates {what}, which no "
            f"rule can check{detail}",
            resource.urn,
        )


GENERIC_RESOURCES = Rule(
    name="mlops-generic-resources",
    description=(
        "Nothing is created through a generic resource (CloudFormation, Cloud Control, ARM "
        "templates, generic Azure resources, Deployment Manager) whose content the rules "
        "cannot check."
    ),
    remediation=(
        "Declare the typed resource so the rules can check it (aws.s3.Bucket, not a "
        "CloudFormation stack or cloudcontrol.Resource holding one); if a generic resource is "
        "unavoidable, record a signed waiver for it."
    ),
    kind="stack",
    validate=_validate,
)

RULES: tuple[Rule, ...] = (GENERIC_RESOURCES,)
