"""GCP components. Importing this package loads pulumi_gcp only (never AWS or Azure SDKs), and of
pulumi_gcp only the submodules the components use."""

from components.gcp.artifact_store import ArtifactStore, ArtifactStoreArgs
from components.gcp.model_registry import ModelRegistry, ModelRegistryArgs
from components.gcp.monitoring import Monitoring, MonitoringArgs
from components.gcp.serving_endpoint import ServingEndpoint, ServingEndpointArgs
from components.gcp.training_cluster import TrainingCluster, TrainingClusterArgs

__all__ = [
    "ArtifactStore",
    "ArtifactStoreArgs",
    "ModelRegistry",
    "ModelRegistryArgs",
    "Monitoring",
    "MonitoringArgs",
    "ServingEndpoint",
    "ServingEndpointArgs",
    "TrainingCluster",
    "TrainingClusterArgs",
]
