"""``mlops-iac plan``: check a stack offline — no cloud, no credentials, no Pulumi CLI.

Runs the program (this repository's root program or any team program directory) with a stack's
config under the recording mock engine, evaluates the governance policy pack the way
``pulumi preview --policy-pack policies`` would, and prints the resource tree per component, the
violations by level with their remediation, the stack's worst-case GPU $/h and a verdict.

Exit codes: 0 no mandatory violation and no deploy error, 1 at least one (a deploy error, i.e. a
resource the real providers or clouds would refuse, fails the plan in every environment), 2 bad
input (unknown stack, invalid stack file, a program that fails, a state file that cannot be
used). What exists already comes from --state or the stack's saved export; without either, what
the stack's last deployment served is unknown (never taken as a first deployment). This is the
one CLI module that imports ``policies``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from mlops_iac.cli import OpsError, nofollow
from mlops_iac.components.testing import deploy
from mlops_iac.components.testing.engine import (
    SECRET_PLACEHOLDER,
    ProgramError,
    Project,
    RecordedResource,
    Recording,
    batched_gc,
    run_project,
)
from mlops_iac.components.testing.mocks import PREVIOUS_OUTPUTS_KEY
from mlops_iac.policies import governance, packs, report, trust
from mlops_iac.policies.offline import ResultSet
from mlops_iac.spec import gpu, stackyaml
from mlops_iac.spec.errors import SpecError
from mlops_iac.spec.keys import ROOT
from mlops_iac.spec.models import PlatformSpec, TeamGovernance
from mlops_iac.spec.parse import (
    is_team_governance,
    parse_spec,
    parse_team_governance,
    reveal_secure,
)

STACK_TYPE = "pulumi:pulumi:Stack"
NODE_TYPE_PRICES = {o.node_type: o.usd_per_node_hour for o in gpu.CATALOGUE.values()}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``plan`` subcommand."""
    parser = subparsers.add_parser(
        "plan",
        help="check a stack offline against the governance policy pack",
        description=__doc__.split("\n\n")[1],
    )
    parser.add_argument(
        "--stack", "-s", required=True, help="stack name (stacks/Pulumi.<stack>.yaml)"
    )
    parser.add_argument(
        "--project", default=Path("."), type=Path, help="program directory (default: .)"
    )
    parser.add_argument(
        "--config-file", type=Path, help="read the stack config from this file instead"
    )
    parser.add_argument(
        "--json", type=Path, metavar="FILE", help="write the JSON report here ('-': stdout)"
    )
    parser.add_argument("--sarif", type=Path, metavar="FILE", help="write SARIF 2.1.0 here")
    parser.add_argument(
        "--junit", type=Path, metavar="FILE", help="write a JUnit XML report here (CI test view)"
    )
    parser.add_argument(
        "--write-policy-config",
        type=Path,
        metavar="FILE",
        help="write the pack config for `pulumi preview --policy-pack-config FILE`",
    )
    parser.add_argument(
        "--state",
        type=Path,
        metavar="FILE",
        help="what exists already (`pulumi stack export` or a previous --json); default: "
        "<stackConfigDir>/state/<stack>.json when saved there, else unknown (rules that need the "
        "last deployment say so)",
    )
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="no progress and no resource tree (CI logs)"
    )
    parser.add_argument(
        "--no-color", action="store_true", help="plain text output (also when NO_COLOR is set)"
    )
    parser.set_defaults(func=run)


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
    shown = _relative(trusted.source, Path.cwd().resolve()) or str(trusted.source)
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
    checked. A team program without a platform spec has no approvals. Raises ``SpecError`` for an
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
        )

    raw = config.get(ROOT)
    if raw is None:
        return PackSettings(
            environment,
            source,
            packs.pack_config(environment, node_type_prices=NODE_TYPE_PRICES),
        )
    if is_team_governance(raw):
        team = parse_team_governance(reveal_secure(raw))
        reviewed = reviewed_records(team)
        return PackSettings(
            environment,
            source,
            packs.pack_config(
                environment,
                owner=team.owner,
                node_type_prices=NODE_TYPE_PRICES,
                problems=reviewed.problems,
            ),
        )
    spec = parse_spec(reveal_secure(raw))
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
        ),
        tuple(reviewed.waivers),
        note,
        (*secrets, SECRET_PLACEHOLDER),
        warnings,
    )


