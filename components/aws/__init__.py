"""AWS components. Importing this package loads pulumi_aws only (never Azure or GCP SDKs)."""

from components.aws.artifact_store import ArtifactStore, ArtifactStoreArgs
from components.aws.model_registry import ModelRegistry, ModelRegistryArgs
from components.aws.monitoring import AlertChannel, AlertChannelArgs, Monitoring, MonitoringArgs
from components.aws.serving_endpoint import (
    ModelVersion,
    ServingEndpoint,
    ServingEndpointArgs,
    endpoint_name_for,
)
from components.aws.training_cluster import TrainingCluster, TrainingClusterArgs

__all__ = [
    "AlertChannel",
    "AlertChannelArgs",
    "ArtifactStore",
    "ArtifactStoreArgs",
    "ModelRegistry",
    "ModelRegistryArgs",
    "ModelVersion",
    "Monitoring",
    "MonitoringArgs",
    "ServingEndpoint",
    "ServingEndpointArgs",
    "TrainingCluster",
    "TrainingClusterArgs",
    "endpoint_name_for",
]
