"""Spec → Args translations that are the same on every cloud."""

from __future__ import annotations

from typing import Any, cast

import pulumi

from mlops_iac.spec.models import PlatformSpec


def customer_key(key_id: pulumi.Output[str | None], wanted: bool) -> pulumi.Output[str] | None:
    """The artifact store's customer-managed key (``key_id``) when the spec asks for one, else None.

    The store creates the key exactly when ``wanted``, so the output then holds an id; its type
    (``str | None``, for a store without a key) cannot say so.
    """
    return cast(pulumi.Output[str], key_id) if wanted else None


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


def drift_job_kwargs(spec: PlatformSpec) -> dict[str, Any]:
    """DriftJobArgs fields every cloud takes from ``monitoring.drift`` and the lineage."""
    drift = spec.monitoring.drift
    return {
        "environment": spec.environment,
        "dataset_version": spec.lineage.dataset_version,
        "schedule": drift.schedule,
        "window_hours": drift.window_hours,
        "psi": drift.psi,
        "ks": drift.ks,
        "jensen_shannon": drift.jensen_shannon,
        "min_rows": drift.min_rows,
        "significance": drift.significance,
        "drift_share": drift.drift_share,
        "feature_thresholds": {name: own.thresholds() for name, own in drift.features.items()},
        "exclude": tuple(drift.exclude),
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


def training_kubernetes_kwargs(spec: PlatformSpec) -> dict[str, Any]:
    """TrainingClusterArgs fields of the Kubernetes side (EKS and GKE): operator and the
    lineage labels of the namespaces it creates."""
    from mlops_iac.components.kubernetes.labels import kubernetes_labels
    from mlops_iac.components.lineage import base_tags

    return {
        "operator": spec.training.operator,
        "kubernetes_labels": kubernetes_labels(base_tags(spec)),
        "manage_kubernetes": spec.training.kubernetes == "inline",
    }


def training_exports(cluster: Any) -> dict[str, Any]:
    """Exports ``mlops-iac train-smoke`` reads: where and as whom training jobs run, and (EKS,
    GKE) the cluster's kubeconfig (exec credentials, no secret), so ``--apply`` never relies on
    the caller's current kube context."""
    exports = {
        "training_namespace": cluster.training_namespace,
        "training_service_account": cluster.training_service_account,
        "training_operator": cluster.training_operator,
    }
    kubeconfig = getattr(cluster, "kubeconfig", None)
    if kubeconfig is not None:
        exports["kubeconfig"] = kubeconfig
    return exports


def contract_exports(
    store: Any, cluster: Any, registry: Any, endpoint: Any | None, monitoring: Any
) -> dict[str, Any]:
    """The stack outputs every cloud exports: the five components' contract outputs (the
    endpoint's are None while ``serving.enabled`` is false)."""
    return {
        "artifact_bucket_name": store.bucket_name,
        "artifact_bucket_uri": store.bucket_uri,
        "dvc_remote_url": store.dvc_remote_url,
        "kms_key_id": store.kms_key_id,
        "cluster_name": cluster.cluster_name,
        "gpu_pool_name": cluster.gpu_pool_name,
        "max_gpus": cluster.max_gpus,
        "max_usd_per_hour": cluster.max_usd_per_hour,
        "registry_name": registry.registry_name,
        "registry_id": registry.registry_id,
        "image_repository_url": registry.image_repository_url,
        "approvers_topic": registry.approvers_topic,
        "endpoint_name": endpoint.endpoint_name if endpoint else None,
        "endpoint_url": endpoint.endpoint_url if endpoint else None,
        "active_model_version": endpoint.active_model_version if endpoint else None,
        "previous_model_version": endpoint.previous_model_version if endpoint else None,
        "alert_topic": monitoring.alert_topic,
        "dashboard_url": monitoring.dashboard_url,
        "retraining_trigger": monitoring.retraining_trigger,
    }


def drift_exports(drift_job: Any | None) -> dict[str, Any]:
    """The drift job's exports (None without serving, which leaves no capture to check)."""
    return {
        "drift_job_function": drift_job.function_name if drift_job else None,
        "drift_alarm_name": drift_job.alarm_name if drift_job else None,
        "drift_baseline_uri": drift_job.baseline_uri if drift_job else None,
    }


def tracking_kwargs(spec: PlatformSpec) -> dict[str, Any]:
    """TrackingArgs fields every cloud takes from ``tracking``."""
    tracking = spec.tracking
    return {
        "environment": spec.environment,
        "size": tracking.size,
        "ci_principals": tuple(tracking.ci_principals),
    }


def tracking_exports(tracking: Any | None) -> dict[str, Any]:
    """The tracking exports: ``tracking_uri`` (the value of ``MLFLOW_TRACKING_URI``) and where
    runs keep their artifacts; None while ``tracking.enabled`` is false."""
    return {
        "tracking_uri": tracking.tracking_uri if tracking else None,
        "tracking_artifact_uri": tracking.artifact_uri if tracking else None,
    }


def webhook_secret(spec: PlatformSpec) -> pulumi.Output[str] | None:
    """The chat webhook URL as a Pulumi secret (it embeds a token), or None."""
    url = spec.monitoring.webhook_url
    return pulumi.Output.secret(url.get_secret_value()) if url is not None else None


def bring_up_pending(spec: PlatformSpec) -> list[dict[str, str]]:
    """What this deployment leaves for a later ``pulumi up`` (the ``bring_up_pending`` export):
    one ``{what, why, next}`` per part the stack file defers; empty when nothing is deferred."""
    pending = []
    if spec.training.kubernetes == "deferred" and spec.cloud != "azure":
        pending.append(
            {
                "what": "kubernetes",
                "why": "training.kubernetes is deferred: the cluster is created without its "
                "Kubernetes side (namespaces, operator, autoscaler, device plugin)",
                "next": "set training.kubernetes: inline and run pulumi up from a machine that "
                "reaches the cluster's API (inside its network, or an allow-listed address)",
            }
        )
    if not spec.serving.enabled:
        pending.append(
            {
                "what": "serving",
                "why": "serving.enabled is false: no endpoint is created",
                "next": f"{_first_version(spec)}; then set serving.enabled: true and run pulumi up",
            }
        )
    return pending


def _first_version(spec: PlatformSpec) -> str:
    """How the served version gets where serving reads it, per cloud (outputs named)."""
    model = spec.serving.model
    label = f"{model.name} version {model.version}"
    if spec.cloud == "azure":
        # Both deployments are created at once: the standby serves previousModel.
        versions = [model] + ([spec.serving.previous_model] if spec.serving.previous_model else [])
        named = " and ".join(f"{m.name} version {m.version}" for m in versions)
        return (
            f"register {named} in the stack's AzureML registry (output registry_name) from a "
            "network that reaches it, e.g. az ml model create --registry-name <registry_name> "
            f"--name {model.name} --version {model.version} --type mlflow_model --path <model dir>"
        )
    if spec.cloud == "gcp":
        image = model.image or f"<image_repository_url>/{model.name}:{model.version}"
        if model.image_digest and not model.image:
            # The service pulls by digest: another push under the same tag is "image not found".
            image += f" (its digest must be serving.model.imageDigest, {model.image_digest})"
        where = model.artifact_uri
        if not where.startswith("gs://"):
            where = f"gs://<model_bucket_name>/{where.lstrip('/')}"
        return f"push the image {image} and copy the model files to {where}"
    image = f" and push the image {model.image}" if model.image else ""
    return f"upload {label} to {model.artifact_uri}{image}"


def guarded(spec: PlatformSpec) -> bool:
    """Whether the stack gets the toolkit's automatic rollback and promotion (Azure, GCP):
    ``serving.rollout.autoRollback`` with a ``previousModel`` to roll back to."""
    serving = spec.serving
    return serving.rollout.auto_rollback and serving.previous_model is not None


def rollout_alarm_thresholds(spec: PlatformSpec) -> tuple[float, int, Any]:
    """(5xx percent, p99 ms, model metric or None) a rollout rolls back on: ``serving.rollout.
    alarms``, each threshold defaulting to the ``monitoring`` section's."""
    alarms = spec.serving.rollout.alarms
    errors = alarms.error_rate_percent
    latency = alarms.latency_p99_ms
    return (
        errors if errors is not None else spec.monitoring.error_rate_percent,
        latency if latency is not None else spec.monitoring.latency_p99_ms,
        alarms.model_metric,
    )
