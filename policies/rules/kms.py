"""Key-management rules: customer keys rotate, and data services encrypt with a customer key."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs

from ._base import Report, Rule, fmt, get, items, number, truthy_text

# --- rotation ------------------------------------------------------------------------------------


def _aws_key(props: Mapping[str, Any], max_days: float) -> str | None:
    # AWS rotates only symmetric encryption keys; asymmetric and HMAC keys cannot rotate.
    spec = props.get("customerMasterKeySpec") or "SYMMETRIC_DEFAULT"
    if props.get("keyUsage", "ENCRYPT_DECRYPT") != "ENCRYPT_DECRYPT" or spec != "SYMMETRIC_DEFAULT":
        return None
    if props.get("enableKeyRotation") is not True:
        return "enableKeyRotation is not true"
    period = number(props.get("rotationPeriodInDays"))
    if period is not None and period > max_days:
        return f"rotationPeriodInDays {fmt(period)} exceeds {fmt(max_days)}"
    return None


def _gcp_key(props: Mapping[str, Any], max_days: float) -> str | None:
    period = props.get("rotationPeriod")
    match = re.fullmatch(r"(\d+(?:\.\d+)?)s", period) if isinstance(period, str) else None
    if match is None:
        return "rotationPeriod is not set"
    days = float(match.group(1)) / 86400
    if days > max_days:
        return f"rotationPeriod is {fmt(round(days, 1))} days, more than {fmt(max_days)}"
    return None


def _azure_key(props: Mapping[str, Any], max_days: float) -> str | None:
    actions = items(get(props, "properties", "rotationPolicy", "lifetimeActions"))
    if any(str(get(a, "action", "type")).lower() == "rotate" for a in actions):
        return None
    return "properties.rotationPolicy has no 'rotate' lifetime action"


def _replica_key(props: Mapping[str, Any], max_days: float) -> str | None:
    # A multi-Region replica shares its primary's automatic rotation status; the primary (an
    # aws:kms/key:Key) is checked (https://docs.aws.amazon.com/kms/latest/APIReference/API_ReplicateKey.html).
    return None


def _imported_key(props: Mapping[str, Any], max_days: float) -> str | None:
    return (
        "key material is imported (EXTERNAL origin): this pack cannot verify it rotates; use "
        "aws.kms.Key with enableKeyRotation"
    )


ROTATION_TYPES: Mapping[str, Callable[[Mapping[str, Any], float], str | None]] = {
    "aws:kms/key:Key": _aws_key,
    "aws:kms/replicaKey:ReplicaKey": _replica_key,
    "aws:kms/externalKey:ExternalKey": _imported_key,
    "aws:kms/replicaExternalKey:ReplicaExternalKey": _imported_key,
    "gcp:kms/cryptoKey:CryptoKey": _gcp_key,
    "azure-native:keyvault:Key": _azure_key,
}


def _validate_rotation(args: ResourceValidationArgs, report: Report) -> None:
    check = ROTATION_TYPES.get(args.resource_type)
    if check is None:
        return
    problem = check(args.props, float(args.get_config().get("maxRotationDays", 365)))
    if problem:
        report(problem)


ROTATION = Rule(
    name="mlops-kms-rotation",
    description="Customer-managed keys rotate automatically.",
    remediation=(
        "Set enableKeyRotation true on the KMS key (GCP: rotationPeriod; Azure: a rotationPolicy "
        "with a 'rotate' lifetime action) and keep the period within maxRotationDays."
    ),
    kind="resource",
    validate=_validate_rotation,
    checkov=("CKV_AWS_7", "CKV_GCP_43"),
    awsguard=("cmk-backing-key-rotation-enabled",),
    config={
        "maxRotationDays": {
            "type": "number",
            "minimum": 1,
            "default": 365,
            "description": "Longest rotation period allowed, in days.",
        }
    },
)


# --- encryption at rest with a customer key ------------------------------------------------------


def _sns(props: Mapping[str, Any]) -> str | None:
    return None if truthy_text(props.get("kmsMasterKeyId")) else "kmsMasterKeyId is not set"


def _endpoint_config(props: Mapping[str, Any]) -> str | None:
    return None if truthy_text(props.get("kmsKeyArn")) else "kmsKeyArn is not set"


def _eks(props: Mapping[str, Any]) -> str | None:
    config = props.get("encryptionConfig")
    if not truthy_text(get(config, "provider", "keyArn")):
        return "encryptionConfig.provider.keyArn is not set: Kubernetes secrets are not encrypted"
    if "secrets" not in items(get(config, "resources")):
        return "encryptionConfig.resources does not include 'secrets'"
    return None


def _ecr(props: Mapping[str, Any]) -> str | None:
    for config in items(props.get("encryptionConfigurations")):
        if get(config, "encryptionType") in ("KMS", "KMS_DSSE"):
            return None
    return "encryptionConfigurations does not use KMS"


def _pubsub_topic(props: Mapping[str, Any]) -> str | None:
    # Topic.kmsKeyName: the Cloud KMS key that protects the topic's messages; without it they
    # are encrypted with a Google-managed key
    # (https://cloud.google.com/python/docs/reference/pubsub/1.6.1/google.cloud.pubsub_v1.types.Topic).
    return None if truthy_text(props.get("kmsKeyName")) else "kmsKeyName is not set"


def _unverifiable(kind: str, use: str) -> Callable[[Mapping[str, Any]], str | None]:
    def check(_props: Mapping[str, Any]) -> str | None:
        return f"{kind}: this pack cannot verify its key; use {use}"

    return check


AT_REST_TYPES: Mapping[str, Callable[[Mapping[str, Any]], str | None]] = {
    "aws:sns/topic:Topic": _sns,
    "gcp:pubsub/topic:Topic": _pubsub_topic,
    # Pub/Sub Lite topics take no customer key: refused, so messages cannot dodge the rule.
    "gcp:pubsub/liteTopic:LiteTopic": _unverifiable(
        "Pub/Sub Lite topic", "a Pub/Sub topic with kmsKeyName"
    ),
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": _endpoint_config,
    "aws:eks/cluster:Cluster": _eks,
    "aws:ecr/repository:Repository": _ecr,
}


def _validate_at_rest(args: ResourceValidationArgs, report: Report) -> None:
    check = AT_REST_TYPES.get(args.resource_type)
    if check is not None and (problem := check(args.props)):
        report(problem)


ENCRYPTED_AT_REST = Rule(
    name="mlops-kms-encrypted-at-rest",
    description="Topics (SNS, Pub/Sub), endpoint volumes, cluster secrets and image repositories "
    "use a KMS key.",
    remediation=(
        "Pass the platform's KMS key: kmsMasterKeyId on SNS topics, kmsKeyName on Pub/Sub "
        "topics, kmsKeyArn on SageMaker "
        "endpoint configurations, encryptionConfig (resources ['secrets']) on EKS clusters and "
        "encryptionConfigurations type KMS on ECR repositories."
    ),
    kind="resource",
    validate=_validate_at_rest,
    checkov=("CKV_AWS_26", "CKV_AWS_98", "CKV_AWS_58", "CKV_AWS_136"),
    awsguard=(
        "sns-encrypted-kms",
        "sagemaker-endpoint-configuration-kms-key-configured",
        "eks-secrets-encrypted",
    ),
)

RULES: tuple[Rule, ...] = (ROTATION, ENCRYPTED_AT_REST)
