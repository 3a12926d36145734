"""``mlops-drift-loop-closed``: quiet on the reference prod stack, fires on each missing link."""

from __future__ import annotations

import copy
import dataclasses

import pytest
from pulumi_policy import EnforcementLevel

from mlops_iac.plan.engine import Recording
from mlops_iac.policies import offline, packs
from mlops_iac.policies.rules import BY_NAME
from tests.conftest import reference_recording

RULE = "mlops-drift-loop-closed"


@pytest.fixture(scope="module")
def aws_prod() -> Recording:
    return reference_recording("aws-prod")


def _violations(recording: Recording) -> list[str]:
    rule = BY_NAME[RULE]
    result = offline.evaluate(
        recording, [rule.policy], enforcement_level=EnforcementLevel.MANDATORY
    )
    return [v.message for v in result.violations]


def _mutated(recording: Recording, name: str | None = None, drop: str | None = None, **changes):
    """A copy with one resource's inputs/outputs changed, or one resource left out."""
    resources = []
    for r in recording.resources:
        if r.name == drop:
            continue
        if r.name == name:
            r = copy.deepcopy(r)
            for key, value in changes.items():
                r.inputs[key] = value
                r.outputs[key] = value
                # The new value no longer comes from other resources.
                r.property_dependencies.pop(key, None)
        resources.append(r)
    return dataclasses.replace(recording, resources=resources)


def test_reference_prod_stack_is_quiet(aws_prod):
    assert _violations(aws_prod) == []
    result = packs.evaluate(aws_prod, environment="prod")
    assert result.levels[RULE] == "mandatory"


def test_not_applicable_without_an_endpoint(aws_prod):
    rec = dataclasses.replace(
        aws_prod,
        resources=[r for r in aws_prod if r.type != "aws:sagemaker/endpoint:Endpoint"],
    )
    assert _violations(rec) == []


@pytest.mark.parametrize(
    ("mutation", "fragment"),
    [
        (
            {"name": "mlops-serving-config-v7", "dataCaptureConfig": {"enableCapture": False}},
            "data capture is off",
        ),
        ({"drop": "mlops-drift-function"}, "no drift job checks its capture"),
        ({"drop": "mlops-drift-schedule"}, "its drift job is not scheduled"),
        ({"drop": "mlops-drift-alarm"}, "no alarm on the drift job's DriftedFeatures"),
        ({"name": "mlops-drift-alarm", "alarmActions": []}, "does not notify an alert channel"),
        (
            {"name": "mlops-drift-alarm", "actionsEnabled": False},
            "does not notify an alert channel",
        ),
        ({"drop": "mlops-drift-retrain-target"}, "no retraining trigger is fed by the drift alarm"),
        ({"drop": "mlops-drift-retrain-rule"}, "no retraining trigger is fed by the drift alarm"),
    ],
)
def test_each_missing_link_fires(aws_prod, mutation, fragment):
    messages = _violations(_mutated(aws_prod, **mutation))
    assert len(messages) == 1
    assert fragment in messages[0]


@pytest.fixture(scope="module")
def gcp_prod() -> Recording:
    return reference_recording("gcp-prod")


def test_gcp_reference_prod_stack_is_quiet(gcp_prod):
    assert _violations(gcp_prod) == []


def _without_capture(recording: Recording) -> Recording:
    service = recording.named("mlops-serving-service")
    template = copy.deepcopy(service.outputs["template"])
    for container in template["containers"]:
        container["envs"] = [e for e in container["envs"] if e["name"] != "CAPTURE_URI"]
    return _mutated(recording, name="mlops-serving-service", template=template)


@pytest.mark.parametrize(
    ("mutation", "fragment"),
    [
        ({"drop": "mlops-drift-function"}, "no drift job checks its capture"),
        ({"drop": "mlops-drift-schedule"}, "its drift job is not scheduled"),
        ({"drop": "mlops-drift-alert"}, "no drift alert notifies an alert channel"),
        ({"name": "mlops-drift-alert", "enabled": False}, "no drift alert notifies"),
        ({"drop": "mlops-drift-retraining-channel"}, "no retraining trigger is fed"),
    ],
)
def test_gcp_each_missing_link_fires(gcp_prod, mutation, fragment):
    messages = _violations(_mutated(gcp_prod, **mutation))
    assert len(messages) == 1
    assert fragment in messages[0]


