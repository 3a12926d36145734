from __future__ import annotations

import pulumi
import pytest

from mlops_iac.components.azure import Monitoring, MonitoringArgs
from mlops_iac.plan.mocks import SUBSCRIPTION_ID
from mlops_iac.plan.testing import ProgramError, run

LOCATION = {"azure-native:location": "eastus"}
COMPONENT = "mlops:azure:Monitoring"
WS = (
    f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg/providers/"
    "Microsoft.MachineLearningServices/workspaces/ws"
)
ENDPOINT = f"{WS}/onlineEndpoints/ep"
DEPLOYMENT = f"{ENDPOINT}/deployments/blue"
ACCOUNT = (
    f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg/providers/"
    "Microsoft.Storage/storageAccounts/artifacts"
)
CHILDREN = {
    "mon-logs": "azure-native:operationalinsights:Workspace",
    "mon-alerts": "azure-native:monitor:ActionGroup",
    "mon-dashboard": "azure-native:portal:Dashboard",
    "mon-endpoint-logs": "azure-native:monitor:DiagnosticSetting",
    "mon-latency-p99": "azure-native:monitor:MetricAlert",
    "mon-5xx": "azure-native:monitor:ScheduledQueryRule",
    "mon-drift": "azure-native:machinelearningservices:Schedule",
    "mon-ml-events": "azure-native:eventgrid:SystemTopic",
    "mon-retraining": "azure-native:storage:Queue",
    "mon-retraining-sender": "azure-native:authorization:RoleAssignment",
    "mon-retraining-trigger": "azure-native:eventgrid:SystemTopicEventSubscription",
    "mon-budget": "azure-native:consumption:Budget",
}


def build(**kwargs):
    args = {
        "resource_group_name": "rg",
        "subscription_id": SUBSCRIPTION_ID,
        "alert_emails": ("oncall@example.com",),
        "endpoint_name": "ep",
        "latency_p99_ms": 250,
        "workspace_name": "ws",
        "workspace_id": WS,
        "deployment_id": DEPLOYMENT,
        "production_data_uri": "azureml:ep-blue-model_inputs:1",
        "monthly_budget_usd": 36500.0,
        "retraining_account_name": "artifacts",
        "retraining_account_id": ACCOUNT,
    }

    def program():
        monitoring = Monitoring("mon", MonitoringArgs(**{**args, **kwargs}))
        for output in ("alert_topic", "dashboard_url", "retraining_trigger"):
            pulumi.export(output, getattr(monitoring, output))

    return run(program, config=LOCATION)


def children(recording):
    component = recording.named("mon", COMPONENT)
    return recording.children_by_name(component)


def test_children_are_exact_and_parented():
    recording = build()
    assert {n: r.type for n, r in children(recording).items()} == CHILDREN
    assert len(recording) == len(CHILDREN) + 1
    assert recording.warnings == []


def test_action_group_emails_on_call_and_logs_are_retained():
    recording = build()
    group = recording.named("mon-alerts").inputs
    assert group["enabled"] is True
    assert [r["emailAddress"] for r in group["emailReceivers"]] == ["oncall@example.com"]
    assert recording.named("mon-logs").inputs["retentionInDays"] >= 30
    assert recording.exports["alert_topic"] == recording.named("mon-alerts").id


def test_endpoint_request_logs_go_to_the_workspace():
    recording = build()
    setting = recording.named("mon-endpoint-logs").inputs
    assert setting["resourceUri"] == ENDPOINT
    assert setting["workspaceId"] == recording.named("mon-logs").id
    assert setting["logs"] == [{"categoryGroup": "allLogs", "enabled": True}]


def test_webhook_joins_the_action_group():
    recording = build(webhook_url="https://chat.example.com/hook")
    [receiver] = recording.named("mon-alerts").inputs["webhookReceivers"]
    assert receiver == {
        "name": "chat",
        "serviceUri": "https://chat.example.com/hook",
        "useCommonAlertSchema": True,
    }


