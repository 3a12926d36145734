from __future__ import annotations

import json

import pulumi
import pulumi_gcp
import pytest

from mlops_iac.components.gcp import Monitoring, MonitoringArgs
from mlops_iac.plan.testing import ProgramError
from tests.components.gcp._helpers import KMS_ROLE, PROJECT, agent, children, run_component

COMPONENT = "mlops:gcp:Monitoring"
EMAILS = ["oncall@example.com", "lead@example.com"]
CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"
POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"
CORE = {
    "mon-email-0": CHANNEL,
    "mon-email-1": CHANNEL,
    "mon-key-ring": "gcp:kms/keyRing:KeyRing",
    "mon-key": "gcp:kms/cryptoKey:CryptoKey",
    "mon-pubsub-agent": "gcp:projects/serviceIdentity:ServiceIdentity",
    "mon-key-pubsub-agent": "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
    "mon-retraining": "gcp:pubsub/topic:Topic",
    "mon-monitoring-agent": "gcp:projects/serviceIdentity:ServiceIdentity",
    "mon-retraining-publisher": "gcp:pubsub/topicIAMMember:TopicIAMMember",
    "mon-latency": POLICY,
    "mon-errors": POLICY,
    "mon-dashboard": "gcp:monitoring/dashboard:Dashboard",
}
BILLING = "0A1B2C-3D4E5F-6A7B8C"


def build(**kwargs):
    fields = {"endpoint_name": "fraud-svc", "alert_emails": EMAILS, **kwargs}

    def program():
        mon = Monitoring("mon", MonitoringArgs(**fields))
        for output in ("alert_topic", "alert_channels", "dashboard_url", "retraining_trigger"):
            pulumi.export(output, getattr(mon, output))

    return run_component(program)


def channel_ids(recording):
    return [recording.named(f"mon-email-{i}").outputs["name"] for i in range(len(EMAILS))]


def test_children_are_exact_and_the_budget_is_skipped_with_a_warning():
    recording = build()
    found = children(recording, "mon", COMPONENT)
    assert {name: r.type for name, r in found.items()} == CORE
    assert any("GPU spend budget is skipped" in w for w in recording.warnings)


def test_budget_with_a_billing_account_alerts_at_80_and_100_percent():
    recording = build(billing_account=BILLING, monthly_budget_usd=50 * 730)
    found = children(recording, "mon", COMPONENT)
    assert {name: r.type for name, r in found.items()} == {
        **CORE,
        "mon-budget": "gcp:billing/budget:Budget",
        "mon-billing-provider": "pulumi:providers:gcp",
    }
    budget = recording.named("mon-budget").inputs
    assert budget["billingAccount"] == BILLING
    assert budget["amount"] == {"specifiedAmount": {"currencyCode": "USD", "units": "36500"}}
    assert [r["thresholdPercent"] for r in budget["thresholdRules"]] == [0.8, 1.0]
    assert budget["allUpdatesRule"]["monitoringNotificationChannels"] == channel_ids(recording)
    assert budget["budgetFilter"]["projects"] == ["projects/123456789"]
    assert not any("budget is skipped" in w for w in recording.warnings)


def test_latency_and_error_policies_watch_the_service_and_notify_the_channels():
    recording = build(latency_p99_ms=250, error_rate_percent=2)
    channels = channel_ids(recording)
    latency = recording.named("mon-latency").inputs
    [condition] = latency["conditions"]
    threshold = condition["conditionThreshold"]
    assert 'resource.labels.service_name = "fraud-svc"' in threshold["filter"]
    assert 'metric.type = "run.googleapis.com/request_latencies"' in threshold["filter"]
    assert threshold["thresholdValue"] == 250
    assert threshold["comparison"] == "COMPARISON_GT"
    assert threshold["aggregations"][0]["perSeriesAligner"] == "ALIGN_PERCENTILE_99"
    assert latency["notificationChannels"] == channels
    errors = recording.named("mon-errors").inputs
    threshold = errors["conditions"][0]["conditionThreshold"]
    assert 'metric.labels.response_code_class = "5xx"' in threshold["filter"]
    assert 'run.googleapis.com/request_count"' in threshold["denominatorFilter"]
    assert "5xx" not in threshold["denominatorFilter"]
    assert threshold["thresholdValue"] == 0.02
    assert errors["notificationChannels"] == channels
    assert [c["labels"] for c in (recording.named(f"mon-email-{i}").inputs for i in (0, 1))] == [
        {"email_address": e} for e in EMAILS
    ]


