"""Spec → AWS component Args, and the wiring between the AWS components.

Order (each arrow is an output passed as an input):

1. ``ArtifactStore`` — bucket and key → serving capture, drift monitoring.
2. ``TrainingCluster`` — private subnets → serving ``vpc_config`` (prod); GPU pool → GPU alarm.
3. ``AlertChannel`` — the alert topic, created before everything that notifies it.
4. ``ModelRegistry`` — image repository → serving; approved versions → alert topic.
5. ``ServingEndpoint`` — rollback alarms → alert topic; endpoint name → monitoring.
6. ``Monitoring`` — reuses the channel, watches the endpoint and the GPU pool.
7. ``Tracking`` (``tracking.enabled``) — MLflow on the store's ``mlflow/`` prefix; the trainer
   role and CI's roles may log to it.
"""

from __future__ import annotations

from typing import Any

import pulumi

from mlops_iac.components.aws import (
    AlertChannel,
    AlertChannelArgs,
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
from mlops_iac.components.aws.serving_endpoint import ModelMetricAlarm
from mlops_iac.components.lineage import base_tags, sanitise, serving_tags
from mlops_iac.components.platform.common import (
    artifact_store_kwargs,
    bring_up_pending,
    contract_exports,
    customer_key,
    drift_exports,
    drift_job_kwargs,
    rollout_alarm_thresholds,
    tracking_exports,
    tracking_kwargs,
    training_cluster_kwargs,
    training_exports,
    training_kubernetes_kwargs,
    webhook_secret,
)
from mlops_iac.spec import gpu as gpu_catalogue
from mlops_iac.spec.defaults import HOURS_PER_MONTH
from mlops_iac.spec.models import AwsSpec, ModelRef, PlatformSpec


def serving_version(spec: PlatformSpec, model: ModelRef) -> ModelVersion:
    """A served version with the lineage tags that name it and its approval (public: team
    programs that compose the components call it too)."""
    return ModelVersion(
        name=model.name,
        version=model.version,
        artifact_uri=model.artifact_uri,
        image=model.image,
        tags=sanitise(serving_tags(spec, model), "aws"),
    )


_version = serving_version  # the former private name


def build(parent: pulumi.Resource, name: str, spec: PlatformSpec) -> dict[str, Any]:
    """Create the AWS platform under ``parent``; return the stack exports."""
    opts = pulumi.ResourceOptions(parent=parent)
    store = ArtifactStore(
        f"{name}-artifacts",
        ArtifactStoreArgs(
            **artifact_store_kwargs(spec),
            capture_retention_days=(spec.aws or AwsSpec()).capture_retention_days,
        ),
        opts=opts,
    )
    cluster = _training_cluster(name, spec, store, opts)
    channel = AlertChannel(
        f"{name}-alerts",
        AlertChannelArgs(
            environment=spec.environment,
            emails=spec.monitoring.alert_emails,
            webhook_url=webhook_secret(spec),
        ),
        opts=opts,
    )
    registry = ModelRegistry(
        f"{name}-registry",
        ModelRegistryArgs(
            environment=spec.environment,
            description=f"Models of {spec.project}",
            approvers=spec.governance.approvers,
            alert_topic_arn=channel.topic_arn,
        ),
        opts=opts,
    )
    # Without serving (a bring-up step) there is no endpoint to watch and no capture to check.
    endpoint = None
    if spec.serving.enabled:
        endpoint = _serving_endpoint(name, spec, store, cluster, channel, registry, opts)
    watch = _monitoring(name, spec, store, cluster, channel, endpoint, opts)
    drift_job = None
    if endpoint is not None:
        drift_job = _drift_job(name, spec, store, channel, endpoint, watch, opts)
    tracking = _tracking(name, spec, store, cluster, opts) if spec.tracking.enabled else None
    return {
        **_exports(spec, store, cluster, registry, endpoint, watch, drift_job),
        **tracking_exports(tracking),
    }


def _tracking(
    name: str,
    spec: PlatformSpec,
    store: ArtifactStore,
    cluster: TrainingCluster,
    opts: pulumi.ResourceOptions,
) -> Tracking:
    """The SageMaker MLflow tracking server; the trainer role and CI's roles log to it."""
    return Tracking(
        f"{name}-tracking",
        TrackingArgs(
            **tracking_kwargs(spec),
            artifact_bucket_name=store.bucket_name,
            kms_key_arn=customer_key(store.kms_key_id, spec.artifacts.customer_managed_key),
            training_role_name=cluster.trainer_role_arn.apply(lambda arn: arn.rsplit("/", 1)[-1]),
        ),
        opts=opts,
    )


def _serving_autoscaling(spec: PlatformSpec) -> bool:
    """Whether the endpoint autoscales: the stack file's ``aws.servingAutoscaling``, else on."""
    return (spec.aws or AwsSpec()).serving_autoscaling


def _training_cluster(
    name: str, spec: PlatformSpec, store: ArtifactStore, opts: pulumi.ResourceOptions
) -> TrainingCluster:
    """The training cluster; its trainer role reads the store's DVC data (read-only)."""
    training = spec.training
    aws_spec = spec.aws or AwsSpec()  # absent: the section's defaults
    return TrainingCluster(
        f"{name}-training",
        TrainingClusterArgs(
            **training_cluster_kwargs(spec),
            **training_kubernetes_kwargs(spec),
            admin_role_arns=training.access.admin_role_arns,
            public_access_cidrs=training.access.public_cidrs,
            private_access_cidrs=training.access.private_cidrs,
            artifact_bucket_arn=store.bucket_arn,
            artifact_key_arn=customer_key(store.kms_key_id, spec.artifacts.customer_managed_key),
            vpc_id=aws_spec.vpc_id,
            subnet_ids=list(aws_spec.subnet_ids) or None,
            availability_zones=aws_spec.availability_zones,
            kubernetes_version=aws_spec.kubernetes_version,
            # The GPU budget filters on mlops:project: the instances must carry it themselves.
            node_tags=sanitise(base_tags(spec), "aws"),
        ),
        opts=opts,
    )


def _serving_endpoint(
    name: str,
    spec: PlatformSpec,
    store: ArtifactStore,
    cluster: TrainingCluster,
    channel: AlertChannel,
    registry: ModelRegistry,
    opts: pulumi.ResourceOptions,
) -> ServingEndpoint:
    """The serving endpoint, told what this stack deployed last (see ``deployed``)."""
    env = spec.environment
    artifacts = spec.artifacts
    aws_spec = spec.aws or AwsSpec()  # absent: the section's defaults
    serving = spec.serving
    previous = serving.previous_model
    rollout = serving.rollout
    errors, latency, metric = rollout_alarm_thresholds(spec)
    autoscaling = _serving_autoscaling(spec)
    # This stack's own last deployment: the serving instance type and autoscaling it exported,
    # so a transition AWS refuses fails at preview rather than halfway through `pulumi up`.
    # A stack may reference itself to read its previous outputs (a maintainer's example:
    # https://github.com/pulumi/pulumi/issues/3722); a stack never deployed has none.
    deployed = pulumi.StackReference(
        f"{name}-deployed",
        stack_name=f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}",
        opts=opts,
    )
    return ServingEndpoint(
        f"{name}-serving",
        ServingEndpointArgs(
            environment=env,
            active_model=serving_version(spec, serving.model),
            previous_model=serving_version(spec, previous) if previous is not None else None,
            rollback=serving.rollback,
            artifact_bucket_name=store.bucket_name,
            kms_key_arn=customer_key(store.kms_key_id, artifacts.customer_managed_key),
            image_repository_arn=registry.image_repository_arn,
            image_repository_url=registry.image_repository_url,
            alert_topic_arn=channel.topic_arn,
            instance_type=serving.instance_type,
            deployed_instance_type=deployed.get_output("serving_instance_type"),
            deployed_autoscaling=deployed.get_output("serving_autoscaling"),
            min_replicas=serving.replicas.min,
            max_replicas=serving.replicas.max,
            autoscaling=autoscaling,
            rollout_strategy=rollout.strategy,
            canary_percent=rollout.canary_percent,
            linear_step_percent=rollout.linear_step_percent,
            bake_minutes=rollout.bake_minutes,
            latency_p99_ms=latency,
            error_rate_percent=errors,
            model_metric=(
                ModelMetricAlarm(
                    namespace=metric.namespace,
                    name=metric.name,
                    threshold=metric.threshold,
                    comparison=metric.comparison,
                )
                if metric is not None
                else None
            ),
            capture_sampling_percent=aws_spec.capture_sampling_percent,
            extra_rollback_alarms=aws_spec.rollback_alarms,
            # Prod model containers run in the training VPC's private subnets.
            vpc_id=cluster.vpc_id if spec.is_prod else None,
            subnet_ids=cluster.private_subnet_ids if spec.is_prod else None,
            public_endpoint=serving.public_endpoint,
        ),
        opts=opts,
    )


