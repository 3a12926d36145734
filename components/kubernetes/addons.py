"""What GPU jobs need inside an EKS or GKE cluster, declared under the ``TrainingCluster``.

One Kubernetes provider built from the cluster's outputs (``kubeconfig``), then, all parented to
the cluster component and sent through that provider:

- ``{name}-training-ns``: namespace ``mlops-training`` (lineage labels, Pod Security ``baseline``)
  and ``{name}-trainer-sa``: service account ``trainer`` bound to the cloud identity that reads
  and writes the artifact store (GKE annotation / EKS pod identity association).
- EKS only: ``{name}-device-plugin`` (NVIDIA device plugin: the AL2023 NVIDIA AMI has the driver,
  not the plugin) and ``{name}-cluster-autoscaler`` (scales the GPU node group from zero with the
  pod identity the cluster already creates). GKE installs both itself.
- ``{name}-operator-ns`` and ``{name}-operator``: the training operator's namespace (lineage
  labels) and chart, unless ``operator`` is ``none``.

Every release is pinned (``charts``) and its values are written here. Helm installs a chart's
CRDs before its other objects and Pulumi waits for the release to be ready, so the operator's CRDs
exist before anything the platform declares after it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pulumi

from mlops_iac.components._component import child_opts
from mlops_iac.components.kubernetes import charts
from mlops_iac.components.kubernetes.charts import Chart
from mlops_iac.components.kubernetes.labels import DNS1123_LABEL, invalid_label

# pulumi_kubernetes (and the pulumi.automation it pulls in) loads only when a cluster's
# Kubernetes side is declared: importing a cloud's TrainingCluster, or a program that sets
# manage_kubernetes off, does not pay for it.
if TYPE_CHECKING:
    from pulumi_kubernetes import Provider
    from pulumi_kubernetes.helm.v3 import Release

RELEASE_TIMEOUT_SECONDS = 900
RELEASE_HISTORY = 5
GPU_TOLERATION = {"key": charts.GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}


@dataclass(frozen=True)
class Autoscaler:
    """Cluster autoscaler settings (EKS): discovery of this cluster's node groups."""

    cluster_name: pulumi.Input[str]
    region: pulumi.Input[str]
    kubernetes_version: str
    system_selector: Mapping[str, str]


class CoreV1Object(pulumi.CustomResource):
    """A ``kubernetes:core/v1`` object (Namespace, ServiceAccount) declared exactly as the SDK's
    typed class declares it (same type token, ``apiVersion``/``kind``, plugin defaults), without
    importing ``pulumi_kubernetes.core.v1``: that package loads every core/v1 type on import,
    seconds that every plan of every stack would pay for two objects."""

    def __init__(
        self,
        kind: str,
        resource_name: str,
        props: Mapping[str, object],
        opts: pulumi.ResourceOptions,
    ) -> None:
        from pulumi_kubernetes import _utilities as k8s_utilities

        merged = pulumi.ResourceOptions.merge(k8s_utilities.get_resource_opts_defaults(), opts)
        body = {"apiVersion": "v1", "kind": kind, **props}
        super().__init__(f"kubernetes:core/v1:{kind}", resource_name, body, merged)


@dataclass
class KubernetesSide:
    """What ``install`` created, for outputs and tests."""

    provider: Provider
    training_namespace: CoreV1Object
    service_account: CoreV1Object
    releases: dict[str, Release] = field(default_factory=dict)


def gpu_pool_affinity(label: str, value: str) -> dict[str, object]:
    """Node affinity that keeps a pod on the GPU pool (by the pool label the component sets)."""
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": label, "operator": "In", "values": [value]}]}
                ]
            }
        }
    }


def autoscaler_image(kubernetes_version: str) -> str:
    """The autoscaler image tag for the cluster's minor version (they must match)."""
    minor = ".".join(kubernetes_version.split(".")[:2])
    tag = charts.CLUSTER_AUTOSCALER_IMAGES.get(minor)
    if tag is None:
        known = ", ".join(sorted(charts.CLUSTER_AUTOSCALER_IMAGES))
        raise ValueError(
            f"no cluster-autoscaler image is pinned for Kubernetes {kubernetes_version}; "
            f"pinned: {known}"
        )
    return tag


