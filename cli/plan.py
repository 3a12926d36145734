"""``mlops-iac plan``: check a stack offline — no cloud, no credentials, no Pulumi CLI.

Runs the Pulumi program of --project (the platform program or a team's own) with a stack's config
under the recording mock engine, evaluates the governance policy pack the way ``pulumi preview
--policy-pack DIR`` would, and prints the resource tree per component, what the deploy would change
against the saved state, the violations by level with their remediation, the stack's worst-case GPU
$/h, its always-on monthly estimate and a verdict.

Exit codes: 0 no mandatory violation and no deploy error, 1 at least one (a deploy error, i.e. a
resource the real providers or clouds would refuse, fails the plan in every environment; with
--baseline, an advisory finding the baseline does not list fails it too), 2 bad input (unknown
stack, invalid stack file, a misspelled region or instance type, a program that fails, a state file
that cannot be used). What exists already comes from --state or the stack's saved export; without
either, what the stack's last deployment served is unknown (never taken as a first deployment).

The plan itself is ``mlops_iac.plan.service``; this module parses the arguments, prints the
result and writes the reports.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from mlops_iac.cli import (
    NO_COLOR_HELP,
    OpsError,
    add_stack_arguments,
    describe,
    nofollow,
    plain,
)
from mlops_iac.plan import baseline, bringup, changes, cost, deploy, service
from mlops_iac.plan.engine import ProgramError, Project, RecordedResource, Recording
from mlops_iac.policies import report, trust
from mlops_iac.policies.governance import UNWAIVABLE
from mlops_iac.policies.offline import ResultSet
from mlops_iac.spec import stackyaml
from mlops_iac.spec.errors import SpecError

STACK_TYPE = "pulumi:pulumi:Stack"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``plan`` subcommand."""
    parser = subparsers.add_parser(
        "plan",
        help="check a stack offline against the governance policy pack",
        description=describe("\n\n".join(__doc__.split("\n\n")[:3])),
    )
    add_stack_arguments(parser)
    parser.add_argument(
        "--config-file",
        type=Path,
        metavar="FILE",
        help="read the stack config from this file instead",
    )
    parser.add_argument(
        "--json",
        type=Path,
        nargs="?",
        const=Path("-"),
        metavar="F",
        help="write the JSON report to F; without F (or F is -) to stdout, and the console "
        "output to stderr",
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
        "--baseline",
        type=Path,
        metavar="FILE",
        help="advisory findings listed in FILE (from --write-baseline) are baselined: the plan "
        "fails on new advisory findings only; mandatory findings are never baselined",
    )
    parser.add_argument(
        "--write-baseline",
        type=Path,
        metavar="FILE",
        help="write this plan's advisory findings as a baseline to FILE",
    )
    parser.add_argument(
        "--bring-up",
        action="store_true",
        help="plan the sequence of `pulumi up` runs that takes an empty account to this stack, "
        "each step against the state the previous one leaves (--json only)",
    )
    parser.add_argument(
        "--allow-unknown-region",
        action="store_true",
        help="a region the installed lists do not know (a brand-new one) is a warning, not an "
        "error",
    )
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="no progress and no resource tree (CI logs)"
    )
    parser.add_argument("--no-color", action="store_true", help=NO_COLOR_HELP)
    parser.set_defaults(func=run)


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