def _monitoring(
    name: str,
    spec: PlatformSpec,
    store: ArtifactStore,
    cluster: TrainingCluster,
    channel: AlertChannel,
    endpoint: ServingEndpoint | None,
    opts: pulumi.ResourceOptions,
) -> Monitoring:
    """Monitoring on the shared alert channel, watching the endpoint and the GPU pool."""
    env = spec.environment
    artifacts = spec.artifacts
    monitoring = spec.monitoring
    training = spec.training
    aws_spec = spec.aws or AwsSpec()  # absent: the section's defaults
    budget = spec.governance.gpu_budget_usd_per_hour
    if budget is None:
        budget = gpu_catalogue.max_usd_per_hour(
            training.gpu, "aws", training.max_nodes, spot=training.spot
        )
    return Monitoring(
        f"{name}-monitoring",
        MonitoringArgs(
            environment=env,
            project=spec.project,
            alert_topic_arn=channel.topic_arn,
            alert_emails=monitoring.alert_emails,
            kms_key_arn=channel.kms_key_id,
            endpoint_name=endpoint.endpoint_name if endpoint else None,
            serving_alarm_names=endpoint.alarm_names if endpoint else None,
            latency_p99_ms=monitoring.latency_p99_ms,
            error_rate_percent=monitoring.error_rate_percent,
            artifact_bucket_name=store.bucket_name,
            artifact_kms_key_arn=customer_key(store.kms_key_id, artifacts.customer_managed_key),
            drift=monitoring.drift.schedule,
            model_monitor=aws_spec.model_monitor,
            gpu_asg_name=cluster.gpu_asg_name,
            gpu_max_nodes=training.max_nodes,
            gpu_instance_types=list(
                gpu_catalogue.lookup(training.gpu, "aws").node_types(training.spot)
            ),
            monthly_budget_usd=budget * HOURS_PER_MONTH,
        ),
        opts=opts,
    )


