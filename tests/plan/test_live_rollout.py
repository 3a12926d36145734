"""The next ``pulumi up`` keeps what the rollout function did: the serving components read its
record from the live Cloud Run service (annotation) or online endpoint (tag) and declare the split
it left. Offline, the live reads answer from the state given to ``plan`` (as ``pulumi stack
export`` saved it, refreshed or not)."""

from __future__ import annotations

import json

import pulumi
import pytest

from mlops_iac.cli.main import main
from mlops_iac.components._component import read_live
from mlops_iac.drift.rollout import RECORD_KEY, kept_share, write_record
from mlops_iac.plan import deploy
from mlops_iac.plan.deploy.state import StateResource
from mlops_iac.plan.mocks import LIVE_RESOURCES_KEY, PREVIOUS_OUTPUTS_KEY
from mlops_iac.plan.testing import run_project
from tests.conftest import REPO, reference_state, stack_config

SERVICE = "mlops-serving-svc-6264e6"
V6, V7 = f"{SERVICE}-v6", f"{SERVICE}-v7"
ROOT = "urn:pulumi:{s}::mlops-platform::pulumi:pulumi:Stack::mlops-platform-{s}"


def _record(new: str, state: str = "rolled-back", share: object = 0) -> str:
    return write_record({
        "state": state, "new": new, "previous": "prev", "share": share,
        "at": "2026-12-07T12:00:00Z", "why": "alert mlops-rollout-errors fired",
    })  # fmt: skip


# --- the decision itself --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "declared", "kept"),
    [
        (None, 10, 10),
        ({"state": "rolled-back", "new": "v7"}, 10, 0),
        ({"state": "rolled-back", "new": "v5"}, 10, 10),  # another version's record
        ({"state": "stepped", "new": "v7", "share": 30}, 10, 30),
        ({"state": "promoted", "new": "v7", "share": 100}, 10, 100),
        ({"state": "stepped", "new": "v7", "share": 5}, 10, 10),  # never below the stack file
        ({"state": "baking", "new": "v7", "share": 10}, 10, 10),
        # The stack file declares the rollout over (100) or rolled back by hand (0): its call.
        ({"state": "rolled-back", "new": "v7"}, 100, 100),
        ({"state": "promoted", "new": "v7", "share": 100}, 0, 0),
        # Hostile records: a share out of range is bounded, one that is no number is ignored.
        ({"state": "stepped", "new": "v7", "share": 1000}, 10, 100),
        ({"state": "stepped", "new": "v7", "share": "all"}, 10, 10),
        ({"state": "stepped", "new": "v7", "share": None}, 10, 10),
        ({"state": "unknown", "new": "v7", "share": 100}, 10, 10),
    ],
)
def test_kept_share(record, declared, kept):
    assert kept_share(record, "v7", declared) == kept


# --- GCP: Cloud Run ---------------------------------------------------------------------------


def _gcp_state(
    annotation: str | None, served: tuple[str, ...] = (V6, V7), v7_share: int = 10
) -> list[StateResource]:
    """gcp-prod after v7's canary was deployed (``served``), its service annotated with
    ``annotation`` by the rollout function, which left v7 ``v7_share``% of the traffic."""
    state = []
    for old in reference_state("gcp-prod"):
        if old.type == "pulumi:pulumi:Stack":
            old = StateResource(old.urn, old.type, old.name, old.inputs,
                                {**old.outputs, "serving_revisions": list(served)})  # fmt: skip
        elif old.type == "gcp:cloudrunv2/service:Service" and old.name == "mlops-serving-service":
            traffics = [
                {"revision": V7, "percent": v7_share, "tag": "current"},
                {"revision": V6, "percent": 100 - v7_share, "tag": "previous"},
            ]
            outputs = {**old.outputs, "name": SERVICE, "traffics": traffics,
                       "effectiveAnnotations": {"team": "ml"}}  # fmt: skip
            if annotation is not None:
                outputs["effectiveAnnotations"][RECORD_KEY] = annotation
            old = StateResource(old.urn, old.type, old.name, old.inputs, outputs)
        state.append(old)
    return state


def _plan_program(stack: str, state: list[StateResource], config: dict | None = None):
    extra = {
        PREVIOUS_OUTPUTS_KEY: deploy.previous_outputs(state),
        LIVE_RESOURCES_KEY: deploy.live_resources(state),
        **(config or {}),
    }
    return run_project(REPO, stack, extra_config=extra)


