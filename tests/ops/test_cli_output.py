"""CI-facing output: --version, `policies`, `plan --json -`, NO_COLOR and the judged environment."""

from __future__ import annotations

import hashlib
import json
from xml.etree import ElementTree

import jsonschema

from tests.conftest import REPO


def test_version(cli) -> None:
    assert cli("--version") == 0
    assert cli.out.startswith("mlops-iac ")


def test_policies_for_a_stack_as_json(cli) -> None:
    assert cli("policies", "-s", "aws-prod", "--project", REPO, "--json") == 0, cli.err
    document = json.loads(cli.out)
    assert document["environment"] == "prod"
    levels = {p["name"]: p["level"] for p in document["policies"]}
    assert "mlops-governance-records" in levels
    assert set(levels.values()) == {"mandatory"}


def test_policies_without_a_stack_lists_levels_per_environment(cli) -> None:
    assert cli("policies") == 0
    assert "mlops-approval-gate" in cli.out and "advisory / mandatory / mandatory" in cli.out


def test_plan_json_to_stdout_plain_and_says_why_this_environment(
    cli, monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("NO_COLOR", "1")
    junit = tmp_path / "plan.xml"
    code = cli("plan", "-s", "aws-dev", "--project", REPO, "-q", "--json", "-", "--junit", junit)
    assert code == 0, cli.err
    suite = ElementTree.parse(junit).getroot()
    assert suite.tag == "testsuite" and suite.get("failures") == "0"
    document = json.loads(cli.out)  # stdout holds the report and nothing else
    assert document["environment"] == "dev"
    schema = json.loads((REPO / "docs/plan.schema.json").read_text())
    jsonschema.validate(document, schema)
    digest = hashlib.sha256((REPO / "governance/settings.yaml").read_bytes()).hexdigest()
    source = f"governance/settings.yaml (aws-dev: dev), sha256:{digest}"
    assert f"Environment: dev (from {source})" in cli.err
    assert document["environmentSource"] == source
    assert "\x1b[" not in cli.err


def test_environment_from_the_stack_name_suffix_is_stated(cli, tmp_path) -> None:
    program = tmp_path / "team"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: team\nruntime: python\n")
    (program / "__main__.py").write_text("import pulumi\n")
    (program / "Pulumi.team-staging.yaml").write_text("config: {}\n")
    assert cli("plan", "-s", "team-staging", "--project", program, "-q") == 0, cli.err
    assert "Environment: staging (from the stack name's suffix -staging)" in cli.out
    (program / "Pulumi.sandbox.yaml").write_text("config: {}\n")
    assert cli("plan", "-s", "sandbox", "--project", program, "-q") == 0, cli.err
    assert (
        "Environment: prod (from the strict fallback (prod): the stack is not in "
        "governance/settings.yaml)"
    ) in cli.out