def test_metric_alerts_watch_the_endpoint_and_act_on_the_group():
    recording = build()
    group_id = recording.named("mon-alerts").id
    latency = recording.named("mon-latency-p99").inputs
    assert latency["scopes"] == [ENDPOINT]
    assert latency["enabled"] is True
    assert latency["actions"] == [{"actionGroupId": group_id}]
    assert latency["criteria"]["odataType"] == (
        "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria"
    )
    [criterion] = latency["criteria"]["allOf"]
    assert criterion["metricName"] == "RequestLatency_P99"
    assert criterion["threshold"] == 250 and criterion["operator"] == "GreaterThan"


def test_error_rate_is_a_log_alert_on_the_endpoint_request_log():
    recording = build(error_rate_percent=2.5)
    errors = recording.named("mon-5xx")
    assert errors.inputs["kind"] == "LogAlert"
    assert errors.inputs["scopes"] == [recording.named("mon-logs").id]
    assert errors.inputs["actions"] == {"actionGroups": [recording.named("mon-alerts").id]}
    [condition] = errors.inputs["criteria"]["allOf"]
    assert condition["threshold"] == 2.5 and condition["operator"] == "GreaterThan"
    assert condition["metricMeasureColumn"] == "ErrorRatePercent"
    query = condition["query"]
    assert query.startswith("AmlOnlineEndpointTrafficLog | where _ResourceId =~ '")
    assert ENDPOINT in query and "toint(ResponseCode) >= 500" in query
    assert recording.named("mon-endpoint-logs").urn in errors.dependencies


def test_drift_monitor_watches_the_deployment_and_emails():
    recording = build(drift="hourly")
    schedule = recording.named("mon-drift").inputs
    assert schedule["workspaceName"] == "ws"
    props = schedule["properties"]
    assert props["trigger"]["triggerType"] == "Recurrence"
    assert props["trigger"]["frequency"] == "Hour"
    action = props["action"]
    assert action["actionType"] == "CreateMonitor"
    definition = action["monitorDefinition"]
    assert definition["monitoringTarget"]["deploymentId"] == DEPLOYMENT
    signal = definition["signals"]["data-drift"]
    assert signal["signalType"] == "DataDrift"
    assert signal["productionData"]["uri"] == "azureml:ep-blue-model_inputs:1"
    assert {t["dataType"] for t in signal["metricThresholds"]} == {"Numerical", "Categorical"}
    emails = definition["alertNotificationSettings"]["emailNotificationSettings"]["emails"]
    assert emails == ["oncall@example.com"]


def test_drift_monitor_without_emails_has_no_notification_settings():
    recording = build(alert_emails=(), task_type="Regression")
    definition = recording.named("mon-drift").inputs["properties"]["action"]["monitorDefinition"]
    assert "alertNotificationSettings" not in definition
    assert definition["monitoringTarget"]["taskType"] == "Regression"


def test_drift_events_come_from_the_workspace_system_topic():
    recording = build()
    topic = recording.named("mon-ml-events").inputs
    assert topic["source"] == WS
    assert topic["topicType"] == "Microsoft.MachineLearningServices.Workspaces"
    trigger = recording.named("mon-retraining-trigger").inputs
    assert trigger["systemTopicName"] == recording.named("mon-ml-events").outputs["name"]
    filters = trigger["filter"]
    assert filters["includedEventTypes"] == ["Microsoft.MachineLearningServices.RunStatusChanged"]
    [advanced] = filters["advancedFilters"]
    assert advanced["key"] == "data.RunTags.azureml_modelmonitor_threshold_breached"


def test_drift_breach_is_delivered_into_the_retraining_queue():
    recording = build(environment="prod")
    queue = recording.named("mon-retraining")
    assert queue.inputs["accountName"] == "artifacts"
    assert recording.exports["retraining_trigger"] == queue.id
    topic = recording.named("mon-ml-events")
    assert topic.inputs["identity"] == {"type": "SystemAssigned"}
    sender = recording.named("mon-retraining-sender").inputs
    assert sender["scope"] == ACCOUNT
    assert sender["principalId"] == topic.outputs["identity"]["principalId"]
    assert sender["roleDefinitionId"].endswith("c6a89b2d-59bc-44d0-9896-0f6e12d7b80a")
    trigger = recording.named("mon-retraining-trigger")
    delivery = trigger.inputs["deliveryWithResourceIdentity"]
    assert delivery["identity"] == {"type": "SystemAssigned"}
    assert delivery["destination"] == {
        "endpointType": "StorageQueue",
        "resourceId": ACCOUNT,
        "queueName": queue.outputs["name"],
    }
    # Only once the identity may send.
    assert recording.named("mon-retraining-sender").urn in trigger.dependencies


