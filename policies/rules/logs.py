"""Logging rules: log groups expire and are encrypted; clusters keep their audit logs."""

from __future__ import annotations

from pulumi_policy import ResourceValidationArgs

from ._base import Report, Rule, fmt, items, number, truthy_text

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
EKS_LOG_TYPES: tuple[str, ...] = ("api", "audit", "authenticator", "controllerManager", "scheduler")


def _validate_log_group(args: ResourceValidationArgs, report: Report) -> None:
    if args.resource_type != LOG_GROUP:
        return
    props = args.props
    minimum = float(args.get_config().get("minRetentionDays", 30))
    days = number(props.get("retentionInDays"))
    # 0 or unset means "never expire" in CloudWatch: logs then grow (and cost) forever.
    if not days:
        report("retentionInDays is not set: logs never expire")
    elif days < minimum:
        report(f"retentionInDays {fmt(days)} is below the minimum of {fmt(minimum)}")
    if not truthy_text(props.get("kmsKeyId")):
        report("kmsKeyId is not set: logs are not encrypted with a customer-managed key")


RETENTION_ENCRYPTED = Rule(
    name="mlops-logs-retention-encrypted",
    description="Log groups have a retention period and are encrypted with a KMS key.",
    remediation=(
        "Set retentionInDays (at least minRetentionDays) and kmsKeyId on the CloudWatch log "
        "group; the key policy must allow the logs service principal to use the key."
    ),
    kind="resource",
    validate=_validate_log_group,
    checkov=("CKV_AWS_66", "CKV_AWS_158"),
    awsguard=("cw-loggroup-retention-period-check", "cloudwatch-log-group-encrypted"),
    config={"minRetentionDays": {"type": "number", "minimum": 1, "default": 30}},
)


def _validate_cluster_logs(args: ResourceValidationArgs, report: Report) -> None:
    if args.resource_type != EKS_CLUSTER:
        return
    enabled = set(items(args.props.get("enabledClusterLogTypes")))
    missing = [t for t in EKS_LOG_TYPES if t not in enabled]
    if missing:
        report(f"enabledClusterLogTypes is missing {', '.join(missing)}")


CLUSTER_AUDIT = Rule(
    name="mlops-logs-cluster-audit",
    description="Training clusters send all control-plane logs, including audit, to CloudWatch.",
    remediation=(
        "Set enabledClusterLogTypes to api, audit, authenticator, controllerManager and "
        "scheduler on the EKS cluster (TrainingCluster's default)."
    ),
    kind="resource",
    validate=_validate_cluster_logs,
    checkov=("CKV_AWS_37",),
    awsguard=("eks-cluster-logging-enabled",),
)

RULES: tuple[Rule, ...] = (RETENTION_ENCRYPTED, CLUSTER_AUDIT)
