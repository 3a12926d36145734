"""Generic resources (templates, documents, scripts) are refused where the rules are mandatory.

The one the toolkit uses, the ARM template that PUTs an AzureML endpoint's traffic, passes only
while it repeats the typed endpoint of the same stack and adds nothing but the traffic map.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mlops_iac.policies import packs
from mlops_iac.policies.rules.generic import GENERIC_TYPES

from . import baseline
from .baseline import Rec, Res

RULE = "mlops-generic-resources"
ENDPOINT_TYPE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"


def res(
    name: str, type_: str, inputs: dict[str, Any], outputs: dict[str, Any] | None = None
) -> Res:
    return Res(
        urn=f"urn:pulumi:x-prod::proj::{type_}::{name}",
        type=type_,
        name=name,
        parent=None,
        inputs=copy.deepcopy(inputs),
        outputs={"id": f"{name}-id", **copy.deepcopy(inputs), **(outputs or {})},
    )


def evaluate(*resources: Res, environment: str = "prod") -> list[tuple[str, str, str]]:
    recording = Rec(list(resources), {}, f"x-{environment}", "proj")
    result = packs.evaluate(recording, packs.pack_config(environment), environment=environment)
    return [(v.level, v.resource_name, v.message) for v in result.violations if v.policy == RULE]


@pytest.mark.parametrize("type_", sorted(GENERIC_TYPES))
@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_every_generic_type_is_refused(type_: str, environment: str) -> None:
    tags = {"tags": baseline.lineage_tags(environment)}
    ((level, name, message),) = evaluate(res("wrapped", type_, tags), environment=environment)
    assert (level, name) == ("mandatory", "wrapped")
    assert f"'wrapped' creates {GENERIC_TYPES[type_]}, which no rule can check" in message


def test_generic_types_are_advisory_in_dev() -> None:
    found = evaluate(res("wrapped", "aws:cloudformation/stack:Stack", {}), environment="dev")
    assert [level for level, _, _ in found] == ["advisory"]


def test_the_rule_is_waivable() -> None:
    # A signed waiver is the way out for a generic resource nobody can replace.
    from mlops_iac.policies.rules import BY_NAME

    assert BY_NAME[RULE].waivable


# --- the toolkit's traffic template ---------------------------------------------------------------

TAGS = baseline.lineage_tags("prod")


def endpoint() -> Res:
    return res(
        "endpoint",
        "azure-native:machinelearningservices:OnlineEndpoint",
        {
            "resourceGroupName": "rg",
            "workspaceName": "ws",
            "location": "eastus",
            "identity": {"type": "SystemAssigned"},
            "properties": {
                "authMode": "AADToken",
                "publicNetworkAccess": "Disabled",
                "description": "mlops blue/green endpoint",
            },
            "tags": TAGS,
        },
        # What Azure assigns shows in the outputs beside what the program declared.
        {"name": "ep", "identity": {"type": "SystemAssigned", "principalId": "p", "tenantId": "t"}},
    )


def template_put(**changes: Any) -> dict[str, Any]:
    """What mlops' AzureML ServingEndpoint sends (components/azure/serving_endpoint.py)."""
    resource = {
        "type": ENDPOINT_TYPE,
        "apiVersion": "2024-04-01",
        "name": "ws/ep",
        "location": "eastus",
        "identity": {"type": "SystemAssigned"},
        "tags": TAGS,
        "properties": {
            "authMode": "AADToken",
            "publicNetworkAccess": "Disabled",
            "description": "mlops blue/green endpoint",
            "traffic": {"blue": 90, "green": 10},
        },
    }
    resource.update(changes)
    return resource


def deployment(*resources: dict[str, Any], **properties: Any) -> Res:
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": list(resources),
        "variables": {"observedTraffic": {}},
    }
    body = {"mode": "Incremental", "template": template, **properties}
    inputs = {"resourceGroupName": "rg", "properties": body, "tags": TAGS}
    return res("traffic", "azure-native:resources:Deployment", inputs)


def test_the_toolkits_traffic_template_passes() -> None:
    assert evaluate(endpoint(), deployment(template_put())) == []


def _props(**changes: Any) -> dict[str, Any]:
    return {**template_put()["properties"], **changes}


