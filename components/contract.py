"""The component contract: what every cloud's five components share.

Data only (no provider SDK is imported): the contract test checks each cloud's classes against
it and ``tools/docs.py`` renders it into ``docs/reference.md``. A name listed here is part of the
public API; renaming one is a breaking change (see CHANGELOG.md, "Versioning").
"""

from __future__ import annotations

from mlops_iac.spec.clouds import NAMES as CLOUDS

COMPONENTS = ("ArtifactStore", "TrainingCluster", "ModelRegistry", "ServingEndpoint", "Monitoring")
"""The five components every cloud has; ``DriftJob`` (``PARTIAL``) is the sixth. Their base Args
and output Protocols are in ``contract_types.py``."""

ARGS: dict[str, tuple[str, ...]] = {
    "ArtifactStore": (
        "environment",
        "customer_managed_key",
        "noncurrent_version_days",
        "force_destroy",
        "tags",
    ),
    "TrainingCluster": (
        "environment",
        "gpu",
        "min_nodes",
        "max_nodes",
        "spot",
        "public_endpoint",
        "tags",
    ),
    "ModelRegistry": ("environment", "approvers", "tags"),
    "ServingEndpoint": (
        "environment",
        "active_model",
        "previous_model",
        "min_replicas",
        "max_replicas",
        "rollback",
        "public_endpoint",
        "rollout_strategy",
        "canary_percent",
        "linear_step_percent",
        "tags",
    ),
    "Monitoring": (
        "environment",
        "endpoint_name",
        "alert_emails",
        "webhook_url",
        "latency_p99_ms",
        "error_rate_percent",
        "drift",
        "monthly_budget_usd",
        "tags",
    ),
}
"""Args fields every cloud spells the same way for the same concept."""

OUTPUTS: dict[str, tuple[str, ...]] = {
    "ArtifactStore": ("bucket_name", "bucket_uri", "dvc_remote_url", "kms_key_id"),
    "TrainingCluster": ("cluster_name", "gpu_pool_name", "max_gpus", "max_usd_per_hour"),
    "ModelRegistry": ("registry_name", "registry_id", "image_repository_url", "approvers_topic"),
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
    "ArtifactStore": {
        "incomplete_upload_days": ("aws", "gcp"),
        "replica_region": ("aws", "gcp"),
        "access_log_bucket": ("aws", "gcp"),
        "dvc_prefix": ("aws", "gcp"),
        "soft_delete_days": ("azure", "gcp"),
    },
    "TrainingCluster": {
        "public_access_cidrs": ("aws", "gcp"),
        "system_instance_type": ("aws", "gcp"),
        "log_retention_days": ("aws", "azure"),
        "operator": ("aws", "gcp"),
        "kubernetes_labels": ("aws", "gcp"),
        "manage_kubernetes": ("aws", "gcp"),
    },
    "ModelRegistry": {
        "immutable_tags": ("aws", "gcp"),
        "scan_on_push": ("aws", "gcp"),
        "untagged_image_days": ("azure", "gcp"),
    },
    "ServingEndpoint": {"instance_type": ("aws", "azure"), "keep_live_rollout": ("azure", "gcp")},
    "Monitoring": {},
}
"""Fields that only some clouds have (the others have no such setting), same name where present."""

OUTPUTS_SHARED_BY_SOME: dict[str, dict[str, tuple[str, ...]]] = {
    "ArtifactStore": {"location": ("azure", "gcp")},
    "TrainingCluster": {
        "kubeconfig": ("aws", "gcp"),
        "training_namespace": ("aws", "gcp"),
        "training_operator": ("aws", "gcp"),
        "training_service_account": ("aws", "gcp"),
    },
    "ModelRegistry": {},
    "ServingEndpoint": {"traffic": ("azure", "gcp"), "rollout": ("azure", "gcp")},
    "Monitoring": {"alarm_names": ("aws", "gcp")},
}
"""Outputs that only some clouds have, same name where present."""

PARTIAL: dict[str, tuple[str, ...]] = {"DriftJob": CLOUDS, "Tracking": CLOUDS}
"""Components beyond the five that several (not all) clouds have, and the clouds that have them.
Their Args and outputs follow the same rules; their shared names are below."""

