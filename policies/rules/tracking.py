"""Experiment tracking: the MLflow server is private and its stores encrypted in production.

What each cloud's tracking needs beyond the rules that already cover it:

- GCP: MLflow runs on Cloud Run (internal ingress: ``mlops-network-private-endpoints``) with its
  metadata in Cloud SQL. The instance must admit no authorised networks (only the IAM-checked
  connector), refuse unencrypted connections and encrypt with a customer-managed key; no Cloud
  Run service may be invokable by ``allUsers`` / ``allAuthenticatedUsers``.
- AWS: SageMaker's MLflow server has no public URL (every call is SigV4-signed) and keeps its
  artifacts in the artifact store (``mlops-storage-encrypted-cmk``); the rule refuses an
  artifact store that is not an ``s3://`` location.
- Azure: the workspace's own MLflow endpoint follows the workspace
  (``mlops-network-private-endpoints``) and its storage account (``mlops-storage-encrypted-cmk``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._base import (
    ENVIRONMENT_SCHEMA,
    Rule,
    environments_schema,
    get,
    items,
    per_type_in_environments,
)

PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
ENCRYPTED_SSL_MODES = ("ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED")


def _cloud_sql(props: Mapping[str, Any]) -> list[str]:
    # https://cloud.google.com/sql/docs/postgres/configure-ssl-instance (sslMode),
    # https://cloud.google.com/sql/docs/postgres/authorize-networks,
    # https://cloud.google.com/sql/docs/postgres/cmek
    problems = []
    ip = get(props, "settings", "ipConfiguration")
    networks = [n for n in items(get(ip, "authorizedNetworks")) if n]
    if networks:
        values = ", ".join(str(get(n, "value")) for n in networks)
        problems.append(f"settings.ipConfiguration.authorizedNetworks admits {values}")
    mode = get(ip, "sslMode")
    if mode not in ENCRYPTED_SSL_MODES and get(ip, "requireSsl") is not True:
        problems.append(
            f"settings.ipConfiguration.sslMode is {mode or 'unset'}, so unencrypted "
            "connections are accepted"
        )
    if not props.get("encryptionKeyName"):
        problems.append("encryptionKeyName is not set (no customer-managed key)")
    return problems


def _invoker(props: Mapping[str, Any]) -> list[str]:
    members = [props.get("member"), *items(props.get("members"))]
    public = [m.strip() for m in members if isinstance(m, str) and m.strip() in PUBLIC_MEMBERS]
    if public:
        return [f"{props.get('role')} is granted to {', '.join(public)}: anyone can call it"]
    return []


def _sagemaker_mlflow(props: Mapping[str, Any]) -> list[str]:
    uri = str(props.get("artifactStoreUri") or "")
    if not uri.startswith("s3://"):
        return [f"artifactStoreUri {uri!r} is not an s3:// location of the artifact store"]
    return []


TRACKING_TYPES: Mapping[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "gcp:sql/databaseInstance:DatabaseInstance": _cloud_sql,
    "gcp:cloudrunv2/serviceIamMember:ServiceIamMember": _invoker,
    "gcp:cloudrunv2/serviceIamBinding:ServiceIamBinding": _invoker,
    "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer": _sagemaker_mlflow,
}

_DEFAULT_ENVIRONMENTS = ("prod",)


_validate = per_type_in_environments(TRACKING_TYPES, _DEFAULT_ENVIRONMENTS)


PRIVATE_ENCRYPTED = Rule(
    name="mlops-tracking-private-encrypted",
    description=(
        "In production, the experiment tracking server is private and its stores are encrypted."
    ),
    remediation=(
        "Deploy tracking through the Tracking component's defaults: Cloud SQL without "
        "authorised networks, sslMode ENCRYPTED_ONLY and the store's key; run.invoker only for "
        "the training and CI identities; the SageMaker MLflow artifact store under s3://."
    ),
    kind="resource",
    validate=_validate,
    checkov=("CKV_GCP_6", "CKV_GCP_11"),
    config={
        "environment": ENVIRONMENT_SCHEMA,
        "environments": environments_schema(_DEFAULT_ENVIRONMENTS),
    },
)

RULES: tuple[Rule, ...] = (PRIVATE_ENCRYPTED,)