def _run_traffic(recording) -> dict[str, float]:
    service = recording.named("mlops-serving-service", "gcp:cloudrunv2/service:Service")
    return {t["revision"]: t["percent"] for t in service.inputs["traffics"]}


def _annotations(recording) -> dict | None:
    return recording.named("mlops-serving-service", "gcp:cloudrunv2/service:Service").inputs.get(
        "annotations"
    )


def test_gcp_an_automatic_rollback_is_kept_by_the_next_update():
    recording = _plan_program("gcp-prod", _gcp_state(_record(V7), v7_share=0))
    assert _run_traffic(recording) == {V7: 0, V6: 100}
    # The update sends the live record, not the older one pulumi-gcp's state may hold.
    assert _annotations(recording) == {RECORD_KEY: _record(V7)}
    view = recording.exports["serving_rollout"]
    assert (view["declaredShare"], view["share"], view["record"]["state"]) == (10, 0, "rolled-back")
    assert recording.exports["serving_revisions"]  # the rest of the stack is unchanged
    # The plan's own rule, which refuses an update that undoes a rollback, stays quiet.
    errors = recording.deploy_errors(_gcp_state(_record(V7), v7_share=0))
    assert not [e for e in errors if e.rule == "gcp-rollout-rolled-back"]


@pytest.mark.parametrize(("state", "share"), [("stepped", 30), ("promoted", 100)])
def test_gcp_an_automatic_promotion_is_kept_by_the_next_update(state, share):
    recording = _plan_program("gcp-prod", _gcp_state(_record(V7, state, share), v7_share=share))
    assert _run_traffic(recording) == {V7: share, V6: 100 - share}
    assert recording.exports["serving_rollout"]["share"] == share


def test_gcp_a_promotion_record_the_live_traffic_does_not_show_is_ignored():
    """A record alone (written without the traffic change) never skips the canary."""
    forged = _record(V7, "promoted", 100)
    recording = _plan_program("gcp-prod", _gcp_state(forged, v7_share=10))
    assert _run_traffic(recording) == {V7: 10, V6: 90}
    assert recording.exports["serving_rollout"]["share"] == 10


@pytest.mark.parametrize(
    ("annotation", "served"),
    [
        (None, (V6, V7)),  # no record
        (_record(f"{SERVICE}-v5"), (V6, V7)),  # an older rollout's record
        (_record(V7, "baking", 10), (V6, V7)),
        ("not json", (V6, V7)),
        (_record(V7, "stepped", float("inf")), (V6, V7)),  # hostile share
    ],
)
def test_gcp_the_declared_canary_otherwise(annotation, served):
    recording = _plan_program("gcp-prod", _gcp_state(annotation, served))
    assert _run_traffic(recording) == {V7: 10, V6: 90}
    view = recording.exports["serving_rollout"]
    assert view is None or view["share"] == view["declaredShare"] == 10


def test_gcp_no_state_means_no_live_read():
    recording = run_project(REPO, "gcp-prod")
    assert recording.exports["serving_rollout"] is None
    assert _run_traffic(recording) == {V7: 10, V6: 90}


def test_gcp_plan_says_the_rollout_was_rolled_back_and_keeps_it(tmp_path, capsys):
    saved = json.loads((REPO / "stacks" / "state" / "gcp-prod.json").read_text())
    for resource in saved["deployment"]["resources"]:
        if resource["type"] == "pulumi:pulumi:Stack":
            resource["outputs"]["serving_revisions"] = [V6, V7]
        if resource["urn"].endswith("::mlops-serving-service"):
            resource["outputs"]["name"] = SERVICE
            resource["outputs"]["annotations"] = {RECORD_KEY: _record(V7)}
    path = tmp_path / "refreshed.json"
    path.write_text(json.dumps(saved))
    report = tmp_path / "plan.json"
    code = main(["plan", "--stack", "gcp-prod", "--project", str(REPO), "--quiet",
                 "--state", str(path), "--json", str(report)])  # fmt: skip
    out = " ".join(capsys.readouterr().out.split())
    assert code == 0, out
    assert (
        f"Rollout: the rollout function {V7} rolled back (0% to it) at 2026-12-07T12:00:00Z "
        "(alert mlops-rollout-errors fired); this update keeps 0% on it (the stack file "
        "declares 10%)"
    ) in out
    assert "serving.rollback: true" in out and "gcp-rollout-rolled-back" not in out
    exported = json.loads(report.read_text())["exports"]["serving_rollout"]
    assert exported["share"] == 0 and exported["record"]["new"] == V7


