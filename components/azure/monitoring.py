"""Monitoring on Azure: action group, endpoint alerts, retraining queue, budget (and optionally
the AzureML model monitor)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import pulumi
from pulumi_azure_native import (
    authorization,
    consumption,
    eventgrid,
    machinelearningservices,
    monitor,
    operationalinsights,
    portal,
    storage,
)

from mlops_iac.components._component import Component, child_opts, component_opts, given
from mlops_iac.components.azure import _defaults as defaults
from mlops_iac.components.azure._common import (
    client_config,
    error_rate_criteria,
    new_workspace_log_alert,
    role_definition_id,
)
from mlops_iac.components.contract_types import MonitoringArgsBase

TYPE = "mlops:azure:Monitoring"
ENDPOINT_METRICS = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
WORKSPACE_TOPIC_TYPE = "Microsoft.MachineLearningServices.Workspaces"
RUN_STATUS_CHANGED = "Microsoft.MachineLearningServices.RunStatusChanged"
# Run tag AzureML sets on a monitoring run whose signals breached their thresholds.
DRIFT_TAG = "data.RunTags.azureml_modelmonitor_threshold_breached"
DRIFT_TAG_TEXT = "has failed due to one or more features violating metric thresholds"
_FREQUENCY = {"hourly": "Hour", "daily": "Day", "weekly": "Week"}


@dataclass(frozen=True, kw_only=True)
class MonitoringArgs(MonitoringArgsBase):
    """Inputs of ``Monitoring``."""

    FIELD_NOTES: ClassVar[Mapping[str, str]] = {
        "environment": ("``dev``, ``staging`` or ``prod``. Default ``dev``."),
        "alert_emails": (
            "Who the action group emails. Default: none (the group exists without receivers)."
        ),
        "webhook_url": (
            "Chat webhook added to the action group (keep it a secret). Default: none."
        ),
        "endpoint_name": (
            "Online endpoint to alert on and collect logs from, in ``workspace_name`` (its "
            "ARM id is built from ``subscription_id``, ``resource_group_name``, "
            "``workspace_name`` and this name). Default: no endpoint alerts, charts or logs."
        ),
        "latency_p99_ms": ("Alert when the endpoint's p99 latency exceeds this. Default 500 ms."),
        "error_rate_percent": (
            "Alert when more than this share of the endpoint's requests fail with 5xx in 5 "
            "minutes. Default 1 %. A log alert over the request log: metric alerts cannot "
            "divide two metrics."
        ),
        "drift": ("``hourly``, ``daily`` or ``weekly`` drift evaluation. Default ``daily``."),
        "monthly_budget_usd": (
            "Monthly cost budget of the resource group. Default: none (with a warning)."
        ),
        "tags": (
            "Extra tags on every child. Default: none (the stack's lineage transform adds lineage)."
        ),
    }

    resource_group_name: pulumi.Input[str]
    """Resource group of the monitoring resources (and the budget's scope). Required."""
    subscription_id: pulumi.Input[str] | None = None
    """Subscription of the resource group, for the budget scope and the endpoint's ARM id.
    Default: no budget is created without it (the stack passes it); required with
    ``endpoint_name``."""
    location: pulumi.Input[str] | None = None
    """Region of the workspace and topics. Default: the resource group's."""
    workspace_name: pulumi.Input[str] | None = None
    """AzureML workspace (in ``resource_group_name``) of the endpoint; required with
    ``endpoint_name``; with ``workspace_id`` and ``deployment_id`` it enables the drift monitor
    and its events. Default: no drift monitoring."""
    workspace_id: pulumi.Input[str] | None = None
    """ARM id of that workspace (source of the drift events). Default: none."""
    deployment_id: pulumi.Input[str] | None = None
    """ARM id of the deployment whose collected inputs the AzureML model monitor checks.
    Default: none, no AzureML monitor. The monitor runs on Serverless Spark, which in a workspace
    with a managed network needs a Spark-enabled storage rule and the network provisioned with
    Spark, a step no resource declares
    (https://learn.microsoft.com/en-us/azure/machine-learning/how-to-managed-network#configure-for-serverless-spark-jobs):
    the platform leaves it off and runs the toolkit's drift job (``DriftJob``) instead."""
    retraining_account_name: pulumi.Input[str] | None = None
    """Storage account (in ``resource_group_name``) that holds the retraining queue: the
    artifact store's. Default: none, so drift only alerts (with a warning)."""
    retraining_account_id: pulumi.Input[str] | None = None
    """ARM id of that storage account (the queue sender role is scoped to it)."""
    production_data_uri: pulumi.Input[str] | None = None
    """Data asset of the collected model inputs. Default:
    ``azureml:<endpoint>-<deployment>-model_inputs:1`` is unknown here, so it is required with
    ``deployment_id``."""
    reference_data_uri: pulumi.Input[str] | None = None
    """Baseline data asset (training data). Default: the previous week of production data."""
    task_type: str = "Classification"
    """Model task the drift monitor assumes (``Classification``, ``Regression`` …). Default
    ``Classification``."""
    log_retention_days: int | None = None
    """Log Analytics retention. Default: 90 days (at least 30)."""
    studio_url: pulumi.Input[str] | None = None
    """Link to the endpoint in AzureML studio, shown on the dashboard. Default: none."""


class Monitoring(Component):
    """Alert channel, endpoint alerts, drift monitor, retraining trigger and GPU budget.

    Children: ``{name}-logs`` (Log Analytics, ≥ 30 days), ``{name}-alerts`` (action group with
    the alert emails), ``{name}-dashboard`` (Azure portal dashboard: links, and p99 latency and
    request charts of the endpoint); with an endpoint ``{name}-latency-p99`` (metric alert),
    ``{name}-5xx`` (log alert on the 5xx share of requests), both acting on the group, and
    ``{name}-endpoint-logs`` (diagnostic setting sending the endpoint's request logs and metrics
    to the workspace); with a retraining account ``{name}-retraining`` (storage queue: the
    retraining trigger, fed by the drift job); with a workspace and deployment (the AzureML
    model monitor, which the platform leaves off: see ``MonitoringArgs.deployment_id``)
    ``{name}-drift`` (AzureML schedule with a ``CreateMonitor`` action: data drift of the
    deployment's collected inputs, emails on breach), ``{name}-ml-events`` (Event Grid system
    topic of the workspace, with a system-assigned identity; Event Grid's Azure Monitor alert
    handler takes Key Vault events only, so a breach is announced by the monitor's own email
    notification to ``alert_emails``) and, with the queue, ``{name}-retraining-sender`` (the
    system topic may only send queue messages to that account) and
    ``{name}-retraining-trigger`` (subscription delivering the breach event into the queue with
    the topic's identity); with a budget ``{name}-budget`` (monthly; 80% and 100% actual and
    100% forecast, to the emails and the group).

    The retraining trigger is that queue: the team's retraining pipeline reads it (an AzureML
    pipeline trigger, a Function or a Logic App). A queue rather than a custom Event Grid topic,
    because Event Grid cannot forward a system-topic event into a custom topic, while a storage
    queue is a native, identity-authenticated destination (the account keeps shared keys off).

    Outputs: ``alert_topic`` (action group id), ``dashboard_url`` (the portal dashboard),
    ``retraining_trigger`` (queue id, None without a retraining account),
    ``retraining_queue_url``, ``log_analytics_workspace_id``.
    """

    alert_topic: pulumi.Output[str]
    dashboard_url: pulumi.Output[str]
    retraining_trigger: pulumi.Output[str]
    retraining_queue_url: pulumi.Output[str | None]
    log_analytics_workspace_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, component_opts(opts))
        label = f"Monitoring {name}"
        if args.drift not in _FREQUENCY:
            raise ValueError(f"{label}: drift must be one of {', '.join(_FREQUENCY)}")
        emails = list(args.alert_emails)
        logs = self._logs(name, args)
        group = self._alert_channel(name, args, emails)
        endpoint_id = endpoint_arm_id(label, args)
        if endpoint_id is not None:
            self._endpoint_alerts(name, endpoint_id, args, group, logs)
        queue = self._retraining_queue(name, args)
        if (
            args.workspace_name is not None
            and args.workspace_id is not None
            and args.deployment_id is not None
        ):
            self._drift(name, args, emails, queue)
        if args.monthly_budget_usd is not None and args.subscription_id is not None:
            self._budget(name, args, args.subscription_id, emails, group)
        else:
            pulumi.log.warn(f"{label}: no monthly budget (give monthly_budget_usd)", self)
        dashboard = self._dashboard(name, endpoint_id, args)
        self.register(
            alert_topic=group.id,
            dashboard_url=pulumi.Output.concat(
                "https://portal.azure.com/#dashboard/arm", dashboard.id
            ),
            retraining_trigger=pulumi.Output.from_input(queue.id if queue else None),
            retraining_queue_url=pulumi.Output.from_input(
                pulumi.Output.concat(
                    "https://", args.retraining_account_name, ".queue.core.windows.net/", queue.name
                )
                # A queue exists only with a retraining account (_retraining_queue).
                if queue and args.retraining_account_name is not None
                else None
            ),
            log_analytics_workspace_id=logs.id,
        )

    def _logs(self, name: str, args: MonitoringArgs) -> operationalinsights.Workspace:
        """The Log Analytics workspace (at least 30 days) the endpoint's logs go to."""
        return operationalinsights.Workspace(
            f"{name}-logs",
            resource_group_name=args.resource_group_name,
            location=args.location,
            sku={"name": "PerGB2018"},
            retention_in_days=max(30, given(args.log_retention_days, defaults.LOG_RETENTION_DAYS)),
            tags=args.tags,
            opts=child_opts(self),
        )

    def _alert_channel(
        self, name: str, args: MonitoringArgs, emails: list[str]
    ) -> monitor.ActionGroup:
        """The action group: the alert emails and, with a webhook URL, the chat webhook."""
        return monitor.ActionGroup(
            f"{name}-alerts",
            resource_group_name=args.resource_group_name,
            location=defaults.ACTION_GROUP_LOCATION,
            group_short_name="mlopsalert",
            enabled=True,
            email_receivers=[
                {"name": f"oncall-{i}", "email_address": email, "use_common_alert_schema": True}
                for i, email in enumerate(emails)
            ],
            webhook_receivers=(
                [
                    {
                        "name": "chat",
                        "service_uri": args.webhook_url,
                        "use_common_alert_schema": True,
                    }
                ]
                if args.webhook_url is not None
                else None
            ),
            tags=args.tags,
            opts=child_opts(self),
        )

    def _endpoint_alerts(
        self,
        name: str,
        endpoint_id: pulumi.Output[str],
        args: MonitoringArgs,
        group: monitor.ActionGroup,
        logs: operationalinsights.Workspace,
    ) -> None:
        """The endpoint's request log into the workspace, and its latency and 5xx alerts."""
        # Request logs (traffic, console, events) and metrics of the endpoint, retained with
        # the workspace: the request log that on-call and audits read.
        setting = monitor.DiagnosticSetting(
            f"{name}-endpoint-logs",
            resource_uri=endpoint_id,
            workspace_id=logs.id,
            log_analytics_destination_type="Dedicated",
            logs=[{"category_group": "allLogs", "enabled": True}],
            metrics=[{"category": "AllMetrics", "enabled": True}],
            opts=child_opts(self),
        )
        self._metric_alert(
            f"{name}-latency-p99",
            endpoint_id,
            args,
            group,
            f"p99 latency above {args.latency_p99_ms} ms",
            severity=2,
            criterion={
                "name": "latency-p99",
                "metric_name": "RequestLatency_P99",
                "operator": "GreaterThan",
                "threshold": args.latency_p99_ms,
                "time_aggregation": "Average",
            },
        )
        self._error_rate_alert(f"{name}-5xx", endpoint_id, args, group, logs, setting)

    def _dashboard(
        self, name: str, endpoint_id: pulumi.Input[str] | None, args: MonitoringArgs
    ) -> portal.Dashboard:
        links: list[pulumi.Input[str]] = [f"## mlops {name}\n\n"]
        if args.studio_url is not None:
            links += ["* [Endpoint in AzureML studio](", args.studio_url, ")\n"]
        links += [
            "* Alerts go to the action group; drift reports are under drift/reports/ in the "
            "artifact store (the drift job), or in the AzureML workspace (its model monitor).\n"
        ]
        parts: list[dict[str, object]] = [
            _part(
                0,
                {
                    "type": "Extension/HubsExtension/PartType/MarkdownPart",
                    "inputs": [],
                    "settings": {
                        "content": {
                            "settings": {
                                "content": pulumi.Output.concat(*links),
                                "title": "MLOps platform",
                            }
                        }
                    },
                },
            )
        ]
        if endpoint_id is not None:
            charts = [
                ("RequestLatency_P99", "p99 latency (ms)", 4),
                ("RequestsPerMinute", "requests per minute", 1),
            ]
            for index, (metric, title, aggregation) in enumerate(charts, start=1):
                parts.append(_part(index, _chart(endpoint_id, metric, title, aggregation)))
        tags = dict(args.tags) if isinstance(args.tags, Mapping) else {}
        return portal.Dashboard(
            f"{name}-dashboard",
            resource_group_name=args.resource_group_name,
            location=args.location,
            properties={"lenses": [{"order": 0, "parts": parts}]},
            # The portal shows this tag as the dashboard's title.
            tags={**tags, "hidden-title": f"mlops {name}"},
            opts=child_opts(self),
        )

    def _metric_alert(
        self,
        name: str,
        endpoint_id: pulumi.Input[str],
        args: MonitoringArgs,
        group: monitor.ActionGroup,
        description: str,
        *,
        severity: int,
        criterion: dict[str, object],
    ) -> monitor.MetricAlert:
        return monitor.MetricAlert(
            name,
            resource_group_name=args.resource_group_name,
            location="global",
            description=description,
            severity=severity,
            enabled=True,
            auto_mitigate=True,
            scopes=[endpoint_id],
            evaluation_frequency="PT1M",
            window_size="PT5M",
            criteria=monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
                odata_type="Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                all_of=[
                    monitor.MetricCriteriaArgs(
                        criterion_type="StaticThresholdCriterion",
                        metric_namespace=ENDPOINT_METRICS,
                        **criterion,  # type: ignore[arg-type]
                    )
                ],
            ),
            actions=[{"action_group_id": group.id}],
            tags=args.tags,
            opts=child_opts(self),
        )

    def _error_rate_alert(
        self,
        name: str,
        endpoint_id: pulumi.Input[str],
        args: MonitoringArgs,
        group: monitor.ActionGroup,
        logs: operationalinsights.Workspace,
        setting: monitor.DiagnosticSetting,
    ) -> monitor.ScheduledQueryRule:
        """Log alert on the 5xx share of the endpoint's requests (its request log)."""
        query = pulumi.Output.concat(
            "AmlOnlineEndpointTrafficLog | where _ResourceId =~ '",
            endpoint_id,
            "' | summarize Errors = countif(toint(ResponseCode) >= 500), Requests = count()",
            " | extend ErrorRatePercent = iff(Requests == 0, 0.0, 100.0 * Errors / Requests)",
        )
        return monitor.ScheduledQueryRule(
            name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            description=f"5xx share of requests above {args.error_rate_percent}%",
            severity=1,
            auto_mitigate=True,
            scopes=[logs.id],
            **new_workspace_log_alert(),
            criteria=error_rate_criteria(query, args.error_rate_percent),
            actions=monitor.ActionsArgs(action_groups=[group.id]),
            tags=args.tags,
            # The query reads the request log the diagnostic setting starts sending.
            opts=child_opts(self, depends_on=[setting]),
        )

    def _drift(
        self, name: str, args: MonitoringArgs, emails: list[str], queue: storage.Queue | None
    ) -> None:
        """The drift monitor, the workspace's event topic and its delivery into the queue."""
        self._drift_schedule(name, args, emails)
        system_topic = eventgrid.SystemTopic(
            f"{name}-ml-events",
            resource_group_name=args.resource_group_name,
            location=args.location,
            source=args.workspace_id,
            topic_type=WORKSPACE_TOPIC_TYPE,
            # Delivers drift events into the retraining queue without account keys.
            identity={"type": "SystemAssigned"},
            tags=args.tags,
            opts=child_opts(self),
        )
        # No Event Grid subscription raises an Azure Monitor alert here: that handler accepts
        # events "from Azure Key Vault source only", not the ML workspace's system topic.
        # https://learn.microsoft.com/en-us/azure/event-grid/event-handlers
        # The drift monitor's own email notification tells people; the queue tells the
        # retraining pipeline.
        if queue is not None and args.retraining_account_id is not None:
            self._monitor_events_into(name, args, system_topic, queue, args.retraining_account_id)

    def _drift_schedule(self, name: str, args: MonitoringArgs, emails: list[str]) -> None:
        """The AzureML schedule whose ``CreateMonitor`` action checks the deployment's inputs
        for data drift and emails ``emails`` on a breach."""
        ml = machinelearningservices
        production_uri = args.production_data_uri
        if production_uri is None:
            raise ValueError(f"Monitoring {name}: production_data_uri is required for drift")
        ml.Schedule(
            f"{name}-drift",
            resource_group_name=args.resource_group_name,
            workspace_name=args.workspace_name,
            properties=ml.SchedulePropertiesArgs(
                display_name="data drift of served inputs",
                is_enabled=True,
                trigger=ml.RecurrenceTriggerArgs(
                    trigger_type="Recurrence", frequency=_FREQUENCY[args.drift], interval=1
                ),
                action=ml.CreateMonitorActionArgs(
                    action_type="CreateMonitor",
                    monitor_definition=ml.MonitorDefinitionArgs(
                        compute_configuration=ml.MonitorServerlessSparkComputeArgs(
                            compute_type="ServerlessSpark",
                            instance_type=defaults.DRIFT_COMPUTE_INSTANCE,
                            runtime_version=defaults.DRIFT_SPARK_RUNTIME,
                            compute_identity=ml.AmlTokenComputeIdentityArgs(
                                compute_identity_type="AmlToken"
                            ),
                        ),
                        monitoring_target=ml.MonitoringTargetArgs(
                            task_type=args.task_type, deployment_id=args.deployment_id
                        ),
                        signals={"data-drift": _drift_signal(args, production_uri)},
                        alert_notification_settings=(
                            ml.MonitorNotificationSettingsArgs(
                                email_notification_settings={"emails": emails}
                            )
                            if emails
                            else None
                        ),
                    ),
                ),
            ),
            opts=child_opts(self),
        )

    def _retraining_queue(self, name: str, args: MonitoringArgs) -> storage.Queue | None:
        """The retraining trigger: a storage queue in the retraining account (the drift job and,
        with the AzureML monitor, its breach events put messages into it)."""
        if args.retraining_account_name is None or args.retraining_account_id is None:
            pulumi.log.warn(
                f"Monitoring {name}: no retraining account, so drift alerts but triggers no "
                "retraining (give retraining_account_name and retraining_account_id)",
                self,
            )
            return None
        return storage.Queue(
            f"{name}-retraining",
            account_name=args.retraining_account_name,
            resource_group_name=args.resource_group_name,
            metadata={"purpose": "mlops-retraining-trigger"},
            opts=child_opts(self),
        )

    def _monitor_events_into(
        self,
        name: str,
        args: MonitoringArgs,
        system_topic: eventgrid.SystemTopic,
        queue: storage.Queue,
        account_id: pulumi.Input[str],
    ) -> None:
        """The monitor's breach events delivered into the queue with the topic's identity."""
        sender = authorization.RoleAssignment(
            f"{name}-retraining-sender",
            scope=account_id,
            principal_id=system_topic.identity.apply(lambda i: i.principal_id if i else ""),
            principal_type="ServicePrincipal",
            role_definition_id=role_definition_id(
                client_config(self), defaults.ROLE_STORAGE_QUEUE_DATA_MESSAGE_SENDER
            ),
            description="Drift events from the workspace system topic into the retraining queue",
            opts=child_opts(self),
        )
        eventgrid.SystemTopicEventSubscription(
            f"{name}-retraining-trigger",
            resource_group_name=args.resource_group_name,
            system_topic_name=system_topic.name,
            filter=_drift_breached(),
            delivery_with_resource_identity=eventgrid.DeliveryWithResourceIdentityArgs(
                identity=eventgrid.EventSubscriptionIdentityArgs(type="SystemAssigned"),
                destination=eventgrid.StorageQueueEventSubscriptionDestinationArgs(
                    endpoint_type="StorageQueue",
                    resource_id=account_id,
                    queue_name=queue.name,
                ),
            ),
            # Delivery fails until the topic's identity may send to the queue.
            opts=child_opts(self, depends_on=[sender]),
        )

    def _budget(
        self,
        name: str,
        args: MonitoringArgs,
        subscription_id: pulumi.Input[str],
        emails: list[str],
        group: monitor.ActionGroup,
    ) -> None:
        low, high = defaults.BUDGET_THRESHOLDS
        start = dt.date.today().replace(day=1).isoformat() + "T00:00:00Z"
        consumption.Budget(
            f"{name}-budget",
            scope=pulumi.Output.concat(
                "/subscriptions/",
                subscription_id,
                "/resourceGroups/",
                args.resource_group_name,
            ),
            amount=args.monthly_budget_usd,
            category="Cost",
            time_grain="Monthly",
            time_period={"start_date": start},
            notifications={
                f"actual-{low}": {
                    "enabled": True,
                    "operator": "GreaterThanOrEqualTo",
                    "threshold": low,
                    "threshold_type": "Actual",
                    "contact_emails": emails,
                    "contact_groups": [group.id],
                },
                f"actual-{high}": {
                    "enabled": True,
                    "operator": "GreaterThanOrEqualTo",
                    "threshold": high,
                    "threshold_type": "Actual",
                    "contact_emails": emails,
                    "contact_groups": [group.id],
                },
                f"forecast-{high}": {
                    "enabled": True,
                    "operator": "GreaterThanOrEqualTo",
                    "threshold": high,
                    "threshold_type": "Forecasted",
                    "contact_emails": emails,
                    "contact_groups": [group.id],
                },
            },
            # The start date is this month's first day; later months must not replace it.
            opts=child_opts(self, ignore_changes=["timePeriod"]),
        )


