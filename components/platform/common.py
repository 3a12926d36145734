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
    store: Any, cluster: Any, registry: Any, endpoint: Any, monitoring: Any
) -> dict[str, Any]:
    """The stack outputs every cloud exports: the five components' contract outputs."""
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
        "endpoint_name": endpoint.endpoint_name,
        "endpoint_url": endpoint.endpoint_url,
        "active_model_version": endpoint.active_model_version,
        "previous_model_version": endpoint.previous_model_version,
        "alert_topic": monitoring.alert_topic,
        "dashboard_url": monitoring.dashboard_url,
        "retraining_trigger": monitoring.retraining_trigger,
    }


def webhook_secret(spec: PlatformSpec) -> pulumi.Output[str] | None:
    """The chat webhook URL as a Pulumi secret (it embeds a token), or None."""
    url = spec.monitoring.webhook_url
    return pulumi.Output.secret(url.get_secret_value()) if url is not None else None
