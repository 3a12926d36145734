"""What a user mistypes: a region, an instance type, a name in their own program.

Each is bad input (exit 2) with one line naming where it is, what it is and the nearest right
spelling; a correct file stays quiet.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, STACKS


def _copy(tmp_path: Path, stack: str, old: str, new: str) -> Path:
    text = (STACKS / f"Pulumi.{stack}.yaml").read_text()
    assert old in text
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("stack", "old", "new", "key", "guess"),
    [
        ("aws-dev", "aws:region: us-east-1", "aws:region: us-esat-1", "aws:region", "us-east-1"),
        (
            "azure-dev",
            "azure-native:location: eastus",
            "azure-native:location: eastsu",
            "azure-native:location",
            "eastus",
        ),
        (
            "gcp-dev",
            "gcp:region: us-central1",
            "gcp:region: us-centrl1",
            "gcp:region",
            "us-central1",
        ),
    ],
)
def test_a_misspelled_region_is_one_line_with_the_suggestion(
    cli, tmp_path, stack, old, new, key, guess
) -> None:
    config = _copy(tmp_path, stack, old, new)
    code = cli("plan", "-s", stack, "--project", REPO, "--config-file", config, "-q")
    assert code == 2, cli.err
    [line] = cli.err.splitlines()
    value = new.split(": ")[1]
    at = f"{config}:{_line_of(config, new)}:3"
    assert line.startswith(f"mlops-iac plan: error: {at}: {key}: unknown "), line
    assert f"{value!r}; did you mean {guess!r}?" in line
    assert cli.out == ""


def test_allow_unknown_region_turns_the_error_into_a_warning(cli, tmp_path) -> None:
    config = _copy(tmp_path, "aws-dev", "aws:region: us-east-1", "aws:region: us-esat-1")
    args = ("plan", "-s", "aws-dev", "--project", REPO, "--config-file", config, "-q")
    assert cli(*args, "--allow-unknown-region", "--no-color") == 0, cli.err
    assert "warning: aws:region: unknown AWS region 'us-esat-1'" in cli.err
    assert "PASS" in cli.out


def test_a_misspelled_region_key_is_named(cli, tmp_path) -> None:
    config = _copy(tmp_path, "aws-dev", "aws:region: us-east-1", "aws:regoin: us-east-1")
    code = cli("plan", "-s", "aws-dev", "--project", REPO, "--config-file", config, "-q")
    assert code == 2
    [line] = cli.err.splitlines()
    assert line.endswith("aws:regoin: unknown key; did you mean 'aws:region'?")


def test_an_invalid_sagemaker_instance_type_names_the_nearest(cli, tmp_path) -> None:
    config = _copy(
        tmp_path, "aws-dev", "    serving:\n", "    serving:\n      instanceType: ml.m5.larg\n"
    )
    code = cli("plan", "-s", "aws-dev", "--project", REPO, "--config-file", config, "-q")
    assert code == 2, cli.err
    [line] = cli.err.splitlines()
    at = f"{config}:{_line_of(config, 'ml.m5.larg')}:7"
    assert line.startswith(f"mlops-iac plan: error: {at}: mlops:platform.serving.instanceType: ")
    assert "'ml.m5.larg' is not a sagemaker instance type; did you mean 'ml.m5.large'?" in line


def _team(tmp_path: Path, old: str, new: str, anchor: str) -> tuple[Path, int]:
    """A copy of the AWS team example with one edit, and the line of ``anchor`` in it."""
    team = tmp_path / "team"
    shutil.copytree(REPO / "examples" / "team-stack-aws", team)
    main = team / "__main__.py"
    text = main.read_text()
    assert old in text
    main.write_text(text.replace(old, new, 1))
    return team, _line_of(main, anchor)


def _plan_subprocess(project: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(  # noqa: S603 - the CLI under test, fixed argv
        [
            sys.executable,
            "-m",
            "mlops_iac.cli.main",
            "plan",
            "-s",
            "dev",
            "--project",
            project,
            "-q",
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(
    ("old", "new", "anchor", "error"),
    [
        (
            "env = spec.environment\n",
            "env = spec.environment\nprint(undefined_name)\n",
            "print(undefined_name)",
            "NameError: name 'undefined_name' is not defined",
        ),
        (
            "environment=env, noncurrent_version_days=",
            "environment=env, noncurrent_version_day=",
            "ArtifactStoreArgs(",  # the call that failed, where it starts
            "TypeError: ArtifactStoreArgs.__init__() got an unexpected keyword argument "
            "'noncurrent_version_day'",
        ),
    ],
)
def test_an_error_in_the_users_program_names_its_file_and_line(
    tmp_path, old, new, anchor, error
) -> None:
    team, line = _team(tmp_path, old, new, anchor)
    result = _plan_subprocess(team, tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"mlops-iac plan: error: team/__main__.py:{line}: {error}"
    ]
    assert "Traceback" not in result.stderr


def test_a_working_team_program_is_quiet(tmp_path) -> None:
    team, _ = _team(tmp_path, "env = spec.environment\n", "env = spec.environment\n", "env =")
    result = _plan_subprocess(team, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "error" not in result.stderr