def _check_waivers(spec: PlatformSpec) -> None:
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
    console: Console | None = None,
    state: deploy.SavedState | None = None,
) -> PlanResult:
    """Run the program offline, check what a deploy would refuse and evaluate the pack.

    ``state``: what exists already (``deploy.read_state``); default: the stack's saved export
    (``Project.read_saved_state``), and without one what its last deployment served is unknown.
    Raises ProgramError (a saved state that cannot be used too) SpecError or trust.TrustError.
    """
    project = Project.load(project_dir)
    if state is None:
        state = project.read_saved_state(stack)
    config = project.read_config(stack, config_file)
    settings = pack_settings(stack, config, project_dir)
    environment, document = settings.environment, settings.document
    status = console.status("Running the program offline…") if console else None
    if status:
        status.start()
    try:
        # The program's reference to its own stack reads the outputs the state saved (over any
        # the stack file claims): what the last deployment served decides the rollout. Without
        # a state they are unknown, never "nothing was deployed".
        extra = {PREVIOUS_OUTPUTS_KEY: deploy.previous_outputs(state)}
        recording = run_project(project_dir, stack, config_file=config_file, extra_config=extra)
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
        warnings=(*settings.warnings, *recording.warnings),
        state=state,
    )


def evaluate_policies(recording: Recording) -> ResultSet:
    """Evaluate the pack over a recording with its own environment (used by benchmarks)."""
    with batched_gc():
        return packs.evaluate(
            recording, packs.pack_config("dev", node_type_prices=NODE_TYPE_PRICES)
        )


def saved_state(project: str | os.PathLike[str], stack: str) -> Path | None:
    """Where the stack's saved export is (``Project.saved_state``: present, even if broken), or
    ``None`` (also without a project)."""
    try:
        return Project.load(project).saved_state(stack)
    except ProgramError:
        return None


def read_state(args: argparse.Namespace) -> deploy.SavedState | None:
    """The state a plan judges by: --state, else the stack's saved export, else ``None``.

    Raises ``deploy.StateError`` or ``ProgramError`` (one line) for a state that cannot be used.
    """
    if args.state is not None:
        return deploy.read_state(args.state, source=deploy.state.OPTION)
    try:
        project = Project.load(args.project)
    except ProgramError:
        return None  # the plan itself says what is wrong with the project
    return project.read_saved_state(args.stack)


def state_summary(state: deploy.SavedState | None) -> dict[str, str] | None:
    """``{file, digest, source}`` of the state a plan judged by (the file repository-relative
    when inside the repository), ``None`` when there was none."""
    if state is None:
        return None
    root = _repository_root()
    return state.as_dict(_relative(state.path, root) or str(state.path))


def run(args: argparse.Namespace) -> int:
    """The ``plan`` command."""
    # https://no-color.org: any non-empty NO_COLOR turns colour off.
    plain = args.no_color or bool(os.environ.get("NO_COLOR"))
    # With --json - the report owns stdout; everything else goes to stderr.
    to_stdout = args.json is not None and str(args.json) == "-"
    style: dict[str, Any] = {"color_system": None} if plain else {}
    out = Console(stderr=to_stdout, highlight=False, soft_wrap=True, **style)
    err = Console(stderr=True, highlight=False, soft_wrap=True, **style)
    if problem := _unwritable(args):
        err.print(f"mlops-iac plan: error: {escape(problem)}")
        return 2
    try:
        state = read_state(args)
    except (ValueError, ProgramError) as exc:
        err.print(f"mlops-iac plan: error: {escape(str(exc))}")
        return 2
    try:
        result = plan(
            args.project, args.stack, args.config_file, None if args.quiet else err, state
        )
    except SpecError as exc:
        keys = _stack_keys(args)
        for path, message in exc.problems:
            found = keys.locate(path) if keys else None
            at = f"{_shown(report.Location(keys.uri, *found))}: " if keys and found else ""
            err.print(f"mlops-iac plan: error: {escape(f'{at}{path}: {message}')}")
        return 2
    except (ProgramError, trust.TrustError) as exc:
        err.print(f"mlops-iac plan: error: {escape(str(exc))}")
        return 2

    locator = _locator(args, result)
    if not args.quiet:
        out.print(render_tree(result.recording))
        out.print()
        if result.state is not None:
            summary = state_summary(result.state) or {}
            out.print(f"State: {escape(summary['file'])} ({summary['digest']})")
        else:
            out.print(
                "State: none saved: what the stack's last deployment served is unknown "
                "(a rule that needs it says so)"
            )
    _print_deploy_errors(out, result.deploy_errors)
    _print_judgement(out, result)
    for warning in result.warnings:
        err.print(f"mlops-iac plan: warning: {escape(warning)}", style="yellow")
    _print_violations(out, result.results, _secrets(result), locator)
    _print_waivers(out, result, locator)
    _print_approvals(out, result)
    _print_gpu(out, result)
    try:
        _write_reports(args, result, locator)
    except (OSError, OpsError) as exc:
        err.print(f"mlops-iac plan: error: cannot write a report: {escape(str(exc))}")
        return 2
    verdict = _verdict(result.results, result.deploy_errors)
    failed = bool(result.results.mandatory or result.deploy_errors)
    out.print(verdict, style="bold red" if failed else "bold green")
    return 1 if failed else 0


