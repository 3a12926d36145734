"""Spec → GCP component Args, and the wiring between the GCP components.

Artifact store bucket → serving capture; registry image URL → the served image when the spec
names none; serving service → the monitoring policies and dashboard. Serving resources carry the
serving lineage labels (model, version, approval), sanitised for GCP.
"""

from __future__ import annotations

from typing import Any

import pulumi

from mlops_iac.components.gcp import (
    ArtifactStore,
    ArtifactStoreArgs,
    DriftJob,
    DriftJobArgs,
    ModelRegistry,
    ModelRegistryArgs,
    ModelVersion,
    Monitoring,
    MonitoringArgs,
    ServingEndpoint,
    ServingEndpointArgs,
    Tracking,
    TrackingArgs,
    TrainingCluster,
    TrainingClusterArgs,
)
from mlops_iac.components.gcp.apis import ProjectApis
from mlops_iac.components.gcp.rollout_guard import ModelMetric, RolloutGuard, RolloutGuardArgs
from mlops_iac.components.lineage import sanitise, serving_tags
from mlops_iac.components.platform.common import (
    artifact_store_kwargs,
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
    training_exports,
    training_kubernetes_kwargs,
    webhook_secret,
)
from mlops_iac.spec.defaults import HOURS_PER_MONTH
from mlops_iac.spec.models import PlatformSpec


def build(parent: pulumi.Resource, name: str, spec: PlatformSpec) -> dict[str, Any]:
    """Create the GCP platform under ``parent``; return the stack exports.

    Every API a resource needs is enabled first (``{name}-api-<api>``, see ``gcp.apis``)."""
    apis = ProjectApis(parent, name)
    opts = pulumi.ResourceOptions(parent=parent, transformations=[apis.transformation])
    store = ArtifactStore(
        f"{name}-artifacts",
        ArtifactStoreArgs(**artifact_store_kwargs(spec)),
        opts=opts,
    )
    cluster = TrainingCluster(f"{name}-training", _training_args(spec, store), opts=opts)
    registry = ModelRegistry(
        f"{name}-registry",
        ModelRegistryArgs(environment=spec.environment, approvers=spec.governance.approvers),
        opts=opts,
    )
    # Without serving (a bring-up step) there is no service to watch and no capture to check.
    endpoint = drift_job = None
    if spec.serving.enabled:
        endpoint = ServingEndpoint(
            f"{name}-serving", _serving_args(spec, store, registry), opts=opts
        )
    monitor = Monitoring(f"{name}-monitoring", _monitoring_args(spec, endpoint), opts=opts)
    if endpoint is not None:
        drift_job = DriftJob(
            f"{name}-drift", _drift_job_args(name, spec, store, endpoint, monitor), opts=opts
        )
    guard = None
    if endpoint is not None and guarded(spec):
        guard = RolloutGuard(
            f"{name}-rollout", _rollout_guard_args(spec, store, endpoint, monitor), opts=opts
        )
    tracking = None
    if spec.tracking.enabled:
        tracking = Tracking(f"{name}-tracking", _tracking_args(spec, store), opts=opts)
    return {
        **contract_exports(store, cluster, registry, endpoint, monitor),
        **drift_exports(drift_job),
        **tracking_exports(tracking),
        # Every alert policy of the stack, for `mlops-iac verify` (as on AWS).
        "alarm_names": pulumi.Output.all(
            monitor.alarm_names,
            drift_job.alarm_name if drift_job else None,
            guard.alarm_names if guard else [],
        ).apply(lambda parts: [*parts[0], *([parts[1]] if parts[1] else []), *parts[2]]),
        "dvc_service_account": store.dvc_service_account,
        **training_exports(cluster),
        "model_bucket_name": registry.model_bucket_name,
        # Read back by the next deployment: which revisions exist to keep in traffic.
        "serving_revisions": endpoint.serving_revisions if endpoint else [],
        # What the rollout function last did to the deployed rollout (None: nothing), which the
        # next apply keeps and `mlops-iac plan` reports.
        "serving_rollout": endpoint.rollout if endpoint else None,
        "bring_up_pending": bring_up_pending(spec),
    }


def _tracking_args(spec: PlatformSpec, store: ArtifactStore) -> TrackingArgs:
    """MLflow on Cloud Run; the trainer (as the store's DVC account) and CI may invoke it."""
    return TrackingArgs(
        **tracking_kwargs(spec),
        artifact_bucket_name=store.bucket_name,
        kms_key_id=customer_key(store.kms_key_id, spec.artifacts.customer_managed_key),
        kms_key_location=store.kms_key_location,
        training_member=store.dvc_service_account.apply(lambda e: f"serviceAccount:{e}"),
        image=spec.tracking.image,
    )


def _training_args(spec: PlatformSpec, store: ArtifactStore) -> TrainingClusterArgs:
    """The cluster of the spec; its trainer impersonates the artifact store's DVC account."""
    gcp = spec.gcp
    return TrainingClusterArgs(
        **training_cluster_kwargs(spec),
        **training_kubernetes_kwargs(spec),
        public_access_cidrs=spec.training.access.public_cidrs,
        dns_endpoint=spec.training.access.dns_endpoint,
        artifact_service_account=store.dvc_service_account,
        gpu_zones=gcp.gpu_zones if gcp else (),
        budget_usd_per_hour=spec.governance.gpu_budget_usd_per_hour,
    )


