"""``mlops-drift-loop-closed``: quiet on the reference prod stack, fires on each missing link."""

from __future__ import annotations

import copy
import dataclasses

import pytest
from pulumi_policy import EnforcementLevel

from mlops_iac.components.testing.engine import Recording, run_project
from mlops_iac.policies import offline, packs
from mlops_iac.policies.rules import BY_NAME
from tests.conftest import REPO

RULE = "mlops-drift-loop-closed"


@pytest.fixture(scope="module")
def aws_prod() -> Recording:
    return run_project(REPO, "aws-prod")


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
    return run_project(REPO, "gcp-prod")


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