def _write_reports(
    args: argparse.Namespace, result: PlanResult, locator: report.Locator | None = None
) -> None:
    stack = args.stack
    locator = locator or _locator(args, result)
    suppressed = [(i.violation, i.justification, i.key_path) for i in result.suppressed]
    if args.json:
        document = report.to_json(
            result.results,
            stack=stack,
            project=result.recording.project,
            environment=result.environment,
            recording=result.recording,
            suppressed=suppressed,
            locator=locator,
        )
        report.add_deploy_errors(document, result.deploy_errors, result.deploy_skipped)
        document["environmentSource"] = result.environment_source
        document["maxGpuUsdPerHour"] = result.gpu_usd_per_hour
        document["exports"] = report.redacted_exports(result.recording)
        document["warnings"] = list(result.warnings)
        document["approvals"] = approvals_report(result)
        document["state"] = state_summary(result.state)
        _write(args.json, report.scrub(document, _secrets(result)))
    if args.sarif:
        sarif = report.to_sarif(
            result.results,
            stack=stack,
            artifact_uri=locator.stack_uri,
            suppressed=suppressed,
            locations=locator.declared,
            key_lines=locator.keys,
        )
        report.add_deploy_errors_sarif(
            sarif, result.deploy_errors, artifact_uri=locator.stack_uri, locations=locator.declared
        )
        # §3.8: a run's property bag; which state (file and digest) the verdict rests on.
        sarif["runs"][0].setdefault("properties", {})["state"] = state_summary(result.state)
        _write(args.sarif, report.scrub(sarif, _secrets(result)))
    if getattr(args, "junit", None):
        xml = report.to_junit(result.results, stack=stack, suppressed=suppressed, locator=locator)
        nofollow.write_atomic(args.junit, (report.scrub(xml, _secrets(result)) + "\n").encode())
    if args.write_policy_config:
        _write(args.write_policy_config, result.pack_config)


@dataclass(frozen=True)
class _StackKeys(stackyaml.KeyLines):
    """A stack file's key positions and its repository-relative URI."""

    uri: str = ""


def _stack_keys(args: argparse.Namespace) -> _StackKeys | None:
    """The key positions of the stack file this plan read (``None`` if it cannot be read)."""
    try:
        project = Project.load(args.project)
        source = Path(args.config_file or project.stack_file(args.stack))
        keys = stackyaml.key_lines(source.read_bytes(), project.name)
    except (ProgramError, OSError):
        return None
    root = _repository_root()
    uri = _relative(source, root) or os.path.relpath(source.resolve(), root)
    return _StackKeys(keys.positions, uri.replace(os.sep, "/"))


def _locator(args: argparse.Namespace, result: PlanResult) -> report.Locator:
    """Where this plan's findings point: stack-file keys, declaring lines, the stack file."""
    keys = _stack_keys(args)
    root = _repository_root()
    uri = keys.uri if keys else report.stack_file(args.stack)
    return report.Locator(uri, keys or stackyaml.KeyLines(), _declared_at(result.recording, root))


def _shown(location: report.Location) -> str:
    """``file:line[:column]`` as the console shows it: the file relative to where the user is
    (reports keep repository-relative URIs)."""
    path = (_repository_root() / location.uri).resolve()
    shown = os.path.relpath(path, Path.cwd()) if path.exists() else location.uri
    if shown.startswith(".."):  # outside the working directory: absolute reads better
        shown = str(path)
    return str(dataclasses.replace(location, uri=shown.replace(os.sep, "/")))


def _repository_root() -> Path:
    """The enclosing git work tree of the working directory (SARIF URIs are relative to it)."""
    here = Path.cwd().resolve()
    for directory in (here, *here.parents):
        if (directory / ".git").exists():
            return directory
    return here