def test_retraining_topic_is_cmek_and_a_channel_on_it_waits_for_the_publish_grant():
    def program():
        mon = Monitoring("mon", MonitoringArgs(endpoint_name="fraud-svc", alert_emails=EMAILS))
        pulumi.export("retraining_trigger", mon.retraining_trigger)
        pulumi_gcp.monitoring.NotificationChannel(
            "drift-channel", type="pubsub", labels={"topic": mon.retraining_trigger}
        )

    recording = run_component(program)
    topic = recording.named("mon-retraining")
    key = recording.named("mon-key")
    assert topic.inputs["kmsKeyName"] == key.id
    identity = recording.named("mon-pubsub-agent")
    assert identity.inputs == {"project": PROJECT, "service": "pubsub.googleapis.com"}
    assert recording.named("mon-key-pubsub-agent").inputs == {
        "cryptoKeyId": key.id,
        "role": KMS_ROLE,
        "member": identity.outputs["member"],
    }
    assert identity.outputs["member"] == agent("gcp-sa-pubsub.iam.gserviceaccount.com")
    assert recording.named("mon-key-pubsub-agent").urn in topic.dependencies
    publisher = recording.named("mon-retraining-publisher")
    assert publisher.inputs == {
        "topic": topic.id,
        "role": "roles/pubsub.publisher",
        "member": agent("gcp-sa-monitoring-notification.iam.gserviceaccount.com"),
    }
    assert recording.exports["retraining_trigger"] == topic.id
    # The drift job's channel is built from retraining_trigger: it is created after the grant.
    assert publisher.urn in recording.named("drift-channel").dependencies


def test_no_log_match_drift_alert_that_nothing_feeds():
    # The toolkit's drift job publishes a custom metric (DriftJob alerts on it); nothing writes
    # a drift log entry, so a log-match policy would never fire.
    recording = build()
    policies = recording.of_type(POLICY)
    assert sorted(p.name for p in policies) == ["mon-errors", "mon-latency"]
    assert not any("conditionMatchedLog" in c for p in policies for c in p.inputs["conditions"])


def test_the_billing_provider_takes_the_stacks_identity_and_region():
    # An explicit provider does not read gcp: config: without these the budget is created as
    # whatever ambient credentials the deployer has.
    deployer = "deployer@ops-project.iam.gserviceaccount.com"

    def program():
        Monitoring(
            "mon",
            MonitoringArgs(
                endpoint_name="fraud-svc", billing_account=BILLING, monthly_budget_usd=100
            ),
        )

    recording = run_component(
        program, **{"gcp:impersonateServiceAccount": deployer, "gcp:zone": "us-central1-a"}
    )
    provider = recording.named("mon-billing-provider").inputs
    assert provider["impersonateServiceAccount"] == deployer
    assert provider["region"] == "us-central1"
    assert provider["zone"] == "us-central1-a"
    assert provider["userProjectOverride"] == "true"  # provider inputs are strings


def test_dashboard_charts_the_service():
    recording = build()
    dashboard = json.loads(recording.named("mon-dashboard").inputs["dashboardJson"])
    widgets = dashboard["gridLayout"]["widgets"]
    assert [w["title"] for w in widgets] == [
        "p99 latency (ms) by revision",
        "Requests/s by revision",
        "5xx/s by revision",
        "Instances by revision",
    ]
    for widget in widgets:
        query = widget["xyChart"]["dataSets"][0]["timeSeriesQuery"]["timeSeriesFilter"]
        assert 'resource.labels.service_name="fraud-svc"' in query["filter"]
    dashboard_number = recording.named("mon-dashboard").id.rsplit("/", 1)[-1]
    assert recording.exports["dashboard_url"] == (
        "https://console.cloud.google.com/monitoring/dashboards/custom/"
        f"{dashboard_number}?project={PROJECT}"
    )


def test_alert_topic_is_the_primary_channel():
    recording = build()
    assert recording.exports["alert_topic"] == channel_ids(recording)[0]
    assert recording.exports["alert_channels"] == channel_ids(recording)


def test_without_emails_it_warns_that_alerts_reach_nobody():
    recording = build(alert_emails=[])
    assert [c.name for c in recording.of_type(CHANNEL)] == []
    assert any("no alert_emails" in w for w in recording.warnings)
    assert recording.exports["alert_topic"] is None
    assert recording.named("mon-latency").inputs.get("notificationChannels", []) == []


def test_prod_protects_the_key_and_bad_drift_is_refused():
    recording = build(environment="prod")
    assert {r.name for r in recording if r.protect} == {"mon-key", "mon-key-ring"}
    with pytest.raises(ProgramError, match="drift must be one of"):
        build(drift="monthly")


def test_webhook_is_a_channel_of_every_alert():
    recording = build(webhook_url="https://chat.example.com/hooks/T0KEN")
    webhook = recording.named("mon-webhook")
    assert webhook.inputs["type"] == "webhook_tokenauth"
    assert webhook.inputs["labels"] == {"url": "https://chat.example.com/hooks/T0KEN"}
    channels = [*channel_ids(recording), webhook.outputs["name"]]
    for policy in ("mon-latency", "mon-errors"):
        assert recording.named(policy).inputs["notificationChannels"] == channels
