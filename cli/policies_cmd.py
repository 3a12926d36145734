"""``mlops-iac policies``: the rules of the pack with the level each has for a stack.

Without ``--stack`` the levels are listed per environment. With it, they are the levels ``plan``
would use for that stack (its environment and ``governance.enforcement``, once the signed records
are verified). ``--json [F]`` writes a machine-readable list, each rule with the ``helpUri`` of its
documentation and whether a waiver may switch it off (``waivable``: the approval
gate and the governance records may never be waived).
"""

from __future__ import annotations

import argparse
import json

from mlops_iac.cli import (
    EXIT_OK,
    STACK_HELP,
    OpsError,
    add_json_argument,
    add_project_argument,
    command,
    describe,
    write_json,
)

NAME = "policies"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``policies`` subcommand."""
    parser = subparsers.add_parser(
        NAME, help="list the pack's rules and their levels", description=describe(__doc__)
    )
    parser.add_argument("--stack", "-s", metavar="S", help=f"levels for this stack ({STACK_HELP})")
    add_project_argument(parser)
    add_json_argument(parser)
    parser.set_defaults(func=run)


@command(NAME)
def run(args: argparse.Namespace) -> int:
    """List the rules."""
    from mlops_iac.plan import service
    from mlops_iac.plan.engine import ProgramError, Project
    from mlops_iac.policies import packs, report, trust
    from mlops_iac.spec.errors import SpecError

    rules = packs.catalogue()
    base = report.project_url() or ""
    environment = source = None
    levels: dict[str, str] = {}
    if args.stack:
        try:
            config = Project.load(args.project).read_config(args.stack)
            settings = service.pack_settings(args.stack, config, args.project)
        except (ProgramError, SpecError, trust.TrustError) as exc:
            raise OpsError(" ".join(str(exc).split())) from None
        environment, source = settings.environment, settings.source
        levels = {name: entry["enforcementLevel"] for name, entry in settings.document.items()}
    entries = [
        {
            "name": rule["name"],
            "kind": rule["kind"],
            "description": rule["description"],
            **({"level": levels[rule["name"]]} if levels else {"levels": rule["levels"]}),
            "waivable": rule["waivable"],
            # Absolute when the package declares its repository URL, else repository-relative.
            "helpUri": report.rule_help_uri(rule["name"], base),
        }
        for rule in rules
    ]
    if args.json:
        document = {"stack": args.stack, "environment": environment, "policies": entries}
        write_json(args.json, json.dumps(document, indent=2) + "\n")
        if args.json == "-":
            return EXIT_OK
    if args.stack:
        print(f"Policies for {args.stack} (environment {environment}, from {source}):")
    for entry in entries:
        level = entry.get("level") or " / ".join(entry["levels"].values())
        unwaivable = "" if entry["waivable"] else " (cannot be waived)"
        print(f"  {entry['name']:<40} {level:<27} {entry['description']}{unwaivable}")
    return EXIT_OK