def _relative(path: str | Path, root: Path) -> str | None:
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return None


def _declared_at(recording: Recording, root: Path) -> dict[str, tuple[str, int]]:
    """URN -> (repository-relative file, line) of the code that declared each resource.

    From the SDK's source positions; a resource declared outside the repository (an installed
    library) points at its nearest ancestor declared inside it, else at the stack file.
    """
    own: dict[str, tuple[str, int]] = {}
    for resource in recording:
        source = getattr(resource, "source", None)
        if source and (relative := _relative(source[0], root)) is not None:
            own[resource.urn] = (relative, source[1])
    parents = {r.urn: r.parent for r in recording}
    found: dict[str, tuple[str, int]] = {}
    for urn in parents:
        at: str | None = urn
        while at is not None and at not in own:
            at = parents.get(at)
        if at is not None:
            found[urn] = own[at]
    return found


def _secrets(result: PlanResult) -> set[str]:
    return report.secret_values(result.recording, result.secrets)


def _unwritable(args: argparse.Namespace) -> str | None:
    """Why an output file cannot be written, checked before the program runs."""
    for option in ("json", "sarif", "junit", "write_policy_config"):
        path: Path | None = getattr(args, option)
        if path is None or (option == "json" and str(path) == "-"):
            continue
        flag = "--" + option.replace("_", "-")
        if path.is_symlink() or path.parent.is_symlink():
            return f"{flag} {path} is (or is in) a symbolic link; refusing to write through it"
        if path.is_dir():
            return f"{flag} {path} is a directory"
        if not path.parent.is_dir():
            return f"{flag} {path}: directory {path.parent} does not exist"
    return None


def _write(path: Path, document: Mapping[str, Any]) -> None:
    text = json.dumps(document, indent=2, sort_keys=True, default=str) + "\n"
    if str(path) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    nofollow.write_atomic(path, text.encode())


def _verdict(results: ResultSet, deploy_errors: tuple[deploy.DeployError, ...] = ()) -> str:
    mandatory, advisory = len(results.mandatory), len(results.advisory)
    if deploy_errors:
        return (
            f"FAIL: {len(deploy_errors)} deploy error(s) (the deploy would fail), {mandatory} "
            f"mandatory and {advisory} advisory violation(s) "
            f"over {results.resource_count} resources"
        )
    if mandatory:
        return (
            f"FAIL: {mandatory} mandatory and {advisory} advisory violation(s) "
            f"over {results.resource_count} resources"
        )
    return f"PASS: no mandatory violation, {advisory} advisory, {results.resource_count} resources"


def _print_deploy_errors(console: Console, errors: tuple[deploy.DeployError, ...]) -> None:
    """Under their own heading: not a governance opinion, the providers would refuse these."""
    if not errors:
        return
    console.print(f"Deploy errors: {len(errors)} (the real deploy would fail)", style="bold red")
    for e in sorted(errors, key=lambda e: (e.resource_name, e.input, e.rule)):
        console.print(f"  {escape(e.resource_name)} ({escape(e.resource_type)})", style="bold")
        console.print(f"    input:  {escape(e.input or '(the resource itself)')}")
        console.print(f"    value:  {escape(json.dumps(e.value, default=str))}")
        console.print(f"    rule:   {escape(e.rule)}: {escape(e.message)}")
        console.print(f"    source: {escape(e.source)}")
    console.print()


def _print_violations(
    console: Console,
    results: ResultSet,
    secrets: Collection[str] = (),
    locator: report.Locator | None = None,
) -> None:
    # A list, not a table: CI logs are narrow and a wrapped remediation is unreadable in a grid.
    for level, violations in (("mandatory", results.mandatory), ("advisory", results.advisory)):
        if not violations:
            continue
        style = "bold red" if level == "mandatory" else "bold yellow"
        console.print(f"{len(violations)} {level} violation(s)", style=style)
        for v in sorted(violations, key=lambda v: (v.policy, v.resource_name)):
            resource = f"{v.resource_name} ({v.resource_type})" if v.urn else "(stack)"
            console.print(f"  {v.policy}: {escape(resource)}", style="bold")
            console.print(f"    problem: {escape(report.scrub(v.message, secrets))}")
            if locator is not None:
                console.print(f"    at:      {escape(_shown(locator.primary(v)))}")
            console.print(f"    fix:     {escape(v.remediation)}")
        console.print()


