"""GCP components. Importing this package loads pulumi_gcp only (never AWS or Azure
SDKs), and of
pulumi_gcp only the submodules the components use."""

# ruff: noqa: E402 (the SDK check runs before anything else)
from typing import TYPE_CHECKING

from mlops_iac.components._component import lazy_exports, require_cloud_sdk

require_cloud_sdk("gcp")

if TYPE_CHECKING:
    from mlops_iac.components.gcp.artifact_store import ArtifactStore, ArtifactStoreArgs
    from mlops_iac.components.gcp.drift_job import DriftJob, DriftJobArgs
    from mlops_iac.components.gcp.model_registry import ModelRegistry, ModelRegistryArgs
    from mlops_iac.components.gcp.monitoring import Monitoring, MonitoringArgs
    from mlops_iac.components.gcp.serving_endpoint import (
        ModelVersion,
        ServingEndpoint,
        ServingEndpointArgs,
    )
    from mlops_iac.components.gcp.tracking import Tracking, TrackingArgs
    from mlops_iac.components.gcp.training_cluster import TrainingCluster, TrainingClusterArgs

# Each name's module loads on first access (PEP 562), so a program pays only for the components
# it builds (the drift job's and the Kubernetes side's modules stay unloaded otherwise).
_EXPORTS = {
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
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

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
    "Tracking",
    "TrackingArgs",
    "TrainingCluster",
    "TrainingClusterArgs",
]
