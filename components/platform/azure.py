"""Spec → Azure component Args, and the wiring between the Azure components.

Serving roles (``blue`` = active, ``green`` = standby) follow the spec through the endpoint's
``rollout_strategy`` (the component places the versions, see ``ServingEndpoint``):

- ``serving.rollback: true``: blue serves ``previousModel`` with 100%, green keeps ``model``.
- ``azure.canaryInProgress: true`` (canary or linear strategy, with a ``previousModel``): blue keeps
  serving ``previousModel`` with ``100 - share``; green takes ``model`` with ``share``
  (``rollout.canaryPercent`` or ``rollout.linearStepPercent``).
- otherwise: blue serves ``model`` with 100%; green keeps ``previousModel`` warm for a rollback.
"""

from __future__ import annotations

from typing import Any

import pulumi

from mlops_iac.components import lineage
from mlops_iac.components.azure import (
    ArtifactStore,
    ArtifactStoreArgs,
    DriftJob,
    DriftJobArgs,
    ModelDeployment,
    ModelRegistry,
    ModelRegistryArgs,
    Monitoring,
    MonitoringArgs,
    PrivateNetwork,
    PrivateNetworkArgs,
    ServingEndpoint,
    ServingEndpointArgs,
    Tracking,
    TrackingArgs,
    TrainingCluster,
    TrainingClusterArgs,
)
from mlops_iac.components.azure._common import client_config
from mlops_iac.components.azure.rollout_guard import ModelMetric, RolloutGuard, RolloutGuardArgs
from mlops_iac.components.platform.common import (
    bring_up_pending,
    contract_exports,
    customer_key,
    drift_exports,
    drift_job_kwargs,
    guarded,
    rollout_alarm_thresholds,
    tracking_exports,
    tracking_kwargs,
    training_cluster_kwargs,
    webhook_secret,
)
from mlops_iac.spec import gpu as gpu_catalogue
from mlops_iac.spec.defaults import HOURS_PER_MONTH
from mlops_iac.spec.models import ModelRef, PlatformSpec


def rollout_in_progress(spec: PlatformSpec) -> bool:
    """``azure.canaryInProgress`` for a rollout of ``serving.model`` (not during a rollback)."""
    serving = spec.serving
    canary = spec.azure is not None and spec.azure.canary_in_progress
    return canary and not serving.rollback and serving.previous_model is not None


def serving_deployment(spec: PlatformSpec, model: ModelRef) -> ModelDeployment:
    """A served version as an AzureML deployment, with its lineage tags (public)."""
    tags = lineage.sanitise(lineage.serving_tags(spec, model), "azure")
    # An artifact URI that already names an AzureML model asset is deployed as is; anything else
    # (a datastore path of the training output) is served from the platform's registry.
    uri = model.artifact_uri
    is_asset = "/models/" in uri if uri.startswith("azureml://registries/") else False
    is_asset = is_asset or (uri.startswith("azureml:") and not uri.startswith("azureml://"))
    model_id = uri if is_asset else None
    return ModelDeployment(name=model.name, version=model.version, model_id=model_id, tags=tags)


_deployment = serving_deployment  # the former private name


