"""Bring-up rules: what a deployment needs that it cannot have made itself yet.

Two classes, for the toolkit's components and a team's own resources alike:

- Kubernetes resources on a cluster created in the same deployment whose API answers only inside
  its network: the deploying machine cannot reach it.
- A model or image read from a registry or bucket created in the same deployment: nothing can have
  pushed it yet.

"Created in the same deployment" means: in the plan and not in the state (no state plans a first
deploy). The fix is a bring-up sequence (``mlops-iac plan --bring-up`` simulates it): a first
``pulumi up`` without the part that waits, then the step that brings it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from mlops_iac.plan.deploy.base import DeployError, error, physical_name_of
from mlops_iac.plan.deploy.lifecycle.base import get, of, rule
from mlops_iac.plan.deploy.state import StateResource

K8S_RULE = "kubernetes-cluster-unreachable"
K8S_SOURCES = {
    "aws": "https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html",
    "gcp": "https://cloud.google.com/kubernetes-engine/docs/concepts/network-isolation",
    "azure": "https://learn.microsoft.com/en-us/azure/aks/private-clusters",
}
ARTIFACT_RULE = "artifact-not-pushed"
ARTIFACT_SOURCES = {
    "aws": "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ContainerDefinition.html",
    "gcp": "https://cloud.google.com/run/docs/deploying#service",
    "azure": "https://learn.microsoft.com/en-us/azure/machine-learning/how-to-share-models-pipelines-across-workspaces-with-registries",
}

EKS = "aws:eks/cluster:Cluster"
GKE = "gcp:container/cluster:Cluster"
AKS = "azure-native:containerservice:ManagedCluster"
K8S_PROVIDER = "pulumi:providers:kubernetes"
NEXT_STEP_K8S = (
    "bring it up in two steps: first without the Kubernetes side (platform stack file: "
    "training.kubernetes: deferred), then from a machine inside the cluster's network; or give "
    "the deploying machine a path in (an allow-listed public endpoint, a VPC it already runs in); "
    "for a stack already deployed, plan with --state"
)


def _new(resources: list[Any], state: list[StateResource], type_token: str) -> list[Any]:
    """Resources of ``type_token`` this deployment creates (in the plan, not in the state)."""
    existing = {s.urn for s in state if s.type == type_token}
    return [r for r in of(resources, type_token) if r.urn not in existing]


def _private_only(cluster: Any) -> bool:
    """Whether the cluster's API answers only inside its network (no path from outside)."""
    inputs = cluster.inputs
    if cluster.type == EKS:
        # EKS: public access is on unless turned off.
        return get(inputs, "vpcConfig.endpointPublicAccess") is False
    if cluster.type == GKE:
        dns = get(inputs, "controlPlaneEndpointsConfig.dnsEndpointConfig.allowExternalTraffic")
        private = get(inputs, "privateClusterConfig.enablePrivateEndpoint") is True
        return private and dns is not True
    return get(inputs, "apiServerAccessProfile.enablePrivateCluster") is True


def _cluster_names(cluster: Any) -> set[str]:
    names = {physical_name_of(cluster)}
    outputs = getattr(cluster, "outputs", None) or {}
    for key in ("name", "resourceName"):
        value = cluster.inputs.get(key) or outputs.get(key)
        if isinstance(value, str) and value:
            names.add(value)
    return names


def _kubeconfig_clusters(provider: Any) -> set[str]:
    """The words of a Kubernetes provider's kubeconfig (YAML or JSON text, or a mapping): a
    cluster it points at appears among them (``clusters[].name``, ``--cluster-name``)."""
    raw = provider.inputs.get("kubeconfig")
    text = raw if isinstance(raw, str) else json.dumps(raw) if isinstance(raw, Mapping) else ""
    return set(re.findall(r"[\w.-]+", text))


