"""``plan`` sees what the rollout function did: a state whose Cloud Run service (annotation) or
online endpoint (tag) carries a "rolled back" record fails an update that would give the rolled-
back version traffic again (``gcp-rollout-rolled-back``, ``azure-rollout-rolled-back``), and says
what to do; anything else stays quiet."""

from __future__ import annotations

import copy
import json

import pytest

from mlops_iac.drift.rollout import RECORD_KEY, write_record
from mlops_iac.plan import deploy
from mlops_iac.plan.deploy.state import StateResource
from mlops_iac.plan.testing import run_project
from tests.conftest import REPO, reference_recording, reference_state, stack_config

V7 = "mlops-serving-svc-6264e6-v7"


def _record(new: str, state: str = "rolled-back") -> str:
    return write_record({
        "state": state, "new": new, "previous": "prev", "share": 0,
        "at": "2026-12-07T12:00:00Z", "why": "alert mlops-rollout-errors fired",
    })  # fmt: skip


def _gcp_state(value: str | None, key: str = "annotations") -> list[StateResource]:
    state = []
    for old in reference_state("gcp-prod"):
        if old.type == "gcp:cloudrunv2/service:Service" and value is not None:
            outputs = {**old.outputs, key: {RECORD_KEY: value, "other": "x"}}
            old = StateResource(old.urn, old.type, old.name, old.inputs, outputs)
        state.append(old)
    return state


def _rules(resources, state, config=None) -> list[deploy.DeployError]:
    found = deploy.check(resources, state=state, config=config or {})
    return [e for e in found if e.rule.endswith("-rollout-rolled-back")]


def test_gcp_a_rolled_back_revision_given_traffic_again_fails_the_plan():
    recording = reference_recording("gcp-prod")
    [found] = _rules(recording.resources, _gcp_state(_record(V7)))
    assert (found.rule, found.resource_name, found.input, found.value) == (
        "gcp-rollout-rolled-back", "mlops-serving-service", "traffics[0].percent", 10.0,
    )  # fmt: skip
    assert f"rolled {V7} back at 2026-12-07T12:00:00Z (alert mlops-rollout-errors fired)" in (
        found.message
    )
    assert "serving.rollback: true" in found.message
    assert found.source.startswith("https://cloud.google.com/run/docs/")


@pytest.mark.parametrize(
    ("value", "key"),
    [
        (None, "annotations"),  # no record
        (_record("mlops-serving-svc-6264e6-v5"), "annotations"),  # another version
        (_record(V7, "promoted"), "annotations"),  # promoted, not rolled back
        (_record(V7, "baking"), "effectiveAnnotations"),
        ("not json", "annotations"),  # hostile: not a record
        ('{"state": "rolled-back"}', "annotations"),  # hostile: names no revision
        (json.dumps(["rolled-back", V7]), "annotations"),
    ],
)
def test_gcp_quiet_without_a_rolled_back_record_of_the_served_revision(value, key):
    assert _rules(reference_recording("gcp-prod").resources, _gcp_state(value, key)) == []


def test_gcp_quiet_when_the_stack_rolls_back_too():
    recording = reference_recording("gcp-prod")
    service = recording.named("mlops-serving-service", "gcp:cloudrunv2/service:Service")
    service.inputs["traffics"][0]["percent"], service.inputs["traffics"][1]["percent"] = 0, 100
    assert _rules(recording.resources, _gcp_state(_record(V7))) == []


def test_gcp_the_record_in_effective_annotations_counts_too():
    errors = _rules(
        reference_recording("gcp-prod").resources,
        _gcp_state(_record(V7), "effectiveAnnotations"),
    )
    assert [e.rule for e in errors] == ["gcp-rollout-rolled-back"]


@pytest.fixture(scope="module")
def azure_canary():
    config = stack_config("azure-prod")
    config["mlops:platform"].setdefault("azure", {})["canaryInProgress"] = True
    return run_project(REPO, "azure-prod", extra_config=config)