def build(parent: pulumi.Resource, name: str, spec: PlatformSpec) -> dict[str, Any]:
    """Create the Azure platform under ``parent``; return the stack exports."""
    opts = pulumi.ResourceOptions(parent=parent)
    private = _reached_privately(spec)
    net = _network(name, spec, private, opts)
    pe: dict[str, Any] = {}
    if private:
        pe = {"private_endpoint_subnet_id": net.subnet_id, "private_dns_zone_ids": net.dns_zone_ids}
    store = _artifact_store(name, spec, net, pe, opts)
    registry = _model_registry(name, spec, store, pe, opts)
    cluster = _training_cluster(name, spec, store, registry, pe, opts)
    # Without serving (a bring-up step) there is no endpoint to watch and no capture to check.
    endpoint = drift_job = None
    if spec.serving.enabled:
        endpoint = _serving_endpoint(name, spec, store, cluster, registry, private, opts)
    monitoring = _monitoring(parent, name, spec, store, cluster, endpoint, opts)
    if endpoint is not None:
        drift_job = _drift_job(name, spec, net, store, cluster, endpoint, monitoring, opts)
    if endpoint is not None and drift_job is not None and guarded(spec):
        _rollout_guard(name, spec, net, store, endpoint, monitoring, drift_job, opts)
    tracking = _tracking(name, spec, store, cluster, opts) if spec.tracking.enabled else None
    return {
        **contract_exports(store, cluster, registry, endpoint, monitoring),
        **drift_exports(drift_job),
        **tracking_exports(tracking),
        "storage_account_name": store.storage_account_name,
        # AZURE_CLIENT_ID for DVC under managed identity (docs/dvc.md).
        "dvc_identity_client_id": store.dvc_identity_client_id,
        "datastore_name": cluster.datastore_name,
        "resource_group_name": store.resource_group_name,
        # What the rollout function last did to the deployed rollout (None: nothing), which the
        # next apply keeps and `mlops-iac plan` reports.
        "serving_rollout": endpoint.rollout if endpoint else None,
        "bring_up_pending": bring_up_pending(spec),
    }


def _tracking(
    name: str,
    spec: PlatformSpec,
    store: ArtifactStore,
    cluster: TrainingCluster,
    opts: pulumi.ResourceOptions,
) -> Tracking:
    """The workspace's MLflow endpoint; the cluster's identity and CI may log to it."""
    return Tracking(
        f"{name}-tracking",
        TrackingArgs(
            **tracking_kwargs(spec),
            artifact_bucket_name=store.bucket_name,
            workspace_id=cluster.workspace_id,
            location=store.location,
            # The GPU cluster runs as the store's DVC identity (compute_identity_id).
            training_principal_id=store.dvc_identity_principal_id,
            storage_account_id=store.storage_account_id,
            blob_store_container=cluster.blob_store_container,
        ),
        opts=opts,
    )


def _reached_privately(spec: PlatformSpec) -> bool:
    """Whether the platform is reached through private endpoints."""
    # Reachable either way: staging and prod (or azure.privateEndpoints) through private
    # endpoints with private DNS zones; dev public, authenticated, with the storage firewall
    # allow-listing azure.allowedCidrs for `dvc push`. Either way the network holds the subnet
    # the drift function joins, which the storage firewall admits.
    if spec.azure is not None and spec.azure.private_endpoints is not None:
        return spec.azure.private_endpoints
    return spec.environment != "dev"


def _network(
    name: str, spec: PlatformSpec, private: bool, opts: pulumi.ResourceOptions
) -> PrivateNetwork:
    azure = spec.azure
    return PrivateNetwork(
        f"{name}-network",
        PrivateNetworkArgs(
            resource_group_name=azure.resource_group_name if azure else None,
            subnet_id=azure.private_endpoint_subnet_id if azure and private else None,
            functions_subnet_id=azure.functions_subnet_id if azure else None,
            private_dns=private,
            linked_network_ids=tuple(azure.dns_link_virtual_network_ids) if azure else (),
        ),
        opts=opts,
    )


def _artifact_store(
    name: str,
    spec: PlatformSpec,
    net: PrivateNetwork,
    pe: dict[str, Any],
    opts: pulumi.ResourceOptions,
) -> ArtifactStore:
    azure, artifacts = spec.azure, spec.artifacts
    return ArtifactStore(
        f"{name}-artifacts",
        ArtifactStoreArgs(
            environment=spec.environment,
            resource_group_name=azure.resource_group_name if azure else None,
            customer_managed_key=artifacts.customer_managed_key,
            noncurrent_version_days=artifacts.noncurrent_version_days,
            force_destroy=artifacts.force_destroy,
            allowed_cidrs=tuple(azure.allowed_cidrs) if azure else (),
            allowed_subnet_ids=(net.functions_subnet_id,),
            key_vault_incarnation=azure.key_vault_incarnation if azure else 1,
            **pe,
        ),
        opts=opts,
    )


