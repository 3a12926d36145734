"""The reference stacks, recorded by the offline engine from the real components, pass the pack.

This is the contract between the components and the rules: whatever the components create must
satisfy every rule in every environment, and breaking a secure default must be caught.
"""

from __future__ import annotations

import pytest

from mlops_iac.plan.engine import Recording
from mlops_iac.policies import packs
from mlops_iac.spec import gpu
from tests.conftest import platform_raw, reference_recording

PRICES = gpu.node_type_prices()


def _config(stack: str) -> dict:
    platform = platform_raw(stack)
    governance = platform.get("governance", {})
    return packs.pack_config(
        platform["environment"],
        owner=platform.get("owner"),
        approvers=governance.get("approvers", []),
        approvals=governance.get("approvals", []),
        gpu_budget=governance.get("gpuBudgetUsdPerHour"),
        node_type_prices=PRICES,
        enforcement=governance.get("enforcement"),
    )


@pytest.fixture(scope="module", params=["aws-dev", "aws-prod"])
def stack(request) -> tuple[str, Recording]:
    return request.param, reference_recording(request.param)


def test_reference_stack_passes_every_rule(stack) -> None:
    name, recording = stack
    result = packs.evaluate(recording, _config(name))
    assert [(v.policy, v.resource_name, v.message) for v in result.violations] == []
    expected = "mandatory" if name.endswith("prod") else "advisory"
    assert set(result.levels.values()) == {expected}


def test_a_broken_default_in_a_real_stack_is_caught(stack) -> None:
    name, recording = stack
    key = next(r for r in recording.resources if r.type == "aws:kms/key:Key")
    key.inputs["enableKeyRotation"] = False
    try:
        result = packs.evaluate(recording, _config(name))
    finally:
        key.inputs["enableKeyRotation"] = True
    assert [(v.policy, v.urn) for v in result.violations] == [("mlops-kms-rotation", key.urn)]
