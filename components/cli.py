"""The ``mlops-iac`` command: offline plan and day-2 operations."""

from __future__ import annotations

import argparse
import importlib
import sys

# Subcommand modules, each with register(subparsers) and run(args) -> exit code.
_COMMANDS = ("components.ops.plan",)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="mlops-iac", description="Plan and operate a governed MLOps platform."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _COMMANDS:
        importlib.import_module(module).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 1 failed check, 2 bad input)."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
