"""The ``mlops-iac`` entry point: help, one-line usage errors, the command table."""

from __future__ import annotations

import importlib

import pytest

from mlops_iac.cli import main as cli_module

COMMANDS = ["approve", "rollback", "verify", "dvc-remote"]


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