def _print_judgement(console: Console, result: PlanResult) -> None:
    """Which environment the plan judged by and why: levels depend on it."""
    line = f"Environment: {result.environment} (from {result.environment_source})"
    if result.enforcement_note:
        line += f"; {result.enforcement_note}"
    console.print(escape(line))


def _print_waivers(
    console: Console, result: PlanResult, locator: report.Locator | None = None
) -> None:
    if result.suppressed:
        console.print(f"{len(result.suppressed)} suppressed by a waiver", style="bold cyan")
        for item in sorted(result.suppressed, key=lambda i: (i.violation.policy, i.violation.urn)):
            v = item.violation
            resource = f"{v.resource_name} ({v.resource_type})" if v.urn else "(stack)"
            console.print(f"  {v.policy}: {escape(resource)}", style="bold")
            console.print(f"    problem: {escape(v.message)}")
            console.print(f"    waiver:  {escape(item.justification)}")
            if locator is not None and (where := locator.key(item.key_path)) is not None:
                console.print(f"    at:      {escape(_shown(where))}")
        console.print()
    for waiver in result.waivers:
        if not waiver.active:
            record = waiver.record
            where = locator.key(waiver.key_path) if locator else None
            console.print(
                escape(
                    f"waiver of {record.get('rule')} for {record.get('resource')} "
                    f"not applied: {waiver.status}" + (f" ({_shown(where)})" if where else "")
                ),
                style="yellow",
            )


def approvals_report(result: PlanResult) -> list[dict[str, Any]]:
    """The recorded approvals as the gate judged their records: each with its key path, signature
    status, date status and ``verifiedBy`` (principal, key, signers file and its digest)."""
    gate = result.pack_config.get("mlops-approval-gate", {})
    fields = ("model", "version", "approvedBy", "ticket", "approvedAt", "keyPath")
    return [
        {
            **{key: approval.get(key) for key in fields},
            "signatureStatus": approval.get("signatureStatus"),
            "dateStatus": approval.get("dateStatus"),
            "verifiedBy": approval.get("verifiedBy"),
        }
        for approval in gate.get("approvals", ())
    ]


def _print_approvals(console: Console, result: PlanResult) -> None:
    # One line per verified approval: which trusted file and key vouched for it.
    for approval in approvals_report(result):
        by = approval["verifiedBy"]
        if by:
            console.print(
                escape(
                    f"approval of {approval['model']} v{approval['version']} by "
                    f"{approval['approvedBy']}: signature verified with key {by['key']} for "
                    f"{by['principal']} in {by['signersFile']} ({by['signersDigest']})"
                )
            )


def _print_gpu(console: Console, result: PlanResult) -> None:
    line = f"Max GPU spend: ${result.gpu_usd_per_hour:,.2f}/h with every GPU pool at max size"
    if result.unpriced_pools:
        line += f" (unpriced pools: {', '.join(result.unpriced_pools)})"
    console.print(escape(line))


def render_tree(recording: Recording) -> str:
    """The resources grouped under their top-level components, with counts per type."""
    # Children indexed by parent once: ``Recording.children``/``descendants`` scan every resource
    # per call, which made the tree quadratic in the number of components (50 teams: 0.16 s).
    children: dict[str | None, list[RecordedResource]] = {}
    for resource in recording:
        children.setdefault(resource.parent, []).append(resource)
    lines = [f"Stack {recording.project}/{recording.stack}: {len(recording)} resources"]
    roots = [r for r in recording if r.parent and r.parent.split("::")[2] == STACK_TYPE]
    for root in sorted(roots, key=lambda r: (r.custom, r.name)):
        lines.extend(_subtree(children, root, 1))
    return escape("\n".join(lines))


def _subtree(
    children_of: Mapping[str | None, list[RecordedResource]], node: RecordedResource, depth: int
) -> list[str]:
    pad = "  " * depth
    if node.custom:
        return [f"{pad}{node.type} {node.name}"]
    children = children_of.get(node.urn, [])
    counts = Counter(c.type for c in children if c.custom)
    lines = [f"{pad}{node.type} {node.name} ({_descendant_count(children_of, node.urn)} resources)"]
    for component in sorted((c for c in children if not c.custom), key=lambda c: c.name):
        lines.extend(_subtree(children_of, component, depth + 1))
    for type_token, count in sorted(counts.items()):
        lines.append(f"{pad}  {count} × {type_token}")
    return lines


def _descendant_count(children_of: Mapping[str | None, list[RecordedResource]], urn: str) -> int:
    return sum(1 + _descendant_count(children_of, c.urn) for c in children_of.get(urn, ()))
