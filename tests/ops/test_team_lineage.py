"""A team program registers lineage with only the governance keys, not the whole platform."""

from __future__ import annotations

import json
import textwrap

PROGRAM = """
import pulumi_aws as aws

from mlops_iac.components import lineage, spec

lineage.register_lineage_transform(spec.load_team_governance())
aws.sns.Topic("team-events", kms_master_key_id="alias/team")
"""

STACK = """
config:
  aws:region: us-east-1
  mlops:platform:
    project: fraud-team
    environment: staging
    owner: team@example.com
    costCenter: cc-42
    lineage:
      gitSha: 4f2c1e9
      datasetVersion: md5:0123456789abcdef
"""


def test_team_program_tags_with_governance_keys_only(cli, tmp_path) -> None:
    program = tmp_path / "team"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: team\nruntime: python\n")
    (program / "__main__.py").write_text(textwrap.dedent(PROGRAM))
    (program / "Pulumi.staging.yaml").write_text(textwrap.dedent(STACK))
    report = tmp_path / "plan.json"
    code = cli("plan", "-s", "staging", "--project", program, "-q", "--json", report)
    assert code == 0, cli.out + cli.err
    # Judged by the stack name (no governance/settings.yaml beside the program), which agrees.
    assert "Environment: staging (from the stack name's suffix -staging)" in cli.out
    document = json.loads(report.read_text())
    topic = next(r for r in document["resources"] if r["type"] == "aws:sns/topic:Topic")
    assert topic["inputs"]["tags"]["mlops:project"] == "fraud-team"
    assert topic["inputs"]["tags"]["mlops:dataset-version"] == "md5:0123456789abcdef"


def test_team_governance_keys_are_validated(cli, tmp_path) -> None:
    program = tmp_path / "team"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: team\nruntime: python\n")
    (program / "__main__.py").write_text("import pulumi\n")
    bad = textwrap.dedent(STACK).replace(
        "datasetVersion: md5:0123456789abcdef", 'datasetVersion: " "'
    )
    (program / "Pulumi.staging.yaml").write_text(bad)
    assert cli("plan", "-s", "staging", "--project", program, "-q") == 2
    assert "mlops:platform.lineage.datasetVersion" in cli.err
