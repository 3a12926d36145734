"""Project-level config in ``Pulumi.yaml``: plan runs the program with what ``pulumi up`` would
give it (the stack file's values win), and the platform spec may only come from the stack file."""

from __future__ import annotations

import json
import textwrap

import pytest

from mlops_iac.plan.engine import ProgramError, Project
from tests.ops.test_team_lineage import STACK, TAGGED

# A program that creates an unencrypted, public bucket only when project config says so.
OPEN_BUCKET = TAGGED + (
    "import pulumi, pulumi_aws as aws\n"
    "if pulumi.Config().get('public') == 'yes':\n"
    "    aws.s3.Bucket('open')\n"
)


def _team(tmp_path, manifest: str, stack_extra: str = ""):
    program = tmp_path / "team"
    program.mkdir()
    (program / "Pulumi.yaml").write_text(manifest)
    (program / "__main__.py").write_text(OPEN_BUCKET)
    stack = textwrap.dedent(STACK).replace("environment: staging", "environment: prod")
    (program / "Pulumi.prod.yaml").write_text(stack + stack_extra)
    return program


@pytest.mark.parametrize(
    "config",
    [
        "  team:public: 'yes'\n",
        "  public: 'yes'\n",
        "  public:\n    type: string\n    default: 'yes'\n",
        "  public:\n    value: 'yes'\n",
    ],
)
def test_project_level_config_reaches_the_planned_program(cli, tmp_path, config):
    program = _team(tmp_path, "name: team\nruntime: python\nconfig:\n" + config)
    report = tmp_path / "plan.json"
    assert cli("plan", "-s", "prod", "--project", program, "-q", "--json", report) == 1
    names = {v["resourceName"] for v in json.loads(report.read_text())["violations"]}
    assert "open" in names


def test_the_stack_file_value_wins_over_the_project_default(cli, tmp_path):
    manifest = "name: team\nruntime: python\nconfig:\n  public: 'yes'\n"
    program = _team(tmp_path, manifest, stack_extra="  team:public: 'no'\n")
    assert Project.load(program).read_config("prod")["team:public"] == "no"
    assert cli("plan", "-s", "prod", "--project", program, "-q") == 0, cli.out + cli.err


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ("  mlops:platform:\n    value: {environment: dev}\n", "belongs in each stack file"),
        ("  MLOPS:Platform: x\n", "belongs in each stack file"),
        ("  public:\n    dfault: 'yes'\n", "'dfault' is not a config declaration key"),
        ("  public: 1\n  public: 2\n", "duplicate key"),
        ("  base: &b {value: 1}\n  other:\n    <<: *b\n", "merge"),
    ],
)
def test_a_manifest_that_could_change_the_program_unseen_is_refused(cli, tmp_path, config, problem):
    program = _team(tmp_path, "name: team\nruntime: python\nconfig:\n" + config)
    with pytest.raises(ProgramError, match=problem):
        Project.load(program)
    assert cli("plan", "-s", "prod", "--project", program, "-q") == 2
    assert problem in cli.one_error_line()
