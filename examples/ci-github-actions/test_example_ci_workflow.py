"""The GitHub Actions workflow: its triggers, permissions and commands, and its plan commands run.

The ``mlops-iac`` command lines are taken from the workflow file itself and run in-process from the
repository root (where the workflow runs them), so the workflow cannot drift from the CLI.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_iac.cli.main import main

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WORKFLOW = yaml.safe_load((HERE / "workflow.yml").read_text())
# YAML 1.1 reads the key `on` as True.
TRIGGERS = WORKFLOW.get("on", WORKFLOW.get(True))
JOBS = WORKFLOW["jobs"]
EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


def _commands(job: str, program: str, **expressions: str) -> list[list[str]]:
    """The argv of every line of the job's `run` steps that starts with ``program``.

    GitHub substitutes ``${{ expr }}`` before the shell splits the line: so do we, with
    ``expressions`` (``matrix_stack="aws-dev"`` for ``matrix.stack``); others stay one token.
    """
    values = {k.replace("_", "."): v for k, v in expressions.items()}
    found = []
    for step in JOBS[job]["steps"]:
        for raw in str(step.get("run", "")).splitlines():
            line = EXPRESSION.sub(lambda m: values.get(m[1], f"${{{{{m[1]}}}}}"), raw)
            argv = shlex.split(line)
            if argv[:1] == [program]:
                found.append(argv)
    return found


def _uses(job: str) -> dict[str, dict[str, Any]]:
    """Actions the job uses, without the version: action → its `with` inputs."""
    return {
        step["uses"].split("@")[0]: step.get("with", {}) for step in JOBS[job]["steps"]
        if "uses" in step
    }  # fmt: skip


def _with_output(argv: list[str], option: str, path: Path) -> list[str]:
    """argv with the file after ``option`` moved to ``path`` (keeps the repository clean)."""
    index = argv.index(option)
    return [*argv[: index + 1], str(path), *argv[index + 2 :]]


def test_triggers_are_pull_requests_and_pushes_to_main():
    assert TRIGGERS == {"pull_request": {"branches": ["main"]}, "push": {"branches": ["main"]}}
    assert WORKFLOW["permissions"] == {"contents": "read"}  # least privilege by default
    assert "pull_request" in JOBS["plan"]["if"]
    assert "push" in JOBS["preview"]["if"] and "refs/heads/main" in JOBS["preview"]["if"]


def test_pull_requests_plan_offline_and_upload_sarif():
    job = JOBS["plan"]
    assert job["permissions"] == {"contents": "read", "security-events": "write"}
    assert "id-token" not in job["permissions"]  # no cloud credentials on pull requests
    [plan] = _commands("plan", "mlops-iac")
    assert plan == ["mlops-iac", "plan", "--stack", "${{matrix.stack}}",
                    "--sarif", "plan.sarif", "--quiet", "--no-color"]  # fmt: skip
    upload = _uses("plan")["github/codeql-action/upload-sarif"]
    assert upload["sarif_file"] == "plan.sarif"
    assert "${{ matrix.stack }}" in upload["category"]  # one code-scanning category per stack
    [upload_step] = [s for s in job["steps"] if "upload-sarif" in s.get("uses", "")]
    assert "!cancelled()" in upload_step["if"]  # uploads the findings of a failed plan too


def test_main_previews_with_the_policy_pack_and_oidc():
    job = JOBS["preview"]
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    aws = _uses("preview")["aws-actions/configure-aws-credentials"]
    assert aws["role-to-assume"].startswith("${{")  # a role, never stored keys
    assert "aws-access-key-id" not in aws
    assert "pulumi/actions" in _uses("preview")
    [write_config] = _commands("preview", "mlops-iac")
    assert write_config[:4] == ["mlops-iac", "plan", "--stack", "aws-prod"]
    config_file = write_config[write_config.index("--write-policy-config") + 1]
    [preview] = _commands("preview", "pulumi")
    assert preview[:4] == ["pulumi", "preview", "--stack", "aws-prod"]
    assert preview[preview.index("--policy-pack") + 1] == "policies"
    assert preview[preview.index("--policy-pack-config") + 1] == config_file
    assert (REPO / "policies" / "PulumiPolicy.yaml").is_file()


@pytest.mark.parametrize("stack", JOBS["plan"]["strategy"]["matrix"]["stack"])
def test_plan_command_passes_and_writes_sarif(stack, monkeypatch, tmp_path, capsys):
    [argv] = _commands("plan", "mlops-iac", matrix_stack=stack)
    sarif = tmp_path / "plan.sarif"
    monkeypatch.chdir(REPO)
    assert main(_with_output(argv, "--sarif", sarif)[1:]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # --quiet: no progress in CI logs
    assert "\x1b[" not in captured.out  # --no-color
    document = json.loads(sarif.read_text())
    assert document["version"] == "2.1.0"
    [run] = document["runs"]
    rules = {rule["id"] for rule in run["tool"]["driver"]["rules"]}
    assert {"mlops-approval-gate", "mlops-lineage-tags", "mlops-storage-encrypted-cmk"} <= rules
    assert run["results"] == []  # the reference stacks are compliant


def test_policy_config_command_writes_prod_levels(monkeypatch, tmp_path):
    [argv] = _commands("preview", "mlops-iac")
    config = tmp_path / "policy-config.json"
    monkeypatch.chdir(REPO)
    assert main(_with_output(argv, "--write-policy-config", config)[1:]) == 0
    document = json.loads(config.read_text())
    assert {p["enforcementLevel"] for p in document.values()} == {"mandatory"}
    gate = document["mlops-approval-gate"]
    assert gate["environment"] == "prod"
    assert gate["approvals"]  # the stack file's recorded approvals reach the real engine
