"""One offline plan of a stack: what ``mlops-iac plan`` computes, without printing it.

``plan`` runs the program (this repository's root program or a team program directory) with a
stack's config under the recording mock engine, checks what the real deploy would refuse, and
evaluates the governance policy pack by the trusted environment the way ``pulumi preview
--policy-pack policies`` would. ``mlops_iac.cli.plan`` parses the arguments, prints the result and
writes the reports; this module imports neither the CLI nor ``rich``.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mlops_iac.plan import changes, cost, deploy, preconditions
from mlops_iac.plan.engine import (
    SECRET_PLACEHOLDER,
    ProgramError,
    Project,
    Recording,
    batched_gc,
    run_project,
)
from mlops_iac.plan.mocks import LIVE_RESOURCES_KEY, PREVIOUS_OUTPUTS_KEY
from mlops_iac.policies import governance, packs, trust
from mlops_iac.policies.offline import ResultSet
from mlops_iac.spec import gpu, machine_types, regions
from mlops_iac.spec.errors import SpecError
from mlops_iac.spec.keys import ROOT
from mlops_iac.spec.models import PlatformSpec, TeamGovernance
from mlops_iac.spec.parse import (
    is_team_governance,
    parse_spec,
    parse_team_governance,
    reveal_secure,
)


class Progress(Protocol):
    """Where a plan shows its progress (a ``rich.console.Console``; this module prints nothing)."""

    def status(self, status: str) -> Any:
        """A status display with ``start()``, ``update(status)`` and ``stop()``."""


NODE_TYPE_PRICES = gpu.node_type_prices()


@dataclass(frozen=True)
class PlanResult:
    """Everything one plan produced."""

    recording: Recording
    results: ResultSet
    environment: str
    gpu_usd_per_hour: float
    unpriced_pools: tuple[str, ...]
    pack_config: dict[str, dict[str, Any]]
    deploy_errors: tuple[deploy.DeployError, ...] = ()
    """What the real deploy would refuse (nothing exists yet unless a state was read)."""
    deploy_skipped: tuple[str, ...] = ()
    """Constraints the catalogue could not apply, with the reason (never silently dropped)."""
    environment_source: str = "the strict fallback (prod)"
    """Where the judged environment came from (the trusted settings file and its digest)."""
    suppressed: tuple[governance.Suppressed, ...] = ()
    waivers: tuple[governance.Waiver, ...] = ()
    enforcement_note: str | None = None
    secrets: tuple[str, ...] = ()
    """Secret values known from the stack file, scrubbed from every report."""
    warnings: tuple[str, ...] = ()
    state: deploy.SavedState | None = None
    """The state the plan judged by (``None``: none saved, what exists is unknown)."""
    preconditions: tuple[preconditions.Precondition, ...] = ()
    """What the account must provide before the deploy (``mlops-iac preflight`` checks them)."""
    changes: changes.Diff | None = None
    """What the deploy would change against ``state`` (``None`` without a state)."""
    cost: cost.Estimate | None = None
    """The monthly estimate of what the stack runs always (``plan/data/prices.json``)."""

    @property
    def failed(self) -> bool:
        """A deploy error or a mandatory violation: the plan's exit code is 1."""
        return bool(self.deploy_errors or self.results.mandatory)


@dataclass(frozen=True)
class PackSettings:
    """The environment a plan judges by, why, and the pack config built from the stack file."""

    environment: str
    source: str
    document: dict[str, dict[str, Any]]
    waivers: tuple[governance.Waiver, ...] = ()
    enforcement_note: str | None = None
    secrets: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


WEBHOOK_KEY = f"{ROOT}.monitoring.webhookUrl"


