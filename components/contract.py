"""The component contract: what every cloud's five components share (DESIGN.md §4).

Data only (no provider SDK is imported): the contract test checks each cloud's classes against
it and ``tools/docs.py`` renders it into ``docs/reference.md``. A name listed here is part of the
public API; renaming one is a breaking change (see CHANGELOG.md, "Versioning").
"""

from __future__ import annotations

CLOUDS = ("aws", "azure", "gcp")

COMPONENTS = ("ArtifactStore", "TrainingCluster", "ModelRegistry", "ServingEndpoint", "Monitoring")

ARGS: dict[str, tuple[str, ...]] = {
    "ArtifactStore": (
        "environment",
        "customer_managed_key",
        "noncurrent_version_days",
        "force_destroy",
    ),
    "TrainingCluster": ("environment", "gpu", "min_nodes", "max_nodes", "spot", "public_endpoint"),
    "ModelRegistry": ("environment", "approvers"),
    "ServingEndpoint": (
        "environment",
        "active_model",
        "previous_model",
        "min_replicas",
        "max_replicas",
        "public_endpoint",
    ),
    "Monitoring": (
        "environment",
        "alert_emails",
        "webhook_url",
        "latency_p99_ms",
        "error_rate_percent",
        "drift",
        "monthly_budget_usd",
    ),
}
"""Args fields every cloud spells the same way for the same concept."""

OUTPUTS: dict[str, tuple[str, ...]] = {
    "ArtifactStore": ("bucket_name", "bucket_uri", "dvc_remote_url", "kms_key_id"),
    "TrainingCluster": ("cluster_name", "gpu_pool_name", "max_gpus", "max_usd_per_hour"),
    "ModelRegistry": ("registry_name", "registry_id", "image_repository_url"),
    "ServingEndpoint": (
        "endpoint_name",
        "endpoint_url",
        "active_model_version",
        "previous_model_version",
    ),
    "Monitoring": ("alert_topic", "dashboard_url", "retraining_trigger"),
}
"""Outputs every cloud's component registers."""

SECURE_DEFAULTS: dict[str, tuple[str, ...]] = {
    "ArtifactStore": ("customer_managed_key", "force_destroy"),
    "TrainingCluster": ("public_endpoint",),
    "ServingEndpoint": ("public_endpoint",),
}
"""Args whose override warns the same way on every cloud (``_component.secure_default``)."""

SHARED_BY_SOME: dict[str, dict[str, tuple[str, ...]]] = {
    "ArtifactStore": {"incomplete_upload_days": ("aws", "gcp"), "replica_region": ("aws", "gcp")},
    "ModelRegistry": {"immutable_tags": ("aws", "gcp"), "scan_on_push": ("aws", "gcp")},
    "ServingEndpoint": {
        "rollout_strategy": ("aws", "gcp"),
        "canary_percent": ("aws", "gcp"),
        "linear_step_percent": ("aws", "gcp"),
        "instance_type": ("aws", "azure"),
    },
}
"""Fields that only some clouds have (the others have no such setting), same name where present."""

TAGS_FIELD = {"aws": "tags", "azure": "tags", "gcp": "labels"}
"""The one deliberate spelling difference: GCP calls its key/value metadata labels (and only
accepts ``[a-z0-9_-]`` keys), so its Args say ``labels``."""


def type_token(cloud: str, component: str) -> str:
    """The Pulumi type token of a component: ``mlops:<cloud>:<Thing>``."""
    return f"mlops:{cloud}:{component}"
