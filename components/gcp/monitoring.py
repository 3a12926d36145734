"""Monitoring on GCP: notification channels, alert policies, a retraining topic, budget, dashboard.

- ``alert_topic`` is the id (``projects/…/notificationChannels/…``) of the primary alert channel,
  the first alert email; ``alert_channels`` lists them all. Every alert policy notifies all of them.
- Latency: p99 of ``run.googleapis.com/request_latencies`` per revision above ``latency_p99_ms``
  for 5 minutes. Errors: the ratio of 5xx to all ``run.googleapis.com/request_count`` per
  revision above ``error_rate_percent``.
- Retraining: the CMEK retraining topic, on which the Monitoring notification agent may publish.
  The drift job (``DriftJob``) alerts on its custom metric through a ``pubsub`` channel on this
  topic; ``retraining_trigger`` carries the publish grant, so a channel built from it is created
  after the grant.
- Budget: with a billing account, a monthly ``billing.Budget`` of ``monthly_budget_usd``
  for the project, alerting at 80% and 100% to the alert channels. Without one, the budget
  is skipped with a warning.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import pulumi
import pulumi_gcp
from pulumi_gcp import billing, monitoring, organizations, pubsub

from mlops_iac.components._component import Component, child_opts, component_opts
from mlops_iac.components.contract_types import MonitoringArgsBase
from mlops_iac.components.gcp import _defaults as defaults
from mlops_iac.components.gcp._common import (
    monitoring_may_publish,
    project_info,
    pubsub_topic_key,
    region_or_default,
)

TYPE = "mlops:gcp:Monitoring"
BY_REVISION = ("resource.label.revision_name",)


@dataclass(frozen=True, kw_only=True)
class MonitoringArgs(MonitoringArgsBase):
    """Inputs of ``Monitoring``; everything has defaults."""

    FIELD_NOTES: ClassVar[Mapping[str, str]] = {
        "alert_emails": (
            "Subscribers of every alert. Default: none (a warning: alerts would reach nobody)."
        ),
        "latency_p99_ms": ("p99 latency threshold in milliseconds. Default 500."),
        "error_rate_percent": ("5xx share threshold in percent. Default 1."),
        "drift": (
            "Drift check cadence (``hourly``, ``daily``, ``weekly``), checked here; the drift "
            "job alerts on that cadence. Default ``daily``."
        ),
        "monthly_budget_usd": (
            "Monthly GPU spend budget; alerts at 80 % and 100 %. Default: no budget."
        ),
        "environment": (
            "``dev``, ``staging`` or ``prod``. Default ``dev``. Prod protects the key."
        ),
        "tags": (
            "Extra tags on labelled children, as GCP labels (GCP-valid keys and values). "
            "Default: none."
        ),
    }

    endpoint_name: pulumi.Input[str] | None = None
    """Cloud Run service the latency, error and drift policies and the dashboard watch.
    Default: none (no service policies and no dashboard: a platform brought up before
    serving)."""
    billing_account: str | None = None
    """Billing account for the GPU budget. Default: no budget (with a warning)."""
    billing_project: pulumi.Input[str] | None = None
    """Project that pays for the Billing Budgets API calls (the caller needs
    ``serviceusage.services.use`` on it). The budget is created through a provider with this
    ``billing_project`` and ``user_project_override``, without which the API answers 403 to user
    credentials. Default: the provider's project."""
    region: str | None = None
    """Region of the topic's key. Default: ``gcp:region``, else us-central1."""
    kms_key_id: pulumi.Input[str] | None = None
    """Cloud KMS key of the retraining topic (the Pub/Sub agent must hold it). Default: new."""


