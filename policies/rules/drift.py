"""Continuous training: every serving endpoint is captured, drift-checked on a schedule, alarmed
to a channel, and the alarm feeds a retraining trigger.

The rule recognises the toolkit's drift job by what it is on each cloud, not by component type
tokens, so a hand-built equivalent passes too:

- **AWS**: a Lambda function whose environment names ``DRIFT_ENDPOINT`` = the endpoint and
  ``DRIFT_BASELINE_URI``; an EventBridge Scheduler schedule (or an EventBridge rule target) that
  invokes it; a CloudWatch alarm on ``DriftedFeatures`` for the endpoint whose actions reach an
  SNS topic of the stack; an EventBridge rule that matches that alarm and has a target. Capture:
  every endpoint configuration has ``dataCaptureConfig`` enabled.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs

from ._base import Rule, get, identifiers, items, of_type, truthy_text

AWS_ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
AWS_ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
AWS_FUNCTION = "aws:lambda/function:Function"
AWS_SCHEDULE = "aws:scheduler/schedule:Schedule"
AWS_EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
AWS_EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
AWS_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
AWS_TOPIC = "aws:sns/topic:Topic"
DRIFT_METRIC = "DriftedFeatures"


def _text(value: Any) -> str:
    try:
        return value if isinstance(value, str) else json.dumps(value, default=str)
    except (TypeError, ValueError):
        return str(value)


def refers(resource: PolicyResource, key: str, targets: Iterable[PolicyResource]) -> bool:
    """Whether ``resource``'s ``key`` input points at one of ``targets`` (dependency or value)."""
    targets = list(targets)
    wanted = {id(t) for t in targets}
    if any(id(d) in wanted for d in resource.property_dependencies.get(key, ())):
        return True
    value = _text(resource.props.get(key))
    return any(ident in value for t in targets for ident in identifiers(t, ("arn", "id", "name")))


def _env(function: PolicyResource) -> Mapping[str, Any]:
    variables = get(function.props, "environment", "variables")
    return variables if isinstance(variables, Mapping) else {}


def _aws(resources: Sequence[PolicyResource], report: ReportViolation) -> None:
    endpoints = of_type(resources, [AWS_ENDPOINT])
    for config in of_type(resources, [AWS_ENDPOINT_CONFIG]):
        capture = config.props.get("dataCaptureConfig")
        if not isinstance(capture, Mapping) or capture.get("enableCapture") is False:
            report(
                f"endpoint configuration '{config.name}': data capture is off, so drift "
                "cannot be checked",
                config.urn,
            )
    functions = [f for f in of_type(resources, [AWS_FUNCTION]) if "DRIFT_BASELINE_URI" in _env(f)]
    topics = of_type(resources, [AWS_TOPIC])
    rules = of_type(resources, [AWS_EVENT_RULE])
    targets = of_type(resources, [AWS_EVENT_TARGET])
    schedules = of_type(resources, [AWS_SCHEDULE])
    alarms = [
        a for a in of_type(resources, [AWS_ALARM]) if a.props.get("metricName") == DRIFT_METRIC
    ]
    for endpoint in endpoints:
        name = endpoint.props.get("name")
        label = f"endpoint '{endpoint.name}'"
        jobs = [f for f in functions if truthy_text(name) and _env(f).get("DRIFT_ENDPOINT") == name]
        if not jobs:
            report(f"{label}: no drift job checks its capture (DRIFT_ENDPOINT)", endpoint.urn)
            continue
        scheduled = any(refers(s, "target", jobs) for s in schedules) or any(
            refers(t, "arn", jobs) for t in targets
        )
        if not scheduled:
            report(
                f"{label}: its drift job is not scheduled (no schedule invokes it)", endpoint.urn
            )
        mine = [a for a in alarms if get(a.props, "dimensions", "Endpoint") == name]
        if not mine:
            report(f"{label}: no alarm on the drift job's {DRIFT_METRIC} metric", endpoint.urn)
            continue
        routed = [
            a
            for a in mine
            if a.props.get("actionsEnabled") is not False
            and any(truthy_text(x) for x in items(a.props.get("alarmActions")))
            and refers(a, "alarmActions", topics)
        ]
        if not routed:
            report(f"{label}: the drift alarm does not notify an alert channel", endpoint.urn)
            continue
        feeding = [r for r in rules if refers(r, "eventPattern", routed)]
        fed = any(refers(t, "rule", feeding) for t in targets)
        if not fed:
            report(
                f"{label}: no retraining trigger is fed by the drift alarm (an EventBridge rule "
                "on its ALARM state with a target)",
                endpoint.urn,
            )


def _validate(args: StackValidationArgs, report: ReportViolation) -> None:
    resources = list(args.resources)
    if not of_type(resources, [AWS_ENDPOINT]):
        args.not_applicable("no serving endpoint in the stack")
        return
    _aws(resources, report)


DRIFT_LOOP = Rule(
    name="mlops-drift-loop-closed",
    description=(
        "Every serving endpoint captures traffic and has a scheduled drift job whose alarm "
        "notifies an alert channel and feeds a retraining trigger."
    ),
    remediation=(
        "Keep data capture on the endpoint and deploy the toolkit's DriftJob for it (the platform "
        "does from monitoring.drift): a scheduled function, an alarm on DriftedFeatures routed to "
        "the alert topic, and a rule from that alarm to the retraining topic."
    ),
    kind="stack",
    validate=_validate,
)

RULES: tuple[Rule, ...] = (DRIFT_LOOP,)