# --- Azure: managed online endpoint -----------------------------------------------------------

ENDPOINT = "mlops-serving-endpoint3f9a1c2d"


def _azure_config(in_progress: bool) -> dict:
    config = stack_config("azure-prod")
    config["mlops:platform"].setdefault("azure", {})["canaryInProgress"] = in_progress
    return config


def _azure_state(
    tag: str | None, exported: str | None = ENDPOINT, green: int = 10, endpoint: bool = True
) -> list[StateResource]:
    """An azure-prod state whose endpoint carries ``tag`` and gives green ``green``%."""
    root = ROOT.format(s="azure-prod")
    traffic = {"blue": 100 - green, "green": green}
    tags = {"owner": "ml"} | ({RECORD_KEY: tag} if tag is not None else {})
    endpoint_urn = (
        "urn:pulumi:azure-prod::mlops-platform::mlops:azure:ServingEndpoint$"
        "azure-native:machinelearningservices:OnlineEndpoint::mlops-serving-endpoint"
    )
    state = [
        StateResource(root, "pulumi:pulumi:Stack", "mlops-platform-azure-prod", {},
                      {"endpoint_name": exported}),
        StateResource(endpoint_urn, "azure-native:machinelearningservices:OnlineEndpoint",
                      "mlops-serving-endpoint", {},
                      {"name": ENDPOINT, "tags": tags, "properties": {"traffic": traffic}}),
    ]  # fmt: skip
    return state if endpoint else state[:1]


@pytest.fixture(scope="module")
def azure_models() -> dict[str, str]:
    """The model each deployment serves during the reference canary."""
    recording = run_project(REPO, "azure-prod", extra_config=_azure_config(True))
    return {
        slot: recording.named(f"mlops-serving-{slot}").inputs["properties"]["model"]
        for slot in ("blue", "green")
    }


def _azure_traffic(recording) -> dict[str, int]:
    template = recording.named("mlops-serving-traffic").inputs["properties"]["template"]
    return template["resources"][0]["properties"]["traffic"]


def _endpoint_tags(recording) -> dict[str, str]:
    return recording.named("mlops-serving-endpoint").inputs["tags"]


def test_azure_an_automatic_rollback_is_kept_with_its_record(azure_models):
    tag = _record(f"green:{azure_models['green']}")
    recording = _plan_program("azure-prod", _azure_state(tag, green=0), _azure_config(True))
    assert _azure_traffic(recording) == {"blue": 100, "green": 0}
    # The record tag stays on the endpoint (and in the template's PUT, which repeats the tags).
    assert _endpoint_tags(recording)[RECORD_KEY] == tag
    template = recording.named("mlops-serving-traffic").inputs["properties"]["template"]
    assert template["resources"][0]["tags"][RECORD_KEY] == tag
    view = recording.exports["serving_rollout"]
    assert (view["declaredShare"], view["share"]) == (10, 0)


def test_azure_an_automatic_promotion_is_kept(azure_models):
    tag = _record(f"green:{azure_models['green']}", "stepped", 40)
    recording = _plan_program("azure-prod", _azure_state(tag, green=40), _azure_config(True))
    assert _azure_traffic(recording) == {"blue": 60, "green": 40}


def test_azure_a_promotion_tag_the_live_traffic_does_not_show_is_ignored(azure_models):
    """Tag rights alone (Tag Contributor) cannot skip the canary with a forged record."""
    tag = _record(f"green:{azure_models['green']}", "promoted", 100)
    recording = _plan_program("azure-prod", _azure_state(tag, green=10), _azure_config(True))
    assert _azure_traffic(recording) == {"blue": 90, "green": 10}


