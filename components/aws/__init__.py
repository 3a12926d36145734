"""AWS components. Importing this package loads pulumi_aws only (never Azure or GCP SDKs).

- ``ArtifactStore``: versioned, KMS-encrypted S3 bucket; the DVC remote and capture store.
- ``TrainingCluster``: private EKS cluster, GPU managed node group that scales to zero.
- ``ModelRegistry``: SageMaker model package group, ECR repository, approval notifications.
- ``ServingEndpoint``: SageMaker endpoint serving one of two deployable versions, blue/green
  canary/linear rollout with automatic rollback on its own alarms, autoscaling, data capture.
- ``AlertChannel`` and ``Monitoring``: alert topic, alarms, dashboard, drift monitoring,
  retraining trigger, GPU budget.

Compose them in this order (``components/platform/aws.py`` does)::

    store = ArtifactStore("art", ArtifactStoreArgs(environment="prod"))
    channel = AlertChannel("alerts", AlertChannelArgs(emails=["oncall@example.com"]))
    registry = ModelRegistry("reg", ModelRegistryArgs(alert_topic_arn=channel.topic_arn))
    serving = ServingEndpoint("srv", ServingEndpointArgs(
        active_model=ModelVersion(name="fraud", version="7", artifact_uri="s3://…/model.tar.gz"),
        artifact_bucket_name=store.bucket_name, kms_key_arn=store.kms_key_id,
        image_repository_url=registry.image_repository_url, alert_topic_arn=channel.topic_arn))
    Monitoring("mon", MonitoringArgs(alert_topic_arn=channel.topic_arn,
        endpoint_name=serving.endpoint_name, serving_alarm_names=serving.alarm_names,
        artifact_bucket_name=store.bucket_name, artifact_kms_key_arn=store.kms_key_id))
"""

# ruff: noqa: E402 (the SDK check runs before anything else)
from typing import TYPE_CHECKING

from mlops_iac.components._component import lazy_exports, require_cloud_sdk

require_cloud_sdk("aws")

if TYPE_CHECKING:
    from mlops_iac.components.aws.artifact_store import ArtifactStore, ArtifactStoreArgs
    from mlops_iac.components.aws.drift_job import DriftJob, DriftJobArgs
    from mlops_iac.components.aws.model_registry import ModelRegistry, ModelRegistryArgs
    from mlops_iac.components.aws.monitoring import (
        AlertChannel,
        AlertChannelArgs,
        Monitoring,
        MonitoringArgs,
    )
    from mlops_iac.components.aws.serving_endpoint import (
        ModelVersion,
        ServingEndpoint,
        ServingEndpointArgs,
        endpoint_name_for,
    )
    from mlops_iac.components.aws.tracking import Tracking, TrackingArgs
    from mlops_iac.components.aws.training_cluster import TrainingCluster, TrainingClusterArgs

# Each name's module loads on first access (PEP 562), so a program pays only for the components
# it builds (the drift job's and the Kubernetes side's modules stay unloaded otherwise).
_EXPORTS = {
    "AlertChannel": "monitoring",
    "AlertChannelArgs": "monitoring",
    "ArtifactStore": "artifact_store",
    "ArtifactStoreArgs": "artifact_store",
    "DriftJob": "drift_job",
    "DriftJobArgs": "drift_job",
    "ModelRegistry": "model_registry",
    "ModelRegistryArgs": "model_registry",
    "ModelVersion": "serving_endpoint",
    "Monitoring": "monitoring",
    "MonitoringArgs": "monitoring",
    "ServingEndpoint": "serving_endpoint",
    "ServingEndpointArgs": "serving_endpoint",
    "Tracking": "tracking",
    "TrackingArgs": "tracking",
    "TrainingCluster": "training_cluster",
    "TrainingClusterArgs": "training_cluster",
    "endpoint_name_for": "serving_endpoint",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "AlertChannel",
    "AlertChannelArgs",
    "ArtifactStore",
    "ArtifactStoreArgs",
    "DriftJob",
    "DriftJobArgs",
    "ModelRegistry",
    "ModelRegistryArgs",
    "ModelVersion",
    "Monitoring",
    "MonitoringArgs",
    "ServingEndpoint",
    "ServingEndpointArgs",
    "Tracking",
    "TrackingArgs",
    "TrainingCluster",
    "TrainingClusterArgs",
    "endpoint_name_for",
]
