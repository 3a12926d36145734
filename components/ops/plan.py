"""``mlops-iac plan``: run a stack's program offline and show what it would create."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from components.testing.engine import ProgramError, RecordedResource, Recording, run_project

STACK_TYPE = "pulumi:pulumi:Stack"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``plan`` subcommand."""
    parser = subparsers.add_parser(
        "plan",
        help="run a stack offline (no cloud, no Pulumi CLI) and show its resources",
        description="Run the program with a stack's config under the offline engine and print "
        "the resources it would create, grouped by component.",
    )
    parser.add_argument("--stack", required=True, help="stack name (stacks/Pulumi.<stack>.yaml)")
    parser.add_argument("--project", default=".", type=Path, help="program directory (default .)")
    parser.add_argument("--config-file", type=Path, help="read the stack config from this file")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Plan the stack; 0 on success, 2 on bad input."""
    try:
        recording = run_project(args.project, args.stack, config_file=args.config_file)
    except ProgramError as exc:
        print(f"mlops-iac plan: {exc}", file=sys.stderr)
        return 2
    print(render_tree(recording))
    return 0


def render_tree(recording: Recording) -> str:
    """The resources grouped under their top-level components, with counts per type."""
    lines = [f"Stack {recording.project}/{recording.stack}: {len(recording)} resources"]
    roots = [r for r in recording if r.parent and r.parent.split("::")[2] == STACK_TYPE]
    for root in sorted(roots, key=lambda r: (r.custom, r.name)):
        lines.extend(_subtree(recording, root, 1))
    return "\n".join(lines)


def _subtree(recording: Recording, node: RecordedResource, depth: int) -> list[str]:
    pad = "  " * depth
    if node.custom:
        return [f"{pad}{node.type} {node.name}"]
    children = recording.children(node)
    counts = Counter(c.type for c in children if c.custom)
    lines = [f"{pad}{node.type} {node.name} ({len(recording.descendants(node))} resources)"]
    for comp in sorted((c for c in children if not c.custom), key=lambda c: c.name):
        lines.extend(_subtree(recording, comp, depth + 1))
    for type_token, count in sorted(counts.items()):
        lines.append(f"{pad}  {count} × {type_token}")
    return lines