def _drift_signal(
    args: MonitoringArgs, production_uri: pulumi.Input[str]
) -> machinelearningservices.DataDriftMonitoringSignalArgs:
    """Jensen-Shannon data drift of the served inputs (a rolling window of the schedule's
    period) against the reference data, or against the seven days before without one."""
    ml = machinelearningservices
    window = {"hourly": "PT1H", "daily": "P1D", "weekly": "P7D"}[args.drift]
    production = ml.RollingInputDataArgs(
        input_data_type="Rolling",
        job_input_type="mltable",
        uri=production_uri,
        window_offset="P0D",
        window_size=window,
    )
    if args.reference_data_uri is not None:
        reference: object = ml.FixedInputDataArgs(
            input_data_type="Fixed", job_input_type="mltable", uri=args.reference_data_uri
        )
    else:
        reference = ml.RollingInputDataArgs(
            input_data_type="Rolling",
            job_input_type="mltable",
            uri=production_uri,
            window_offset="P7D",
            window_size="P7D",
        )
    threshold = {"value": defaults.DRIFT_THRESHOLD}
    return ml.DataDriftMonitoringSignalArgs(
        signal_type="DataDrift",
        production_data=production,
        reference_data=reference,  # type: ignore[arg-type]
        notification_types=["AmlNotification"],
        metric_thresholds=[
            ml.NumericalDataDriftMetricThresholdArgs(
                data_type="Numerical", metric="JensenShannonDistance", threshold=threshold
            ),
            ml.CategoricalDataDriftMetricThresholdArgs(
                data_type="Categorical", metric="JensenShannonDistance", threshold=threshold
            ),
        ],
    )


