"""From an empty account to the running platform: the bring-up sequence, simulated offline.

``mlops-iac plan --bring-up`` plans a stack the way its first deployments would run:

1. The stack file as written, from nothing (an empty state). If no deploy error says that part
   of it must wait, that is the whole sequence: one ``pulumi up``.
2. Otherwise, step 1 is the stack file with the parts that must wait switched off (each bring-up
   rule names one: a Kubernetes side nobody can reach yet → ``training.kubernetes: deferred``; a
   model nothing can have pushed yet → ``serving.enabled: false``), planned from nothing.
3. Step 2 is the stack file as written, planned against the state step 1 leaves (its resources and
   its outputs, as ``pulumi stack export`` would show them), after what ``bring_up_pending`` says
   to do in between (register the first model version, move to a machine inside the network).

Every step gets the full plan: deploy errors, policy pack, warnings. A step with a deploy error or
a mandatory violation fails the sequence.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_iac.plan import deploy, service
from mlops_iac.plan.deploy.lifecycle.bringup import ARTIFACT_RULE, K8S_RULE
from mlops_iac.plan.deploy.state import ROOT_STACK, StateResource
from mlops_iac.plan.engine import Recording

WAITS: Mapping[str, tuple[str, Any]] = {
    K8S_RULE: ("training.kubernetes", "deferred"),
    ARTIFACT_RULE: ("serving.enabled", False),
}
"""Bring-up rule → the stack-file setting that makes its part wait for the next step."""
SOURCE = "bring-up"
"""The ``source`` of the states the simulation makes (reports show it)."""


@dataclass(frozen=True)
class Step:
    """One ``pulumi up`` of the sequence and its plan."""

    number: int
    overrides: dict[str, Any]
    """Stack-file settings of this step that differ from the file (camelCase paths)."""
    before: tuple[str, ...]
    """What to do before this step (from the previous step's ``bring_up_pending``)."""
    result: service.PlanResult

    @property
    def failed(self) -> bool:
        return self.result.failed


@dataclass(frozen=True)
class BringUp:
    """The sequence, in order; ``failed`` when any step would fail."""

    stack: str
    steps: tuple[Step, ...] = field(default_factory=tuple)
    waiting: tuple[deploy.DeployError, ...] = ()
    """The deploy errors of the stack file as written from an empty account that made step 1
    differ from it (empty for a one-step sequence)."""

    @property
    def failed(self) -> bool:
        return any(step.failed for step in self.steps)


def empty_state(stack: str) -> deploy.SavedState:
    """The state of a stack never deployed: no resources, no outputs."""
    return deploy.SavedState(
        path=Path(f"<{stack}: empty account>"),
        source=SOURCE,
        digest="sha256:" + hashlib.sha256(b"").hexdigest(),
        kind="export",
        resources=(),
        outputs_saved=True,
    )


def state_after(recording: Recording, step: int) -> deploy.SavedState:
    """The state a deployment of ``recording`` leaves: its resources with their inputs and
    outputs, and the root stack resource holding the stack outputs."""
    root = StateResource(
        urn=f"urn:pulumi:{recording.stack}::{recording.project}::{ROOT_STACK}::"
        f"{recording.project}-{recording.stack}",
        type=ROOT_STACK,
        name=f"{recording.project}-{recording.stack}",
        inputs={},
        outputs=dict(recording.exports),
    )
    resources = [root] + [
        StateResource(r.urn, r.type, r.name, dict(r.inputs), dict(r.outputs), protect=r.protect)
        for r in recording.resources
    ]
    body = json.dumps([r.urn for r in resources], sort_keys=True).encode()
    return deploy.SavedState(
        path=Path(f"<{recording.stack}: after step {step}>"),
        source=SOURCE,
        digest="sha256:" + hashlib.sha256(body).hexdigest(),
        kind="export",
        resources=tuple(resources),
        outputs_saved=True,
    )


def export_document(state: deploy.SavedState, time: str = "") -> dict[str, Any]:
    """``state`` as ``pulumi stack export`` prints it (what ``deploy.read_state`` reads back)."""
    resources = [
        {
            "urn": r.urn,
            "type": r.type,
            # Components (``pkg:index:Type``) and the root stack are not custom resources.
            "custom": r.type != ROOT_STACK and not r.type.startswith("mlops:"),
            "inputs": r.inputs,
            "outputs": r.outputs,
            # As Pulumi exports it: present only on a protected resource.
            **({"protect": True} if r.protect else {}),
        }
        for r in state.resources
    ]
    manifest = {"time": time, "magic": "", "version": ""}
    return {"version": 3, "deployment": {"manifest": manifest, "resources": resources}}


def simulate(
    project_dir: Path,
    stack: str,
    config_file: Path | None = None,
    console: Any = None,
    *,
    allow_unknown_regions: bool = False,
) -> BringUp:
    """Plan the bring-up sequence of ``stack`` from an empty account (see the module doc).

    Raises what ``service.plan`` raises (a bad stack file, a failing program).
    """
    empty = empty_state(stack)
    whole = service.plan(
        project_dir,
        stack,
        config_file,
        console,
        state=empty,
        allow_unknown_regions=allow_unknown_regions,
    )
    waiting = tuple(e for e in whole.deploy_errors if e.rule in WAITS)
    waits = dict(WAITS[e.rule] for e in waiting)
    if not waits:
        return BringUp(stack, (Step(1, {}, (), whole),))
    first = service.plan(
        project_dir,
        stack,
        config_file,
        console,
        state=empty,
        overrides=waits,
        allow_unknown_regions=allow_unknown_regions,
    )
    pending = first.recording.exports.get("bring_up_pending") or []
    before = tuple(
        str(item.get("next")) for item in pending if isinstance(item, Mapping) and item.get("next")
    )
    second = service.plan(
        project_dir,
        stack,
        config_file,
        console,
        state=state_after(first.recording, 1),
        allow_unknown_regions=allow_unknown_regions,
    )
    steps = (Step(1, waits, (), first), Step(2, {}, before, second))
    return BringUp(stack, steps, waiting)
