"""The offline engine refuses Kubernetes names and labels the API server or Helm would refuse."""

from __future__ import annotations

import pytest

from mlops_iac.components.kubernetes.labels import kubernetes_labels
from mlops_iac.plan.mocks.kubernetes import KubernetesNameError, validate
from mlops_iac.plan.testing import ProgramError, run

NS = "kubernetes:core/v1:Namespace"
SA = "kubernetes:core/v1:ServiceAccount"
RELEASE = "kubernetes:helm.sh/v3:Release"


@pytest.mark.parametrize(
    "resource_type, inputs",
    [
        (NS, {"metadata": {"name": "Training"}}),
        (NS, {"metadata": {"name": "a" * 64}}),
        (NS, {"metadata": {"name": "ml.training"}}),  # a subdomain, not a label
        (SA, {"metadata": {"name": "trainer_1"}}),
        (SA, {"metadata": {"name": "trainer", "namespace": "-bad"}}),
        (RELEASE, {"name": "r" * 54, "chart": "c"}),
        (NS, {"metadata": {"name": "ok", "labels": {"mlops:project": "x"}}}),
        (NS, {"metadata": {"name": "ok", "labels": {"mlops/owner": "a@b.com"}}}),
    ],
)
def test_refused_names_and_labels(resource_type, inputs):
    with pytest.raises(KubernetesNameError):
        validate(resource_type, inputs)


@pytest.mark.parametrize(
    "resource_type, inputs",
    [
        (NS, {"metadata": {"name": "mlops-training", "labels": {"mlops/project": "fraud"}}}),
        (SA, {"metadata": {"name": "system.trainer", "namespace": "mlops-training"}}),
        (RELEASE, {"name": "r" * 53, "namespace": "kube-system"}),
    ],
)
def test_accepted_names_and_labels(resource_type, inputs):
    validate(resource_type, inputs)


def test_lineage_tags_become_valid_labels():
    labels = kubernetes_labels(
        {"mlops:owner": "ml-platform@example.com", "mlops:dataset-version": "md5:3b1f" + "a" * 80}
    )
    assert labels["mlops/owner"] == "ml-platform_example.com"
    assert labels["mlops/dataset-version"].startswith("md5_3b1f")
    assert len(labels["mlops/dataset-version"]) == 63
    for key, value in labels.items():
        validate(NS, {"metadata": {"name": "ns", "labels": {key: value}}})


def test_invalid_lineage_labels_are_refused_before_anything_is_declared():
    from mlops_iac.components.aws import TrainingCluster, TrainingClusterArgs

    def program():
        TrainingCluster("tc", TrainingClusterArgs(kubernetes_labels={"mlops/owner": "a@b.com"}))

    with pytest.raises(ProgramError, match="mlops/owner"):
        run(program, config={"aws:region": "us-east-1"})


@pytest.mark.parametrize("stack", ["aws-prod", "gcp-prod"])
def test_reference_stacks_record_only_valid_kubernetes_names(stack):
    from tests.conftest import reference_recording

    recording = reference_recording(stack)
    kube = [r for r in recording if r.type.startswith("kubernetes:")]
    assert len(kube) >= 4
    for resource in kube:
        validate(resource.type, resource.inputs)
    namespaces = [r for r in kube if r.type == NS]
    for namespace in namespaces:
        assert namespace.inputs["metadata"]["labels"]["mlops/project"]
