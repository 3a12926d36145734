"""The Azure rollout function end to end: the shipped entry point with exactly the app settings
the azure-prod plan (with ``azure.canaryInProgress: true``) gives ``mlops-rollout-function``,
against an in-process Azure Resource Manager that serves the plan's endpoint (the body and
traffic its ``mlops-serving-traffic`` template PUTs) and deployments, recording each request as
the authorised action it is. Every call is in the function's manifest and granted by the plan; a
call on another endpoint is not."""

from __future__ import annotations

import copy
import datetime as dt
import json
import types
from typing import Any

import pytest

from mlops_iac.drift import calls, rollout, rollout_azure
from mlops_iac.drift.calls import Call
from mlops_iac.plan.deploy.permissions import rules
from mlops_iac.plan.testing import run_project
from tests.conftest import REPO, stack_config
from tests.drift._package import import_unpacked

FUNCTION = "mlops-rollout-function"
ML = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
T0 = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def canary_recording():
    config = stack_config("azure-prod")
    config["mlops:platform"].setdefault("azure", {})["canaryInProgress"] = True
    return run_project(REPO, "azure-prod", extra_config=config)


class Arm:
    """One online endpoint and its deployments as ARM returns them; a PUT replaces the endpoint.
    Each request is recorded as its Azure RBAC action
    (https://learn.microsoft.com/azure/role-based-access-control/permissions/ai-machine-learning)."""

    def __init__(self, endpoint_id: str, endpoint: dict[str, Any], models: dict[str, str]):
        self.endpoint_id, self.endpoint, self.models = endpoint_id, endpoint, models
        self.calls: list[Call] = []
        self.puts: list[dict[str, Any]] = []

    def __call__(self, method: str, url: str, body: Any = None) -> Any:
        path, _, query = url.partition("?")
        assert query == f"api-version={rollout_azure.ML_API}", url
        resource = path.removeprefix(rollout_azure.ARM)
        if resource.startswith(f"{self.endpoint_id}/deployments/"):
            assert method == "GET"
            self.calls.append(Call(f"{ML}/deployments/read", resource, "", ""))
            slot = resource.rsplit("/", 1)[-1]
            return {"name": slot, "properties": {"model": self.models[slot]}}
        assert resource == self.endpoint_id, resource
        if method == "GET":
            self.calls.append(Call(f"{ML}/read", resource, "", ""))
            return copy.deepcopy(self.endpoint)
        assert method == "PUT", method
        self.calls.append(Call(f"{ML}/write", resource, "", ""))
        # ARM's create-or-update: the body is the endpoint; nothing it omits survives.
        assert set(body) <= {"location", "properties", "tags", "identity", "kind", "sku"}
        assert sum(body["properties"]["traffic"].values()) == 100
        # A tag value holds 256 characters; ARM refuses the whole PUT otherwise.
        # https://learn.microsoft.com/azure/azure-resource-manager/management/tag-resources#limitations
        if any(len(str(v)) > 256 for v in (body.get("tags") or {}).values()):
            raise rollout_azure.RolloutError("400 InvalidTagValueLength")
        self.puts.append(copy.deepcopy(body))
        self.endpoint = copy.deepcopy(body)
        return copy.deepcopy(body)

    def shares(self) -> dict[str, int]:
        return dict(self.endpoint["properties"]["traffic"])

    def record(self) -> dict[str, Any] | None:
        return rollout.read_record((self.endpoint.get("tags") or {}).get(rollout.RECORD_KEY))


@pytest.fixture
def plan(canary_recording):
    recording = canary_recording
    app = recording.named(FUNCTION, "azure-native:web:WebApp")
    env = {s["name"]: str(s["value"]) for s in app.inputs["siteConfig"]["appSettings"]}
    template = recording.named("mlops-serving-traffic").inputs["properties"]["template"]
    declared = template["resources"][0]
    endpoint = {
        "location": declared["location"],
        "identity": {"type": declared["identity"]["type"], "principalId": "p"},
        "tags": dict(declared.get("tags") or {}),
        "properties": {
            **{k: v for k, v in declared["properties"].items() if k != "traffic"},
            "traffic": {k: int(v) for k, v in declared["properties"]["traffic"].items()},
            "scoringUri": "https://example/score",
            "provisioningState": "Succeeded",
        },
    }
    models = {
        slot: recording.named(f"mlops-serving-{slot}").inputs["properties"]["model"]
        for slot in ("blue", "green")
    }
    arm = Arm(env["ROLLOUT_ENDPOINT_ID"], endpoint, models)
    return types.SimpleNamespace(recording=recording, app=app, env=env, arm=arm)


ALERT = {
    "schemaId": "azureMonitorCommonAlertSchema",
    "data": {"essentials": {"alertRule": "mlops-rollout-errors", "monitorCondition": "Fired"}},
}


