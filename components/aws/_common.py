"""Helpers the AWS components share: IAM documents, customer-managed keys, stable names."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from mlops_iac.components._component import child_opts
from mlops_iac.components.aws import _defaults as defaults

Tags = pulumi.Input[Mapping[str, pulumi.Input[str]]] | None


def stable_name(name: str, max_length: int = 63) -> str:
    """A deterministic physical name: ``name`` plus a short hash of project, stack and name.

    Used only where a physical name must be known before the resource exists (an EKS cluster's
    log group, a SageMaker endpoint watched by its own rollback alarms). The hash keeps two
    stacks of one project apart in the same account, the way auto-naming does.
    """
    seed = f"{pulumi.get_project()}/{pulumi.get_stack()}/{name}"
    suffix = hashlib.sha1(seed.encode()).hexdigest()[:7]
    return f"{name[: max_length - 8]}-{suffix}"


def statement(**fields: Any) -> dict[str, Any]:
    """An IAM statement without the fields left as None."""
    return {key: value for key, value in fields.items() if value is not None}


def document(statements: Sequence[Mapping[str, Any]]) -> pulumi.Output[str]:
    """A JSON policy document; statements may hold Outputs anywhere (resolved, then dumped)."""
    body = {"Version": "2012-10-17", "Statement": list(statements)}
    return pulumi.Output.from_input(body).apply(lambda doc: json.dumps(doc, sort_keys=False))


def assume_role_policy(service: str) -> str:
    """Trust policy letting one AWS service assume a role."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def account_id(parent: pulumi.Resource) -> pulumi.Output[str]:
    return aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=parent)).account_id


def region(parent: pulumi.Resource) -> pulumi.Output[str]:
    return aws.get_region_output(opts=pulumi.InvokeOptions(parent=parent)).region


def managed_policy_arn(policy: str) -> str:
    return f"arn:aws:iam::aws:policy/{policy}"


def log_group_arn(parent: pulumi.Resource, log_group_name: str) -> pulumi.Output[str]:
    """ARN of this account's and region's log group ``log_group_name`` (known before it exists)."""
    return pulumi.Output.concat(
        "arn:aws:logs:", region(parent), ":", account_id(parent), f":log-group:{log_group_name}"
    )


def customer_key(
    parent: pulumi.Resource,
    name: str,
    purpose: str,
    *,
    prod: bool,
    tags: Tags,
    services: Sequence[str] = (),
    log_group_arns: Sequence[pulumi.Input[str]] = (),
) -> aws.kms.Key:
    """A rotating customer-managed key (``name``) and its alias (``{name}-alias``).

    The key policy lets the account administer and use the key with every key action written
    out (no ``kms:*``). Each of ``services`` (service principals that publish to SNS topics
    encrypted with the key) may use it only for this account: EventBridge for this account's
    topics in this region (``kms:EncryptionContext:aws:sns:topicArn``), CloudWatch and Budgets on
    behalf of this account's own alarms or budgets (``aws:SourceAccount`` and ``aws:SourceArn``,
    https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html). With
    ``log_group_arns``, CloudWatch Logs of this region may use it for exactly those log groups
    (``kms:EncryptionContext:aws:logs:arn``,
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html).
    """
    account = account_id(parent)
    here = region(parent)
    statements: list[dict[str, Any]] = [
        statement(
            Sid="AccountAdministersKey",
            Effect="Allow",
            Principal={"AWS": pulumi.Output.concat("arn:aws:iam::", account, ":root")},
            Action=list(defaults.KEY_ADMIN_ACTIONS),
            Resource="*",
        )
    ]
    for service in services:
        statements.append(
            statement(
                Sid=f"{service.split('.')[0].capitalize()}UsesKeyForThisAccount",
                Effect="Allow",
                Principal={"Service": service},
                Action=list(defaults.KEY_SERVICE_ACTIONS),
                Resource="*",
                Condition=_service_condition(name, service, here, account),
            )
        )
    if log_group_arns:
        statements.append(
            statement(
                Sid="CloudWatchLogsUsesKeyForItsLogGroups",
                Effect="Allow",
                Principal={"Service": pulumi.Output.concat("logs.", here, ".amazonaws.com")},
                Action=list(defaults.LOGS_KEY_ACTIONS),
                Resource="*",
                Condition={
                    "ArnEquals": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            log_group_arns[0] if len(log_group_arns) == 1 else list(log_group_arns)
                        )
                    }
                },
            )
        )
    key = aws.kms.Key(
        name,
        description=f"mlops {purpose} ({name})",
        enable_key_rotation=defaults.KMS_KEY_ROTATION,
        deletion_window_in_days=defaults.KMS_DELETION_WINDOW_DAYS,
        policy=document(statements),
        tags=tags,
        opts=child_opts(parent, protect=prod),
    )
    aws.kms.Alias(
        f"{name}-alias",
        name_prefix=f"alias/mlops-{name}-",
        target_key_id=key.key_id,
        opts=child_opts(parent),
    )
    return key


