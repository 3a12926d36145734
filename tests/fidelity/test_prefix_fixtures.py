"""The six reference stacks as today's components plan them, kept as fixtures: the engine refuses
each, naming the defects of issues 14 (AWS) and 15 (Azure/GCP).

The fixtures (``prefix/<stack>.json``) hold every resource's urn, type, logical name, parent and
inputs as ``mlops-iac plan --json`` reported them before the component fixes. Once those fixes are
merged, ``mlops-iac plan`` of the live stacks exits 0 (``tests/ops/test_plan.py``); these fixtures
stay as the proof that the catalogue catches each defect class.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from mlops_iac.plan import deploy

PREFIX = Path(__file__).parent / "prefix"

# Rule id → resources (logical names) each pre-fix stack must be refused for.
EXPECTED: dict[str, dict[str, set[str]]] = {
    "aws-dev": {
        # issue 14 #2: Model Monitor is closed to new customers
        "aws-sagemaker-model-monitor-closed": {
            "mlops-monitoring-data-quality",
            "mlops-monitoring-drift-schedule",
        },
        # issue 14 #14: a 10% canary on a one-instance fleet is one instance, 100% of it
        "aws-sagemaker-traffic-step-size": {"mlops-serving-endpoint"},
    },
    "aws-prod": {
        "aws-sagemaker-model-monitor-closed": {
            "mlops-monitoring-data-quality",
            "mlops-monitoring-drift-schedule",
        },
    },
    "azure-dev": {
        # issue 15 #1: auto-named storage account, key vault and registry
        "azure-rule:azure-native:storage:StorageAccount.accountName": {"mlops-artifacts-account"},
        "azure-rule:azure-native:keyvault:Vault.vaultName": {"mlops-artifacts-vault"},
        "azure-rule:azure-native:containerregistry:Registry.registryName": {
            "mlops-registry-images"
        },
        # issue 15 #2: Event Grid → Azure Monitor alert from a non-Key Vault source
        "azure-eventgrid-monitor-alert-source": {"mlops-monitoring-drift-alert"},
        # issue 15 #4: traffic names deployments that a first deploy does not have
        "azure-endpoint-traffic-unknown-deployment": {"mlops-serving-endpoint"},
        # issue 15 #8: systemDatastoresAuthMode is not a value of the SDK's enum
        "azure-rule:azure-native:machinelearningservices:Workspace.systemDatastoresAuthMode": {
            "mlops-training-workspace"
        },
    },
    "azure-prod": {
        "azure-rule:azure-native:storage:StorageAccount.accountName": {"mlops-artifacts-account"},
        "azure-rule:azure-native:keyvault:Vault.vaultName": {"mlops-artifacts-vault"},
        "azure-rule:azure-native:containerregistry:Registry.registryName": {
            "mlops-registry-images"
        },
        "azure-eventgrid-monitor-alert-source": {"mlops-monitoring-drift-alert"},
        "azure-endpoint-traffic-unknown-deployment": {"mlops-serving-endpoint"},
        "azure-rule:azure-native:machinelearningservices:Workspace.systemDatastoresAuthMode": {
            "mlops-training-workspace"
        },
        # issue 15 #3: Docker Content Trust on a new registry after 2026-05-31
        "azure-acr-content-trust-new-registry": {"mlops-registry-images"},
    },
    "gcp-dev": {
        # Grants to gcp-sa-* service agents named from the project number, which a new project
        # does not have until something creates them.
        "gcp-service-agent-before-identity": {
            "mlops-monitoring-key-pubsub-agent",
            "mlops-monitoring-retraining-publisher",
            "mlops-registry-key-pubsub-agent",
            "mlops-registry-key-registry-agent",
        },
        # issue 15 #10: versioning and a retention policy on one bucket
        "gcp-gcs-versioning-with-retention": {"mlops-registry-models"},
        # issue 15 #11: traffic to the previous revision on a new service
        "gcp-run-traffic-unknown-revision": {"mlops-serving-service"},
        # issue 15 #12: the image is in a repository the stack does not create
        "gcp-image-repository-not-created": {"mlops-serving-service"},
        # the model server cannot list its model directory (a prefix condition on the bucket)
        "gcp-runtime-call-not-granted": {"mlops-serving-service"},
    },
    "gcp-prod": {
        "gcp-service-agent-before-identity": {
            "mlops-monitoring-key-pubsub-agent",
            "mlops-monitoring-retraining-publisher",
            "mlops-registry-key-pubsub-agent",
            "mlops-registry-key-registry-agent",
        },
        "gcp-gcs-versioning-with-retention": {"mlops-registry-models"},
        "gcp-run-traffic-unknown-revision": {"mlops-serving-service"},
        "gcp-image-repository-not-created": {"mlops-serving-service"},
        "gcp-runtime-call-not-granted": {"mlops-serving-service"},
    },
}

CONFIG = {"mlops-iac:today": "2026-11-28"}


def load(stack: str) -> tuple[list[SimpleNamespace], dict]:
    data = json.loads((PREFIX / f"{stack}.json").read_text())
    # The fixtures keep each resource's inputs; a rule reading outputs sees none (as in a plan).
    return [SimpleNamespace(**{"outputs": {}, **r}) for r in data["resources"]], data


@pytest.mark.parametrize("stack", sorted(EXPECTED))
def test_pre_fix_stack_is_refused_naming_its_defects(stack):
    resources, _ = load(stack)
    found: dict[str, set[str]] = {}
    for error in deploy.check(resources, config=CONFIG):
        found.setdefault(error.rule, set()).add(error.resource_name)
        assert error.source.startswith("https://"), error
    assert found == EXPECTED[stack]


def test_fixtures_are_the_reference_stacks_resources():
    for stack in EXPECTED:
        resources, data = load(stack)
        assert data["stack"] == stack
        assert len(resources) > 40
        assert all(r.urn.startswith(f"urn:pulumi:{stack}::") for r in resources)


def test_content_trust_rule_starts_on_the_cut_off_date():
    resources, _ = load("azure-prod")
    before = deploy.check(resources, config={"mlops-iac:today": "2026-05-30"})
    on = deploy.check(resources, config={"mlops-iac:today": "2026-05-31"})
    assert "azure-acr-content-trust-new-registry" not in {e.rule for e in before}
    assert "azure-acr-content-trust-new-registry" in {e.rule for e in on}