def _plain_text_secrets(raw: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(secret values, warnings) for secrets written in plain text in the stack file."""
    monitoring = raw.get("monitoring") if isinstance(raw, Mapping) else None
    webhook = monitoring.get("webhookUrl") if isinstance(monitoring, Mapping) else None
    if isinstance(webhook, str) and webhook:
        return (webhook,), (
            f"{WEBHOOK_KEY} is plain text in the stack file: anyone who can read the repository "
            "can post to the channel; store it encrypted with `pulumi config set --secret "
            f"--path '{WEBHOOK_KEY}' URL`",
        )
    return (), ()


def judged_environment(stack: str, trusted: trust.TrustedSettings) -> tuple[str, str]:
    """``(environment, where it came from)`` for a stack: the trusted settings only.

    The source names the settings file and its digest, so a report says which version of
    ``governance/settings.yaml`` judged it.
    """
    environment, why = trusted.environment(stack)
    if trusted.source is None:
        return environment, why
    shown = relative(trusted.source, Path.cwd().resolve()) or str(trusted.source)
    if stack in trusted.environments:
        return environment, f"{shown} ({stack}: {environment}), {trusted.digest}"
    return environment, f"{why}; not listed in {shown}, {trusted.digest}"


def pack_settings(
    stack: str, config: Mapping[str, Any], project_dir: Path | str = "."
) -> PackSettings:
    """The environment and policy pack config of a stack.

    The environment is the trusted one (``policies.trust``: ``governance/settings.yaml`` in
    ``project_dir``, else the stack name's suffix, else prod) whatever the stack file says; a
    stack file claiming a lower one fails ``mlops-governance-records``. Signed records are
    reviewed first (``mlops_iac.policies.governance``): approvals get their signature status, a
    lowered enforcement level holds only with a verified four-eyes approval, and waivers are
    checked, in a team stack file (no serving) as in a platform one. Raises ``SpecError`` for an
    invalid spec (a waiver of an unknown rule or with an unbounded pattern included) and
    ``trust.TrustError`` for unreadable trusted settings.
    """
    trusted = trust.load(project_dir)
    environment, source = judged_environment(stack, trusted)
    allowed = packs.allowed_signers_path(project_dir)

    def reviewed_records(platform: PlatformSpec | TeamGovernance) -> governance.Review:
        return governance.review(
            platform,
            allowed,
            stack=stack,
            environment=environment,
            environment_source=source,
            settings=trusted,
            project_dir=Path(project_dir),
        )

    raw = config.get(ROOT)
    if raw is None:
        return PackSettings(
            environment,
            source,
            packs.pack_config(environment, node_type_prices=NODE_TYPE_PRICES),
        )
    # A team stack file (no serving) carries the same governance records as a platform one.
    spec: PlatformSpec | TeamGovernance = (
        parse_team_governance(reveal_secure(raw))
        if is_team_governance(raw)
        else parse_spec(reveal_secure(raw))
    )
    _check_waivers(spec)
    secrets, warnings = _plain_text_secrets(raw)
    reviewed = reviewed_records(spec)
    note = None
    if spec.governance.enforcement is not None:
        note = f"governance.enforcement: {spec.governance.enforcement}"
        if spec.governance.enforcement != reviewed.enforcement:
            note += " refused (see mlops-governance-records)"
        elif spec.governance.enforcement_approval is not None:
            approval = spec.governance.enforcement_approval
            note += f", approved by {approval.approved_by} ({approval.ticket})"
    return PackSettings(
        environment,
        source,
        packs.pack_config(
            environment,
            owner=spec.owner,
            approvers=spec.governance.approvers,
            approvals=reviewed.approvals,
            gpu_budget=spec.governance.gpu_budget_usd_per_hour,
            node_type_prices=NODE_TYPE_PRICES,
            enforcement=reviewed.enforcement,
            problems=reviewed.problems,
            monthly_budget=spec.governance.monthly_budget_usd,
        ),
        tuple(reviewed.waivers),
        note,
        (*secrets, SECRET_PLACEHOLDER),
        warnings,
    )


def _check_waivers(spec: PlatformSpec | TeamGovernance) -> None:
    """``SpecError`` for waivers no review could apply: an unknown rule id (a typo would pass
    silently as a waiver of nothing) or a resource pattern that is not bounded."""
    from mlops_iac.policies.rules import BY_NAME

    problems: list[tuple[str, str]] = []
    for index, waiver in enumerate(spec.governance.waivers):
        at = f"{ROOT}.governance.waivers[{index}]"
        if waiver.rule not in BY_NAME:
            problems.append(
                (f"{at}.rule", f"unknown rule {waiver.rule!r} (see `mlops-iac policies`)")
            )
        if problem := governance.pattern_problem(waiver.resource):
            problems.append((f"{at}.resource", problem))
    if problems:
        raise SpecError(problems)


def pack_config_for(
    stack: str, config: Mapping[str, Any], project_dir: Path | str = "."
) -> tuple[str, dict]:
    """``(environment, pack config)`` of a stack (see ``pack_settings``)."""
    settings = pack_settings(stack, config, project_dir)
    return settings.environment, settings.document


def plan(
    project_dir: Path,
    stack: str,
    config_file: Path | None = None,
    console: Progress | None = None,
    state: deploy.SavedState | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    allow_unknown_regions: bool = False,
) -> PlanResult:
    """Run the program offline, check what a deploy would refuse and evaluate the pack.

    ``state``: what exists already (``deploy.read_state``); default: the stack's saved export
    (``Project.read_saved_state``), and without one what its last deployment served is unknown.
    ``overrides``: platform spec values that replace the stack file's for this run, by camelCase
    path (``{"serving.enabled": False}``: a bring-up step).
    A region no list knows (``spec.regions``) is a SpecError, or a warning with
    ``allow_unknown_regions``; a misspelled region key is always an error.
    Raises ProgramError (a saved state that cannot be used too) SpecError or trust.TrustError.
    """
    project = Project.load(project_dir)
    if state is None:
        state = project.read_saved_state(stack)
    config = project.read_config(stack, config_file)
    replaced = {ROOT: with_overrides(config.get(ROOT), overrides)} if overrides else {}
    config.update(replaced)
    unknown = regions.unknown_regions(config)
    problems = regions.misspelled_keys(config) + _instance_type_problems(config.get(ROOT))
    if problems or (unknown and not allow_unknown_regions):
        raise SpecError(problems + unknown)
    settings = pack_settings(stack, config, project_dir)
    environment, document = settings.environment, settings.document
    status = console.status("Running the program offline…") if console else None
    if status:
        status.start()
    try:
        # The program's reference to its own stack reads the outputs the state saved (over any
        # the stack file claims): what the last deployment served decides the rollout. Without
        # a state they are unknown, never "nothing was deployed".
        # Reads of live resources (the rollout record) answer from the same state.
        extra = {
            PREVIOUS_OUTPUTS_KEY: deploy.previous_outputs(state),
            LIVE_RESOURCES_KEY: deploy.live_resources(state),
            **replaced,
        }
        recording = run_project(project_dir, stack, config_file=config_file, extra_config=extra)
        # The monthly budget rule judges the estimate from the price table (plan/data).
        estimate = cost.estimate(recording.resources)
        document["mlops-cost-monthly-budget"]["estimatedUsdPerMonth"] = estimate.usd_per_month
        if status:
            status.update(f"Evaluating the policy pack over {len(recording)} resources…")
        # A GC batch of its own freezes the recording: the pack's proxies would otherwise
        # trigger full collections that walk every recorded resource again and again.
        with batched_gc():
            results = packs.evaluate(recording, document, environment=environment)
    finally:
        if status:
            status.stop()
    results, suppressed = governance.apply_waivers(results, settings.waivers)
    spend = packs.gpu_spend(recording, NODE_TYPE_PRICES)
    checked = deploy.Report()
    errors = tuple(recording.deploy_errors(list(state.resources) if state else None, checked))
    diff = None
    if state is not None:
        diff = changes.diff(recording.resources, state.resources, repository_root())
        errors += tuple(diff.deploy_errors())
    skipped = tuple(sorted({f"{s.where}: {s.reason}" for s in checked.skipped}))
    return PlanResult(
        recording=recording,
        results=results,
        environment=environment,
        gpu_usd_per_hour=spend.usd_per_hour,
        unpriced_pools=tuple(p.node_type for p in spend.unpriced),
        pack_config=document,
        deploy_errors=errors,
        deploy_skipped=skipped,
        environment_source=settings.source,
        suppressed=tuple(suppressed),
        waivers=settings.waivers,
        enforcement_note=settings.enforcement_note,
        secrets=settings.secrets,
        # The program's own warnings too (why a rollout has no rollback target yet, a secure
        # default turned off...): what `pulumi preview` would print.
        warnings=(
            *project.notes(stack, config_file),
            *(f"{key}: {message}" for key, message in unknown),
            *settings.warnings,
            *recording.warnings,
            *(diff.warnings() if diff else ()),
        ),
        state=state,
        preconditions=tuple(preconditions.derive(recording.resources, recording.config)),
        changes=diff,
        cost=estimate,
    )


def _instance_type_problems(platform: Any) -> list[tuple[str, str]]:
    """A serving instance type the cloud does not offer, caught before the program runs (the
    deploy catalogue would also refuse it, but only as a deploy error of a resource)."""
    serving = platform.get("serving") if isinstance(platform, Mapping) else None
    value = serving.get("instanceType") if isinstance(serving, Mapping) else None
    if not isinstance(value, str):
        return []
    cloud = platform.get("cloud")
    if cloud == "aws":
        from mlops_iac.plan.deploy import aws

        message = aws.enum_problem(aws.SERVING_INSTANCE_TYPE, value)
    else:
        message = machine_types.serving_problem(str(cloud), value)
    return [(f"{ROOT}.serving.instanceType", message)] if message else []


def evaluate_policies(recording: Recording) -> ResultSet:
    """Evaluate the pack over a recording with its own environment (used by benchmarks)."""
    with batched_gc():
        return packs.evaluate(
            recording, packs.pack_config("dev", node_type_prices=NODE_TYPE_PRICES)
        )


def with_overrides(platform: Any, overrides: Mapping[str, Any] | None) -> Any:
    """A copy of the stack file's platform mapping with ``overrides`` (camelCase dotted paths)
    set; a platform that is not a mapping is returned as is (the spec check reports it)."""
    if not isinstance(platform, Mapping) or not overrides:
        return platform
    result = copy.deepcopy(dict(platform))
    for path, value in overrides.items():
        *parents, leaf = path.split(".")
        node = result
        for part in parents:
            child = node.get(part)
            node[part] = child = dict(child) if isinstance(child, Mapping) else {}
            node = child
        node[leaf] = value
    return result


def saved_state(project: str | os.PathLike[str], stack: str) -> Path | None:
    """Where the stack's saved export is (``Project.saved_state``: present, even if broken), or
    ``None`` (also without a project)."""
    try:
        return Project.load(project).saved_state(stack)
    except ProgramError:
        return None


def state_summary(state: deploy.SavedState | None) -> dict[str, str] | None:
    """``{file, digest, source}`` of the state a plan judged by (the file repository-relative
    when inside the repository), ``None`` when there was none."""
    if state is None:
        return None
    root = repository_root()
    return state.as_dict(relative(state.path, root) or str(state.path))


def approvals_report(result: PlanResult) -> list[dict[str, Any]]:
    """The recorded approvals as the gate judged their records: each with its key path, signature
    status, date status, ``verifiedBy`` (principal, key, signers file and its digest) and whether
    it binds what is served (``bindingStatus``, with ``bindingProblems`` when it does not)."""
    gate = result.pack_config.get("mlops-approval-gate", {})
    fields = ("model", "version", "approvedBy", "ticket", "approvedAt", "keyPath")
    return [
        {
            **{key: approval.get(key) for key in fields},
            "signatureStatus": approval.get("signatureStatus"),
            "dateStatus": approval.get("dateStatus"),
            "verifiedBy": approval.get("verifiedBy"),
            "bindingStatus": approval.get("binding", "not-required"),
            "bindingProblems": approval.get("bindingStatus"),
        }
        for approval in gate.get("approvals", ())
    ]


def repository_root() -> Path:
    """The enclosing git work tree of the working directory (SARIF URIs are relative to it)."""
    here = Path.cwd().resolve()
    for directory in (here, *here.parents):
        if (directory / ".git").exists():
            return directory
    return here


def relative(path: str | Path, root: Path) -> str | None:
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return None
