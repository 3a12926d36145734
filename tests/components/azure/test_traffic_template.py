"""The Azure serving endpoint's traffic template, evaluated against the reference plans' recorded
deployments: it PUTs exactly the endpoint the plan creates, its traffic names exactly the
deployments the plan creates (and waits for them), sends the split the stack file asks for to the
deployment that serves each version, and repeats the endpoint's own properties (a PUT replaces
them). https://learn.microsoft.com/en-us/azure/machine-learning/how-to-safely-rollout-online-endpoints
"""

from __future__ import annotations

from typing import Any

import pytest

from mlops_iac.plan.testing import Recording
from tests.conftest import platform_raw, reference_recording

STACKS = ("azure-dev", "azure-prod")
DEPLOYMENT = "azure-native:machinelearningservices:OnlineDeployment"


def _template_resource(rec: Recording) -> dict[str, Any]:
    template = rec.named("mlops-serving-traffic").inputs["properties"]["template"]
    assert rec.named("mlops-serving-traffic").inputs["properties"]["mode"] == "Incremental"
    assert template["$schema"].startswith("https://schema.management.azure.com/schemas/")
    [resource] = template["resources"]
    return dict(resource)


def _expected_split(stack: str) -> dict[str, int]:
    """Traffic per served version (``name:version``) as the stack file asks for it."""
    raw = platform_raw(stack)
    serving = raw["serving"]
    new = f"{serving['model']['name']}:{serving['model']['version']}"
    previous = serving.get("previousModel")
    old = f"{previous['name']}:{previous['version']}" if previous else None
    if serving.get("rollback") and old:
        return {old: 100, new: 0}
    rollout = serving.get("rollout", {})
    share = {
        "canary": rollout.get("canaryPercent", 10),
        "linear": rollout.get("linearStepPercent", 10),
    }
    in_progress = (raw.get("azure") or {}).get("canaryInProgress", False)
    percent = share.get(rollout.get("strategy", "canary"), 100)
    if in_progress and old and percent < 100:
        return {old: 100 - percent, new: percent}
    return {new: 100, **({old: 0} if old else {})}


def _version(deployment: Any) -> str:
    model = deployment.inputs["properties"]["model"]
    _, _, tail = model.partition("/models/")
    name, _, version = tail.partition("/versions/")
    return f"{name}:{version}"


@pytest.mark.parametrize("stack", STACKS)
def test_the_template_puts_the_planned_endpoint_with_the_stacks_split(stack: str) -> None:
    rec = reference_recording(stack)
    resource = _template_resource(rec)
    endpoint = rec.named("mlops-serving-endpoint")
    [workspace] = rec.of_type("azure-native:machinelearningservices:Workspace")
    assert resource["type"] == "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
    assert resource["name"] == f"{workspace.outputs['name']}/{endpoint.outputs['name']}"
    deployments = [
        d for d in rec.of_type(DEPLOYMENT) if d.inputs["endpointName"] == endpoint.outputs["name"]
    ]
    traffic = {slot: int(pct) for slot, pct in resource["properties"]["traffic"].items()}
    # Exactly the planned deployments, and the template runs after they exist (ARM rejects a
    # traffic map naming a deployment that does not).
    assert set(traffic) == {d.inputs["deploymentName"] for d in deployments}
    traffic_urn = rec.named("mlops-serving-traffic").dependencies
    assert all(d.urn in traffic_urn for d in deployments)
    served = {_version(d): traffic[d.inputs["deploymentName"]] for d in deployments}
    assert served == _expected_split(stack)
    assert sum(traffic.values()) == 100


@pytest.mark.parametrize("stack", STACKS)
def test_the_template_repeats_the_endpoints_own_settings(stack: str) -> None:
    rec = reference_recording(stack)
    resource = _template_resource(rec)
    endpoint = rec.named("mlops-serving-endpoint").inputs
    body = {k: v for k, v in resource["properties"].items() if k != "traffic"}
    assert body == endpoint["properties"]
    assert resource["identity"] == endpoint["identity"]
    assert resource["location"] == endpoint["location"]
    assert resource["tags"] == endpoint["tags"]


def test_a_canary_in_progress_sends_its_share_to_the_new_version(monkeypatch) -> None:
    """The split follows the stack file: azure-prod with its canary in progress."""
    from mlops_iac.plan.testing import run_project
    from tests.conftest import REPO

    raw = platform_raw("azure-prod")
    raw.setdefault("azure", {})["canaryInProgress"] = True
    rec = run_project(REPO, "azure-prod", extra_config={"mlops:platform": raw})
    resource = _template_resource(rec)
    deployments = rec.of_type(DEPLOYMENT)
    traffic = {slot: int(pct) for slot, pct in resource["properties"]["traffic"].items()}
    served = {_version(d): traffic[d.inputs["deploymentName"]] for d in deployments}
    share = int(raw["serving"]["rollout"]["canaryPercent"])
    new = f"{raw['serving']['model']['name']}:{raw['serving']['model']['version']}"
    previous = raw["serving"]["previousModel"]
    assert served == {new: share, f"{previous['name']}:{previous['version']}": 100 - share}
