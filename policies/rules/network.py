"""Network isolation in production: models cannot call out, control planes are not public."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs

from ._base import (
    ENVIRONMENT_SCHEMA,
    Rule,
    environments_schema,
    get,
    items,
    skip_outside_environments,
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


def _aml_workspace(props: Mapping[str, Any]) -> list[str]:
    if props.get("publicNetworkAccess") != "Disabled":
        return ["publicNetworkAccess is not 'Disabled'"]
    return []


ISOLATION_TYPES: Mapping[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "aws:sagemaker/model:Model": _sagemaker_model,
    "aws:eks/cluster:Cluster": _eks_cluster,
    "gcp:container/cluster:Cluster": _gke_cluster,
    "azure-native:machinelearningservices:Workspace": _aml_workspace,
}

_DEFAULT_ENVIRONMENTS = ("prod",)


def _validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    check = ISOLATION_TYPES.get(args.resource_type)
    if check is None:
        return
    skip_outside_environments(args, _DEFAULT_ENVIRONMENTS)
    for problem in check(args.props):
        report(problem)


NETWORK_ISOLATION = Rule(
    name="mlops-network-isolation",
    description="In production, models run network-isolated in a VPC; control planes are private.",
    remediation=(
        "Keep serving.publicEndpoint and training.publicEndpoint false in prod: SageMaker models "
        "get enableNetworkIsolation and a vpcConfig, EKS gets endpointPublicAccess false (GKE: "
        "private nodes; AzureML: publicNetworkAccess Disabled)."
    ),
    kind="resource",
    validate=_validate,
    checkov=("CKV_AWS_370", "CKV_AWS_39", "CKV_AWS_38"),
    awsguard=("sagemaker-model-isolation-enabled", "eks-endpoint-no-public-access"),
    config={
        "environment": ENVIRONMENT_SCHEMA,
        "environments": environments_schema(_DEFAULT_ENVIRONMENTS),
    },
)

RULES: tuple[Rule, ...] = (NETWORK_ISOLATION,)
