"""What ``mlops-iac verify`` shares between clouds: the verdict type, the approval check and what
the stack says should serve."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mlops_iac.cli import OpsError
from mlops_iac.cli.cloudrest import ApiError
from mlops_iac.cli.outputs import Outputs
from mlops_iac.spec import identities
from mlops_iac.spec.models import PlatformSpec


@dataclass(frozen=True)
class Check:
    """One verdict: which rule, on which resource, and why."""

    check: str
    resource: str
    passed: bool
    detail: str


def guard(name: str, resource: str, probe: Callable[[], tuple[bool, str]]) -> Check:
    """Run one probe; an API error (not found, access denied) fails that check only."""
    try:
        passed, detail = probe()
    except ApiError as exc:
        return Check(name, resource, False, str(exc))
    return Check(name, resource, passed, detail)


def need(outputs: Outputs, key: str, why: str) -> str:
    """A string output a check cannot do without; one line naming it and why otherwise."""
    if not outputs.has(key):
        raise OpsError(
            f"outputs file {outputs.path} has no {key!r}: verify needs it {why} "
            "(the platform program exports it; a team program must export it too)"
        )
    return outputs.string(key)


def approval_verdict(spec: PlatformSpec, model: str, version: str) -> tuple[bool, str]:
    """Whether ``model`` v``version`` has an approval the gate would accept, and which."""
    gov = spec.governance
    for approval in gov.approvals:
        if (approval.model, approval.version) != (model, version):
            continue
        # The gate's comparisons: exact to grant, look-alike to refuse (spec.identities).
        if not any(identities.same(approval.approved_by, a) for a in gov.approvers):
            continue
        if identities.impostor(approval.approved_by, gov.approvers) is not None:
            continue
        if spec.owner and identities.looks_alike(approval.approved_by, spec.owner):
            continue
        return True, f"{model} v{version} approved by {approval.approved_by} ({approval.ticket})"
    return False, f"{model} v{version} has no valid approval in the stack file"


def served_versions_approved(
    spec: PlatformSpec, names: Mapping[str, str], live: Mapping[str, float], active: str, where: str
) -> Check:
    """``endpoint-approved-version``: every version taking traffic (else the active one) has its
    approval; ``names`` maps a version to its model name."""
    served = sorted(v for v, pct in live.items() if pct) or [active]
    verdicts = [approval_verdict(spec, names.get(v, "?"), v) for v in served]
    return Check(
        "endpoint-approved-version",
        where,
        all(ok for ok, _ in verdicts),
        "; ".join(text for _, text in verdicts),
    )


def expected_split(spec: PlatformSpec, outputs: Outputs, rollout_declared: bool) -> dict[str, int]:
    """Model version → traffic percent that the stack's last apply declared.

    ``active_model_version`` (the version that takes traffic after the apply, docs/contract.md)
    takes everything, except during a declared rollout, where it takes the rollout share
    (``rollout.canaryPercent`` or ``rollout.linearStepPercent``) and ``previous_model_version``
    the rest. Versions with 0% are left out.
    """
    active = need(outputs, "active_model_version", "to know which version must serve")
    previous = outputs.optional_string("previous_model_version")
    share = 100
    rollout = spec.serving.rollout
    if rollout_declared and previous and not spec.serving.rollback:
        share = {"canary": rollout.canary_percent, "linear": rollout.linear_step_percent}.get(
            rollout.strategy, 100
        )
    split = {active: share}
    if previous and share < 100:
        split[previous] = 100 - share
    return split


def describe_split(split: Mapping[str, int], where: Mapping[str, str] | None = None) -> str:
    """``v7 90% (blue), v6 10% (green)``, largest share first."""
    where = where or {}
    parts = []
    for version, percent in sorted(split.items(), key=lambda item: (-item[1], item[0])):
        place = f" ({where[version]})" if version in where else ""
        parts.append(f"v{version} {percent}%{place}")
    return ", ".join(parts) or "nothing"


def serving_verdict(
    live: Mapping[str, int], expected: Mapping[str, int], where: Mapping[str, str], active: str
) -> tuple[bool, str]:
    """Compare what serves with what the stack declared; the detail names both."""
    live = {version: pct for version, pct in live.items() if pct}
    if dict(live) == dict(expected):
        return True, f"serves {describe_split(live, where)} as the stack declares"
    return False, (
        f"serves {describe_split(live, where)}; the stack's exports say "
        f"{describe_split(expected)} (active_model_version {active})"
    )