def _check_names(name: str, labels: Mapping[str, str]) -> None:
    """Refuse, before declaring anything, names and labels the API server or Helm would refuse."""
    for key, value in labels.items():
        problem = invalid_label(key, value)
        if problem:
            raise ValueError(f"{name}: {problem}")
    namespaces = [charts.TRAINING_NAMESPACE, *(c.namespace for c in charts.OPERATORS.values())]
    for namespace in namespaces:
        if not DNS1123_LABEL.match(namespace):
            raise ValueError(f"{name}: namespace {namespace!r} is not a DNS-1123 label")


def _release(
    parent: pulumi.Resource,
    name: str,
    chart: Chart,
    values: Mapping[str, object],
    provider: Provider,
    *,
    namespace: pulumi.Input[str] | None = None,
    depends_on: Sequence[pulumi.Resource] = (),
) -> Release:
    from pulumi_kubernetes.helm.v3 import Release

    return Release(
        name,
        name=chart.release,
        chart=chart.chart,
        version=chart.version,
        repository_opts={"repo": chart.repo} if chart.repo else None,
        namespace=namespace or chart.namespace,
        create_namespace=False,
        values=dict(values),
        atomic=True,
        cleanup_on_fail=True,
        skip_crds=False,
        max_history=RELEASE_HISTORY,
        timeout=RELEASE_TIMEOUT_SECONDS,
        opts=child_opts(parent, provider=provider, depends_on=list(depends_on) or None),
    )


def install(
    parent: pulumi.Resource,
    name: str,
    *,
    kubeconfig: pulumi.Input[str],
    operator: str,
    labels: Mapping[str, str],
    trainer_annotations: Mapping[str, pulumi.Input[str]] | None = None,
    gpu_pool_label: tuple[str, str],
    device_plugin: bool = False,
    autoscaler: Autoscaler | None = None,
    depends_on: Sequence[pulumi.Resource] = (),
) -> KubernetesSide:
    """Declare the Kubernetes side of a training cluster under ``parent`` (see module doc)."""
    if operator not in (*charts.OPERATORS, "none"):
        raise ValueError(
            f"{name}: operator must be one of {', '.join([*charts.OPERATORS, 'none'])}"
        )
    _check_names(name, labels)
    from pulumi_kubernetes import Provider

    provider = Provider(
        f"{name}-k8s",
        kubeconfig=kubeconfig,
        enable_server_side_apply=True,
        opts=child_opts(parent, depends_on=list(depends_on) or None),
    )
    ready = list(depends_on)
    side = _training_side(parent, name, provider, ready, labels, trainer_annotations or {})
    if device_plugin:
        side.releases["device-plugin"] = _device_plugin(
            parent, name, provider, ready, gpu_pool_label
        )
    if autoscaler is not None:
        side.releases["cluster-autoscaler"] = _cluster_autoscaler(
            parent, name, provider, ready, autoscaler
        )
    chart = charts.OPERATORS.get(operator)
    if chart is not None:
        side.releases["operator"] = _operator(
            parent, name, provider, ready, operator, chart, labels
        )
    return side