def _model_registry(
    name: str,
    spec: PlatformSpec,
    store: ArtifactStore,
    pe: dict[str, Any],
    opts: pulumi.ResourceOptions,
) -> ModelRegistry:
    return ModelRegistry(
        f"{name}-registry",
        ModelRegistryArgs(
            resource_group_name=store.resource_group_name,
            location=store.location,
            environment=spec.environment,
            approvers=tuple(spec.governance.approvers),
            # The approvers are paged for versions of the models this stack serves.
            model_names=tuple(
                {m.name for m in (spec.serving.model, spec.serving.previous_model) if m}
            ),
            **pe,
        ),
        opts=opts,
    )


def _training_cluster(
    name: str,
    spec: PlatformSpec,
    store: ArtifactStore,
    registry: ModelRegistry,
    pe: dict[str, Any],
    opts: pulumi.ResourceOptions,
) -> TrainingCluster:
    return TrainingCluster(
        f"{name}-training",
        TrainingClusterArgs(
            resource_group_name=store.resource_group_name,
            location=store.location,
            storage_account_id=store.storage_account_id,
            key_vault_id=customer_key(store.key_vault_id, spec.artifacts.customer_managed_key),
            container_registry_id=registry.container_registry_id,
            model_registry_id=registry.registry_id,
            compute_identity_id=store.dvc_identity_id,
            artifact_account_name=store.storage_account_name,
            artifact_container_name=store.container_name,
            key_vault_incarnation=spec.azure.key_vault_incarnation if spec.azure else 1,
            **training_cluster_kwargs(spec),
            **pe,
        ),
        opts=opts,
    )


def _serving_endpoint(
    name: str,
    spec: PlatformSpec,
    store: ArtifactStore,
    cluster: TrainingCluster,
    registry: ModelRegistry,
    private: bool,
    opts: pulumi.ResourceOptions,
) -> ServingEndpoint:
    serving = spec.serving
    previous = serving.previous_model
    return ServingEndpoint(
        f"{name}-serving",
        ServingEndpointArgs(
            resource_group_name=store.resource_group_name,
            workspace_name=cluster.workspace_name,
            location=store.location,
            environment=spec.environment,
            active_model=serving_deployment(spec, serving.model),
            previous_model=serving_deployment(spec, previous) if previous is not None else None,
            rollback=serving.rollback,
            rollout_strategy=serving.rollout.strategy,
            canary_percent=serving.rollout.canary_percent,
            linear_step_percent=serving.rollout.linear_step_percent,
            rollout_in_progress=rollout_in_progress(spec),
            registry_name=registry.registry_name,
            instance_type=serving.instance_type,
            min_replicas=serving.replicas.min,
            max_replicas=serving.replicas.max,
            public_endpoint=serving.public_endpoint,
            private_network=private,
        ),
        opts=opts,
    )


