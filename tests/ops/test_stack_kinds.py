"""Platform and team stack files: every command that makes sense for a kind accepts it, and a
command that needs the other kind says which kind the file is and what it lacks."""

from __future__ import annotations

import json

import pytest

from mlops_iac.cli import stackfile
from mlops_iac.plan.service import pack_settings
from mlops_iac.spec.errors import SpecError
from mlops_iac.spec.models import PlatformSpec, TeamStackSpec
from mlops_iac.spec.parse import stack_kind
from tests.ops.keys import key_for

TEAM = """\
config:
  aws:region: us-east-1
  mlops:platform:
    cloud: aws
    environment: {environment}
    project: fraud-queues
    owner: fraud-team@example.com
    lineage:
      gitSha: 9c1e7a2
      datasetVersion: md5:5d41402abc4b2a76b9719d911017c592
    governance:
      approvers:
        - jane@example.com
        - raj@example.com
"""


@pytest.fixture
def team_project(project):
    for env in ("dev", "prod"):
        (project / f"stacks/Pulumi.team-{env}.yaml").write_text(TEAM.format(environment=env))
    return project


LINEAGE = "lineage: {gitSha: abc1234, datasetVersion: v1}\n"


def _write(project, body: str, name: str = "odd-dev") -> None:
    (project / f"stacks/Pulumi.{name}.yaml").write_text(
        "config:\n  mlops:platform:\n" + "".join(f"    {line}\n" for line in body.splitlines())
    )


def test_the_kinds_are_told_apart(team_project):
    team = stackfile.load(team_project, "team-prod")
    platform = stackfile.load(team_project, "aws-prod")
    assert (team.kind, type(team.governed)) == ("team", TeamStackSpec)
    assert (platform.kind, type(platform.governed)) == ("platform", PlatformSpec)
    assert team.cloud == "aws"
    assert stack_kind({"project": "x"}) == "team"
    assert stack_kind({"serving": {}}) == "platform"


def test_waive_and_approve_accept_a_team_stack_file(cli, team_project):
    code = cli(
        "waive", "--stack", "team-prod", "--project", team_project,
        "--rule", "mlops-storage-lifecycle", "--resource", "scratch-*",
        "--reason", "short-lived scratch data (CHG-9)", "--ticket", "CHG-9",
        "--owner", "fraud-team@example.com", "--approver", "raj@example.com",
        "--days", "30", "--key", key_for("raj@example.com"),
    )  # fmt: skip
    assert code == 0, cli.err
    code = cli(
        "approve", "--stack", "team-prod", "--project", team_project,
        "--model", "fraud-detector", "--version", "8", "--approver", "jane@example.com",
        "--ticket", "CHG-10", "--key", key_for("jane@example.com"),
    )  # fmt: skip
    assert code == 0, cli.err
    sf = stackfile.load(team_project, "team-prod")
    assert sf.kind == "team"
    assert [w.rule for w in sf.governed.governance.waivers] == ["mlops-storage-lifecycle"]
    assert [(a.model, a.version) for a in sf.governed.governance.approvals] == [
        ("fraud-detector", "8")
    ]
    # plan reviews a team stack file's records as it does a platform one's.
    settings = pack_settings("team-prod", sf.config, team_project)
    assert [(w.record["rule"], w.status) for w in settings.waivers] == [
        ("mlops-storage-lifecycle", "active")
    ]
    approvals = settings.document["mlops-approval-gate"]["approvals"]
    assert [(a["model"], a["version"], a["signatureStatus"]) for a in approvals] == [
        ("fraud-detector", "8", "verified")
    ]


def test_drift_baseline_reads_a_team_stack_files_lineage(cli, team_project, tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("x\n" + "".join(f"{i}\n" for i in range(50)))
    out = tmp_path / "baseline.json"
    code = cli(
        "drift", "baseline", "--stack", "team-dev", "--project", team_project,
        "--data", data, "--out", out,
    )  # fmt: skip
    assert code == 0, cli.err
    assert json.loads(out.read_text())["datasetVersion"] == "md5:5d41402abc4b2a76b9719d911017c592"


@pytest.mark.parametrize("command", ["rollback", "verify"])
def test_a_platform_command_names_the_kind_and_what_it_lacks(cli, team_project, tmp_path, command):
    outputs = tmp_path / "outputs.json"
    outputs.write_text("{}")
    extra = ("--outputs", outputs) if command == "verify" else ()
    assert cli(command, "--stack", "team-dev", "--project", team_project, *extra) == 2
    line = cli.one_error_line()
    assert "Pulumi.team-dev.yaml is a team stack file (no serving)" in line
    assert "needs a platform stack file" in line


def test_dvc_remote_needs_the_cloud_of_a_team_stack_file(cli, team_project, tmp_path):
    path = team_project / "stacks/Pulumi.team-dev.yaml"
    path.write_text(path.read_text().replace("    cloud: aws\n", ""))
    outputs = tmp_path / "outputs.json"
    outputs.write_text("{}")
    code = cli(
        "dvc-remote", "--stack", "team-dev", "--project", team_project, "--outputs", outputs,
        "--repo", tmp_path,
    )  # fmt: skip
    assert code == 2
    assert "is a team stack file without cloud; add cloud: aws|azure|gcp" in cli.one_error_line()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        # neither: a platform section without serving
        (
            "cloud: aws\nenvironment: dev\nproject: pp-x\n" + LINEAGE + "training: {gpu: t4}\n",
            "neither a platform stack file (it has training but no serving) nor a team stack file",
        ),
        # serving makes it a platform file, which then needs cloud
        (
            "environment: dev\nproject: pp-x\n" + LINEAGE + "serving: {}\n",
            "(a platform stack file) is invalid: mlops:platform.cloud: required key is missing",
        ),
        # a typo in a team file is not silently ignored
        (
            "environment: dev\nproject: pp-x\n" + LINEAGE + "ownr: a@example.com\n",
            "(a team stack file) is invalid: mlops:platform.ownr: unknown key; did you mean",
        ),
        # duplicate keys are refused before the kind is decided
        (
            "environment: dev\nproject: pp-x\nproject: qq-x\n" + LINEAGE + "",
            "duplicate",
        ),
        # a team prod file needs an owner, as a platform one does
        (
            "environment: prod\nproject: pp-x\n" + LINEAGE + "",
            "(a team stack file) is invalid: mlops:platform.owner: required in prod",
        ),
    ],
)
def test_hostile_stack_files_get_one_line(cli, project, body, fragment):
    _write(project, body)
    assert cli("waive", "--stack", "odd-dev", "--project", project, "--rule", "x",
               "--resource", "a-*", "--reason", "r", "--ticket", "T-1", "--owner",
               "a@example.com", "--approver", "jane@example.com", "--days", "9") == 2  # fmt: skip
    assert fragment in cli.one_error_line()


def test_stack_kind_refuses_a_non_mapping():
    with pytest.raises(SpecError, match="must be a mapping"):
        stack_kind(["serving"])