def _part(index: int, metadata: dict[str, object]) -> dict[str, object]:
    """A 6x4 tile, laid out left to right."""
    return {
        "position": {"x": 6 * index, "y": 0, "col_span": 6, "row_span": 4},
        "metadata": metadata,
    }


def _chart(
    resource_id: pulumi.Input[str], metric: str, title: str, aggregation: int
) -> dict[str, object]:
    """A portal metrics chart (part settings are free-form JSON in the portal's own camelCase)."""
    return {
        "type": "Extension/HubsExtension/PartType/MonitorChartPart",
        "inputs": [
            {
                "name": "options",
                "isOptional": True,
                "value": {
                    "chart": {
                        "title": title,
                        "metrics": [
                            {
                                "resourceMetadata": {"id": resource_id},
                                "name": metric,
                                "namespace": ENDPOINT_METRICS.lower(),
                                "aggregationType": aggregation,
                                "metricVisualization": {"displayName": title},
                            }
                        ],
                        "visualization": {"chartType": 2},
                    }
                },
            }
        ],
        "settings": {},
    }


def _drift_breached() -> eventgrid.EventSubscriptionFilterArgs:
    """Workspace events of a monitoring run whose signals breached their thresholds."""
    return eventgrid.EventSubscriptionFilterArgs(
        included_event_types=[RUN_STATUS_CHANGED],
        advanced_filters=[
            eventgrid.StringContainsAdvancedFilterArgs(
                operator_type="StringContains", key=DRIFT_TAG, values=[DRIFT_TAG_TEXT]
            )
        ],
    )


