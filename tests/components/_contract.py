"""The component contract every cloud keeps, written down once for the tests."""

from __future__ import annotations

# Stack outputs every cloud's platform exports, spelled out rather than read from the code.
REQUIRED_EXPORTS = frozenset(
    {
        "artifact_bucket_name",
        "artifact_bucket_uri",
        "dvc_remote_url",
        "kms_key_id",
        "cluster_name",
        "gpu_pool_name",
        "max_gpus",
        "max_usd_per_hour",
        "registry_name",
        "registry_id",
        "image_repository_url",
        "approvers_topic",
        "endpoint_name",
        "endpoint_url",
        "active_model_version",
        "previous_model_version",
        "alert_topic",
        "dashboard_url",
        "retraining_trigger",
        # What the deployment left for a later `pulumi up` (bring-up), [] when nothing.
        "bring_up_pending",
        # MLFLOW_TRACKING_URI of training runs (null with tracking.enabled: false).
        "tracking_uri",
    }
)