def _monitoring(
    parent: pulumi.Resource,
    name: str,
    spec: PlatformSpec,
    store: ArtifactStore,
    cluster: TrainingCluster,
    endpoint: ServingEndpoint | None,
    opts: pulumi.ResourceOptions,
) -> Monitoring:
    training, monitoring_spec = spec.training, spec.monitoring
    budget_per_hour = spec.governance.gpu_budget_usd_per_hour or gpu_catalogue.max_usd_per_hour(
        training.gpu, "azure", training.max_nodes
    )
    config = client_config(parent)
    watched: dict[str, Any] = {}
    if endpoint is not None:
        watched = {
            "endpoint_name": endpoint.endpoint_name,
            "studio_url": pulumi.Output.concat(
                "https://ml.azure.com/endpoints/realtime/",
                endpoint.endpoint_name,
                "/detail?wsid=",
                cluster.workspace_id,
            ),
        }
    return Monitoring(
        f"{name}-monitoring",
        MonitoringArgs(
            resource_group_name=store.resource_group_name,
            subscription_id=config.subscription_id,
            location=store.location,
            environment=spec.environment,
            alert_emails=tuple(monitoring_spec.alert_emails),
            webhook_url=webhook_secret(spec),
            latency_p99_ms=monitoring_spec.latency_p99_ms,
            error_rate_percent=monitoring_spec.error_rate_percent,
            workspace_name=cluster.workspace_name,
            workspace_id=cluster.workspace_id,
            # No deployment_id: the AzureML model monitor (Serverless Spark) cannot run in the
            # workspace's managed network without a Spark provisioning step no resource
            # declares; the drift job below alerts and feeds the retraining queue instead.
            retraining_account_name=store.storage_account_name,
            retraining_account_id=store.storage_account_id,
            drift=monitoring_spec.drift.schedule,
            monthly_budget_usd=round(budget_per_hour * HOURS_PER_MONTH, 2),
            **watched,
        ),
        opts=opts,
    )


def _drift_job(
    name: str,
    spec: PlatformSpec,
    net: PrivateNetwork,
    store: ArtifactStore,
    cluster: TrainingCluster,
    endpoint: ServingEndpoint,
    monitoring: Monitoring,
    opts: pulumi.ResourceOptions,
) -> DriftJob:
    return DriftJob(
        f"{name}-drift",
        DriftJobArgs(
            **drift_job_kwargs(spec),
            endpoint_name=endpoint.endpoint_name,
            resource_group_name=store.resource_group_name,
            location=store.location,
            integration_subnet_id=net.functions_subnet_id,
            artifact_bucket_name=store.bucket_name,
            storage_account_id=store.storage_account_id,
            # ServingEndpoint's data collector writes to the workspace's default blob store.
            capture_container_name=cluster.blob_store_container,
            action_group_id=monitoring.alert_topic,
            retraining_queue_id=monitoring.retraining_trigger,
            retraining_queue_url=monitoring.retraining_queue_url,
        ),
        opts=opts,
    )


def _rollout_guard(
    name: str,
    spec: PlatformSpec,
    net: PrivateNetwork,
    store: ArtifactStore,
    endpoint: ServingEndpoint,
    monitoring: Monitoring,
    drift_job: DriftJob,
    opts: pulumi.ResourceOptions,
) -> RolloutGuard:
    """Automatic rollback and promotion of the rollout on ``green`` (``serving.rollout``)."""
    rollout = spec.serving.rollout
    errors, latency, metric = rollout_alarm_thresholds(spec)
    return RolloutGuard(
        f"{name}-rollout",
        RolloutGuardArgs(
            resource_group_name=store.resource_group_name,
            location=store.location,
            endpoint_id=endpoint.endpoint_id,
            # While a canary or linear rollout is in progress green serves the new version.
            new_deployment="green",
            previous_deployment="blue",
            in_progress=rollout_in_progress(spec) and rollout.strategy != "all-at-once",
            host=drift_job,
            artifact_account_name=store.bucket_name,
            storage_account_id=store.storage_account_id,
            integration_subnet_id=net.functions_subnet_id,
            log_analytics_workspace_id=monitoring.log_analytics_workspace_id,
            action_group_id=monitoring.alert_topic,
            strategy=rollout.strategy,
            step_percent=rollout.linear_step_percent,
            bake_minutes=rollout.bake_minutes,
            error_rate_percent=errors,
            latency_p99_ms=latency,
            model_metric=(
                ModelMetric(
                    namespace=metric.namespace,
                    name=metric.name,
                    threshold=metric.threshold,
                    comparison=metric.comparison,
                )
                if metric is not None
                else None
            ),
            environment=spec.environment,
        ),
        opts=opts,
    )
