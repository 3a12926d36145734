"""The fraud team's serving stack on AWS, composed from mlops-iac components directly.

No ``MlopsStack``: the team picks the three components it needs (artifact store, model registry,
serving endpoint) plus an alert channel and the drift job, and adds an SQS queue of its own for
batch inference requests. The lineage transform is registered first, so the queue (and every
child of every component) carries the stack's lineage tags without the team passing any.
"""

import pulumi
import pulumi_aws as aws

from mlops_iac.components.aws import (
    AlertChannel,
    AlertChannelArgs,
    ArtifactStore,
    ArtifactStoreArgs,
    DriftJob,
    DriftJobArgs,
    ModelRegistry,
    ModelRegistryArgs,
    ServingEndpoint,
    ServingEndpointArgs,
)
from mlops_iac.components.lineage import register_lineage_transform

# The platform's public translator: a spec ModelRef → ModelVersion with its serving tags.
from mlops_iac.components.platform.aws import serving_version
from mlops_iac.components.spec import SpecError, load_spec

try:
    spec = load_spec()  # the stack file's `mlops:platform` object
except SpecError as exc:
    # RunError: `pulumi up` and `mlops-iac plan` print the key-path messages without a traceback.
    raise pulumi.RunError(f"invalid stack file:\n{exc}") from None

# Before any resource: the transform only sees resources registered after it.
register_lineage_transform(spec)
env = spec.environment


store = ArtifactStore(
    "fraud-artifacts",
    ArtifactStoreArgs(
        environment=env, noncurrent_version_days=spec.artifacts.noncurrent_version_days
    ),
)
alerts = AlertChannel(
    "fraud-alerts", AlertChannelArgs(environment=env, emails=spec.monitoring.alert_emails)
)
registry = ModelRegistry(
    "fraud-registry",
    ModelRegistryArgs(
        environment=env, approvers=spec.governance.approvers, alert_topic_arn=alerts.topic_arn
    ),
)
serving = spec.serving
network = spec.aws
endpoint = ServingEndpoint(
    "fraud-serving",
    ServingEndpointArgs(
        environment=env,
        active_model=serving_version(spec, serving.active_model),
        previous_model=(
            serving_version(spec, serving.standby_model) if serving.standby_model else None
        ),
        artifact_bucket_name=store.bucket_name,
        kms_key_arn=store.kms_key_id,
        image_repository_arn=registry.image_repository_arn,
        image_repository_url=registry.image_repository_url,
        alert_topic_arn=alerts.topic_arn,
        min_replicas=serving.replicas.min,
        max_replicas=serving.replicas.max,
        rollout_strategy=serving.rollout.strategy,
        canary_percent=serving.rollout.canary_percent,
        bake_minutes=serving.rollout.bake_minutes,
        latency_p99_ms=spec.monitoring.latency_p99_ms,
        error_rate_percent=spec.monitoring.error_rate_percent,
        # Prod containers run in the team's existing private subnets (mlops:platform.aws).
        vpc_id=network.vpc_id if network else None,
        subnet_ids=list(network.subnet_ids) if network and network.subnet_ids else None,
    ),
)

# Continuous training: the toolkit's drift job on the endpoint's capture (schedule and thresholds
# from monitoring.drift), alarmed to the channel; it creates the retraining topic the team's
# retraining pipeline subscribes to.
drift = spec.monitoring.drift
drift_job = DriftJob(
    "fraud-drift",
    DriftJobArgs(
        environment=env,
        endpoint_name=endpoint.endpoint_name,
        artifact_bucket_name=store.bucket_name,
        artifact_kms_key_arn=store.kms_key_id,
        dataset_version=spec.lineage.dataset_version,
        alert_topic_arn=alerts.topic_arn,
        schedule=drift.schedule,
        psi=drift.psi,
        ks=drift.ks,
        jensen_shannon=drift.jensen_shannon,
        min_rows=drift.min_rows,
    ),
)

# The team's own resource: batch scoring requests, encrypted with the artifact store's key.
# No tags passed: the lineage transform adds them.
requests = aws.sqs.Queue(
    "inference-requests",
    kms_master_key_id=store.kms_key_id,
    kms_data_key_reuse_period_seconds=300,
    message_retention_seconds=4 * 24 * 3600,
    visibility_timeout_seconds=120,
)

pulumi.export("artifact_bucket_name", store.bucket_name)
pulumi.export("dvc_remote_url", store.dvc_remote_url)
pulumi.export("kms_key_id", store.kms_key_id)
pulumi.export("registry_name", registry.registry_name)
pulumi.export("image_repository_url", registry.image_repository_url)
pulumi.export("endpoint_name", endpoint.endpoint_name)
pulumi.export("active_model_version", endpoint.active_model_version)
pulumi.export("previous_model_version", endpoint.previous_model_version)
pulumi.export("alert_topic", alerts.topic_arn)
pulumi.export("inference_queue_arn", requests.arn)
pulumi.export("retraining_topic", drift_job.retraining_topic_arn)