class Monitoring(Component):
    """Alert channels and policies for a Cloud Run model service, plus retraining and budget.

    Children: ``{name}-email-<i>`` (email channels), ``{name}-key-ring``, ``{name}-key``,
    ``{name}-pubsub-agent`` (the Pub/Sub service agent, created explicitly) and
    ``{name}-key-pubsub-agent`` (unless a key is given), ``{name}-retraining`` (topic),
    ``{name}-monitoring-agent`` (the Monitoring notification service agent, created
    explicitly), ``{name}-retraining-publisher`` (that agent may publish), ``{name}-latency``,
    ``{name}-errors`` (alert policies), ``{name}-billing-provider`` and ``{name}-budget`` (with
    a billing account and budget; the provider sets ``billing_project`` and
    ``user_project_override`` and takes the stack's ``gcp:`` credentials, impersonation and
    region) and ``{name}-dashboard``.

    Outputs: ``alert_topic`` (primary channel id, None without emails), ``alert_channels``,
    ``dashboard_url``, ``retraining_trigger`` (topic id), ``alarm_names`` (alert policy names).
    """

    alert_topic: pulumi.Output[str | None]
    alert_channels: pulumi.Output[list[str]]
    dashboard_url: pulumi.Output[str]
    retraining_trigger: pulumi.Output[str]
    alarm_names: pulumi.Output[list[str]]

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, component_opts(opts))
        label = f"Monitoring {name}"
        if args.drift not in defaults.DRIFT_PERIODS:
            raise ValueError(f"{label}: drift must be one of {', '.join(defaults.DRIFT_PERIODS)}")
        prod = args.environment == "prod"
        region = region_or_default(args.region)
        project = project_info(self)

        channel_ids = self._alert_channels(name, label, args)
        trigger = self._retraining(name, args, region, prod, project)
        self._budget(name, label, args, project, channel_ids)
        policies: list[monitoring.AlertPolicy] = []
        dashboard_url: pulumi.Input[str | None] = None
        if args.endpoint_name is not None:
            service = pulumi.Output.from_input(args.endpoint_name)
            policies = [
                self._latency_policy(name, args, service, channel_ids),
                self._error_policy(name, args, service, channel_ids),
            ]
            dashboard = monitoring.Dashboard(
                f"{name}-dashboard",
                dashboard_json=pulumi.Output.all(service, args.latency_p99_ms).apply(
                    lambda values: _dashboard_json(name, *values)
                ),
                opts=child_opts(self),
            )
            dashboard_url = pulumi.Output.all(dashboard.id, project.project_id).apply(
                lambda v: (
                    "https://console.cloud.google.com/monitoring/dashboards/custom/"
                    f"{v[0].rsplit('/', 1)[-1]}?project={v[1]}"
                )
            )

        self.register(
            alert_topic=channel_ids[0] if channel_ids else pulumi.Output.from_input(None),
            alert_channels=pulumi.Output.all(*channel_ids),
            dashboard_url=pulumi.Output.from_input(dashboard_url),
            retraining_trigger=trigger,
            alarm_names=pulumi.Output.all(*(policy.name for policy in policies)),
        )

    def _alert_channels(
        self, name: str, label: str, args: MonitoringArgs
    ) -> list[pulumi.Output[str]]:
        """Ids of ``{name}-email-<i>`` and ``{name}-webhook`` (a warning when there are none)."""
        channels = [
            monitoring.NotificationChannel(
                f"{name}-email-{i}",
                type="email",
                display_name=f"MLOps alerts {email}",
                labels={"email_address": email},
                user_labels=args.tags,
                opts=child_opts(self),
            )
            for i, email in enumerate(args.alert_emails)
        ]
        if args.webhook_url is not None:
            channels.append(
                monitoring.NotificationChannel(
                    f"{name}-webhook",
                    type="webhook_tokenauth",
                    display_name=f"MLOps alerts webhook ({name})",
                    labels={"url": args.webhook_url},
                    user_labels=args.tags,
                    opts=child_opts(self),
                )
            )
        if not channels:
            pulumi.log.warn(f"{label}: no alert_emails; alert policies notify no channel")
        return [c.name for c in channels]

    def _retraining(
        self,
        name: str,
        args: MonitoringArgs,
        region: str,
        prod: bool,
        project: pulumi.Output[organizations.GetProjectResult],
    ) -> pulumi.Output[str]:
        """The id of the CMEK retraining topic, once the Monitoring agent may publish on it."""
        key_id: pulumi.Input[str]
        grants: list[pulumi.Resource] = []
        if args.kms_key_id is not None:
            key_id = args.kms_key_id
        else:
            key, grants = pubsub_topic_key(
                self, name, location=region, prod=prod, project=project, labels=args.tags
            )
            key_id = key.id
        topic = pubsub.Topic(
            f"{name}-retraining",
            kms_key_name=key_id,
            message_retention_duration=defaults.TOPIC_MESSAGE_RETENTION,
            labels=args.tags,
            opts=child_opts(self, depends_on=grants or None),
        )
        return monitoring_may_publish(self, name, topic, f"{name}-retraining-publisher", project)

    def _latency_policy(
        self,
        name: str,
        args: MonitoringArgs,
        service: pulumi.Output[str],
        channel_ids: list[pulumi.Output[str]],
    ) -> monitoring.AlertPolicy:
        """``{name}-latency``: p99 request latency per revision above ``latency_p99_ms``."""
        return monitoring.AlertPolicy(
            f"{name}-latency",
            display_name=f"{name}: p99 latency above {args.latency_p99_ms} ms",
            combiner="OR",
            severity="ERROR",
            conditions=[
                {
                    "display_name": "p99 request latency",
                    "condition_threshold": {
                        "filter": pulumi.Output.concat(
                            _revision_filter(service),
                            ' AND metric.type = "run.googleapis.com/request_latencies"',
                        ),
                        "comparison": "COMPARISON_GT",
                        "threshold_value": args.latency_p99_ms,
                        "duration": defaults.ALERT_WINDOW,
                        "aggregations": [
                            {
                                "alignment_period": "60s",
                                "per_series_aligner": "ALIGN_PERCENTILE_99",
                                "cross_series_reducer": "REDUCE_MAX",
                                "group_by_fields": list(BY_REVISION),
                            }
                        ],
                        "trigger": {"count": 1},
                    },
                }
            ],
            documentation=_runbook("Latency"),
            notification_channels=channel_ids,
            user_labels=args.tags,
            opts=child_opts(self),
        )

    def _error_policy(
        self,
        name: str,
        args: MonitoringArgs,
        service: pulumi.Output[str],
        channel_ids: list[pulumi.Output[str]],
    ) -> monitoring.AlertPolicy:
        """``{name}-errors``: a revision's 5xx share above ``error_rate_percent``."""
        requests = pulumi.Output.concat(
            _revision_filter(service), ' AND metric.type = "run.googleapis.com/request_count"'
        )
        return monitoring.AlertPolicy(
            f"{name}-errors",
            display_name=f"{name}: 5xx rate above {args.error_rate_percent}%",
            combiner="OR",
            severity="ERROR",
            conditions=[
                {
                    "display_name": "5xx share of requests",
                    "condition_threshold": {
                        "filter": pulumi.Output.concat(
                            requests, ' AND metric.labels.response_code_class = "5xx"'
                        ),
                        "denominator_filter": requests,
                        "comparison": "COMPARISON_GT",
                        "threshold_value": args.error_rate_percent / 100,
                        "duration": defaults.ALERT_WINDOW,
                        "aggregations": [_rate(list(BY_REVISION))],
                        "denominator_aggregations": [_rate(list(BY_REVISION))],
                        "trigger": {"count": 1},
                    },
                }
            ],
            documentation=_runbook("Error rate"),
            notification_channels=channel_ids,
            user_labels=args.tags,
            opts=child_opts(self),
        )

    def _budget(
        self,
        name: str,
        label: str,
        args: MonitoringArgs,
        project: pulumi.Output[organizations.GetProjectResult],
        channel_ids: list[pulumi.Output[str]],
    ) -> None:
        """``{name}-budget`` (through ``{name}-billing-provider``), or a warning without one."""
        if args.billing_account is None or args.monthly_budget_usd is None:
            pulumi.log.warn(
                f"{label}: no billing account or GPU budget configured; "
                "the GPU spend budget is skipped"
            )
            return
        # Whole dollars; an Output budget is rounded once it resolves.
        units = pulumi.Output.from_input(args.monthly_budget_usd).apply(lambda usd: str(round(usd)))
        # "If you are using User ADCs ... you must specify a billing_project and set
        # user_project_override to true ... Otherwise the Billing Budgets API will return a
        # 403 error." https://www.pulumi.com/registry/packages/gcp/api-docs/billing/budget/
        billing_project = (
            args.billing_project
            if args.billing_project is not None
            else pulumi.Config("gcp").get("project") or project.project_id
        )
        # An explicit provider does not read the stack's gcp: config: pass on what says who calls.
        budget_provider = pulumi_gcp.Provider(
            f"{name}-billing-provider",
            project=billing_project,
            billing_project=billing_project,
            user_project_override=True,
            **inherited_provider_config(),
            opts=child_opts(self),
        )
        billing.Budget(
            f"{name}-budget",
            billing_account=args.billing_account,
            display_name=f"{name} GPU budget",
            budget_filter={
                "projects": [pulumi.Output.concat("projects/", project.number)],
                "calendar_period": "MONTH",
            },
            amount={"specified_amount": {"currency_code": "USD", "units": units}},
            threshold_rules=[
                {"threshold_percent": t, "spend_basis": "CURRENT_SPEND"}
                for t in defaults.BUDGET_THRESHOLDS
            ],
            all_updates_rule={
                # Budgets accept at most five monitoring channels.
                "monitoring_notification_channels": channel_ids[:5],
                "disable_default_iam_recipients": False,
            },
            opts=child_opts(self, provider=budget_provider),
        )


