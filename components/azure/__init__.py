"""Azure components. Importing this package loads pulumi_azure_native only (never AWS or
GCP SDKs),
and only the azure-native submodules the components use."""

# ruff: noqa: E402 (the SDK check runs before the components import it)
from mlops_iac.components._component import require_cloud_sdk

require_cloud_sdk("azure")


from mlops_iac.components.azure.artifact_store import ArtifactStore, ArtifactStoreArgs
from mlops_iac.components.azure.drift_job import DriftJob, DriftJobArgs
from mlops_iac.components.azure.model_registry import ModelRegistry, ModelRegistryArgs
from mlops_iac.components.azure.monitoring import Monitoring, MonitoringArgs
from mlops_iac.components.azure.private_network import PrivateNetwork, PrivateNetworkArgs
from mlops_iac.components.azure.serving_endpoint import (
    ModelDeployment,
    ServingEndpoint,
    ServingEndpointArgs,
)
from mlops_iac.components.azure.training_cluster import TrainingCluster, TrainingClusterArgs

__all__ = [
    "ArtifactStore",
    "ArtifactStoreArgs",
    "DriftJob",
    "DriftJobArgs",
    "ModelDeployment",
    "ModelRegistry",
    "ModelRegistryArgs",
    "Monitoring",
    "MonitoringArgs",
    "PrivateNetwork",
    "PrivateNetworkArgs",
    "ServingEndpoint",
    "ServingEndpointArgs",
    "TrainingCluster",
    "TrainingClusterArgs",
]
