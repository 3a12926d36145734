"""Network isolation in production: models cannot call out, control planes are not public."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._base import (
    ENVIRONMENT_SCHEMA,
    Rule,
    environments_schema,
    get,
    items,
    per_type_in_environments,
)


def _sagemaker_model(props: Mapping[str, Any]) -> list[str]:
    problems = []
    if props.get("enableNetworkIsolation") is not True:
        problems.append("enableNetworkIsolation is not true")
    vpc = props.get("vpcConfig")
    if not items(get(vpc, "subnets")) or not items(get(vpc, "securityGroupIds")):
        problems.append("vpcConfig has no subnets and security groups")
    return problems


def _eks_cluster(props: Mapping[str, Any]) -> list[str]:
    # The EKS API defaults to a public endpoint, so only an explicit false is private.
    if get(props, "vpcConfig", "endpointPublicAccess") is not False:
        return ["vpcConfig.endpointPublicAccess is not false"]
    return []


def _gke_cluster(props: Mapping[str, Any]) -> list[str]:
    private = props.get("privateClusterConfig")
    if get(private, "enablePrivateNodes") is not True:
        return ["privateClusterConfig.enablePrivateNodes is not true"]
    return []


def _public_network_access(props: Mapping[str, Any]) -> list[str]:
    # Workspaces carry the flag at the top level, online endpoints inside ``properties``.
    value = props.get("publicNetworkAccess", get(props, "properties", "publicNetworkAccess"))
    if value != "Disabled":
        return ["publicNetworkAccess is not 'Disabled'"]
    return []


def _gke_endpoint(props: Mapping[str, Any]) -> list[str]:
    if get(props, "privateClusterConfig", "enablePrivateEndpoint") is not True:
        return ["privateClusterConfig.enablePrivateEndpoint is not true"]
    return []


def _cloud_run_ingress(props: Mapping[str, Any]) -> list[str]:
    # Cloud Run's default ingress is INGRESS_TRAFFIC_ALL: only an explicit private value counts.
    ingress = props.get("ingress")
    if ingress not in ("INGRESS_TRAFFIC_INTERNAL_ONLY", "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"):
        return [f"ingress is {ingress or 'INGRESS_TRAFFIC_ALL (the default)'}"]
    return []


ISOLATION_TYPES: Mapping[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "aws:sagemaker/model:Model": _sagemaker_model,
    "gcp:container/cluster:Cluster": _gke_cluster,
}

#: Endpoints reachable from the internet. Checked in staging too: a prod deploy must not be the
#: first time the platform runs without public endpoints.
PUBLIC_ENDPOINT_TYPES: Mapping[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "aws:eks/cluster:Cluster": _eks_cluster,
    "gcp:container/cluster:Cluster": _gke_endpoint,
    "gcp:cloudrunv2/service:Service": _cloud_run_ingress,
    "azure-native:machinelearningservices:Workspace": _public_network_access,
    "azure-native:machinelearningservices:OnlineEndpoint": _public_network_access,
}

_DEFAULT_ENVIRONMENTS = ("prod",)
_PRIVATE_ENDPOINT_ENVIRONMENTS = ("staging", "prod")


_validate = per_type_in_environments(ISOLATION_TYPES, _DEFAULT_ENVIRONMENTS)


NETWORK_ISOLATION = Rule(
    name="mlops-network-isolation",
    description="In production, models run network-isolated in a VPC and nodes are private.",
    remediation=(
        "Deploy prod stacks through the components' defaults: SageMaker models get "
        "enableNetworkIsolation and a vpcConfig in the training VPC; GKE nodes are private. "
        "Public endpoints are mlops-network-private-endpoints."
    ),
    kind="resource",
    validate=_validate,
    checkov=("CKV_AWS_370", "CKV_GCP_25"),
    awsguard=("sagemaker-model-isolation-enabled",),
    config={
        "environment": ENVIRONMENT_SCHEMA,
        "environments": environments_schema(_DEFAULT_ENVIRONMENTS),
    },
)


_validate_private = per_type_in_environments(PUBLIC_ENDPOINT_TYPES, _PRIVATE_ENDPOINT_ENVIRONMENTS)


PRIVATE_ENDPOINTS = Rule(
    name="mlops-network-private-endpoints",
    description="In staging and production, cluster APIs and model endpoints are not public.",
    remediation=(
        "Keep serving.publicEndpoint and training.publicEndpoint false outside dev: EKS "
        "endpointPublicAccess false, GKE private endpoint, Cloud Run internal ingress, AzureML "
        "workspace and online endpoint publicNetworkAccess Disabled."
    ),
    kind="resource",
    validate=_validate_private,
    checkov=("CKV_AWS_39", "CKV_AWS_38", "CKV_GCP_18", "CKV_AZURE_144"),
    awsguard=("eks-endpoint-no-public-access",),
    config={
        "environment": ENVIRONMENT_SCHEMA,
        "environments": environments_schema(_PRIVATE_ENDPOINT_ENVIRONMENTS),
    },
)

RULES: tuple[Rule, ...] = (NETWORK_ISOLATION, PRIVATE_ENDPOINTS)
