"""AWS components. Importing this package loads pulumi_aws only (never Azure or GCP SDKs)."""

from components.aws.artifact_store import ArtifactStore, ArtifactStoreArgs

__all__ = ["ArtifactStore", "ArtifactStoreArgs"]
