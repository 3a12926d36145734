"""Day-2 operations behind ``mlops-iac``: approve, rollback, verify, dvc-remote.

Each command module exposes ``register(subparsers)`` and ``run(args) -> int``. Exit codes are the
same everywhere: 0 ok, 1 failure or drift, 2 bad input (one line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from pathlib import Path

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


class OpsError(Exception):
    """A problem to report as one line on stderr, with the exit code it maps to."""

    def __init__(self, message: str, code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code


def error_line(command: str, message: str) -> None:
    """Print one ``mlops-iac <command>: error: …`` line on stderr."""
    flat = " ".join(str(message).split())  # one line, whatever the source put in it
    print(f"mlops-iac {command}: error: {flat}", file=sys.stderr)


def _aws_error_message(exc: Exception) -> tuple[str, int]:
    """One line and an exit code for a botocore failure."""
    from botocore.exceptions import (
        ClientError,
        NoCredentialsError,
        NoRegionError,
        ParamValidationError,
        ProfileNotFound,
    )

    if isinstance(exc, NoCredentialsError | NoRegionError | ProfileNotFound):
        return f"{exc} (configure AWS credentials/region, e.g. AWS_PROFILE)", EXIT_BAD_INPUT
    if isinstance(exc, ParamValidationError):
        return f"invalid AWS request: {exc}", EXIT_BAD_INPUT
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return (
            f"AWS {exc.operation_name} failed: {err.get('Code', '?')}: {err.get('Message', '')}",
            EXIT_FAILED,
        )
    return f"AWS call failed: {exc}", EXIT_FAILED


def command(name: str) -> Callable[[Callable[[argparse.Namespace], int]], Callable[..., int]]:
    """Decorate a command's ``run`` so every expected failure becomes one line and an exit code."""

    def decorate(run: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
        @functools.wraps(run)
        def wrapper(args: argparse.Namespace) -> int:
            try:
                return run(args)
            except OpsError as exc:
                error_line(name, str(exc))
                return exc.code
            except OSError as exc:  # disk full, permissions…: the files were left as they were
                error_line(name, str(exc))
                return EXIT_FAILED
            except Exception as exc:
                # botocore is imported lazily: only AWS-facing commands pay for it.
                if type(exc).__module__.startswith("botocore"):
                    message, code = _aws_error_message(exc)
                    error_line(name, message)
                    return code
                raise

        return wrapper

    return decorate


STACK_HELP = "stack name: its stack file is Pulumi.<S>.yaml in the project's stack directory"
PROJECT_HELP = (
    "the Pulumi project directory: holds Pulumi.yaml, with the stack files in its "
    "stackConfigDir, else beside it (default: the current directory)"
)
JSON_HELP = "write the JSON report to F; without F (or F is -) to stdout, which then holds only it"
QUIET_HELP = "no progress display (errors and the result still print)"
NO_COLOR_HELP = "plain text, no colour (also when the NO_COLOR environment variable is set)"


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    """``--stack`` and ``--project``, shared by every command that reads a stack file."""
    parser.add_argument("--stack", "-s", required=True, metavar="S", help=STACK_HELP)
    add_project_argument(parser)


def add_project_argument(parser: argparse.ArgumentParser) -> None:
    """``--project DIR``: one meaning on every command (see ``PROJECT_HELP``)."""
    parser.add_argument("--project", default=Path("."), type=Path, metavar="DIR", help=PROJECT_HELP)


def add_json_argument(parser: argparse.ArgumentParser, help: str = JSON_HELP) -> None:
    """``--json [F]``: a file, or stdout without a value or with ``-``."""
    parser.add_argument("--json", nargs="?", const="-", metavar="F", help=help)


def plain(args: argparse.Namespace) -> bool:
    """Whether output must be plain: ``--no-color`` or a non-empty ``NO_COLOR``
    (https://no-color.org)."""
    import os

    return bool(getattr(args, "no_color", False) or os.environ.get("NO_COLOR"))


def write_json(target: str | Path, text: str) -> None:
    """Write a JSON report to ``target`` (``-``: stdout), a file whole or not at all."""
    if str(target) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from mlops_iac.cli import nofollow

    nofollow.write_atomic(Path(target), text.encode())


def describe(doc: str | None) -> str | None:
    """A module docstring minus its summary line, as ``--help`` text (reST quotes dropped)."""
    if not doc or "\n\n" not in doc:
        return None
    # Leading newlines only: a first line indented like the next ones (a usage block) stays so.
    return doc.split("\n\n", 1)[1].replace("``", "`").strip("\n").rstrip()
