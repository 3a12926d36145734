from __future__ import annotations

import subprocess
import sys

import pulumi
import pytest

from mlops_iac.components.platform.stack import MlopsStack
from mlops_iac.plan.testing import run, run_project
from mlops_iac.spec.errors import SpecError
from mlops_iac.spec.parse import parse_spec
from tests.components._contract import REQUIRED_EXPORTS
from tests.conftest import REPO, platform_raw

COMPONENTS = {
    "mlops-artifacts": "mlops:azure:ArtifactStore",
    "mlops-registry": "mlops:azure:ModelRegistry",
    "mlops-training": "mlops:azure:TrainingCluster",
    "mlops-serving": "mlops:azure:ServingEndpoint",
    "mlops-monitoring": "mlops:azure:Monitoring",
    "mlops-drift": "mlops:azure:DriftJob",
    "mlops-tracking": "mlops:azure:Tracking",
}


@pytest.fixture(scope="module")
def prod():
    return run_project(REPO, "azure-prod")


@pytest.fixture(scope="module")
def dev():
    return run_project(REPO, "azure-dev")


def test_prod_program_builds_the_five_components_under_the_stack(prod):
    stack = prod.named("mlops", "mlops:index:MlopsStack")
    assert {r.name: r.type for r in prod.children(stack)} == {
        **COMPONENTS,
        "mlops-network": "mlops:azure:PrivateNetwork",
        "mlops-rollout": "mlops:azure:RolloutGuard",
    }
    assert prod.unmocked_invokes == []
    assert not any(r.type.startswith(("aws:", "gcp:")) for r in prod)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_common_export_is_set(stack, request):
    recording = request.getfixturevalue(stack)
    assert not REQUIRED_EXPORTS - set(recording.exports)
    assert all(recording.exports[name] is not None for name in REQUIRED_EXPORTS)
    assert recording.exports["dvc_remote_url"] == "azure://dvc/"


def test_prod_wiring(prod):
    account = prod.named("mlops-artifacts-account")
    workspace = prod.named("mlops-training-workspace")
    assert workspace.inputs["storageAccount"] == account.id
    assert workspace.inputs["keyVault"] == prod.named("mlops-artifacts-vault").id
    assert workspace.inputs["containerRegistry"] == prod.named("mlops-registry-images").id
    endpoint = prod.named("mlops-serving-endpoint")
    assert endpoint.inputs["workspaceName"] == workspace.outputs["name"]
    blue = prod.named("mlops-serving-blue")
    registry = prod.named("mlops-registry-registry").outputs["name"]
    assert blue.inputs["properties"]["model"] == (
        f"azureml://registries/{registry}/models/fraud-detector/versions/7"
    )
    assert prod.named("mlops-monitoring-latency-p99").inputs["scopes"] == [endpoint.id]
    # No AzureML model monitor (Serverless Spark cannot run in the managed network as
    # declared): the drift job alerts the action group and feeds the retraining queue.
    assert not prod.of_type("azure-native:machinelearningservices:Schedule")
    assert not prod.of_type("azure-native:eventgrid:SystemTopic")
    drift_alert = prod.named("mlops-drift-alert").inputs
    assert drift_alert["actions"] == [{"actionGroupId": prod.named("mlops-monitoring-alerts").id}]
    queue = prod.named("mlops-monitoring-retraining")
    assert prod.exports["retraining_trigger"] == queue.id
    assert prod.named("mlops-drift-retraining-sender").inputs["scope"] == queue.id
    assert prod.exports["alert_topic"] == prod.named("mlops-monitoring-alerts").id
    # gpu budget 50 $/h over a month of 730 hours.
    assert prod.named("mlops-monitoring-budget").inputs["amount"] == 36500.0


def test_prod_serves_the_approved_version_with_lineage_tags(prod):
    blue = prod.named("mlops-serving-blue").inputs["tags"]
    assert blue["mlops:model-version"] == "7"
    assert blue["mlops:approved-by"] == "jane@example.com"
    assert blue["mlops:approval-ticket"] == "CHG-1234"
    assert blue["mlops:git-sha"] == "4f2c1e9", "the stack transform adds the base lineage"
    assert prod.exports["active_model_version"] == "7"
    assert prod.exports["previous_model_version"] == "6"


def test_prod_is_private_and_protected(prod):
    assert prod.named("mlops-training-workspace").inputs["publicNetworkAccess"] == "Disabled"
    assert prod.named("mlops-serving-endpoint").inputs["properties"]["authMode"] == "AADToken"
    assert prod.named("mlops-registry-images").inputs["sku"] == {"name": "Premium"}
    protected = {r.name for r in prod if r.protect}
    assert {"mlops-artifacts-account", "mlops-artifacts-vault", "mlops-artifacts-key"} <= protected
    gpu = prod.named("mlops-training-gpu").inputs["properties"]["properties"]
    assert gpu["vmSize"] == "Standard_NC24ads_A100_v4"
    assert gpu["scaleSettings"]["minNodeCount"] == 0