def _azure_state(recording, value: str | None) -> list[StateResource]:
    endpoint = recording.named("mlops-serving-endpoint")
    name = recording.named("mlops-serving-green").inputs["endpointName"]
    tags = {"owner": "ml"} | ({RECORD_KEY: value} if value is not None else {})
    return [
        StateResource(endpoint.urn, endpoint.type, endpoint.name, {}, {"name": name, "tags": tags})
    ]


def _green(recording) -> str:
    return f"green:{recording.named('mlops-serving-green').inputs['properties']['model']}"


def test_azure_a_rolled_back_deployment_given_traffic_again_fails_the_plan(azure_canary):
    [found] = _rules(
        azure_canary.resources, _azure_state(azure_canary, _record(_green(azure_canary)))
    )
    assert (found.rule, found.resource_name, found.value) == (
        "azure-rollout-rolled-back", "mlops-serving-traffic", 10,
    )  # fmt: skip
    assert found.input.endswith("traffic.green")
    assert "serving.rollback: true" in found.message
    assert found.source.startswith("https://learn.microsoft.com/")


def test_azure_quiet_once_the_stack_declares_the_rollout_over_or_a_new_model(azure_canary):
    # The steady state (canaryInProgress false): green serves the previous model with 0%.
    steady = reference_recording("azure-prod")
    assert _rules(steady.resources, _azure_state(steady, _record(_green(azure_canary)))) == []
    # Another model on green: the record is about a version no longer deployed.
    other = _record("green:azureml://registries/r/models/fraud-detector/versions/8")
    assert _rules(azure_canary.resources, _azure_state(azure_canary, other)) == []
    for hostile in (None, "", "{}", "rolled-back", _record(_green(azure_canary), "stepped")):
        assert _rules(azure_canary.resources, _azure_state(azure_canary, hostile)) == [], hostile


def test_azure_quiet_without_state():
    recording = copy.deepcopy(reference_recording("azure-prod"))
    assert _rules(recording.resources, None) == []


def _service_state(revision: str, image: str | None) -> list[StateResource]:
    """The saved state, its Cloud Run service recorded with ``revision`` running ``image``."""
    state = []
    for old in reference_state("gcp-prod"):
        if old.type == "gcp:cloudrunv2/service:Service":
            template: dict = {"revision": revision}
            if image is not None:
                template["containers"] = [{"image": image}]
            old = StateResource(old.urn, old.type, old.name, {**old.inputs, "template": template},
                                old.outputs)  # fmt: skip
        state.append(old)
    return state


def _reused(state: list[StateResource]) -> list[deploy.DeployError]:
    found = deploy.check(reference_recording("gcp-prod").resources, state=state, config={})
    return [e for e in found if e.rule == "gcp-run-revision-name-reused"]


def _planned_image() -> str:
    service = reference_recording("gcp-prod").named(
        "mlops-serving-service", "gcp:cloudrunv2/service:Service"
    )
    return str(service.inputs["template"]["containers"][0]["image"])


def test_gcp_a_new_image_under_a_deployed_revision_name_fails_the_plan():
    """A new imageDigest with the same version: the revision name exists with another image."""
    old_image = _planned_image().split("@")[0] + "@sha256:" + "0" * 64
    [found] = _reused(_service_state(V7, old_image))
    assert (found.resource_name, found.input, found.value) == (
        "mlops-serving-service", "template.containers[0].image", _planned_image(),
    )  # fmt: skip
    assert f"revision {V7!r} already exists with image {old_image}" in found.message
    assert "bump serving.model.version" in found.message
    assert found.source == "https://cloud.google.com/run/docs/managing/revisions"


@pytest.mark.parametrize(
    ("revision", "image"),
    [
        (V7, "same"),  # nothing changed
        ("mlops-serving-svc-6264e6-v6", "other"),  # a version bump: a new revision name
        (V7, None),  # the state does not say which image
    ],
)
def test_gcp_quiet_when_the_revision_name_is_new_or_its_image_unchanged(revision, image):
    chosen = {"same": _planned_image(), "other": "r/fraud-detector@sha256:" + "1" * 64}
    assert _reused(_service_state(revision, chosen.get(image or ""))) == []
