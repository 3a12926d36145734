"""Alarm routing: every alarm notifies an alert channel that exists in the same stack."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import StackValidationArgs

from ._base import Report, Rule, get, identifiers, items, of_type, short_type, truthy_text


@dataclass(frozen=True)
class Routing:
    """Where an alarm type lists its actions and which resources count as channels."""

    actions_key: str
    channel_types: tuple[str, ...]
    channel_fields: tuple[str, ...]
    action_field: str | None = None
    """Key inside each action object holding the reference (Azure), or None for plain strings."""
    enabled_key: str | None = None
    list_key: str | None = None
    """Key of the list inside ``actions_key`` when the actions are an object (log alerts)."""


_SNS = Routing(
    "alarmActions", ("aws:sns/topic:Topic",), ("arn", "id"), enabled_key="actionsEnabled"
)
_ACTION_GROUP = Routing(
    "actions",
    # insights:* (the older tokens of the same resources) reach the rule as monitor:*.
    ("azure-native:monitor:ActionGroup",),
    ("id",),
    action_field="actionGroupId",
    enabled_key="enabled",
)

ROUTING: Mapping[str, Routing] = {
    "aws:cloudwatch/metricAlarm:MetricAlarm": _SNS,
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": _SNS,
    "azure-native:monitor:MetricAlert": _ACTION_GROUP,
    "azure-native:monitor:ScheduledQueryRule": Routing(
        "actions",
        _ACTION_GROUP.channel_types,
        ("id",),
        enabled_key="enabled",
        list_key="actionGroups",
    ),
    "gcp:monitoring/alertPolicy:AlertPolicy": Routing(
        "notificationChannels",
        ("gcp:monitoring/notificationChannel:NotificationChannel",),
        ("name", "id"),
        enabled_key="enabled",
    ),
}


def _targets(props: Mapping[str, Any], routing: Routing) -> list[Any]:
    if routing.list_key:
        return list(items(get(props, routing.actions_key, routing.list_key)))
    actions = items(props.get(routing.actions_key))
    if routing.action_field:
        return [get(a, routing.action_field) for a in actions]
    return list(actions)


def _validate(args: StackValidationArgs, report: Report) -> None:
    alarms = of_type(args.resources, ROUTING)
    if not alarms:
        args.not_applicable("no alarms in the stack")
    channels: dict[tuple[str, ...], set[str]] = {}
    for alarm in alarms:
        routing = ROUTING[alarm.resource_type]
        if routing.channel_types not in channels:
            known: set[str] = set()
            for channel in of_type(args.resources, routing.channel_types):
                known |= identifiers(channel, routing.channel_fields)
            channels[routing.channel_types] = known
        # Channels wired by reference show up as property dependencies even before their ARNs
        # are known, so they count as well.
        wired = {
            id(d)
            for d in alarm.property_dependencies.get(routing.actions_key, ())
            if d.resource_type in routing.channel_types
        }
        targets = [t for t in _targets(alarm.props, routing) if truthy_text(t)]
        label = f"{short_type(alarm.resource_type)} '{alarm.name}'"
        if routing.enabled_key and alarm.props.get(routing.enabled_key) is False:
            report(f"{label}: {routing.enabled_key} is false", alarm.urn)
        elif not targets:
            report(f"{label}: {routing.actions_key} is empty: nobody is notified", alarm.urn)
        elif not wired and not any(t in channels[routing.channel_types] for t in targets):
            report(
                f"{label}: none of its {routing.actions_key} is an alert channel in this stack",
                alarm.urn,
            )


ALARMS_ROUTED = Rule(
    name="mlops-alarms-routed",
    description="Every alarm notifies an alert channel (SNS topic, action group) in the stack.",
    remediation=(
        "Set alarmActions to the Monitoring component's alert topic ARN (Azure: an action group; "
        "GCP: a notification channel) and keep actionsEnabled true."
    ),
    kind="stack",
    validate=_validate,
    checkov=("CKV_AWS_319",),
    awsguard=("cloudwatch-alarm-action-check",),
)

RULES: tuple[Rule, ...] = (ALARMS_ROUTED,)