def test_gcp_service_without_capture_fires(gcp_prod):
    (message,) = _violations(_without_capture(gcp_prod))
    assert "no CAPTURE_URI" in message


def test_gcp_stack_without_any_channel_fails(gcp_prod):
    """A stack with no notification channel at all is checked (it used to be skipped)."""
    channels = {
        r.name for r in gcp_prod.of_type("gcp:monitoring/notificationChannel:NotificationChannel")
    }
    rec = dataclasses.replace(gcp_prod, resources=[r for r in gcp_prod if r.name not in channels])
    messages = _violations(rec)
    assert len(messages) == 1
    assert "no drift alert notifies an alert channel" in messages[0]


def test_gcp_alert_with_an_empty_channel_list_fires(gcp_prod):
    (message,) = _violations(_mutated(gcp_prod, name="mlops-drift-alert", notificationChannels=[]))
    assert "no drift alert notifies an alert channel" in message


@pytest.fixture(scope="module")
def azure_prod() -> Recording:
    return reference_recording("azure-prod")


def test_azure_reference_prod_stack_is_quiet(azure_prod):
    assert _violations(azure_prod) == []
    assert packs.evaluate(azure_prod, environment="prod").levels[RULE] == "mandatory"


def _site(recording: Recording, drop: str | None = None, **settings) -> Recording:
    """The drift Function App with one app setting removed or set."""
    app = recording.named("mlops-drift-function")
    site = copy.deepcopy(app.inputs["siteConfig"])
    site["appSettings"] = [s for s in site["appSettings"] if s["name"] != drop]
    site["appSettings"] += [{"name": k, "value": v} for k, v in settings.items()]
    return _mutated(recording, name="mlops-drift-function", siteConfig=site)


def _replace(recording: Recording, name: str, value: str) -> Recording:
    """The drift Function App with one app setting given another value."""
    return _site(recording, drop=name, **{name: value})


def _alert(recording: Recording, **criterion) -> Recording:
    alert = recording.named("mlops-drift-alert")
    criteria = copy.deepcopy(alert.inputs["criteria"])
    criteria["allOf"][0].update(criterion)
    return _mutated(recording, name="mlops-drift-alert", criteria=criteria)


def _without_collection(recording: Recording) -> Recording:
    deployment = recording.named("mlops-serving-blue")
    properties = copy.deepcopy(deployment.inputs["properties"])
    properties["dataCollector"]["collections"]["model_inputs"]["dataCollectionMode"] = "Disabled"
    return _mutated(recording, name="mlops-serving-blue", properties=properties)


