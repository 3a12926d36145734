"""Spec → Args translations that are the same on every cloud."""

from __future__ import annotations

from typing import Any

from components.spec import PlatformSpec


def artifact_store_kwargs(spec: PlatformSpec) -> dict[str, Any]:
    """ArtifactStoreArgs fields every cloud takes from ``artifacts`` (Azure takes a subset)."""
    artifacts = spec.artifacts
    return {
        "environment": spec.environment,
        "customer_managed_key": artifacts.customer_managed_key,
        "noncurrent_version_days": artifacts.noncurrent_version_days,
        "incomplete_upload_days": artifacts.incomplete_upload_days,
        "replica_region": artifacts.replica_region,
        "access_log_bucket": artifacts.access_log_bucket,
        "force_destroy": artifacts.force_destroy,
    }


def training_cluster_kwargs(spec: PlatformSpec) -> dict[str, Any]:
    """TrainingClusterArgs fields every cloud takes from ``training``."""
    training = spec.training
    return {
        "environment": spec.environment,
        "gpu": training.gpu,
        "min_nodes": training.min_nodes,
        "max_nodes": training.max_nodes,
        "spot": training.spot,
        "public_endpoint": training.public_endpoint,
    }
