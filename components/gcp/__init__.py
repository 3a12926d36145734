"""GCP components. Importing this package loads pulumi_gcp only (never AWS or Azure
SDKs), and of
pulumi_gcp only the submodules the components use."""

# ruff: noqa: E402 (the SDK check runs before the components import it)
from mlops_iac.components._component import require_cloud_sdk

require_cloud_sdk("gcp")


from mlops_iac.components.gcp.artifact_store import ArtifactStore, ArtifactStoreArgs
from mlops_iac.components.gcp.drift_job import DriftJob, DriftJobArgs
from mlops_iac.components.gcp.model_registry import ModelRegistry, ModelRegistryArgs
from mlops_iac.components.gcp.monitoring import Monitoring, MonitoringArgs
from mlops_iac.components.gcp.serving_endpoint import (
    ModelVersion,
    ServingEndpoint,
    ServingEndpointArgs,
)
from mlops_iac.components.gcp.training_cluster import TrainingCluster, TrainingClusterArgs

__all__ = [
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
    "TrainingCluster",
    "TrainingClusterArgs",
]