def test_the_retraining_queue_needs_no_azureml_monitor():
    """The platform runs no AzureML monitor (see MonitoringArgs.deployment_id): the queue still
    exists for the drift job, and nothing of the monitor is created."""
    recording = build(deployment_id=None)
    queue = recording.named("mon-retraining")
    assert recording.exports["retraining_trigger"] == queue.id
    created = set(children(recording))
    assert not created & {"mon-drift", "mon-ml-events", "mon-retraining-sender"}
    assert "mon-retraining-trigger" not in created


def test_without_a_retraining_account_drift_only_alerts():
    recording = build(retraining_account_name=None, retraining_account_id=None)
    assert not recording.of_type("azure-native:storage:Queue")
    assert (
        "retraining_trigger" not in recording.exports or not recording.exports["retraining_trigger"]
    )
    assert any("no retraining account" in w for w in recording.warnings)


def test_budget_notifies_at_80_and_100_percent():
    recording = build()
    budget = recording.named("mon-budget").inputs
    assert budget["scope"] == f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg"
    assert budget["amount"] == 36500.0
    assert budget["timeGrain"] == "Monthly" and budget["category"] == "Cost"
    thresholds = {(n["thresholdType"], n["threshold"]) for n in budget["notifications"].values()}
    assert thresholds == {("Actual", 80), ("Actual", 100), ("Forecasted", 100)}
    group_id = recording.named("mon-alerts").id
    for notification in budget["notifications"].values():
        assert notification["contactEmails"] == ["oncall@example.com"]
        assert notification["contactGroups"] == [group_id]


def test_minimal_monitoring_warns_about_the_missing_budget():
    recording = build(
        endpoint_name=None,
        workspace_id=None,
        deployment_id=None,
        monthly_budget_usd=None,
        retraining_account_name=None,
        retraining_account_id=None,
    )
    assert set(children(recording)) == {"mon-logs", "mon-alerts", "mon-dashboard"}
    assert any("no monthly budget" in w for w in recording.warnings)
    [lens] = recording.named("mon-dashboard").inputs["properties"]["lenses"]
    assert [p["metadata"]["type"] for p in lens["parts"]] == [
        "Extension/HubsExtension/PartType/MarkdownPart"
    ]


def test_dashboard_charts_the_endpoint():
    recording = build(studio_url="https://ml.azure.com/endpoints/realtime/ep/detail")
    dashboard = recording.named("mon-dashboard")
    assert recording.exports["dashboard_url"] == (
        f"https://portal.azure.com/#dashboard/arm{dashboard.id}"
    )
    assert dashboard.inputs["tags"]["hidden-title"] == "mlops mon"
    [lens] = dashboard.inputs["properties"]["lenses"]
    markdown, *charts = lens["parts"]
    content = markdown["metadata"]["settings"]["content"]["settings"]["content"]
    assert "https://ml.azure.com/endpoints/realtime/ep/detail" in content
    metrics = [c["metadata"]["inputs"][0]["value"]["chart"]["metrics"][0] for c in charts]
    assert [m["name"] for m in metrics] == ["RequestLatency_P99", "RequestsPerMinute"]
    assert all(m["resourceMetadata"]["id"] == ENDPOINT for m in metrics)


def test_drift_needs_the_collected_data():
    with pytest.raises(ProgramError, match="production_data_uri is required"):
        build(production_data_uri=None)


@pytest.mark.parametrize("missing", ["subscription_id", "workspace_name"])
def test_endpoint_name_needs_what_builds_its_arm_id(missing):
    with pytest.raises(ProgramError, match=f"mon: endpoint_name needs {missing}"):
        build(**{missing: None})