OPEN = _props(publicNetworkAccess="Enabled")
EXPRESSION = _props(publicNetworkAccess="[variables('p')]")
LINK = {"templateLink": {"uri": "https://example.com/t.json"}}
#: id -> (template resources, deployment properties, what the violation names)
HOSTILE: dict[str, tuple[tuple[dict[str, Any], ...], dict[str, Any], str]] = {
    # The PUT replaces the endpoint: every property it sends wins over the typed resource.
    "opens-network": ((template_put(properties=OPEN),), {}, "publicNetworkAccess to 'Enabled'"),
    "key-auth": ((template_put(properties=_props(authMode="Key")),), {}, "authMode to 'Key'"),
    "drops-settings": (
        (template_put(properties={"traffic": {"blue": 100}}),),
        {},
        "properties.authMode to None",
    ),
    "mirror": (
        (template_put(properties=_props(mirrorTraffic={"green": 50})),),
        {},
        "sets properties.mirrorTraffic",
    ),
    "tags": ((template_put(tags={**TAGS, "mlops:owner": "m"}),), {}, "tags other than"),
    "location": ((template_put(location="westus"),), {}, "location other than"),
    "identity": ((template_put(identity={"type": "UserAssigned"}),), {}, "identity other"),
    "kind": ((template_put(kind="Managed"),), {}, "sets kind"),
    # Other resources, or endpoints this stack does not declare.
    "storage": (
        (template_put(type="Microsoft.Storage/storageAccounts"),),
        {},
        "not an AzureML online endpoint",
    ),
    "second-endpoint": (
        (template_put(), template_put(name="ws/other")),
        {},
        "'ws/other', which this stack does not declare",
    ),
    "other-workspace": ((template_put(name="x/ep"),), {}, "which this stack does not declare"),
    "nested-name": ((template_put(name="ws/ep/x"),), {}, "which this stack does not declare"),
    "empty": ((), {}, "no resources"),
    # Template expressions compute what the pack cannot read.
    "expression": ((template_put(properties=EXPRESSION),), {}, "template expressions"),
    "name-expression": ((template_put(name="[concat('ws/ep')]"),), {}, "template expressions"),
    # Linked or parameterised templates, and Complete mode (deletes what it leaves out).
    "linked": ((template_put(),), LINK, "linked or parameterised"),
    "parameters": ((template_put(),), {"parameters": {}}, "linked or parameterised"),
    "complete": ((template_put(),), {"mode": "Complete"}, "mode is not Incremental"),
}


@pytest.mark.parametrize(("template", "properties", "problem"), HOSTILE.values(), ids=HOSTILE)
def test_a_template_doing_more_than_set_traffic_is_refused(template, properties, problem) -> None:
    ((level, name, message),) = evaluate(endpoint(), deployment(*template, **properties))
    assert (level, name) == ("mandatory", "traffic")
    assert "creates the resources of an ARM template, which no rule can check" in message
    assert problem in message, message


def test_a_template_in_another_resource_group_is_refused() -> None:
    other = deployment(template_put())
    for props in (other.inputs, other.outputs):
        props["resourceGroupName"] = "attacker-rg"
    ((_, _, message),) = evaluate(endpoint(), other)
    assert "which this stack does not declare" in message


def test_a_case_variant_of_the_endpoint_type_is_still_an_endpoint() -> None:
    # ARM types are case-insensitive: a lowercase spelling is the same PUT, checked the same way.
    lower = template_put(type=ENDPOINT_TYPE.lower())
    assert evaluate(endpoint(), deployment(lower)) == []
    open_ = template_put(type=ENDPOINT_TYPE.upper(), properties=OPEN)
    assert len(evaluate(endpoint(), deployment(open_))) == 1


@pytest.mark.parametrize(
    "type_",
    [
        "azure-native:resources:DeploymentAtScope",
        "azure-native:resources:DeploymentAtSubscriptionScope",
        "azure-native:resources:DeploymentStackAtResourceGroup",
    ],
)
def test_only_a_resource_group_deployment_can_be_the_traffic_template(type_: str) -> None:
    other = deployment(template_put())
    other.type = type_
    other.urn = other.urn.replace("azure-native:resources:Deployment", type_)
    assert len(evaluate(endpoint(), other)) == 1
