"""The ``mlops-iac`` entry point: help, one-line usage errors, the command table."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_iac.cli import main as cli_module

COMMANDS = ["approve", "rollback", "verify", "preflight", "dvc-remote"]


def test_every_command_module_has_the_contract():
    for name in cli_module._COMMANDS:
        module = importlib.import_module(name)
        assert callable(module.register) and callable(module.run), name


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help(cli, command):
    argv = [command, "--help"] if command else ["--help"]
    assert cli(*argv) == 0
    assert "usage: mlops-iac" in cli.out
    if command:
        assert "--stack" in cli.out and "--project" in cli.out


def test_top_level_help_lists_every_command(cli):
    cli("--help")
    for command in COMMANDS:
        assert command in cli.out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["approve", "--stack", "aws-prod"], "the following arguments are required: --approver"),
        (["verify", "--stack", "aws-prod"], "the following arguments are required: --outputs"),
    ],
)
def test_usage_errors_are_one_line(cli, argv, message):
    assert cli(*argv) == 2
    line = cli.one_error_line()
    assert line.startswith("mlops-iac")
    assert message in line
    assert line.endswith("--help)")


def test_file_only_commands_do_not_import_boto3(project):
    # approve/rollback without AWS flags must work where boto3 is slow or unconfigured.
    import subprocess
    import sys

    code = (
        "import sys; from mlops_iac.cli.main import main; "
        f"rc = main(['rollback', '--stack', 'aws-dev', '--project', {str(project)!r}]); "
        "assert 'boto3' not in sys.modules, 'boto3 imported'; sys.exit(rc)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


ROOT = Path(__file__).resolve().parents[2]
MAIN = "mlops_iac.cli.main"


def _closed_stdout(*argv: str) -> tuple[int, str]:
    """Run ``mlops-iac argv`` with its stdout a pipe nobody reads (`| head -0`, deterministic)."""
    with subprocess.Popen(
        [sys.executable, "-m", MAIN, *argv],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # the reader is gone before the first write
        err = proc.stderr.read().decode()
        return proc.wait(timeout=300), err


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["policies"], 0),
        (["policies", "--json"], 0),
        (["--help"], 0),
        (["policies", "--stack", "no-such-stack"], 2),  # the real code, not the pipe's
        (["plan", "--stack", "aws-dev"], 0),
    ],
)
def test_a_closed_stdout_is_not_a_finding(argv, code):
    returncode, err = _closed_stdout(*argv)
    assert "Broken pipe" not in err and "Traceback" not in err and "BrokenPipe" not in err, err
    assert returncode == code, err


def test_head_of_a_pipe_keeps_the_exit_code():
    # What users type: the shell's pipe, read for one line only.
    result = subprocess.run(
        [
            "bash",
            "-c",
            f"set -o pipefail; {sys.executable} -m mlops_iac.cli.main policies | head -1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert len(result.stdout.splitlines()) == 1