def _handle(plan, monkeypatch, action: str, payload: Any = None, now: dt.datetime = T0) -> str:
    """The shipped entry point, with the plan's app settings only and the fake ARM."""
    for key in list(rollout_azure.os.environ):
        if key.startswith(("ROLLOUT_", "AZURE_", "IDENTITY_")):
            monkeypatch.delenv(key)
    for key, value in plan.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(rollout_azure, "ArmTransport", lambda env: plan.arm)
    monkeypatch.setattr(rollout_azure, "_now", lambda: now)
    body = json.dumps(payload).encode() if payload is not None else None
    return rollout_azure.azure_rollout_handler(action, body)


def test_the_plan_declares_a_canary_on_green(plan):
    assert plan.env["ROLLOUT_IN_PROGRESS"] == "true"
    assert (plan.env["ROLLOUT_NEW_DEPLOYMENT"], plan.env["ROLLOUT_PREVIOUS_DEPLOYMENT"]) == (
        "green", "blue",
    )  # fmt: skip
    assert plan.arm.shares() == {"blue": 90, "green": 10}
    assert plan.arm.models["green"].endswith("/versions/7")


def test_an_alarm_during_the_canary_sends_everything_back_and_records_why(plan, monkeypatch):
    before = copy.deepcopy(plan.arm.endpoint)
    message = _handle(plan, monkeypatch, "rollback", ALERT)
    assert message.startswith("rolled back: 100% to blue, 0% to green:")
    assert plan.arm.shares() == {"blue": 100, "green": 0}
    record = plan.arm.record()
    assert record is not None and record["state"] == "rolled-back"
    assert record["why"] == "alert mlops-rollout-errors fired"
    assert record["new"] == f"green:{plan.arm.models['green']}"
    # Everything else of the endpoint is PUT back as it was (a PUT replaces the resource).
    put = plan.arm.puts[0]
    assert put["location"] == before["location"]
    assert put["identity"] == {"type": before["identity"]["type"]}
    assert {k: v for k, v in put["properties"].items() if k != "traffic"} == {
        k: v for k, v in before["properties"].items()
        if k in rollout_azure.ENDPOINT_WRITABLE and k != "traffic"
    }  # fmt: skip
    assert {k: v for k, v in put["tags"].items() if k != rollout.RECORD_KEY} == before["tags"]


def test_long_registry_model_and_rule_names_still_roll_back(plan, monkeypatch):
    """The record shares the traffic PUT: with long names it stays within a tag value's 256
    characters, so the rollback happens, and it still names the model it rolled back."""
    long_model = f"azureml://registries/{'r' * 60}/models/{'fraud-detector-' + 'x' * 80}/versions/7"
    plan.arm.models["green"] = long_model
    alert = copy.deepcopy(ALERT)
    alert["data"]["essentials"]["alertRule"] = "mlops-rollout-errors-" + "y" * 200
    _handle(plan, monkeypatch, "rollback", alert)
    assert plan.arm.shares() == {"blue": 100, "green": 0}
    value = plan.arm.endpoint["tags"][rollout.RECORD_KEY]
    assert len(value) <= rollout_azure.TAG_VALUE_LIMIT
    record = plan.arm.record()
    assert record is not None and record["state"] == "rolled-back"
    assert record["new"] == f"green:{rollout_azure.model_key(long_model)}"
    assert record["why"].startswith("alert mlops-rollout-errors-yyy")
    # The same model is recognised: a later promotion does not give it traffic again.
    puts = len(plan.arm.puts)
    _handle(plan, monkeypatch, "promote", now=T0 + dt.timedelta(hours=1))
    assert len(plan.arm.puts) == puts and plan.arm.shares() == {"blue": 100, "green": 0}


def test_a_second_firing_and_a_later_promotion_change_nothing(plan, monkeypatch):
    _handle(plan, monkeypatch, "rollback", ALERT)
    after = copy.deepcopy(plan.arm.endpoint)
    assert _handle(plan, monkeypatch, "rollback", ALERT).endswith("already takes no traffic")
    later = T0 + dt.timedelta(hours=1)
    assert "was rolled back: not promoted" in _handle(plan, monkeypatch, "promote", now=later)
    assert plan.arm.endpoint == after and len(plan.arm.puts) == 1


def test_a_resolved_alert_does_nothing(plan, monkeypatch):
    resolved = copy.deepcopy(ALERT)
    resolved["data"]["essentials"]["monitorCondition"] = "Resolved"
    assert _handle(plan, monkeypatch, "rollback", resolved) == "alert resolved: nothing to do"
    assert plan.arm.calls == []


def test_a_quiet_bake_promotes_the_canary_to_all_traffic(plan, monkeypatch):
    assert "bake of 10 min started" in _handle(plan, monkeypatch, "promote")
    assert plan.arm.shares() == {"blue": 90, "green": 10}
    assert "baking" in _handle(plan, monkeypatch, "promote", now=T0 + dt.timedelta(minutes=5))
    assert len(plan.arm.puts) == 1
    message = _handle(plan, monkeypatch, "promote", now=T0 + dt.timedelta(minutes=10))
    assert message.endswith("10% -> 100% after a quiet bake")
    assert plan.arm.shares() == {"blue": 0, "green": 100}
    assert plan.arm.record()["state"] == "promoted"