PARTIAL_ARGS: dict[str, tuple[str, ...]] = {
    "DriftJob": (
        "environment",
        "endpoint_name",
        "artifact_bucket_name",
        "dataset_version",
        "schedule",
        "window_hours",
        "psi",
        "ks",
        "jensen_shannon",
        "min_rows",
        "significance",
        "drift_share",
        "feature_thresholds",
        "exclude",
        "tags",
    ),
    "Tracking": ("environment", "artifact_bucket_name", "size", "ci_principals", "tags"),
}
"""Args fields every cloud of a ``PARTIAL`` component spells the same way."""

PARTIAL_OUTPUTS: dict[str, tuple[str, ...]] = {
    "DriftJob": ("function_name", "schedule_name", "alarm_name", "baseline_uri", "report_uri"),
    "Tracking": ("tracking_uri", "artifact_uri"),
}
"""Outputs every cloud of a ``PARTIAL`` component registers."""

CHOICES: tuple[tuple[str, str], ...] = (
    (
        "`tags` on GCP",
        "GCP applies them as labels, so keys and values must be GCP-valid "
        '(`lineage.sanitise(tags, "gcp")`); one name for the same metadata on every cloud.',
    ),
    (
        "`Monitoring.endpoint_name` on Azure",
        "Azure Monitor scopes alerts by the endpoint's ARM id; the component builds it from "
        "`subscription_id`, `resource_group_name`, `workspace_name` and the name, so the caller "
        "names the endpoint as on AWS and GCP.",
    ),
    (
        "`rollout_strategy` on Azure",
        "Online endpoints hold a declared traffic map (no timed shifting found): while "
        "`rollout_in_progress`, canary gives the new version `canary_percent`, linear gives it "
        "`linear_step_percent` (one step per `pulumi up`, raising the percent), all-at-once 100%.",
    ),
    (
        "`public_access_cidrs`",
        "EKS public access CIDRs and GKE master authorized networks: the allow-list of a public "
        "control plane. Azure has none: the pinned azure-native `Workspace` takes no IP allow-list "
        "(public network access is on or off).",
    ),
    (
        "`system_instance_type` on GCP",
        "GCP says machine type; the size of the system node pool is the same concept.",
    ),
    (
        "`untagged_image_days` (Azure, GCP) and `untagged_images_kept` (AWS)",
        "Different concepts: Azure and GCP expire untagged images by age, the AWS lifecycle "
        "keeps a count.",
    ),
    (
        "`alarm_names` / `alarm_name` on GCP",
        "The alert policies the component created (CloudWatch alarms on AWS).",
    ),
    (
        "`approvers_topic` on Azure",
        "The approvers' action group id (an SNS topic on AWS, a Pub/Sub topic on GCP), as "
        "`alert_topic` is the alert action group.",
    ),
    (
        "references to other resources",
        "Cloud plumbing, not contract: AWS Args take ARNs and say so (`kms_key_arn`, "
        "`alert_topic_arn`), GCP and Azure take ids or names (`kms_key_id`, `workspace_name`).",
    ),
)
"""Decisions behind names that a cloud's own vocabulary would spell differently (rendered into
docs/reference.md)."""

RENAMED_ARGS: dict[str, str] = {
    "labels": "tags",
    "authorized_networks": "public_access_cidrs",
    "endpoint_id": "endpoint_name",
    "candidate_percent": "canary_percent",
    "system_machine_type": "system_instance_type",
    "untagged_retention_days": "untagged_image_days",
    "soft_delete_seconds": "soft_delete_days",
}
"""Args names of release 0.1 that the contract replaced (CHANGELOG.md); no component has them."""

RENAMED_OUTPUTS: dict[str, str] = {
    "alert_policies": "alarm_names",
    "alert_policy": "alarm_name",
    "approvers_action_group": "approvers_topic",
}
"""Output names of release 0.1 that the contract replaced; no component registers them."""


def type_token(cloud: str, component: str) -> str:
    """The Pulumi type token of a component: ``mlops:<cloud>:<Thing>``."""
    return f"mlops:{cloud}:{component}"
