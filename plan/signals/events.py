"""EventBridge rules matched against the events AWS services emit.

Pattern matching per https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html
and https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html:
a pattern field matches when the event's value (or any element of an array value) equals one of
the listed values or satisfies one of the listed filters (``prefix``, ``suffix``,
``anything-but``, ``exists``, ``equals-ignore-case``, ``numeric``); nested objects match field by
field; fields the pattern does not name are ignored.

The event generators follow the shapes AWS documents for the services the toolkit listens to.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from mlops_iac.plan.signals.timeline import Timeline

MATCHED = "MATCHED"
UNMATCHED = "UNMATCHED"

_MISSING = object()


def _numeric(value: Any, conditions: list[Any]) -> bool:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    ops = {
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
        "=": lambda a, b: a == b,
    }
    return all(ops[conditions[i]](value, conditions[i + 1]) for i in range(0, len(conditions), 2))


def _one(value: Any, allowed: Any) -> bool:
    """``value`` (present, possibly ``_MISSING``) against one entry of a pattern list."""
    if not isinstance(allowed, Mapping):
        return value is not _MISSING and value == allowed
    [(op, arg)] = allowed.items()
    if op == "exists":
        return (value is not _MISSING) == bool(arg)
    if value is _MISSING:
        return False
    if op == "prefix":
        return isinstance(value, str) and value.startswith(arg)
    if op == "suffix":
        return isinstance(value, str) and value.endswith(arg)
    if op == "equals-ignore-case":
        return isinstance(value, str) and value.lower() == str(arg).lower()
    if op == "anything-but":
        excluded = arg if isinstance(arg, list) else [arg]
        if isinstance(arg, Mapping):
            return not _one(value, arg)
        return value not in excluded
    if op == "numeric":
        return _numeric(value, arg)
    raise ValueError(f"unsupported EventBridge filter {op!r}")


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether ``event`` matches the EventBridge ``pattern``."""
    for key, expected in pattern.items():
        value = event.get(key, _MISSING) if isinstance(event, Mapping) else _MISSING
        if isinstance(expected, Mapping):
            if not isinstance(value, Mapping) or not matches(expected, value):
                return False
            continue
        values = value if isinstance(value, list) else [value]
        if not any(_one(v, allowed) for v in values for allowed in expected):
            return False
    return True


def evaluate_rule(
    inputs: Mapping[str, Any], events: Iterable[tuple[float, Mapping[str, Any]]]
) -> Timeline:
    """The recorded ``aws:cloudwatch/eventRule:EventRule`` inputs against ``(t, event)`` pairs:
    ``MATCHED`` where the rule sends the event to its targets."""
    pattern = inputs["eventPattern"]
    if isinstance(pattern, str):
        pattern = json.loads(pattern)
    timeline = Timeline(UNMATCHED, MATCHED)
    for t, event in sorted(events, key=lambda item: item[0]):
        timeline.append(
            t, MATCHED if matches(pattern, event) else UNMATCHED, event.get("detail-type")
        )
    return timeline


def _envelope(
    source: str,
    detail_type: str,
    region: str,
    account: str,
    resources: list[str],
    detail: dict[str, Any],
) -> dict[str, Any]:
    return {
        "version": "0",
        "source": source,
        "detail-type": detail_type,
        "account": account,
        "region": region,
        "resources": resources,
        "detail": detail,
    }


def alarm_state_change(
    alarm_arn: str, alarm_name: str, previous: str, state: str
) -> dict[str, Any]:
    """CloudWatch's event for an alarm changing state (``resources`` = the alarm's ARN).
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html
    """
    _, _, _, region, account, _ = alarm_arn.split(":", 5)
    return _envelope(
        "aws.cloudwatch",
        "CloudWatch Alarm State Change",
        region,
        account,
        [alarm_arn],
        {
            "alarmName": alarm_name,
            "state": {"value": state, "reason": "synthetic"},
            "previousState": {"value": previous},
        },
    )


def model_package_state_change(
    group: str, status: str, region: str, account: str, version: int = 1
) -> dict[str, Any]:
    """SageMaker's event for a model package created or changed in a model package group.
    https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html
    """
    arn = f"arn:aws:sagemaker:{region}:{account}:model-package/{group.lower()}/{version}"
    return _envelope(
        "aws.sagemaker",
        "SageMaker Model Package State Change",
        region,
        account,
        [arn],
        {
            "ModelPackageGroupName": group,
            "ModelPackageVersion": version,
            "ModelPackageArn": arn,
            "ModelApprovalStatus": status,
        },
    )


def processing_job_state_change(
    job: str, status: str, exit_message: str, region: str, account: str
) -> dict[str, Any]:
    """SageMaker's event for a processing job (a Model Monitor run is one) changing state.
    https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html
    """
    return _envelope(
        "aws.sagemaker",
        "SageMaker Processing Job State Change",
        region,
        account,
        [f"arn:aws:sagemaker:{region}:{account}:processing-job/{job}"],
        {"ProcessingJobName": job, "ProcessingJobStatus": status, "ExitMessage": exit_message},
    )
