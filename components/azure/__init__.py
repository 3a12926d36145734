"""Azure components. Importing this package loads pulumi_azure_native only (never AWS or
GCP SDKs),
and only the azure-native submodules the components use."""

# ruff: noqa: E402 (the SDK check runs before anything else)
from typing import TYPE_CHECKING

from mlops_iac.components._component import lazy_exports, require_cloud_sdk

require_cloud_sdk("azure")

if TYPE_CHECKING:
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
    from mlops_iac.components.azure.tracking import Tracking, TrackingArgs
    from mlops_iac.components.azure.training_cluster import TrainingCluster, TrainingClusterArgs

# Each name's module loads on first access (PEP 562), so a program pays only for the components
# it builds (the drift job's and the Kubernetes side's modules stay unloaded otherwise).
_EXPORTS = {
    "ArtifactStore": "artifact_store",
    "ArtifactStoreArgs": "artifact_store",
    "DriftJob": "drift_job",
    "DriftJobArgs": "drift_job",
    "ModelDeployment": "serving_endpoint",
    "ModelRegistry": "model_registry",
    "ModelRegistryArgs": "model_registry",
    "Monitoring": "monitoring",
    "MonitoringArgs": "monitoring",
    "PrivateNetwork": "private_network",
    "PrivateNetworkArgs": "private_network",
    "ServingEndpoint": "serving_endpoint",
    "ServingEndpointArgs": "serving_endpoint",
    "Tracking": "tracking",
    "TrackingArgs": "tracking",
    "TrainingCluster": "training_cluster",
    "TrainingClusterArgs": "training_cluster",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

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
    "Tracking",
    "TrackingArgs",
    "TrainingCluster",
    "TrainingClusterArgs",
]