INHERITED_CONFIG = {
    "credentials": "credentials",
    "accessToken": "access_token",
    "impersonateServiceAccount": "impersonate_service_account",
    "impersonateServiceAccountDelegates": "impersonate_service_account_delegates",
    "region": "region",
    "zone": "zone",
}
"""``gcp:`` config keys (identity and location) an explicit provider takes from the stack."""


def inherited_provider_config() -> dict[str, pulumi.Input[object]]:
    """The stack's ``gcp:`` identity and location settings, as ``pulumi_gcp.Provider`` arguments.

    "Explicit providers do not read the default provider's configuration", so a stack that
    authenticates through ``gcp:credentials`` or ``gcp:impersonateServiceAccount`` would otherwise
    create the budget as another identity. https://www.pulumi.com/docs/iac/concepts/providers/
    """
    config = pulumi.Config("gcp")
    found: dict[str, pulumi.Input[object]] = {}
    for key, argument in INHERITED_CONFIG.items():
        if key == "impersonateServiceAccountDelegates":
            value: object = config.get_object(key)
        elif key in ("credentials", "accessToken"):
            value = config.get_secret(key)
        else:
            value = config.get(key)
        if value is not None:
            found[argument] = value
    return found


def _revision_filter(service: pulumi.Output[str]) -> pulumi.Output[str]:
    """Cloud Monitoring filter of the revisions of Cloud Run service ``service``."""
    return pulumi.Output.concat(
        'resource.type = "cloud_run_revision" AND resource.labels.service_name = "',
        service,
        '"',
    )


