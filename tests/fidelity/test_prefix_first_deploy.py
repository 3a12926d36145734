"""The six reference stacks as the components planned them before the first-deploy fixes
(commit 784e16e), kept as fixtures: each is refused for what its first `pulumi up` would lack.

``prefix-first-deploy/<stack>.json`` holds every resource's urn, type, logical name, parent and
inputs as ``mlops-iac plan --json`` reported them then. Those plans passed; every deploy error
below is one a real first deploy on a fresh account would have met, found by a rule added since
(order and preconditions: a cluster nobody can reach yet, a model nothing has pushed yet, a
metric with no descriptor yet, an upload the account refuses…). The live stacks now plan clean
step by step (``tests/plan/test_bringup.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from mlops_iac.plan import deploy

FIXTURES = Path(__file__).parent / "prefix-first-deploy"
CONFIG = {"mlops-iac:today": "2026-12-07"}

AWS = {
    # The Kubernetes side of a private EKS cluster created in the same update: nobody can reach it.
    "kubernetes-cluster-unreachable": {"mlops-training-k8s"},
    # Reserved concurrency on a new account whose whole concurrency is 10.
    "aws-lambda-reserved-concurrency-new-account": {"mlops-drift-function"},
}
AZURE = {
    # Models 7 and 6 in the registry this update creates: nothing can have registered them.
    "artifact-not-pushed": {"mlops-serving-blue", "mlops-serving-green"},
    # Online deployments in a managed network nothing provisions first.
    "azure-aml-online-deployment-network-not-provisioned": {
        "mlops-serving-blue",
        "mlops-serving-green",
    },
    # The drift package uploaded with the account key into an account with shared keys off.
    "azure-blob-source-upload-refused": {"mlops-drift-package"},
    # The drift function: two settings its code reads are never set, and its grant's condition
    # refuses List Blobs.
    "azure-runtime-setting-missing": {"mlops-drift-function"},
    "azure-runtime-call-not-granted": {"mlops-drift-function"},
}
GCP = {
    # The image and model in the repository and bucket this update creates.
    "artifact-not-pushed": {"mlops-serving-service"},
    # An alert on the drift job's custom metric before any descriptor exists.
    "gcp-alert-custom-metric-without-descriptor": {"mlops-drift-alert"},
    # The function built by the default build account of a new project.
    "gcp-function-default-build-account": {"mlops-drift-function"},
    # Operator webhooks on nodes the private control plane cannot reach (tcp 9443).
    "gcp-private-cluster-webhook-firewall": {"mlops-training-operator"},
    # The drift job cannot overwrite latest.json; the model server cannot list its model.
    "gcp-runtime-call-not-granted": {"mlops-drift-function", "mlops-serving-service"},
    # Grants to service agents a new project does not have yet.
    "gcp-service-agent-before-identity": {
        "mlops-monitoring-key-pubsub-agent",
        "mlops-registry-key-pubsub-agent",
        "mlops-registry-key-registry-agent",
    },
}
EXPECTED: dict[str, dict[str, set[str]]] = {
    "aws-dev": AWS,
    "aws-prod": AWS,
    "azure-dev": AZURE,
    "azure-prod": AZURE,
    "gcp-dev": GCP,
    "gcp-prod": GCP,
}


def load(stack: str) -> list[SimpleNamespace]:
    data = json.loads((FIXTURES / f"{stack}.json").read_text())
    assert data["stack"] == stack and data["commit"] == "784e16e"
    return [SimpleNamespace(provider=None, outputs={}, **r) for r in data["resources"]]


@pytest.mark.parametrize("stack", sorted(EXPECTED))
def test_pre_fix_stack_fails_its_first_deploy_naming_each_defect(stack):
    found: dict[str, set[str]] = {}
    for error in deploy.check(load(stack), config=CONFIG):
        found.setdefault(error.rule, set()).add(error.resource_name)
        assert error.source.startswith("https://"), error
    new = {rule: names for rule, names in found.items() if rule in EXPECTED[stack]}
    assert new == EXPECTED[stack]
