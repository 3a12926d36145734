"""``mlops-iac``: the command line of the toolkit.

Each subcommand lives in its own module with ``register(subparsers)`` and ``run(args) -> int``;
``_COMMANDS`` lists them in help order. Modules are imported when the parser is built, and the
heavy libraries (boto3, rich) only when a command runs. Every command takes ``--quiet`` and
``--no-color`` (added here when a command does not declare its own) and ``--json [F]`` where it
has a JSON report: one grammar, asserted by ``tests/ops/test_cli_grammar.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from typing import Any

_COMMANDS = (
    "mlops_iac.cli.plan",
    "mlops_iac.cli.approve",
    "mlops_iac.cli.waive",
    "mlops_iac.cli.policies_cmd",
    "mlops_iac.cli.rollback",
    "mlops_iac.cli.verify",
    "mlops_iac.cli.preflight",
    "mlops_iac.cli.dvc_remote",
    "mlops_iac.cli.policy_pack",
    "mlops_iac.cli.train_smoke",
    "mlops_iac.cli.drift",
    "mlops_iac.cli.completion",
    "mlops_iac.cli.init",
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
    for command in leaf_parsers(parser).values():
        _add_output_options(command)
    return parser


def leaf_parsers(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, Any]:
    """Every command that runs (``plan``, ``drift check``…) and its parser, by command line."""
    found: dict[str, Any] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.update(leaf_parsers(sub, f"{prefix} {name}".strip()))
            return found
    return {prefix: parser} if prefix else {}


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    """``--quiet`` and ``--no-color`` on a command that does not declare its own: every command
    takes both (one grammar); ``_run`` applies them."""
    from mlops_iac.cli import NO_COLOR_HELP, QUIET_HELP

    options = {o for action in parser._actions for o in action.option_strings}
    if "--quiet" not in options:
        flags = ("--quiet", "-q") if "-q" not in options else ("--quiet",)
        parser.add_argument(*flags, action="store_true", help=QUIET_HELP)
    if "--no-color" not in options:
        parser.add_argument("--no-color", action="store_true", help=NO_COLOR_HELP)


class _ClosedPipeGuard:
    """stdout that goes quiet once its reader has gone (``mlops-iac plan | head -1``).

    A closed stdout is not a finding: the command carries on to its real exit code (and finishes
    any file it is writing) instead of stopping with "Broken pipe" and exit 1. As the Python docs
    advise (signal module, "Note on SIGPIPE"), the file descriptor is pointed at devnull so the
    interpreter's own flush at exit cannot fail either.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.closed_pipe = False

    def _silence(self) -> None:
        self.closed_pipe = True
        with contextlib.suppress(AttributeError, OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)

    def write(self, text: str) -> int:
        if not self.closed_pipe:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._silence()
        return len(text)

    def flush(self) -> None:
        if not self.closed_pipe:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._silence()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (0 ok, 1 failure or drift, 2 bad input).

    The code does not depend on whether anyone still reads stdout.
    """
    real_stdout = sys.stdout
    guard = _ClosedPipeGuard(real_stdout)
    sys.stdout = guard
    try:
        return _run(argv)
    finally:
        guard.flush()
        if sys.stdout is guard:
            sys.stdout = real_stdout


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help and usage errors: return the code instead of exiting
        return exc.code if isinstance(exc.code, int) else 2
    # --no-color reaches every library that honours https://no-color.org (rich among them).
    colour = os.environ.get("NO_COLOR")
    if getattr(args, "no_color", False):
        os.environ["NO_COLOR"] = "1"
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print(f"mlops-iac {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        if colour is None:
            os.environ.pop("NO_COLOR", None)
        else:
            os.environ["NO_COLOR"] = colour


if __name__ == "__main__":
    sys.exit(main())