def test_a_linear_rollout_steps_after_each_bake(plan, monkeypatch):
    plan.env.update(ROLLOUT_STRATEGY="linear", ROLLOUT_STEP_PERCENT="20")
    steps = []
    for minutes in range(0, 60, 5):
        _handle(plan, monkeypatch, "promote", now=T0 + dt.timedelta(minutes=minutes))
        steps.append(plan.arm.shares()["green"])
    assert steps == [10, 10, 30, 30, 50, 50, 70, 70, 90, 90, 100, 100]


def test_no_rollout_in_progress_means_no_move(plan, monkeypatch):
    plan.env["ROLLOUT_IN_PROGRESS"] = "false"
    assert _handle(plan, monkeypatch, "rollback", ALERT) == "no rollout in progress: nothing to do"
    assert plan.arm.puts == []


def test_a_first_deploy_without_blue_in_traffic_moves_nothing(plan, monkeypatch):
    plan.arm.endpoint["properties"]["traffic"] = {"green": 100}
    assert "no previous version" in _handle(plan, monkeypatch, "rollback", ALERT)
    assert "no previous version" in _handle(plan, monkeypatch, "promote")
    assert plan.arm.puts == []


def test_every_call_is_in_the_manifest_and_granted_by_the_plan(plan, monkeypatch):
    _handle(plan, monkeypatch, "promote")
    _handle(plan, monkeypatch, "rollback", ALERT)
    recorded = list(dict.fromkeys(plan.arm.calls))
    manifest = calls.MANIFESTS["mlops_iac.drift.rollout_azure.azure_rollout_handler"](plan.env)
    assert manifest.missing == ()
    assert {c.action for c in recorded} == {f"{ML}/read", f"{ML}/deployments/read", f"{ML}/write"}
    assert all(manifest.covers(c) for c in recorded), recorded
    assert list(rules.azure_denials(plan.recording.resources, {FUNCTION: recorded})) == []


def test_the_function_cannot_touch_another_endpoint_or_delete_this_one(plan):
    endpoint = plan.env["ROLLOUT_ENDPOINT_ID"]
    other = endpoint.rsplit("/", 1)[0] + "/mlops-other-endpoint"
    attempts = [
        Call(f"{ML}/write", other, "", ""),
        Call(f"{ML}/read", other, "", ""),
        Call(f"{ML}/delete", endpoint, "", ""),
        Call(f"{ML}/deployments/write", f"{endpoint}/deployments/green", "", ""),
        Call("Microsoft.Authorization/roleAssignments/write", endpoint, "", ""),
    ]
    denied = list(rules.azure_denials(plan.recording.resources, {FUNCTION: attempts}))
    assert [str(call) for _, call, _ in denied] == [str(c) for c in attempts]


def test_removing_the_endpoint_role_assignment_fails_the_plan(plan):
    resources = [r for r in plan.recording.resources if r.name != "mlops-rollout-endpoint"]
    denied = {call.action for handler, call, _ in rules.azure_denials(resources)
              if handler.resource.name == FUNCTION}  # fmt: skip
    assert denied == {f"{ML}/read", f"{ML}/deployments/read", f"{ML}/write"}


def test_the_package_runs_the_shipped_handler(plan):
    settings = plan.env
    account, _, path = settings["WEBSITE_RUN_FROM_PACKAGE"].removeprefix("https://").partition("/")
    container, _, blob_name = path.partition("/")
    blob = next(
        b for b in plan.recording.of_type("azure-native:storage:Blob")
        if b.inputs["blobName"] == blob_name and b.inputs["containerName"] == container
    )  # fmt: skip
    assets = blob.inputs["source"]["assets"]
    assert 'azure_rollout_handler("rollback"' in assets["rollout_alert/__init__.py"]["text"]
    assert 'azure_rollout_handler("promote")' in assets["rollout_timer/__init__.py"]["text"]
    bindings = json.loads(assets["rollout_alert/function.json"]["text"])["bindings"]
    assert bindings[0]["authLevel"] == "function"
    assert account.split(".")[0] == blob.inputs["accountName"]


def test_the_packaged_handler_imports_on_the_standard_library(plan, tmp_path):
    package = plan.env["WEBSITE_RUN_FROM_PACKAGE"].rsplit("/", 1)[-1]
    blob = next(
        b for b in plan.recording.of_type("azure-native:storage:Blob")
        if b.inputs["blobName"] == package
    )  # fmt: skip
    assets = blob.inputs["source"]["assets"]
    loaded = import_unpacked(
        assets, tmp_path, "mlops_iac.drift.rollout_azure", "azure_rollout_handler", ("azure",)
    )
    assert loaded == "[]"
