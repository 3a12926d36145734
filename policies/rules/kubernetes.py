"""Kubernetes rules for the training clusters: GPU pools are tainted, namespaces carry lineage,
and the control plane's allow-list never opens to the whole internet outside dev."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs

from ._base import (
    ENVIRONMENT_SCHEMA,
    LINEAGE_KEYS,
    Report,
    Rule,
    environments_schema,
    get,
    items,
    per_type_in_environments,
    truthy_text,
)
from .gpu import gpu_pool

GPU_TAINT_KEY = "nvidia.com/gpu"
# Provider spellings: EKS and GKE take NO_SCHEDULE, Kubernetes objects NoSchedule.
_KEEPS_OTHERS_OFF = {"NO_SCHEDULE", "NoSchedule", "NO_EXECUTE", "NoExecute"}
NAMESPACE = "kubernetes:core/v1:Namespace"


def _taints(resource_type: str, props: Mapping[str, Any]) -> list[Any]:
    if resource_type.startswith("gcp:"):
        return list(items(get(props, "nodeConfig", "taints")))
    return list(items(props.get("taints")))


def _validate_gpu_taint(args: ResourceValidationArgs, report: Report) -> None:
    if args.resource_type not in ("aws:eks/nodeGroup:NodeGroup", "gcp:container/nodePool:NodePool"):
        return
    if gpu_pool(args.resource_type, args.props) is None:
        return
    taints = _taints(args.resource_type, args.props)
    if not any(
        get(t, "key") == GPU_TAINT_KEY and get(t, "effect") in _KEEPS_OTHERS_OFF for t in taints
    ):
        report(
            f"GPU pool has no {GPU_TAINT_KEY} NoSchedule taint: pods that request no GPU can "
            "land on (and keep awake) the GPU nodes"
        )


GPU_TAINT = Rule(
    name="mlops-kubernetes-gpu-taint",
    description="GPU node pools are tainted so that only GPU-requesting pods run on them.",
    remediation=(
        "Taint the GPU pool nvidia.com/gpu with effect NoSchedule (the TrainingCluster default); "
        "GPU jobs tolerate it (the device plugin and train-smoke jobs do)."
    ),
    kind="resource",
    validate=_validate_gpu_taint,
)


def _validate_namespace(args: ResourceValidationArgs, report: Report) -> None:
    if args.resource_type != NAMESPACE:
        return
    labels = get(args.props, "metadata", "labels") or {}
    missing = [k for k in LINEAGE_KEYS if not truthy_text(labels.get(f"mlops/{k}"))]
    if missing:
        report("namespace is missing lineage labels: " + ", ".join(f"mlops/{k}" for k in missing))


NAMESPACE_LINEAGE = Rule(
    name="mlops-kubernetes-namespace-lineage",
    description="Namespaces the platform creates (operators, training) carry the lineage labels.",
    remediation=(
        "Label every namespace with mlops/project, mlops/environment, mlops/owner, "
        "mlops/cost-center, mlops/git-sha and mlops/dataset-version (the platform passes "
        "kubernetes_labels to TrainingCluster)."
    ),
    kind="resource",
    validate=_validate_namespace,
)


def _open_to_all(cidr: Any) -> bool:
    try:
        return ipaddress.ip_network(str(cidr), strict=False).prefixlen == 0
    except ValueError:
        return False


def _eks(props: Mapping[str, Any]) -> list[str]:
    vpc = props.get("vpcConfig")
    if get(vpc, "endpointPublicAccess") is False:
        return []
    cidrs = list(items(get(vpc, "publicAccessCidrs")))
    if not cidrs:
        return ["public API endpoint without publicAccessCidrs (EKS then allows 0.0.0.0/0)"]
    return [f"publicAccessCidrs contains {c}" for c in cidrs if _open_to_all(c)]


def _gke(props: Mapping[str, Any]) -> list[str]:
    config = props.get("masterAuthorizedNetworksConfig")
    problems = [
        f"masterAuthorizedNetworksConfig allows {get(block, 'cidrBlock')}"
        for block in items(get(config, "cidrBlocks"))
        if _open_to_all(get(block, "cidrBlock"))
    ]
    if get(config, "gcpPublicCidrsAccessEnabled") is True:
        problems.append("masterAuthorizedNetworksConfig lets every Google Cloud public IP in")
    return problems


_ALLOW_LIST_TYPES = {"aws:eks/cluster:Cluster": _eks, "gcp:container/cluster:Cluster": _gke}
_ALLOW_LIST_ENVIRONMENTS = ("staging", "prod")


_validate_allow_list = per_type_in_environments(_ALLOW_LIST_TYPES, _ALLOW_LIST_ENVIRONMENTS)


API_ALLOW_LIST = Rule(
    name="mlops-kubernetes-api-allow-list",
    description="Outside dev, the cluster API's CIDR allow-list never includes 0.0.0.0/0.",
    remediation=(
        "List the CI and operator networks in training.access.publicCidrs (never 0.0.0.0/0), or "
        "keep the endpoint private and run pulumi up from inside the VPC (EKS) or through the "
        "DNS endpoint (GKE)."
    ),
    kind="resource",
    validate=_validate_allow_list,
    checkov=("CKV_AWS_38", "CKV_GCP_20"),
    awsguard=("eks-endpoint-no-public-access",),
    config={
        "environment": ENVIRONMENT_SCHEMA,
        "environments": environments_schema(_ALLOW_LIST_ENVIRONMENTS),
    },
)

RULES: tuple[Rule, ...] = (GPU_TAINT, NAMESPACE_LINEAGE, API_ALLOW_LIST)
