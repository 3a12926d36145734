"""Spec → AWS component Args, and the wiring between the AWS components."""

from __future__ import annotations

from typing import Any

import pulumi

from components.aws import ArtifactStore, ArtifactStoreArgs
from components.spec import PlatformSpec


def build(parent: pulumi.Resource, name: str, spec: PlatformSpec) -> dict[str, Any]:
    """Create the AWS platform under ``parent``; return the stack exports."""
    opts = pulumi.ResourceOptions(parent=parent)
    artifacts = spec.artifacts
    store = ArtifactStore(
        f"{name}-artifacts",
        ArtifactStoreArgs(
            environment=spec.environment,
            customer_managed_key=artifacts.customer_managed_key,
            noncurrent_version_days=artifacts.noncurrent_version_days,
            incomplete_upload_days=artifacts.incomplete_upload_days,
            replica_region=artifacts.replica_region,
            access_log_bucket=artifacts.access_log_bucket,
            force_destroy=artifacts.force_destroy,
        ),
        opts=opts,
    )
    return {
        "artifact_bucket_name": store.bucket_name,
        "artifact_bucket_uri": store.bucket_uri,
        "dvc_remote_url": store.dvc_remote_url,
        "kms_key_id": store.kms_key_id,
        "dvc_policy_arn": store.dvc_policy_arn,
    }