def test_dev_uses_t4_and_locally_redundant_storage(dev):
    gpu = dev.named("mlops-training-gpu").inputs["properties"]["properties"]
    assert gpu["vmSize"] == "Standard_NC4as_T4_v3" and gpu["vmPriority"] == "LowPriority"
    assert dev.named("mlops-artifacts-account").inputs["sku"] == {"name": "Standard_LRS"}
    assert not any(r.protect for r in dev)


def _spec(**changes):
    raw = platform_raw("azure-prod")
    raw["serving"].update(changes.pop("serving", {}))
    raw.update(changes)
    return parse_spec(raw)


def _stack_run(spec):
    """The platform built from ``spec`` (a spec object, not a stack file), with its exports."""

    def program():
        stack = MlopsStack("mlops", spec)
        for name, value in stack.exports.items():
            pulumi.export(name, value)

    return run(program, config={"azure-native:location": "eastus"})


def _serving(spec):
    """The traffic map and the version on each slot of the stack built from ``spec``."""

    recording = _stack_run(spec)
    template = recording.named("mlops-serving-traffic").inputs["properties"]["template"]
    traffic = template["resources"][0]["properties"]["traffic"]
    versions = {
        slot: recording.named(f"mlops-serving-{slot}").inputs["tags"]["mlops:model-version"]
        for slot in traffic
    }
    return traffic, versions, recording.exports["active_model_version"]


@pytest.mark.parametrize(
    ("changes", "traffic", "versions"),
    [
        ({}, {"blue": 100, "green": 0}, {"blue": "7", "green": "6"}),
        ({"serving": {"rollback": True}}, {"blue": 100, "green": 0}, {"blue": "6", "green": "7"}),
        (
            {"azure": {"canaryInProgress": True}},
            {"blue": 90, "green": 10},
            {"blue": "6", "green": "7"},
        ),
        (
            {
                "azure": {"canaryInProgress": True},
                "serving": {"rollout": {"strategy": "linear", "linearStepPercent": 20}},
            },
            {"blue": 80, "green": 20},
            {"blue": "6", "green": "7"},
        ),
        (
            {
                "azure": {"canaryInProgress": True},
                "serving": {"rollout": {"strategy": "all-at-once"}},
            },
            {"blue": 100, "green": 0},
            {"blue": "7", "green": "6"},
        ),
        (
            {"azure": {"canaryInProgress": True}, "serving": {"rollback": True}},
            {"blue": 100, "green": 0},
            {"blue": "6", "green": "7"},
        ),
    ],
)
def test_the_spec_rollout_reaches_the_endpoint(changes, traffic, versions):
    """serving.rollout and azure.canaryInProgress become the endpoint's rollout Args."""
    got_traffic, got_versions, _ = _serving(_spec(**changes))
    assert (got_traffic, got_versions) == (traffic, versions)


def test_endpoint_bootstrap_key_is_refused():
    with pytest.raises(SpecError, match="azure.endpointBootstrap: unknown key"):
        _spec(azure={"endpointBootstrap": True})


def test_rollback_moves_all_traffic_to_the_previous_version():
    raw_monitoring = platform_raw("azure-prod")["monitoring"]
    spec = _spec(
        serving={"rollback": True},
        monitoring={**raw_monitoring, "webhookUrl": "https://chat.example.com/hook"},
    )

    recording = _stack_run(spec)
    template = recording.named("mlops-serving-traffic").inputs["properties"]["template"]
    assert template["resources"][0]["properties"]["traffic"] == {"blue": 100, "green": 0}
    assert recording.named("mlops-serving-blue").inputs["tags"]["mlops:model-version"] == "6"
    assert recording.exports["active_model_version"] == "6"
    assert recording.exports["previous_model_version"] == "7"
    [receiver] = recording.named("mlops-monitoring-alerts").inputs["webhookReceivers"]
    assert receiver["serviceUri"] == "https://chat.example.com/hook"


def test_importing_components_azure_loads_no_other_cloud_sdk():
    code = (
        "import sys, mlops_iac.components.azure, mlops_iac.components.platform.azure\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi_aws', 'pulumi_gcp'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


@pytest.mark.parametrize(
    ("uri", "model_id"),
    [
        ("azureml://registries/team/models/fraud-detector/versions/7", "same"),
        ("azureml:fraud-detector:7", "same"),
        ("azureml://datastores/workspaceblobstore/paths/models/fraud-detector/7/", None),
    ],
)
def test_model_asset_ids_are_deployed_as_given(uri, model_id):
    from mlops_iac.components.platform.azure import _deployment

    spec = _spec()
    model = spec.serving.model.model_copy(update={"artifact_uri": uri})
    deployment = _deployment(spec, model)
    assert deployment.model_id == (uri if model_id == "same" else None)
    assert deployment.tags["mlops:approved-by"] == "jane@example.com"
