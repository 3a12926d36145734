"""Helm charts the training clusters install, pinned by repository and chart version.

Values are written in code (``addons``), never read from files or fetched: the offline engine
records each release's chart, version, repository and values without touching the network.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chart:
    """One pinned chart: ``chart`` is the name in ``repo``, or a full ``oci://`` reference."""

    release: str
    """Helm release name (a DNS-1123 label of at most 53 characters)."""
    chart: str
    version: str
    namespace: str
    repo: str | None
    doc: str
    """The page that documents installing this chart."""


# EKS-optimized AL2023 NVIDIA AMIs ship the driver and container toolkit, not the device plugin:
# "When using the EKS-optimized AL2023 AMIs with NVIDIA GPUs, you must install the NVIDIA
# Kubernetes device plugin" (Bottlerocket NVIDIA AMIs include it).
NVIDIA_DEVICE_PLUGIN = Chart(
    release="nvidia-device-plugin",
    chart="nvidia-device-plugin",
    version="0.17.4",
    namespace="kube-system",
    repo="https://nvidia.github.io/k8s-device-plugin",
    doc="https://docs.aws.amazon.com/eks/latest/userguide/ml-eks-k8s-device-plugin.html",
)

CLUSTER_AUTOSCALER = Chart(
    release="cluster-autoscaler",
    chart="cluster-autoscaler",
    version="9.56.0",
    namespace="kube-system",
    repo="https://kubernetes.github.io/autoscaler",
    doc="https://github.com/kubernetes/autoscaler/tree/master/charts/cluster-autoscaler",
)

# The autoscaler's minor version must match the cluster's; these tags are published releases
# (registry.k8s.io/autoscaling/cluster-autoscaler), as kOps pins them per Kubernetes minor.
CLUSTER_AUTOSCALER_IMAGES = {
    "1.29": "v1.29.5",
    "1.30": "v1.30.6",
    "1.31": "v1.31.4",
    "1.32": "v1.32.3",
    "1.33": "v1.33.1",
    "1.34": "v1.34.0",
    # v1.35.1 is the image reported in https://github.com/kubernetes/autoscaler/issues/9866.
    "1.35": "v1.35.1",
}

# Kubeflow Trainer v2: TrainJob + ClusterTrainingRuntimes (torch-distributed runs torchrun), on
# JobSet (a chart dependency). In v2.3.0 the chart carries the CRDs in its templates and applies
# the enabled runtimes from a post-install hook Job, after the CRD is registered
# (charts/kubeflow-trainer/values.yaml at tag v2.3.0, github.com/kubeflow/trainer).
KUBEFLOW_TRAINER = Chart(
    release="kubeflow-trainer",
    chart="oci://ghcr.io/kubeflow/charts/kubeflow-trainer",
    version="2.3.0",
    namespace="kubeflow-system",
    repo=None,
    doc="https://www.kubeflow.org/docs/components/trainer/operator-guides/installation/",
)

KUBERAY_OPERATOR = Chart(
    release="kuberay-operator",
    chart="kuberay-operator",
    version="1.5.1",
    namespace="ray-system",
    repo="https://ray-project.github.io/kuberay-helm/",
    doc="https://docs.ray.io/en/latest/cluster/kubernetes/getting-started/kuberay-operator-installation.html",
)

# The chart's runtime installer (v2.3.0: templates/runtimes/installer-job.yaml, values
# runtimes.installer) is a post-install hook Job that pulls docker.io/alpine:3.21 and runs
# `apk add kubectl` before applying the runtimes: the cluster needs egress to Docker Hub and the
# Alpine package mirror (NAT), within Docker Hub's anonymous pull limits. With an atomic release a
# failed hook rolls the whole release back. The image is stated here so the plan shows it; point
# the registry at a pull-through cache (e.g. ECR's for Docker Hub) to avoid Docker Hub, the Alpine
# mirror stays a requirement. https://github.com/kubeflow/trainer/blob/v2.3.0/charts/kubeflow-trainer/templates/runtimes/installer-job.yaml
TRAINER_RUNTIME_INSTALLER_IMAGE = {"registry": "docker.io", "repository": "alpine", "tag": "3.21"}

OPERATORS = {"kubeflow-trainer": KUBEFLOW_TRAINER, "kuberay": KUBERAY_OPERATOR}
"""``training.operator`` → its chart (``none`` installs nothing)."""

TRAINING_NAMESPACE = "mlops-training"
"""Namespace of the training jobs, with the workload service account."""
TRAINER_SERVICE_ACCOUNT = "trainer"
"""Service account of training pods; bound to the cloud identity that reads the artifact store."""
GPU_RESOURCE = "nvidia.com/gpu"
GPU_TAINT_KEY = "nvidia.com/gpu"
