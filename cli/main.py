"""``mlops-iac``: the command line of the toolkit.

Each subcommand lives in its own module with ``register(subparsers)`` and ``run(args) -> int``;
``_COMMANDS`` lists them in help order. Modules are imported when the parser is built, and the
heavy libraries (boto3, rich) only when a command runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys

_COMMANDS = (
    "mlops_iac.cli.plan",
    "mlops_iac.cli.approve",
    "mlops_iac.cli.waive",
    "mlops_iac.cli.policies_cmd",
    "mlops_iac.cli.rollback",
    "mlops_iac.cli.verify",
    "mlops_iac.cli.dvc_remote",
    "mlops_iac.cli.policy_pack",
    "mlops_iac.cli.train_smoke",
    "mlops_iac.cli.drift",
)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``prog: error: … (see prog --help)``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("mlops-iac")
    except metadata.PackageNotFoundError:  # a plain checkout
        return "0.0.0"


def build_parser() -> argparse.ArgumentParser:
    """The ``mlops-iac`` parser with every command registered."""
    parser = _Parser(
        prog="mlops-iac",
        description="Plan, approve, roll back, verify and wire up a governed MLOps platform.",
    )
    parser.add_argument("--version", action="version", version=f"mlops-iac {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in _COMMANDS:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (0 ok, 1 failure or drift, 2 bad input)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help and usage errors: return the code instead of exiting
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print(f"mlops-iac {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