def test_azure_an_endpoint_deleted_outside_pulumi_is_not_read_and_not_fatal(azure_models):
    tag = _record(f"green:{azure_models['green']}")
    state = _azure_state(tag, endpoint=False)
    recording = _plan_program("azure-prod", state, _azure_config(True))
    assert _azure_traffic(recording) == {"blue": 90, "green": 10}
    assert any(f"online endpoint {ENDPOINT} does not exist" in w for w in recording.warnings), (
        recording.warnings
    )


def test_azure_a_rollout_declared_over_is_the_stack_files_call_and_is_reported(
    azure_models, tmp_path
):
    # canaryInProgress false: the active model moves to blue with 100%, as written.
    tag = _record(f"green:{azure_models['green']}")
    recording = _plan_program("azure-prod", _azure_state(tag), _azure_config(False))
    assert _azure_traffic(recording) == {"blue": 100, "green": 0}
    view = recording.exports["serving_rollout"]
    assert (view["declaredShare"], view["share"]) == (100, 100)
    assert view["record"]["state"] == "rolled-back"


@pytest.mark.parametrize(
    "tag",
    [
        None,
        _record("green:azureml://registries/r/models/fraud-detector/versions/8"),  # another model
        '{"state": "rolled-back"}',  # names no deployment
        "rolled-back",
    ],
)
def test_azure_the_declared_canary_otherwise(tag):
    recording = _plan_program("azure-prod", _azure_state(tag), _azure_config(True))
    assert _azure_traffic(recording) == {"blue": 90, "green": 10}
    assert recording.exports["serving_rollout"] is None
    # Whatever the tag holds, the update keeps it: nothing the function wrote is erased.
    assert _endpoint_tags(recording).get(RECORD_KEY) == tag


def test_azure_no_exported_endpoint_means_no_live_read(azure_models):
    tag = _record(f"green:{azure_models['green']}")
    recording = _plan_program("azure-prod", _azure_state(tag, exported=None), _azure_config(True))
    assert _azure_traffic(recording) == {"blue": 90, "green": 10}
    assert RECORD_KEY not in _endpoint_tags(recording)


def test_a_stack_file_cannot_forge_the_live_answer(azure_models, tmp_path):
    """The live reads answer from a state only: a stack file that claims an answer is ignored."""
    import yaml

    tag = _record(f"green:{azure_models['green']}")
    config = _azure_config(True) | {LIVE_RESOURCES_KEY: deploy.live_resources(_azure_state(tag))}
    forged = tmp_path / "Pulumi.azure-prod.yaml"
    forged.write_text(yaml.safe_dump({"config": config}))
    previous = {PREVIOUS_OUTPUTS_KEY: {"endpoint_name": ENDPOINT}}
    recording = run_project(REPO, "azure-prod", config_file=forged, extra_config=previous)
    assert _azure_traffic(recording) == {"blue": 90, "green": 10}
    assert RECORD_KEY not in _endpoint_tags(recording)


# --- reading the live resource ----------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        "invoke of gcp:cloudrunv2/getService:getService failed: projects/p/locations/r/services/"
        "mlops-serving-svc-6264e6 not found",
        "invoke of azure-native:machinelearningservices:getOnlineEndpoint failed: RESPONSE 404: "
        "404 Not Found ERROR CODE: ResourceNotFound",
        "ERROR CODE: ResourceGroupNotFound",
    ],
)
def test_a_resource_the_cloud_does_not_find_is_a_warning(message, monkeypatch):
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda text, *a, **k: warnings.append(text))

    def gone():
        raise Exception(message)

    assert read_live("ServingEndpoint srv", "online endpoint e", gone) is None
    assert warnings == [
        "ServingEndpoint srv: online endpoint e does not exist (yet); nothing live to keep"
    ]


@pytest.mark.parametrize(
    "message",
    [
        # A "404" inside an id is no "not found": these are a 403 and a 429.
        "RESPONSE 403: Forbidden ERROR CODE: AuthorizationFailed /subscriptions/"
        "0f404e1c-1111-2222-3333-444455556666/resourceGroups/rg",
        "googleapi: Error 429: Quota exceeded for services/mlops-serving-svc-a404bc",
        "connection reset by peer",
    ],
)
def test_any_other_failed_read_stops_with_one_line(message):
    def fails():
        raise Exception(message)

    with pytest.raises(ValueError, match=r"^ServingEndpoint srv: cannot read online endpoint e: "):
        read_live("ServingEndpoint srv", "online endpoint e", fails)
