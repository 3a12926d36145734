"""Minimal programs, one per defect class: each is what the engine must refuse (and its fix)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlops_iac.plan import deploy
from mlops_iac.plan.deploy.catalogue import StateResource
from mlops_iac.plan.testing import Recording, run


def rules_of(
    program: Callable[[], Any],
    config: dict[str, Any] | None = None,
    state: list[StateResource] | None = None,
) -> set[str]:
    """The rule ids of the deploy errors of one program's first deploy (or on ``state``)."""
    recording = run(program, config={"mlops-iac:today": "2026-11-28", **(config or {})})
    return {e.rule for e in recording.deploy_errors(state)}


def recorded(program: Callable[[], Any], config: dict[str, Any] | None = None) -> Recording:
    return run(program, config={"mlops-iac:today": "2026-11-28", **(config or {})})


def as_state(recording: Recording) -> list[StateResource]:
    """A recording as the state a later update starts from (inputs and outputs of each)."""
    return [
        StateResource(r.urn, r.type, r.name, dict(r.inputs), dict(r.outputs))
        for r in recording
        if r.custom
    ]


__all__ = ["as_state", "deploy", "recorded", "rules_of"]