def _serving_args(
    spec: PlatformSpec, store: ArtifactStore, registry: ModelRegistry
) -> ServingEndpointArgs:
    """The served model from the registry (unless the spec names an image), capture to the store."""
    serving = spec.serving
    model, previous = serving.model, serving.previous_model
    # The stack serves what it registers: the image from its own repository and the artifact
    # from its own model bucket (a path in it). Anything else is "bring your own", which the spec
    # only accepts with gcp.externalArtifacts: true.
    # By digest when the spec pins one (a tag can be re-pushed; the approval signs the digest).
    reference = f"@{model.image_digest}" if model.image_digest else f":{model.version}"
    image: pulumi.Input[str] = model.image or pulumi.Output.concat(
        registry.image_repository_url, f"/{model.name}{reference}"
    )
    model_bucket, model_prefix = _model_location(model.artifact_uri, registry.model_bucket_name)
    previous_prefix = None
    if previous is not None:
        previous_bucket, previous_prefix = _model_location(
            previous.artifact_uri, registry.model_bucket_name
        )
        same = previous_bucket is model_bucket or (
            isinstance(previous_bucket, str) and previous_bucket == model_bucket
        )
        if not same:
            previous_prefix = None  # in another bucket: granted there, not by this stack
    return ServingEndpointArgs(
        environment=spec.environment,
        active_model=ModelVersion(
            name=model.name,
            version=model.version,
            image=image,
            artifact_uri=pulumi.Output.concat("gs://", model_bucket, "/", model_prefix),
        ),
        previous_model=(
            ModelVersion(name=previous.name, version=previous.version) if previous else None
        ),
        model_bucket=model_bucket,
        model_prefix=model_prefix,
        previous_model_prefix=previous_prefix,
        rollback=serving.rollback,
        rollout_strategy=serving.rollout.strategy,
        canary_percent=serving.rollout.canary_percent,
        linear_step_percent=serving.rollout.linear_step_percent,
        min_replicas=serving.replicas.min,
        max_replicas=serving.replicas.max,
        accelerator=_accelerator(serving.instance_type),
        public_endpoint=serving.public_endpoint,
        capture_bucket=store.bucket_name,
        tags=sanitise(serving_tags(spec, serving.active_model), "gcp"),
    )


def _monitoring_args(spec: PlatformSpec, endpoint: ServingEndpoint | None) -> MonitoringArgs:
    """Alerts on the endpoint; the monthly budget is the hourly GPU budget times a month."""
    gcp = spec.gcp
    hourly = spec.governance.gpu_budget_usd_per_hour
    return MonitoringArgs(
        environment=spec.environment,
        endpoint_name=endpoint.endpoint_name if endpoint else None,
        alert_emails=spec.monitoring.alert_emails,
        webhook_url=webhook_secret(spec),
        latency_p99_ms=spec.monitoring.latency_p99_ms,
        error_rate_percent=spec.monitoring.error_rate_percent,
        drift=spec.monitoring.drift.schedule,
        billing_account=gcp.billing_account if gcp else None,
        monthly_budget_usd=hourly * HOURS_PER_MONTH if hourly is not None else None,
        billing_project=gcp.billing_project if gcp else None,
    )


def _drift_job_args(
    name: str,
    spec: PlatformSpec,
    store: ArtifactStore,
    endpoint: ServingEndpoint,
    monitor: Monitoring,
) -> DriftJobArgs:
    """The drift job reads the endpoint's capture and alerts through the monitoring channels."""
    return DriftJobArgs(
        **drift_job_kwargs(spec),
        endpoint_name=endpoint.endpoint_name,
        artifact_bucket_name=store.bucket_name,
        # ServingEndpoint hands its container CAPTURE_URI = gs://<bucket>/capture/<name>/.
        capture_prefix=f"capture/{name}-serving/",
        alert_channels=monitor.alert_channels,
        retraining_topic=monitor.retraining_trigger,
    )


def _rollout_guard_args(
    spec: PlatformSpec, store: ArtifactStore, endpoint: ServingEndpoint, monitor: Monitoring
) -> RolloutGuardArgs:
    """The rollout of ``serving.rollout`` on the endpoint's current revision."""
    rollout = spec.serving.rollout
    errors, latency, metric = rollout_alarm_thresholds(spec)
    return RolloutGuardArgs(
        environment=spec.environment,
        service_name=endpoint.endpoint_name,
        current_revision=endpoint.current_revision_name,
        runtime_account=endpoint.runtime_account_email,
        artifact_bucket_name=store.bucket_name,
        in_progress=rollout.strategy != "all-at-once" and not spec.serving.rollback,
        strategy=rollout.strategy,
        step_percent=rollout.linear_step_percent,
        bake_minutes=rollout.bake_minutes,
        error_rate_percent=errors,
        latency_p99_ms=latency,
        model_metric=(
            ModelMetric(
                metric_type=f"{metric.namespace.rstrip('/')}/{metric.name}",
                threshold=metric.threshold,
                comparison=metric.comparison,
            )
            if metric is not None
            else None
        ),
        alert_channels=monitor.alert_channels,
        tags=sanitise(serving_tags(spec, spec.serving.active_model), "gcp"),
    )


def _model_location(uri: str, model_bucket: pulumi.Output[str]) -> tuple[pulumi.Input[str], str]:
    """(bucket, object prefix) of a model artifact: a ``gs://`` URI as given, or a path in the
    stack's model bucket."""
    if uri.startswith("gs://"):
        bucket, _, path = uri[len("gs://") :].partition("/")
        return bucket, path
    return model_bucket, uri.lstrip("/")


def _accelerator(instance_type: str | None) -> str | None:
    """A Cloud Run GPU type (``nvidia-l4``) in ``serving.instanceType``; anything else is CPU."""
    if instance_type and instance_type.startswith("nvidia-"):
        return instance_type
    return None