def endpoint_arm_id(label: str, args: MonitoringArgs) -> pulumi.Output[str] | None:
    """The ARM id of ``args.endpoint_name``, or None without an endpoint.

    Every cloud's ``Monitoring`` names the endpoint by its name; Azure Monitor scopes alerts and
    diagnostic settings by ARM id, which is the subscription, resource group, workspace and name:
    https://learn.microsoft.com/en-ie/dotnet/api/azure.resourcemanager.machinelearning.machinelearningonlineendpointresource.createresourceidentifier?view=azure-dotnet-preview
    """
    if args.endpoint_name is None:
        return None
    subscription_id, workspace_name = args.subscription_id, args.workspace_name
    if subscription_id is None or workspace_name is None:
        missing = [
            key for key in ("subscription_id", "workspace_name") if getattr(args, key) is None
        ]
        raise ValueError(
            f"{label}: endpoint_name needs {' and '.join(missing)} "
            "(the endpoint's ARM id is built from them)"
        )
    return pulumi.Output.concat(
        "/subscriptions/",
        subscription_id,
        "/resourceGroups/",
        args.resource_group_name,
        "/providers/Microsoft.MachineLearningServices/workspaces/",
        workspace_name,
        "/onlineEndpoints/",
        args.endpoint_name,
    )