def run(args: argparse.Namespace) -> int:
    """The ``plan`` command."""
    # With --json - the report owns stdout; everything else goes to stderr.
    to_stdout = args.json is not None and str(args.json) == "-"
    style: dict[str, Any] = {"color_system": None} if plain(args) else {}
    out = Console(stderr=to_stdout, highlight=False, soft_wrap=True, **style)
    err = Console(stderr=True, highlight=False, soft_wrap=True, **style)
    if problem := _unwritable(args) or _bring_up_conflict(args):
        err.print(f"mlops-iac plan: error: {escape(problem)}")
        return 2
    if args.bring_up:
        return _run_bring_up(args, out, err)
    try:
        state = read_state(args)
        accepted = baseline.read(args.baseline) if getattr(args, "baseline", None) else None
    except (ValueError, ProgramError) as exc:
        err.print(f"mlops-iac plan: error: {escape(str(exc))}")
        return 2
    try:
        result = service.plan(
            args.project,
            args.stack,
            args.config_file,
            None if args.quiet else err,
            state,
            allow_unknown_regions=args.allow_unknown_region,
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
            summary = service.state_summary(result.state) or {}
            out.print(f"State: {escape(summary['file'])} ({summary['digest']})")
        else:
            out.print(
                "State: none saved: what the stack's last deployment served is unknown "
                "(a rule that needs it says so)"
            )
    if result.changes is not None:
        lines = changes.summary_lines(result.changes)
        for line in lines[:1] if args.quiet else lines:
            out.print(escape(line))
        out.print()
    _print_deploy_errors(out, result.deploy_errors)
    _print_judgement(out, result)
    for warning in result.warnings:
        err.print(f"mlops-iac plan: warning: {escape(warning)}", style="yellow")
    _print_violations(out, result.results, _secrets(result), locator)
    _print_waivers(out, result, locator)
    _print_approvals(out, result)
    _print_gpu(out, result)
    if result.cost is not None:
        for line in cost.summary_lines(result.cost):
            out.print(escape(line))
    _print_tracking(out, result)
    _print_rollout(out, result)
    if not args.quiet:
        _print_preconditions(out, result, args.stack)
    applied = baseline.apply(accepted, result.results, UNWAIVABLE) if accepted else None
    if applied is not None:
        _print_baseline(out, applied)
    try:
        _write_reports(args, result, locator, applied)
    except (OSError, OpsError) as exc:
        err.print(f"mlops-iac plan: error: cannot write a report: {escape(str(exc))}")
        return 2
    verdict = _verdict(result.results, result.deploy_errors)
    failed = result.failed or bool(applied and applied.failed)
    if applied is not None and applied.failed and not result.failed:
        verdict = (
            f"FAIL: {len(applied.new)} new advisory finding(s) not in the baseline "
            f"({len(applied.baselined)} baselined), {result.results.resource_count} resources"
        )
    out.print(verdict, style="bold red" if failed else "bold green")
    return 1 if failed else 0


def _print_baseline(console: Console, applied: baseline.Applied) -> None:
    """How many advisory findings the baseline held, and the new ones."""
    console.print(
        f"Baseline: {len(applied.baselined)} advisory finding(s) baselined, {len(applied.new)} new",
        style="bold red" if applied.failed else "bold",
    )
    for message in applied.ignored:
        console.print(f"  {escape(message)}", style="yellow")
    for v in sorted(applied.new, key=lambda v: (v.policy, v.resource_name)):
        resource = f"{v.resource_name} ({v.resource_type})" if v.urn else "(stack)"
        console.print(f"  new: {v.policy}: {escape(resource)}: {escape(v.message)}")


def _bring_up_conflict(args: argparse.Namespace) -> str | None:
    """Options --bring-up cannot honour (it starts from an empty account, writes JSON only)."""
    if not getattr(args, "bring_up", False):
        return None
    options = ("state", "sarif", "junit", "baseline", "write_baseline")
    taken = [f"--{o.replace('_', '-')}" for o in options if getattr(args, o, None)]
    if args.write_policy_config:
        taken.append("--write-policy-config")
    if taken:
        return f"--bring-up plans from an empty account and writes --json only; drop {taken[0]}"
    return None


def _run_bring_up(args: argparse.Namespace, out: Console, err: Console) -> int:
    """``plan --bring-up``: each step of the sequence, its findings and a verdict for all."""
    try:
        sequence = bringup.simulate(
            args.project,
            args.stack,
            args.config_file,
            None if args.quiet else err,
            allow_unknown_regions=args.allow_unknown_region,
        )
    except SpecError as exc:
        for path, message in exc.problems:
            err.print(f"mlops-iac plan: error: {escape(f'{path}: {message}')}")
        return 2
    except (ProgramError, trust.TrustError) as exc:
        err.print(f"mlops-iac plan: error: {escape(str(exc))}")
        return 2
    total = len(sequence.steps)
    for step in sequence.steps:
        result = step.result
        settings = ", ".join(f"{k}: {json.dumps(v)}" for k, v in step.overrides.items())
        how = f"the stack file with {settings}" if settings else "the stack file as written"
        since = "an empty account" if step.number == 1 else f"what step {step.number - 1} leaves"
        out.print(
            f"Step {step.number} of {total}: pulumi up with {how}, from {since}", style="bold"
        )
        for action in step.before:
            out.print(f"  before: {escape(action)}")
        _print_deploy_errors(out, result.deploy_errors)
        mandatory = ResultSet(tuple(result.results.mandatory))
        _print_violations(out, mandatory, _secrets(result))
        verdict = _verdict(result.results, result.deploy_errors)
        out.print(f"  {verdict}", style="bold red" if step.failed else "bold green")
    if args.json:
        try:
            _write(args.json, _bring_up_document(sequence))
        except (OSError, OpsError) as exc:
            err.print(f"mlops-iac plan: error: cannot write a report: {escape(str(exc))}")
            return 2
    word = "FAIL" if sequence.failed else "PASS"
    out.print(
        f"Bring-up: {word} ({total} step(s) from an empty account)",
        style="bold red" if sequence.failed else "bold green",
    )
    return 1 if sequence.failed else 0


def _bring_up_document(sequence: bringup.BringUp) -> dict[str, Any]:
    steps = []
    for step in sequence.steps:
        result = step.result
        steps.append(
            {
                "step": step.number,
                "overrides": step.overrides,
                "before": list(step.before),
                "passed": not step.failed,
                "resourceCount": len(result.recording),
                "deployErrors": [e.as_dict() for e in result.deploy_errors],
                "mandatory": [
                    {"policy": v.policy, "resourceName": v.resource_name, "message": v.message}
                    for v in result.results.mandatory
                ],
                "pending": result.recording.exports.get("bring_up_pending") or [],
            }
        )
    return {
        "stack": sequence.stack,
        "bringUp": {"passed": not sequence.failed, "steps": steps},
    }


def _write_reports(
    args: argparse.Namespace,
    result: service.PlanResult,
    locator: report.Locator | None = None,
    applied: baseline.Applied | None = None,
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
        document["approvals"] = service.approvals_report(result)
        document["state"] = service.state_summary(result.state)
        document["preconditions"] = [p.as_dict() for p in result.preconditions]
        document["changes"] = result.changes.as_dict() if result.changes else None
        document["costEstimate"] = result.cost.as_dict() if result.cost else None
        if applied is not None:
            document["baseline"] = applied.as_dict()
            document["passed"] = document["passed"] and not applied.failed
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
        sarif["runs"][0].setdefault("properties", {})["state"] = service.state_summary(result.state)
        _write(args.sarif, report.scrub(sarif, _secrets(result)))
    if getattr(args, "junit", None):
        xml = report.to_junit(result.results, stack=stack, suppressed=suppressed, locator=locator)
        nofollow.write_atomic(args.junit, (report.scrub(xml, _secrets(result)) + "\n").encode())
    if args.write_policy_config:
        _write(args.write_policy_config, result.pack_config)
    if getattr(args, "write_baseline", None):
        _write(args.write_baseline, baseline.document(result.results, stack, UNWAIVABLE))


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
    # Outside the repository: an absolute file URI, never "../" (reports resolve a relative URI
    # against the checkout).
    uri = service.relative(source, service.repository_root()) or source.resolve().as_uri()
    return _StackKeys(keys.positions, uri)


def _locator(args: argparse.Namespace, result: service.PlanResult) -> report.Locator:
    """Where this plan's findings point: stack-file keys, declaring lines, the stack file."""
    keys = _stack_keys(args)
    root = service.repository_root()
    uri = keys.uri if keys else report.stack_file(args.stack)
    return report.Locator(uri, keys or stackyaml.KeyLines(), _declared_at(result.recording, root))


def _shown(location: report.Location) -> str:
    """``file:line[:column]`` as the console shows it: the file relative to where the user is
    (reports keep repository-relative URIs)."""
    if location.uri.startswith("file:"):
        path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(location.uri).path))
    else:
        path = (service.repository_root() / location.uri).resolve()
    shown = os.path.relpath(path, Path.cwd()) if path.exists() else location.uri
    if shown.startswith(".."):  # outside the working directory: absolute reads better
        shown = str(path)
    return str(dataclasses.replace(location, uri=shown.replace(os.sep, "/")))