def _service_condition(
    name: str, service: str, here: pulumi.Output[str], account: pulumi.Output[str]
) -> dict[str, Any]:
    """The condition binding ``service``'s use of a key to this account: its topics
    (``kms:EncryptionContext:aws:sns:topicArn``) for EventBridge, whose delivery to encrypted
    topics the source conditions would break, else ``aws:SourceAccount`` + ``aws:SourceArn``."""
    topics = defaults.SERVICE_TOPIC_ARNS.get(service)
    if topics is not None:
        topic_arns = pulumi.Output.format(topics, region=here, account=account)
        return {"ArnLike": {"kms:EncryptionContext:aws:sns:topicArn": [topic_arns]}}
    pattern = defaults.SERVICE_SOURCE_ARNS.get(service)
    if pattern is None:
        raise ValueError(f"{name}: no key condition known for service {service}")
    source_arn = pulumi.Output.format(pattern, region=here, account=account)
    return {
        "StringEquals": {"aws:SourceAccount": account},
        "ArnLike": {"aws:SourceArn": [source_arn]},
    }


def publish_policy(
    topic_arn: pulumi.Input[str], services: Sequence[str], account: pulumi.Input[str]
) -> pulumi.Output[str]:
    """SNS topic policy: the account manages the topic; ``services`` may only publish to it."""
    return document(
        [
            statement(
                Sid="AccountManagesTopic",
                Effect="Allow",
                Principal={"AWS": pulumi.Output.concat("arn:aws:iam::", account, ":root")},
                Action=[
                    "sns:GetTopicAttributes",
                    "sns:SetTopicAttributes",
                    "sns:Subscribe",
                    "sns:ListSubscriptionsByTopic",
                    "sns:Publish",
                ],
                Resource=topic_arn,
            ),
            statement(
                Sid="ServicesPublish",
                Effect="Allow",
                Principal={"Service": list(services)},
                Action="sns:Publish",
                Resource=topic_arn,
                Condition={"StringEquals": {"aws:SourceAccount": account}},
            ),
        ]
    )


def encrypted_topic(
    parent: pulumi.Resource,
    name: str,
    display_name: str,
    key_arn: pulumi.Input[str] | None,
    publishers: Sequence[str],
    tags: Tags = None,
) -> aws.sns.Topic:
    """KMS-encrypted SNS topic ``name`` plus ``{name}-policy`` letting ``publishers`` publish."""
    topic = aws.sns.Topic(
        name,
        display_name=display_name,
        kms_master_key_id=key_arn,
        tags=tags,
        opts=child_opts(parent),
    )
    aws.sns.TopicPolicy(
        f"{name}-policy",
        arn=topic.arn,
        policy=publish_policy(topic.arn, publishers, account_id(parent)),
        opts=child_opts(parent),
    )
    return topic


def sagemaker_sum(
    query_id: str, metric: str, dimensions: Any, period: int = defaults.ALARM_PERIOD_SECONDS
) -> dict[str, Any]:
    """A CloudWatch metric query summing one SageMaker endpoint metric per ``period`` seconds
    (default the alarms' period), not returned itself."""
    return {
        "id": query_id,
        "return_data": False,
        "metric": {
            "namespace": "AWS/SageMaker",
            "metric_name": metric,
            "dimensions": dimensions,
            "period": period,
            "stat": "Sum",
        },
    }


def error_rate_queries(dimensions: Any) -> list[dict[str, Any]]:
    """Metric math for an endpoint's 5XX share of invocations, in percent (0 when idle)."""
    return [
        sagemaker_sum("errors", "Invocation5XXErrors", dimensions),
        sagemaker_sum("invocations", "Invocations", dimensions),
        {
            "id": "rate",
            "expression": "IF(invocations > 0, 100 * errors / invocations, 0)",
            "label": "5XX rate (%)",
            "return_data": True,
        },
    ]