@rule(K8S_RULE, K8S_SOURCES["aws"])
def kubernetes_cluster_unreachable(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    unreachable = [c for t in (EKS, GKE, AKS) for c in _new(resources, state, t)]
    unreachable = [c for c in unreachable if _private_only(c)]
    if not unreachable:
        return
    by_provider: dict[str, int] = {}
    for resource in resources:
        provider_ref = getattr(resource, "provider", None)
        if resource.type.startswith("kubernetes:") and provider_ref:
            key = str(provider_ref).rsplit("::", 1)[0]
            by_provider[key] = by_provider.get(key, 0) + 1
    for provider in of(resources, K8S_PROVIDER):
        named = _kubeconfig_clusters(provider)
        for cluster in unreachable:
            if not (_cluster_names(cluster) & named):
                continue
            cloud = {EKS: "aws", GKE: "gcp"}.get(cluster.type, "azure")
            count = by_provider.get(provider.urn, 0)
            yield error(
                provider,
                K8S_RULE,
                "kubeconfig",
                physical_name_of(cluster),
                f"{count} Kubernetes resource(s) go through this provider to cluster "
                f"{physical_name_of(cluster)!r} ({cluster.name}), which this deployment creates "
                "with a private-only API endpoint: the deploying machine cannot reach it, so they "
                f"time out after the cluster is built; {NEXT_STEP_K8S}",
                K8S_SOURCES[cloud],
            )


# ---------------------------------------------------------------------------------------------
# Artifacts nothing can have pushed yet.

_ECR = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/(?P<repo>[^:@]+)")
_AR = re.compile(r"^(?P<loc>[a-z0-9-]+)-docker\.pkg\.dev/(?P<project>[^/]+)/(?P<repo>[^/]+)/")
_S3 = re.compile(r"^s3://(?P<bucket>[^/]+)")
_GS = re.compile(r"^gs://(?P<bucket>[^/]+)")
_AML_REGISTRY = re.compile(r"^azureml://registries/(?P<registry>[^/]+)/")
_AML_WORKSPACE_MODEL = re.compile(r"/workspaces/(?P<workspace>[^/]+)/models/", re.IGNORECASE)

NEXT_STEP_ARTIFACT = (
    "bring it up in two steps: first without serving (platform stack file: serving.enabled: "
    "false), register the first version, then serve it; for a stack already deployed, plan "
    "with --state"
)


_NAME_KEYS = ("bucket", "name", "repositoryId", "registryName", "workspaceName")


def _new_names(resources: list[Any], state: list[StateResource], *types: str) -> set[str]:
    """The cloud names of the resources of ``types`` this deployment creates."""
    names: set[str] = set()
    for resource in (r for t in types for r in _new(resources, state, t)):
        names.add(physical_name_of(resource))
        for bag in (resource.inputs, getattr(resource, "outputs", None) or {}):
            names.update(v for k in _NAME_KEYS if isinstance(v := bag.get(k), str) and v)
    return names


def _artifact_error(resource: Any, where: str, value: str, what: str, cloud: str) -> DeployError:
    return error(
        resource,
        ARTIFACT_RULE,
        where,
        value,
        f"{what}, which this deployment creates: nothing can have pushed the artifact yet, so "
        f"the deploy fails when the cloud fetches it; {NEXT_STEP_ARTIFACT}",
        ARTIFACT_SOURCES[cloud],
    )


@rule(ARTIFACT_RULE, ARTIFACT_SOURCES["gcp"])
def artifact_not_pushed(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    yield from _aws_models(resources, state)
    yield from _cloud_run(resources, state)
    yield from _azure_deployments(resources, state)


def _aws_models(resources: list[Any], state: list[StateResource]) -> Iterator[DeployError]:
    models = of(resources, "aws:sagemaker/model:Model")
    if not models:
        return
    repositories = _new_names(resources, state, "aws:ecr/repository:Repository")
    buckets = _new_names(resources, state, "aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
    for model in models:
        containers = [model.inputs.get("primaryContainer")] + list(
            model.inputs.get("containers") or []
        )
        for i, container in enumerate(containers):
            if not isinstance(container, Mapping):
                continue
            at = "primaryContainer" if i == 0 else f"containers[{i - 1}]"
            image = str(container.get("image") or "")
            match = _ECR.match(image)
            if match and match["repo"] in repositories:
                what = f"the image is in ECR repository {match['repo']!r}"
                yield _artifact_error(model, f"{at}.image", image, what, "aws")
            for key in ("modelDataUrl", "modelDataSource.s3DataSource.s3Uri"):
                url = str(get(container, key) or "")
                found = _S3.match(url)
                if found and found["bucket"] in buckets:
                    what = f"the model data is in S3 bucket {found['bucket']!r}"
                    yield _artifact_error(model, f"{at}.{key}", url, what, "aws")


def _cloud_run(resources: list[Any], state: list[StateResource]) -> Iterator[DeployError]:
    services = of(resources, "gcp:cloudrunv2/service:Service")
    if not services:
        return
    # A remote repository fetches from its upstream on first pull: nothing needs pushing to it.
    remote = {
        name
        for r in _new(resources, state, "gcp:artifactregistry/repository:Repository")
        if r.inputs.get("mode") == "REMOTE_REPOSITORY"
        for name in (physical_name_of(r), r.inputs.get("repositoryId"))
        if isinstance(name, str)
    }
    repositories = _new_names(resources, state, "gcp:artifactregistry/repository:Repository")
    repositories -= remote
    buckets = _new_names(resources, state, "gcp:storage/bucket:Bucket")
    for service in services:
        for i, container in enumerate(get(service.inputs, "template.containers") or []):
            if not isinstance(container, Mapping):
                continue
            image = str(container.get("image") or "")
            match = _AR.match(image)
            if match and match["repo"] in repositories:
                what = f"the image is in Artifact Registry repository {match['repo']!r}"
                where = f"template.containers[{i}].image"
                yield _artifact_error(service, where, image, what, "gcp")
            for j, env in enumerate(container.get("envs") or []):
                if not isinstance(env, Mapping) or "MODEL" not in str(env.get("name", "")):
                    continue
                value = str(env.get("value") or "")
                found = _GS.match(value)
                if found and found["bucket"] in buckets:
                    what = f"{env.get('name')} reads bucket {found['bucket']!r}"
                    where = f"template.containers[{i}].envs[{j}].value"
                    yield _artifact_error(service, where, value, what, "gcp")


def _azure_deployments(resources: list[Any], state: list[StateResource]) -> Iterator[DeployError]:
    deployments = of(resources, "azure-native:machinelearningservices:OnlineDeployment")
    if not deployments:
        return
    registries = _new_names(resources, state, "azure-native:machinelearningservices:Registry")
    workspaces = _new_names(resources, state, "azure-native:machinelearningservices:Workspace")
    for deployment in deployments:
        for key in ("onlineDeploymentProperties.model", "properties.model"):
            model = get(deployment.inputs, key)
            if not isinstance(model, str):
                continue
            registry = _AML_REGISTRY.match(model)
            workspace = _AML_WORKSPACE_MODEL.search(model)
            if registry and registry["registry"] in registries:
                what = f"the model is in AzureML registry {registry['registry']!r}"
                yield _artifact_error(deployment, key, model, what, "azure")
            elif workspace and workspace["workspace"] in workspaces:
                what = f"the model is in AzureML workspace {workspace['workspace']!r}"
                yield _artifact_error(deployment, key, model, what, "azure")