def _drift_job(
    name: str,
    spec: PlatformSpec,
    store: ArtifactStore,
    channel: AlertChannel,
    endpoint: ServingEndpoint,
    watch: Monitoring,
    opts: pulumi.ResourceOptions,
) -> DriftJob:
    """The drift job on the endpoint's capture, feeding the monitoring's retraining trigger."""
    artifacts = spec.artifacts
    return DriftJob(
        f"{name}-drift",
        DriftJobArgs(
            **drift_job_kwargs(spec),
            endpoint_name=endpoint.endpoint_name,
            artifact_bucket_name=store.bucket_name,
            artifact_kms_key_arn=customer_key(store.kms_key_id, artifacts.customer_managed_key),
            alert_topic_arn=channel.topic_arn,
            retraining_topic_arn=watch.retraining_trigger,
        ),
        opts=opts,
    )


def _exports(
    spec: PlatformSpec,
    store: ArtifactStore,
    cluster: TrainingCluster,
    registry: ModelRegistry,
    endpoint: ServingEndpoint | None,
    watch: Monitoring,
    drift_job: DriftJob | None,
) -> dict[str, Any]:
    """The stack exports: the contract's, then the AWS platform's own (the serving and drift
    ones None while ``serving.enabled`` is false)."""
    autoscaling = _serving_autoscaling(spec)
    return {
        **contract_exports(store, cluster, registry, endpoint, watch),
        **drift_exports(drift_job),
        "autoscaler_role_arn": cluster.autoscaler_role_arn,
        "trainer_role_arn": cluster.trainer_role_arn,
        # What a runner's network needs to reach the private API (training.access.privateCidrs).
        "cluster_security_group_id": cluster.cluster_security_group_id,
        **training_exports(cluster),
        "dvc_policy_arn": store.dvc_policy_arn,
        "active_endpoint_config_name": endpoint.active_endpoint_config_name if endpoint else None,
        "previous_endpoint_config_name": (
            endpoint.previous_endpoint_config_name if endpoint else None
        ),
        "alarm_names": pulumi.Output.all(
            watch.alarm_names, drift_job.alarm_names if drift_job else []
        ).apply(lambda lists: [*lists[0], *lists[1]]),
        # Read back by the next deployment (see `deployed` in _serving_endpoint).
        "serving_instance_type": endpoint.instance_type if endpoint else None,
        "serving_autoscaling": autoscaling,
        "bring_up_pending": bring_up_pending(spec),
    }