def _declared_at(recording: Recording, root: Path) -> dict[str, tuple[str, int]]:
    """URN -> (repository-relative file, line) of the code that declared each resource.

    From the SDK's source positions; a resource declared outside the repository (an installed
    library) points at its nearest ancestor declared inside it, else at the stack file.
    """
    own: dict[str, tuple[str, int]] = {}
    for resource in recording:
        source = getattr(resource, "source", None)
        if source and (relative := service.relative(source[0], root)) is not None:
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


def _secrets(result: service.PlanResult) -> set[str]:
    return report.secret_values(result.recording, result.secrets)


def _unwritable(args: argparse.Namespace) -> str | None:
    """Why an output file cannot be written, checked before the program runs."""
    for option in ("json", "sarif", "junit", "write_policy_config", "write_baseline"):
        path: Path | None = getattr(args, option, None)
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


def _print_judgement(console: Console, result: service.PlanResult) -> None:
    """Which environment the plan judged by and why: levels depend on it."""
    line = f"Environment: {result.environment} (from {result.environment_source})"
    if result.enforcement_note:
        line += f"; {result.enforcement_note}"
    console.print(escape(line))


def _print_waivers(
    console: Console, result: service.PlanResult, locator: report.Locator | None = None
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


def _print_approvals(console: Console, result: service.PlanResult) -> None:
    # One line per verified approval: which trusted file and key vouched for it.
    for approval in service.approvals_report(result):
        by = approval["verifiedBy"]
        if by:
            console.print(
                escape(
                    f"approval of {approval['model']} v{approval['version']} by "
                    f"{approval['approvedBy']}: signature verified with key {by['key']} for "
                    f"{by['principal']} in {by['signersFile']} ({by['signersDigest']})"
                )
            )


def _print_gpu(console: Console, result: service.PlanResult) -> None:
    line = f"Max GPU spend: ${result.gpu_usd_per_hour:,.2f}/h with every GPU pool at max size"
    if result.unpriced_pools:
        line += f" (unpriced pools: {', '.join(result.unpriced_pools)})"
    console.print(escape(line))


def _print_tracking(console: Console, result: service.PlanResult) -> None:
    """Where training runs log: the ``tracking_uri`` export (unknown values print as such)."""
    exports = getattr(result.recording, "exports", {}) or {}
    if "tracking_uri" not in exports:
        return
    uri = exports["tracking_uri"]
    if uri is None:
        console.print("Tracking: off (tracking.enabled is false)")
        return
    shown = uri if isinstance(uri, str) else "(known after deploy)"
    console.print(escape(f"Tracking: MLFLOW_TRACKING_URI={shown}"))


def _print_rollout(console: Console, result: service.PlanResult) -> None:
    """What the rollout function did to the version this stack rolls out (the
    ``serving_rollout`` export, read from the live endpoint or service) and what this update does
    with it: keeps its split, or (a rollout the stack file declares over) overrides it."""
    exports = getattr(result.recording, "exports", {}) or {}
    view = exports.get("serving_rollout")
    if not isinstance(view, dict) or not isinstance(record := view.get("record"), dict):
        return
    if not record.get("state"):
        return
    from mlops_iac.drift.rollout import BAKING, ROLLED_BACK, describe

    share, declared = view.get("share"), view.get("declaredShare")
    line = f"Rollout: the rollout function {describe(record)}"
    if record["state"] == BAKING:
        line += f"; this update keeps {share}% on it"
    elif share != declared:
        line += f"; this update keeps {share}% on it (the stack file declares {declared}%)"
    else:
        line += f"; this update gives it {share}% as the stack file declares"
    rolled_back = record["state"] == ROLLED_BACK
    if rolled_back and share == 0:
        line += (
            ". To move on, roll out a fixed version (serving.model), or set "
            "serving.rollback: true to end the rollout on the previous version"
        )
    warn = rolled_back and bool(share)
    console.print(escape(line), style="bold yellow" if rolled_back else None)
    if warn:
        console.print(
            escape(
                "Rollout: the stack file ends the rollout of a version the rollout function "
                "rolled back; check that this is meant"
            ),
            style="bold yellow",
        )


def _print_preconditions(console: Console, result: service.PlanResult, stack: str) -> None:
    """What the account must provide: a plan lists them, ``mlops-iac preflight`` checks them."""
    items = result.preconditions
    if not items:
        return
    console.print()
    console.print(
        f"Preconditions ({len(items)}): what the account must provide; "
        f"`mlops-iac preflight --stack {escape(stack)}` checks them live",
        style="bold",
    )
    for p in items:
        console.print(f"  {escape(p.id)} ({p.seen_by}): {escape(p.what)}")
        console.print(f"    source: {escape(p.source_url)}")
    console.print()


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