AZURE_CASES = {
    "no job": (lambda r: _mutated(r, drop="mlops-drift-function"), "no drift job checks"),
    "no schedule": (lambda r: _site(r, drop="DRIFT_SCHEDULE"), "its drift job is not scheduled"),
    "five-field schedule": (
        lambda r: _site(r, drop="DRIFT_SCHEDULE", DRIFT_SCHEDULE="0 0 * * *"),
        "its drift job is not scheduled",
    ),
    "function disabled by setting": (
        lambda r: _site(r, **{"AzureWebJobs.drift_timer.Disabled": "true"}),
        "its drift job is not scheduled",
    ),
    "app stopped": (
        lambda r: _mutated(r, name="mlops-drift-function", enabled=False),
        "its drift job is not scheduled",
    ),
    "no alert": (lambda r: _mutated(r, drop="mlops-drift-alert"), "no enabled drift alert"),
    "alert disabled": (
        lambda r: _mutated(r, name="mlops-drift-alert", enabled=False),
        "no enabled drift alert",
    ),
    "alert with an empty action list": (
        lambda r: _mutated(r, name="mlops-drift-alert", actions=[]),
        "no enabled drift alert",
    ),
    "alert acting on a group outside the stack": (
        lambda r: _mutated(
            r, name="mlops-drift-alert", actions=[{"actionGroupId": "/subscriptions/x/ag/other"}]
        ),
        "no enabled drift alert",
    ),
    "alert on another endpoint": (
        lambda r: _alert(
            r, dimensions=[{"name": "Endpoint", "operator": "Include", "values": ["other"]}]
        ),
        "no enabled drift alert",
    ),
    "alert on another metric": (
        lambda r: _alert(r, metricName="MaxPsi"),
        "no enabled drift alert",
    ),
    "no queue setting": (
        lambda r: _site(r, drop="DRIFT_RETRAINING_QUEUE_URL"),
        "no retraining trigger is fed",
    ),
    "queue outside the stack": (
        lambda r: _replace(
            r, "DRIFT_RETRAINING_QUEUE_URL", "https://elsewhere.queue.core.windows.net/q"
        ),
        "no retraining trigger is fed",
    ),
    "no send permission": (
        lambda r: _mutated(r, drop="mlops-drift-retraining-sender"),
        "no retraining trigger is fed",
    ),
    "collection off": (_without_collection, "does not collect model_inputs"),
    "no VNet integration": (
        lambda r: _mutated(r, name="mlops-drift-function", virtualNetworkSubnetId=None),
        "firewalled, and the app has no VNet integration",
    ),
    "a subnet the firewall does not admit": (
        lambda r: _mutated(
            r,
            name="mlops-drift-function",
            virtualNetworkSubnetId=_subnet(r) + "-lookalike",
        ),
        "its firewall does not admit the app's subnet",
    ),
    "the firewall admits another subnet": (
        lambda r: _rules(r, virtualNetworkRules=[{"virtualNetworkResourceId": "/x/subnets/y"}]),
        "its firewall does not admit the app's subnet",
    ),
    "no storage account setting": (
        lambda r: _site(r, drop="DRIFT_STORAGE_ACCOUNT_URL"),
        "DRIFT_STORAGE_ACCOUNT_URL '' is not a blob endpoint",
    ),
    "a storage account outside the stack": (
        lambda r: _replace(
            r, "DRIFT_STORAGE_ACCOUNT_URL", "https://elsewhere1.blob.core.windows.net"
        ),
        "storage account 'elsewhere1': not in the stack",
    ),
    "a lookalike endpoint host": (
        lambda r: _replace(
            r,
            "DRIFT_STORAGE_ACCOUNT_URL",
            _setting(r, "DRIFT_STORAGE_ACCOUNT_URL") + ".attacker.example",
        ),
        "is not a blob endpoint",
    ),
    "public access disabled and no VNet integration": (
        lambda r: _mutated(
            _mutated(r, name="mlops-artifacts-account", publicNetworkAccess="Disabled"),
            name="mlops-drift-function",
            virtualNetworkSubnetId="",
        ),
        "firewalled, and the app has no VNet integration",
    ),
}


def _setting(recording: Recording, name: str) -> str:
    site = recording.named("mlops-drift-function").inputs["siteConfig"]
    return next(item["value"] for item in site["appSettings"] if item["name"] == name)


def _subnet(recording: Recording) -> str:
    return recording.named("mlops-drift-function").inputs["virtualNetworkSubnetId"]


def _rules(recording: Recording, **changes) -> Recording:
    account = recording.named("mlops-artifacts-account")
    rules = {**copy.deepcopy(account.inputs["networkRuleSet"]), **changes}
    return _mutated(recording, name="mlops-artifacts-account", networkRuleSet=rules)


@pytest.mark.parametrize(
    "mutate",
    [
        # An open account needs no integration; the subnet id compares case-insensitively.
        lambda r: _mutated(
            _rules(r, defaultAction="Allow"),
            name="mlops-drift-function",
            virtualNetworkSubnetId=None,
        ),
        lambda r: _rules(r, virtualNetworkRules=[{"virtualNetworkResourceId": _subnet(r).upper()}]),
        lambda r: _replace(
            r, "DRIFT_STORAGE_ACCOUNT_URL", _setting(r, "DRIFT_STORAGE_ACCOUNT_URL").upper()
        ),
    ],
    ids=["open account", "subnet id in another case", "account URL in upper case"],
)
def test_azure_reachable_storage_stays_quiet(azure_prod, mutate):
    assert _violations(mutate(azure_prod)) == []


@pytest.mark.parametrize("case", list(AZURE_CASES))
def test_azure_each_missing_link_fires(azure_prod, case):
    mutate, fragment = AZURE_CASES[case]
    messages = _violations(mutate(azure_prod))
    assert len(messages) == 1, messages
    assert fragment in messages[0]
