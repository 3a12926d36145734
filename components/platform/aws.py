"""Spec → AWS component Args, and the wiring between the AWS components.

Order (each arrow is an output passed as an input):

1. ``ArtifactStore`` — bucket and key → serving capture, drift monitoring.
2. ``TrainingCluster`` — private subnets → serving ``vpc_config`` (prod); GPU pool → GPU alarm.
3. ``AlertChannel`` — the alert topic, created before everything that notifies it.
4. ``ModelRegistry`` — image repository → serving; approved versions → alert topic.
5. ``ServingEndpoint`` — rollback alarms → alert topic; endpoint name → monitoring.
6. ``Monitoring`` — reuses the channel, watches the endpoint and the GPU pool.
"""

from __future__ import annotations

from typing import Any

import pulumi

from mlops_iac.components import gpu as gpu_catalogue
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
    TrainingCluster,
    TrainingClusterArgs,
)
from mlops_iac.components.aws import _defaults as defaults
from mlops_iac.components.lineage import sanitise, serving_tags
from mlops_iac.components.platform.common import (
    artifact_store_kwargs,
    contract_exports,
    training_cluster_kwargs,
    webhook_secret,
)
from mlops_iac.components.spec import ModelRef, PlatformSpec


def _version(spec: PlatformSpec, model: ModelRef) -> ModelVersion:
    return ModelVersion(
        name=model.name,
        version=model.version,
        artifact_uri=model.artifact_uri,
        image=model.image,
        tags=sanitise(serving_tags(spec, model), "aws"),
    )


def build(parent: pulumi.Resource, name: str, spec: PlatformSpec) -> dict[str, Any]:
    """Create the AWS platform under ``parent``; return the stack exports."""
    opts = pulumi.ResourceOptions(parent=parent)
    env = spec.environment
    artifacts = spec.artifacts
    store = ArtifactStore(
        f"{name}-artifacts",
        ArtifactStoreArgs(**artifact_store_kwargs(spec)),
        opts=opts,
    )

    training = spec.training
    aws_spec = spec.aws
    cluster = TrainingCluster(
        f"{name}-training",
        TrainingClusterArgs(
            **training_cluster_kwargs(spec),
            vpc_id=aws_spec.vpc_id if aws_spec else None,
            subnet_ids=list(aws_spec.subnet_ids) if aws_spec and aws_spec.subnet_ids else None,
            availability_zones=aws_spec.availability_zones if aws_spec else 2,
            kubernetes_version=(aws_spec.kubernetes_version if aws_spec else None)
            or defaults.KUBERNETES_VERSION,
        ),
        opts=opts,
    )

    monitoring = spec.monitoring
    webhook = webhook_secret(spec)
    channel = AlertChannel(
        f"{name}-alerts",
        AlertChannelArgs(environment=env, emails=monitoring.alert_emails, webhook_url=webhook),
        opts=opts,
    )

    registry = ModelRegistry(
        f"{name}-registry",
        ModelRegistryArgs(
            environment=env,
            description=f"Models of {spec.project}",
            approvers=spec.governance.approvers,
            alert_topic_arn=channel.topic_arn,
        ),
        opts=opts,
    )

    serving = spec.serving
    standby = serving.standby_model
    rollout = serving.rollout
    endpoint = ServingEndpoint(
        f"{name}-serving",
        ServingEndpointArgs(
            environment=env,
            active=_version(spec, serving.active_model),
            standby=_version(spec, standby) if standby is not None else None,
            artifact_bucket_name=store.bucket_name,
            kms_key_arn=store.kms_key_id if artifacts.customer_managed_key else None,
            image_repository_arn=registry.image_repository_arn,
            image_repository_url=registry.image_repository_url,
            alert_topic_arn=channel.topic_arn,
            instance_type=serving.instance_type or defaults.SERVING_INSTANCE_TYPE,
            min_replicas=serving.replicas.min,
            max_replicas=serving.replicas.max,
            rollout_strategy=rollout.strategy,
            canary_percent=rollout.canary_percent,
            linear_step_percent=rollout.linear_step_percent,
            bake_minutes=rollout.bake_minutes,
            latency_p99_ms=monitoring.latency_p99_ms,
            error_rate_percent=monitoring.error_rate_percent,
            capture_sampling_percent=aws_spec.capture_sampling_percent if aws_spec else None,
            extra_rollback_alarms=aws_spec.rollback_alarms if aws_spec else (),
            # Prod model containers run in the training VPC's private subnets.
            vpc_id=cluster.vpc_id if spec.is_prod else None,
            subnet_ids=cluster.private_subnet_ids if spec.is_prod else None,
            public_endpoint=serving.public_endpoint,
        ),
        opts=opts,
    )

    budget = spec.governance.gpu_budget_usd_per_hour
    if budget is None:
        budget = gpu_catalogue.max_usd_per_hour(training.gpu, "aws", training.max_nodes)
    watch = Monitoring(
        f"{name}-monitoring",
        MonitoringArgs(
            environment=env,
            project=spec.project,
            alert_topic_arn=channel.topic_arn,
            alert_emails=monitoring.alert_emails,
            kms_key_arn=channel.kms_key_id,
            endpoint_name=endpoint.endpoint_name,
            serving_alarm_names=endpoint.alarm_names,
            latency_p99_ms=monitoring.latency_p99_ms,
            error_rate_percent=monitoring.error_rate_percent,
            artifact_bucket_name=store.bucket_name,
            artifact_kms_key_arn=store.kms_key_id if artifacts.customer_managed_key else None,
            drift=monitoring.drift.schedule,
            gpu_asg_name=cluster.gpu_asg_name,
            gpu_max_nodes=training.max_nodes,
            gpu_instance_types=[gpu_catalogue.lookup(training.gpu, "aws").node_type],
            monthly_budget_usd=budget * defaults.HOURS_PER_MONTH,
        ),
        opts=opts,
    )

    drift = monitoring.drift
    drift_job = DriftJob(
        f"{name}-drift",
        DriftJobArgs(
            environment=env,
            endpoint_name=endpoint.endpoint_name,
            artifact_bucket_name=store.bucket_name,
            artifact_kms_key_arn=store.kms_key_id if artifacts.customer_managed_key else None,
            dataset_version=spec.lineage.dataset_version,
            alert_topic_arn=channel.topic_arn,
            retraining_topic_arn=watch.retraining_trigger,
            schedule=drift.schedule,
            window_hours=drift.window_hours,
            psi=drift.psi,
            ks=drift.ks,
            jensen_shannon=drift.jensen_shannon,
            min_rows=drift.min_rows,
        ),
        opts=opts,
    )

    return {
        **contract_exports(store, cluster, registry, endpoint, watch),
        "drift_job_function": drift_job.function_name,
        "drift_alarm_name": drift_job.alarm_name,
        "drift_baseline_uri": drift_job.baseline_uri,
        "autoscaler_role_arn": cluster.autoscaler_role_arn,
        "dvc_policy_arn": store.dvc_policy_arn,
        "approvers_topic": registry.approvers_topic,
        "active_endpoint_config_name": endpoint.active_endpoint_config_name,
        "previous_endpoint_config_name": endpoint.previous_endpoint_config_name,
        "alarm_names": pulumi.Output.all(watch.alarm_names, drift_job.alarm_names).apply(
            lambda lists: [*lists[0], *lists[1]]
        ),
    }