def _rate(group_by: list[str]) -> dict[str, object]:
    return {
        "alignment_period": "60s",
        "per_series_aligner": "ALIGN_RATE",
        "cross_series_reducer": "REDUCE_SUM",
        "group_by_fields": group_by,
    }


def _runbook(what: str) -> dict[str, str]:
    return {
        "content": f"{what} of the model service is out of bounds. If it started with the "
        "current revision, run `mlops-iac rollback` to send all traffic to the previous one.",
        "mime_type": "text/markdown",
    }


def _dashboard_json(name: str, service: str, latency_ms: float) -> str:
    base = f'resource.type="cloud_run_revision" resource.labels.service_name="{service}"'

    def chart(title: str, metric: str, aligner: str, extra: str = "") -> dict[str, object]:
        return {
            "title": title,
            "xyChart": {
                "dataSets": [
                    {
                        "timeSeriesQuery": {
                            "timeSeriesFilter": {
                                "filter": f'{base} metric.type="{metric}"{extra}',
                                "aggregation": {
                                    "alignmentPeriod": "60s",
                                    "perSeriesAligner": aligner,
                                    "crossSeriesReducer": "REDUCE_SUM"
                                    if aligner == "ALIGN_RATE"
                                    else "REDUCE_MAX",
                                    "groupByFields": ["resource.label.revision_name"],
                                },
                            }
                        },
                        "plotType": "LINE",
                    }
                ],
                "thresholds": [{"value": latency_ms}] if "latenc" in metric else [],
            },
        }

    return json.dumps(
        {
            "displayName": f"MLOps serving: {name}",
            "gridLayout": {
                "columns": "2",
                "widgets": [
                    chart(
                        "p99 latency (ms) by revision",
                        "run.googleapis.com/request_latencies",
                        "ALIGN_PERCENTILE_99",
                    ),
                    chart(
                        "Requests/s by revision", "run.googleapis.com/request_count", "ALIGN_RATE"
                    ),
                    chart(
                        "5xx/s by revision",
                        "run.googleapis.com/request_count",
                        "ALIGN_RATE",
                        ' metric.labels.response_code_class="5xx"',
                    ),
                    chart(
                        "Instances by revision",
                        "run.googleapis.com/container/instance_count",
                        "ALIGN_MAX",
                    ),
                ],
            },
        },
        sort_keys=True,
    )
