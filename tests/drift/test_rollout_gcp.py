"""The GCP rollout function end to end: the shipped entry point with exactly the environment the
gcp-prod plan gives ``mlops-rollout-function``, against an in-process Cloud Run Admin API that
serves the plan's service (its recorded traffic) and records each request as the authorised call
it is. Every call is in the function's manifest and granted by the plan; a call on another
service is not."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import subprocess
import sys
import types
from typing import Any

import pytest

from mlops_iac.drift import calls, rollout, rollout_gcp
from mlops_iac.drift.calls import Call
from mlops_iac.plan.deploy.permissions import rules
from tests.conftest import reference_recording
from tests.drift._package import import_unpacked

FUNCTION = "mlops-rollout-function"
T0 = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


class CloudRun:
    """One Cloud Run service as ``services.get`` returns it; ``services.patch`` applies the
    fields its ``updateMask`` names. Every request is recorded as its IAM permission
    (https://cloud.google.com/run/docs/reference/iam/permissions); a traffic update also acts
    as the service's runtime account
    (https://cloud.google.com/run/docs/rollouts-rollbacks-traffic-migration)."""

    def __init__(self, name: str, traffic: list[dict[str, Any]], account: str) -> None:
        self.name, self.account = name, account
        self.service: dict[str, Any] = {"name": name, "traffic": traffic, "annotations": {}}
        self.calls: list[Call] = []
        self.patches: list[dict[str, Any]] = []

    def __call__(self, method: str, url: str, body: Any = None) -> Any:
        path, _, query = url.partition("?")
        assert path == f"{rollout_gcp.RUN}/{self.name}", url
        if method == "GET":
            self.calls.append(Call("run.services.get", self.name, "", ""))
            return copy.deepcopy(self.service)
        assert method == "PATCH", method
        self.calls.append(Call("run.services.update", self.name, "", ""))
        project = self.name.split("/")[1]
        self.calls.append(
            Call("iam.serviceAccounts.actAs", f"projects/{project}/serviceAccounts/{self.account}",
                 "", "")
        )  # fmt: skip
        mask = query.removeprefix("updateMask=").split(",")
        assert set(mask) <= {"traffic", "annotations"} and set(body) == set(mask), (mask, body)
        assert "traffic" not in body or sum(e["percent"] for e in body["traffic"]) == 100
        self.patches.append(copy.deepcopy(body))
        self.service.update(copy.deepcopy(body))
        return {"name": f"{self.name}/operations/1"}

    def shares(self) -> dict[str, int]:
        return {e["revision"]: e["percent"] for e in self.service["traffic"]}

    def record(self) -> dict[str, Any] | None:
        return rollout.read_record(self.service["annotations"].get(rollout.RECORD_KEY))


@pytest.fixture
def plan():
    recording = reference_recording("gcp-prod")
    function = recording.named(FUNCTION, "gcp:cloudfunctionsv2/function:Function")
    env = dict(function.inputs["serviceConfig"]["environmentVariables"])
    service = recording.named("mlops-serving-service", "gcp:cloudrunv2/service:Service")
    traffic = [
        {**{k: v for k, v in t.items() if k != "percent"}, "percent": int(t["percent"])}
        for t in service.inputs["traffics"]
    ]
    run = CloudRun(env["ROLLOUT_SERVICE"], traffic, service.inputs["template"]["serviceAccount"])
    return types.SimpleNamespace(recording=recording, function=function, env=env, run=run)


def _event(payload: dict[str, Any]) -> types.SimpleNamespace:
    data = base64.b64encode(json.dumps(payload).encode()).decode()
    return types.SimpleNamespace(data={"message": {"data": data}, "subscription": "s"})


def _alert(plan, state: str = "open") -> dict[str, Any]:
    """An incident of the first alert policy the plan's function rolls back on."""
    policy = json.loads(plan.env["ROLLOUT_POLICIES"])[0]
    return {"incident": {"state": state, "policy_name": policy}}


def _handle(plan, monkeypatch, payload: dict[str, Any], now: dt.datetime = T0) -> str:
    """The shipped entry point, with the plan's environment only and the fake Cloud Run."""
    for key in list(rollout_gcp.os.environ):
        if key.startswith("ROLLOUT_"):
            monkeypatch.delenv(key)
    for key, value in plan.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(rollout_gcp, "_transport", plan.run)
    monkeypatch.setattr(rollout_gcp, "_now", lambda: now)
    return rollout_gcp.gcp_rollout_handler(_event(payload))


def test_the_plan_sets_up_a_canary_the_function_can_move(plan):
    assert plan.env["ROLLOUT_IN_PROGRESS"] == "true"
    assert plan.env["ROLLOUT_STRATEGY"] == "canary"
    assert plan.run.shares() == {
        "mlops-serving-svc-6264e6-v7": 10,
        "mlops-serving-svc-6264e6-v6": 90,
    }


def test_an_alarm_during_the_canary_sends_everything_back_and_records_why(plan, monkeypatch):
    message = _handle(plan, monkeypatch, _alert(plan))
    assert message.startswith("rolled back: 100% to mlops-serving-svc-6264e6-v6")
    assert plan.run.shares() == {
        "mlops-serving-svc-6264e6-v7": 0,
        "mlops-serving-svc-6264e6-v6": 100,
    }
    assert [e.get("tag") for e in plan.run.service["traffic"]] == ["current", "previous"]
    assert plan.run.record() == {
        "state": "rolled-back", "new": "mlops-serving-svc-6264e6-v7",
        "previous": "mlops-serving-svc-6264e6-v6", "share": 0, "at": "2026-12-07T12:00:00Z",
        "why": f"alert {_alert(plan)['incident']['policy_name']} fired",
    }  # fmt: skip
    assert len(plan.run.patches) == 1


def test_a_second_firing_and_a_later_promotion_change_nothing(plan, monkeypatch):
    _handle(plan, monkeypatch, _alert(plan))
    after = copy.deepcopy(plan.run.service)
    assert (
        _handle(plan, monkeypatch, _alert(plan))
        == "mlops-serving-svc-6264e6-v7 already takes no traffic"
    )
    later = T0 + dt.timedelta(hours=1)
    assert "was rolled back: not promoted" in _handle(
        plan, monkeypatch, {"action": "promote"}, later
    )
    assert plan.run.service == after
    assert len(plan.run.patches) == 1


def test_a_closed_incident_does_nothing(plan, monkeypatch):
    closed = _alert(plan, "closed")
    assert _handle(plan, monkeypatch, closed) == "incident not open: nothing to do"
    assert plan.run.calls == []


def _raw_event(data: str) -> types.SimpleNamespace:
    return types.SimpleNamespace(data={"message": {"data": data}, "subscription": "s"})


def _b64(value: Any) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


@pytest.mark.parametrize(
    "data",
    [
        _b64({}),  # an empty object: a test publish
        _b64({"hello": "world"}),  # another publisher
        _b64({"incident": "open"}),  # not an incident object
        _b64({"incident": {"policy_name": "x"}}),  # no state
        _b64({"incident": {"state": "open", "policy_name": "someone else's policy"}}),
        _b64({"action": "rollback"}),  # only promote is an action
        _b64([1, 2]),
        "",  # an empty message
        "not base64!",
        base64.b64encode(b"not json").decode(),
        base64.b64encode(b"\xff\xfe").decode(),
    ],
)
def test_an_unknown_or_malformed_message_does_nothing(plan, monkeypatch, data):
    for key, value in plan.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(rollout_gcp, "_transport", plan.run)
    message = rollout_gcp.gcp_rollout_handler(_raw_event(data))
    assert message.endswith(": nothing to do")
    assert plan.run.calls == []


@pytest.mark.parametrize("form", ["legacy", "http"])
def test_the_handler_reads_the_legacy_and_http_forms_too(plan, monkeypatch, form):
    """A background function gets the Pub/Sub message itself; an HTTP push the envelope as JSON:
    a promotion tick stays a promotion either way."""
    message = {"data": _b64({"action": "promote"}), "messageId": "1"}
    event: Any = message
    if form == "http":
        event = types.SimpleNamespace(get_json=lambda silent=False: {"message": message})
    for key, value in plan.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(rollout_gcp, "_transport", plan.run)
    monkeypatch.setattr(rollout_gcp, "_now", lambda: T0)
    assert "bake of 10 min started" in rollout_gcp.gcp_rollout_handler(event)
    assert plan.run.shares()["mlops-serving-svc-6264e6-v7"] == 10


def test_after_a_promotion_to_all_traffic_a_later_alert_rolls_nothing_back(plan, monkeypatch):
    promote = {"action": "promote"}
    _handle(plan, monkeypatch, promote)
    _handle(plan, monkeypatch, promote, T0 + dt.timedelta(minutes=10))
    assert plan.run.record()["state"] == "promoted"
    message = _handle(plan, monkeypatch, _alert(plan), T0 + dt.timedelta(days=2))
    assert message == "mlops-serving-svc-6264e6-v7 was promoted to 100%: rollout over"
    assert plan.run.shares()["mlops-serving-svc-6264e6-v7"] == 100
    assert len(plan.run.patches) == 2


def test_a_quiet_bake_promotes_the_canary_to_all_traffic(plan, monkeypatch):
    promote = {"action": "promote"}
    assert "bake of 10 min started" in _handle(plan, monkeypatch, promote)
    assert plan.run.patches == [{"annotations": {rollout.RECORD_KEY: json.dumps(
        plan.run.record(), separators=(",", ":"), sort_keys=True)}}]  # fmt: skip
    assert "baking" in _handle(plan, monkeypatch, promote, T0 + dt.timedelta(minutes=5))
    assert len(plan.run.patches) == 1
    message = _handle(plan, monkeypatch, promote, T0 + dt.timedelta(minutes=10))
    assert message == "promoted: mlops-serving-svc-6264e6-v7 10% -> 100% after a quiet bake"
    assert plan.run.shares() == {
        "mlops-serving-svc-6264e6-v7": 100,
        "mlops-serving-svc-6264e6-v6": 0,
    }
    assert plan.run.record()["state"] == "promoted"
    assert "nothing to promote" in _handle(plan, monkeypatch, promote, T0 + dt.timedelta(hours=1))


def test_a_linear_rollout_steps_after_each_bake(plan, monkeypatch):
    plan.env.update(ROLLOUT_STRATEGY="linear", ROLLOUT_STEP_PERCENT="40")
    promote = {"action": "promote"}
    steps = []
    for minutes in (0, 5, 10, 15, 20, 25, 30):
        _handle(plan, monkeypatch, promote, T0 + dt.timedelta(minutes=minutes))
        steps.append(plan.run.shares()["mlops-serving-svc-6264e6-v7"])
    # Every five minutes (the schedule): +40 after each quiet 10-minute bake, at most 100.
    assert steps == [10, 10, 50, 50, 90, 90, 100]


def test_a_rolled_back_canary_is_never_promoted(plan, monkeypatch):
    _handle(plan, monkeypatch, {"action": "promote"})
    _handle(plan, monkeypatch, _alert(plan), T0 + dt.timedelta(minutes=3))
    # Someone moves 10% back by hand: still not promoted, the record says why.
    plan.run.service["traffic"][0]["percent"], plan.run.service["traffic"][1]["percent"] = 10, 90
    message = _handle(plan, monkeypatch, {"action": "promote"}, T0 + dt.timedelta(hours=2))
    assert message == "mlops-serving-svc-6264e6-v7 was rolled back: not promoted"


def test_a_first_deploy_has_no_previous_revision_and_nothing_moves(plan, monkeypatch):
    plan.run.service["traffic"] = [
        {"type": rollout_gcp.REVISION_TYPE, "revision": "mlops-serving-svc-6264e6-v7",
         "percent": 100, "tag": "current"}
    ]  # fmt: skip
    assert "no previous version" in _handle(plan, monkeypatch, _alert(plan))
    assert "no previous version" in _handle(plan, monkeypatch, {"action": "promote"})
    assert plan.run.patches == []


def test_no_rollout_in_progress_means_no_move(plan, monkeypatch):
    plan.env["ROLLOUT_IN_PROGRESS"] = "false"
    assert _handle(plan, monkeypatch, _alert(plan)) == "no rollout in progress: nothing to do"
    assert plan.run.patches == []


def test_every_call_is_in_the_manifest_and_granted_by_the_plan(plan, monkeypatch):
    _handle(plan, monkeypatch, {"action": "promote"})
    _handle(plan, monkeypatch, _alert(plan))
    recorded = list(dict.fromkeys(plan.run.calls))
    manifest = calls.MANIFESTS["mlops_iac.drift.rollout_gcp.gcp_rollout_handler"](plan.env)
    assert manifest.missing == ()
    assert {c.action for c in recorded} == {
        "run.services.get",
        "run.services.update",
        "iam.serviceAccounts.actAs",
    }
    assert all(manifest.covers(c) for c in recorded), recorded
    resources = plan.recording.resources
    assert list(rules.gcp_denials(resources, {FUNCTION: recorded})) == []


def test_the_function_cannot_touch_another_service_or_account(plan):
    service = plan.env["ROLLOUT_SERVICE"]
    other = service.rsplit("/", 1)[0] + "/mlops-other-service"
    project = service.split("/")[1]
    attempts = [
        Call("run.services.update", other, "", ""),
        Call("run.services.get", other, "", ""),
        Call("run.services.delete", service, "", ""),
        Call("run.services.setIamPolicy", service, "", ""),
        Call("iam.serviceAccounts.actAs",
             f"projects/{project}/serviceAccounts/mlops-drift-job@{project}.iam.gserviceaccount.com",
             "", ""),
    ]  # fmt: skip
    denied = list(rules.gcp_denials(plan.recording.resources, {FUNCTION: attempts}))
    assert [str(call) for _, call, _ in denied] == [str(c) for c in attempts]


def test_removing_the_service_binding_fails_the_plan(plan):
    resources = [r for r in plan.recording.resources if r.name != "mlops-rollout-run-update"]
    denied = {str(call) for handler, call, _ in rules.gcp_denials(resources)
              if handler.resource.name == FUNCTION}  # fmt: skip
    service = plan.env["ROLLOUT_SERVICE"]
    assert denied == {f"run.services.get on {service}", f"run.services.update on {service}"}


def test_the_shipped_package_runs_on_the_standard_library(plan, tmp_path):
    source = plan.function.inputs["buildConfig"]["source"]["storageSource"]
    objects = plan.recording.of_type("gcp:storage/bucketObject:BucketObject")
    archive = next(r for r in objects if r.inputs["name"] == source["object"])
    assets = archive.inputs["source"]["assets"]
    assert (
        "from mlops_iac.drift.rollout_gcp import gcp_rollout_handler" in assets["main.py"]["text"]
    )
    loaded = import_unpacked(assets, tmp_path, "main", "handler", ("google", "requests"))
    assert loaded == "[]"


def test_main_registers_the_handler_as_a_cloudevent_function(plan, tmp_path):
    """With the Functions Framework present (the function's build installs it from the
    archive's requirements.txt), ``handler`` is registered through its ``cloud_event``
    decorator, so it is never served as HTTP or called as ``(data, context)``."""
    source = plan.function.inputs["buildConfig"]["source"]["storageSource"]
    objects = plan.recording.of_type("gcp:storage/bucketObject:BucketObject")
    assets = next(r for r in objects if r.inputs["name"] == source["object"]).inputs["source"][
        "assets"
    ]
    assert "functions-framework" in assets["requirements.txt"]["text"]
    # A stand-in with the decorator's contract: it records the signature type and returns the
    # function (https://github.com/GoogleCloudPlatform/functions-framework-python).
    (tmp_path / "functions_framework.py").write_text(
        "REGISTERED = {}\n"
        "def cloud_event(func):\n    REGISTERED[func.__name__] = 'cloudevent'\n    return func\n"
    )
    entry = plan.function.inputs["buildConfig"]["entryPoint"]
    loaded = import_unpacked(assets, tmp_path, "main", entry, ("functions_framework",))
    assert loaded == "['functions_framework']"
    code = (
        f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import main, functions_framework;"
        "print(functions_framework.REGISTERED)"
    )
    done = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                          check=True, env={})  # fmt: skip
    assert done.stdout.strip() == f"{{{entry!r}: 'cloudevent'}}"