def _training_side(
    parent: pulumi.Resource,
    name: str,
    provider: Provider,
    ready: list[pulumi.Resource],
    labels: Mapping[str, str],
    trainer_annotations: Mapping[str, pulumi.Input[str]],
) -> KubernetesSide:
    """``{name}-training-ns`` (Pod Security baseline) and ``{name}-trainer-sa`` (no API token)."""
    training_ns = CoreV1Object(
        "Namespace",
        f"{name}-training-ns",
        {
            "metadata": {
                "name": charts.TRAINING_NAMESPACE,
                "labels": {
                    **labels,
                    "pod-security.kubernetes.io/enforce": "baseline",
                    "pod-security.kubernetes.io/warn": "restricted",
                },
            }
        },
        child_opts(parent, provider=provider, depends_on=ready or None),
    )
    service_account = CoreV1Object(
        "ServiceAccount",
        f"{name}-trainer-sa",
        {
            "metadata": {
                "name": charts.TRAINER_SERVICE_ACCOUNT,
                "namespace": charts.TRAINING_NAMESPACE,
                "labels": dict(labels),
                "annotations": dict(trainer_annotations),
            },
            # Training code reaches the cloud through its identity, never the Kubernetes API.
            "automountServiceAccountToken": False,
        },
        child_opts(parent, provider=provider, depends_on=[*ready, training_ns]),
    )
    return KubernetesSide(provider, training_ns, service_account)


def _device_plugin(
    parent: pulumi.Resource,
    name: str,
    provider: Provider,
    ready: list[pulumi.Resource],
    gpu_pool_label: tuple[str, str],
) -> Release:
    """``{name}-device-plugin``: the NVIDIA device plugin, on GPU nodes only."""
    pool_key, pool_value = gpu_pool_label
    return _release(
        parent,
        f"{name}-device-plugin",
        charts.NVIDIA_DEVICE_PLUGIN,
        {
            # Only GPU nodes run it; it must tolerate their taint to get there.
            "tolerations": [GPU_TOLERATION],
            "affinity": gpu_pool_affinity(pool_key, pool_value),
            "gfd": {"enabled": False},
            "nfd": {"enabled": False},
        },
        provider,
        depends_on=ready,
    )


def _cluster_autoscaler(
    parent: pulumi.Resource,
    name: str,
    provider: Provider,
    ready: list[pulumi.Resource],
    autoscaler: Autoscaler,
) -> Release:
    """``{name}-cluster-autoscaler`` (EKS): discovers this cluster's node groups."""
    return _release(
        parent,
        f"{name}-cluster-autoscaler",
        charts.CLUSTER_AUTOSCALER,
        {
            "cloudProvider": "aws",
            "awsRegion": autoscaler.region,
            "autoDiscovery": {"clusterName": autoscaler.cluster_name},
            "image": {"tag": autoscaler_image(autoscaler.kubernetes_version)},
            # The pod identity association names this service account.
            "rbac": {"serviceAccount": {"create": True, "name": "cluster-autoscaler"}},
            "nodeSelector": dict(autoscaler.system_selector),
            "extraArgs": {
                "balance-similar-node-groups": True,
                "skip-nodes-with-system-pods": False,
                "expander": "least-waste",
                "scale-down-unneeded-time": "10m",
            },
        },
        provider,
        depends_on=ready,
    )


def _operator(
    parent: pulumi.Resource,
    name: str,
    provider: Provider,
    ready: list[pulumi.Resource],
    operator: str,
    chart: Chart,
    labels: Mapping[str, str],
) -> Release:
    """``{name}-operator-ns`` and the training operator's release ``{name}-operator``."""
    operator_ns = CoreV1Object(
        "Namespace",
        f"{name}-operator-ns",
        {"metadata": {"name": chart.namespace, "labels": dict(labels)}},
        child_opts(parent, provider=provider, depends_on=ready or None),
    )
    values: dict[str, object] = (
        # Only the torch-distributed ClusterTrainingRuntime (the chart's post-install hook
        # applies it once the CRD is registered; its image and network needs: charts); the
        # other frameworks stay off.
        {
            "runtimes": {
                "torchDistributed": {"enabled": True},
                "installer": {"image": dict(charts.TRAINER_RUNTIME_INSTALLER_IMAGE)},
            }
        }
        if operator == "kubeflow-trainer"
        else {}
    )
    return _release(
        parent,
        f"{name}-operator",
        chart,
        values,
        provider,
        namespace=chart.namespace,
        depends_on=[*ready, operator_ns],
    )
