"""GCP components. Importing this package loads pulumi_gcp only (never AWS or Azure
SDKs), and of
pulumi_gcp only the submodules the components use."""

from mlops_iac.components.gcp.artifact_store import ArtifactStore, ArtifactStoreArgs
from mlops_iac.components.gcp.drift_job import DriftJob, DriftJobArgs
from mlops_iac.components.gcp.model_registry import ModelRegistry, ModelRegistryArgs
from mlops_iac.components.gcp.monitoring import Monitoring, MonitoringArgs
from mlops_iac.components.gcp.serving_endpoint import ServingEndpoint, ServingEndpointArgs
from mlops_iac.components.gcp.training_cluster import TrainingCluster, TrainingClusterArgs

__all__ = [
    "ArtifactStore",
    "ArtifactStoreArgs",
    "DriftJob",
    "DriftJobArgs",
    "ModelRegistry",
    "ModelRegistryArgs",
    "Monitoring",
    "MonitoringArgs",
    "ServingEndpoint",
    "ServingEndpointArgs",
    "TrainingCluster",
    "TrainingClusterArgs",
]
