"""SARIF results point at the line that declares the resource, relative to the repository."""

from __future__ import annotations

import json
import textwrap

PROGRAM = """
import pulumi
import pulumi_aws as aws

topic = aws.sns.Topic("plain-topic")
"""


def test_result_points_at_the_declaring_line(cli, tmp_path, monkeypatch) -> None:
    repo = tmp_path / "repo"
    program = repo / "team"
    program.mkdir(parents=True)
    (repo / ".git").mkdir()
    (program / "Pulumi.yaml").write_text("name: team\nruntime: python\n")
    (program / "__main__.py").write_text(textwrap.dedent(PROGRAM))
    (program / "Pulumi.team-prod.yaml").write_text("config:\n  aws:region: us-east-1\n")
    monkeypatch.chdir(repo)
    code = cli("plan", "-s", "team-prod", "--project", "team", "-q", "--sarif", "out.sarif")
    assert code == 1, cli.err
    results = json.loads((repo / "out.sarif").read_text())["runs"][0]["results"]
    topic = [
        r
        for r in results
        if r["ruleId"] == "mlops-kms-encrypted-at-rest"
        and r["locations"][0]["logicalLocations"][0]["name"] == "plain-topic"
    ]
    assert len(topic) == 1
    physical = topic[0]["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "team/__main__.py"
    assert physical["region"]["startLine"] == 5
    stack_level = [r for r in results if "logicalLocations" not in r["locations"][0]]
    for result in stack_level:
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert uri == "team/Pulumi.team-prod.yaml"
