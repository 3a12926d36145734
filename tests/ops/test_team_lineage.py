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


# --- every taggable type, in a team program ------------------------------------------------------

LINEAGE_KEYS = ("project", "environment", "owner", "cost-center", "git-sha", "dataset-version")
EVERY_KEY = ", ".join(f"mlops:{k}" for k in LINEAGE_KEYS)
TAGGED = "from mlops_iac.components import lineage, spec\n" + (
    "lineage.register_lineage_transform(spec.load_team_governance())\n"
)
BLANK_TAGS = {f"mlops:{k}": " " for k in LINEAGE_KEYS}
# GCP labels as the transform writes them (lowercase, `@` and `.` become `_`).
GCP_LABELS = {
    "mlops-project": "fraud-team",
    "mlops-environment": "prod",
    "mlops-owner": "team_example_com",
    "mlops-cost-center": "cc-42",
    "mlops-git-sha": "4f2c1e9",
    "mlops-dataset-version": "md5_0123456789abcdef",
}


def _plan(cli, tmp_path, body: str, environment: str = "prod") -> tuple[int, list[dict]]:
    """Plan a team program (``body``) in ``environment``; the exit code and its findings."""
    program = tmp_path / "team"
    program.mkdir(parents=True)
    (program / "Pulumi.yaml").write_text("name: team\nruntime: python\n")
    (program / "__main__.py").write_text(body)
    stack = textwrap.dedent(STACK).replace("environment: staging", f"environment: {environment}")
    stack = stack.replace("aws:region: us-east-1", "aws:region: us-east-1\n  gcp:project: p")
    (program / f"Pulumi.{environment}.yaml").write_text(stack)
    report = tmp_path / "plan.json"
    code = cli("plan", "-s", environment, "--project", program, "-q", "--json", report)
    assert report.exists(), cli.out + cli.err
    return code, json.loads(report.read_text())["violations"]


def _lineage(violations: list[dict]) -> dict[str, tuple[str, str]]:
    """Resource name -> (level, message) of each mlops-lineage-tags finding."""
    return {
        v["resourceName"]: (v["level"], v["message"])
        for v in violations
        if v["policy"] == "mlops-lineage-tags"
    }


def test_raw_sqs_queue_without_tags_fails_in_prod(cli, tmp_path) -> None:
    code, violations = _plan(cli, tmp_path, 'import pulumi_aws as aws\naws.sqs.Queue("raw")\n')
    assert code == 1
    assert _lineage(violations) == {
        "raw": ("mandatory", f"missing or empty lineage tags: {EVERY_KEY}")
    }


def test_raw_sqs_queue_without_tags_is_advisory_in_dev(cli, tmp_path) -> None:
    body = 'import pulumi_aws as aws\naws.sqs.Queue("raw")\n'
    code, violations = _plan(cli, tmp_path, body, environment="dev")
    assert code == 0
    assert _lineage(violations) == {
        "raw": ("advisory", f"missing or empty lineage tags: {EVERY_KEY}")
    }


def test_sqs_queue_tagged_by_the_lineage_transform_passes(cli, tmp_path) -> None:
    body = f'import pulumi_aws as aws\n{TAGGED}aws.sqs.Queue("raw")\n'
    code, violations = _plan(cli, tmp_path, body)
    assert (code, _lineage(violations)) == (0, {})


def test_blank_lineage_values_fail(cli, tmp_path) -> None:
    body = f'import pulumi_aws as aws\naws.sqs.Queue("raw", tags={BLANK_TAGS!r})\n'
    code, violations = _plan(cli, tmp_path, body)
    assert code == 1
    assert _lineage(violations) == {
        "raw": ("mandatory", f"missing or empty lineage tags: {EVERY_KEY}")
    }


def test_autoscaling_group_tag_list(cli, tmp_path) -> None:
    # Its tags are a list of {key, value, propagateAtLaunch}, not a map.
    group = 'aws.autoscaling.Group("asg", min_size=0, max_size=1{})\n'
    code, violations = _plan(cli, tmp_path / "raw", "import pulumi_aws as aws\n" + group.format(""))
    assert (code, set(_lineage(violations))) == (1, {"asg"})
    blank = [{"key": k, "value": v, "propagate_at_launch": True} for k, v in BLANK_TAGS.items()]
    body = f"import pulumi_aws as aws\n{TAGGED}" + group.format(f", tags={blank!r}")
    code, violations = _plan(cli, tmp_path / "blank", body)
    assert code == 1  # explicit blank values win over the transform's
    assert _lineage(violations) == {
        "asg": ("mandatory", f"missing or empty lineage tags: {EVERY_KEY}")
    }


def test_autoscaling_group_tagged_by_the_transform_passes(cli, tmp_path) -> None:
    body = (
        f'import pulumi_aws as aws\n{TAGGED}aws.autoscaling.Group("asg", min_size=0, max_size=1)\n'
    )
    code, violations = _plan(cli, tmp_path, body)
    assert (code, _lineage(violations)) == (0, {})


def test_non_taggable_type_stays_quiet(cli, tmp_path) -> None:
    body = (
        "import pulumi_aws as aws\n"
        'aws.iam.RolePolicyAttachment("attach", role="team-role", '
        'policy_arn="arn:aws:iam::aws:policy/ReadOnlyAccess")\n'
    )
    code, violations = _plan(cli, tmp_path, body)
    assert (code, violations) == (0, [])


def test_azure_native_resource_without_tags_fails_and_with_them_passes(cli, tmp_path) -> None:
    raw = 'import pulumi_azure_native as azure\nazure.resources.ResourceGroup("rg")\n'
    code, violations = _plan(cli, tmp_path / "raw", raw)
    assert code == 1
    assert _lineage(violations) == {
        "rg": ("mandatory", f"missing or empty lineage tags: {EVERY_KEY}")
    }
    tagged = f'import pulumi_azure_native as azure\n{TAGGED}azure.resources.ResourceGroup("rg")\n'
    code, violations = _plan(cli, tmp_path / "tagged", tagged)
    assert (code, _lineage(violations)) == (0, {})


def test_gcp_resource_without_labels_fails_and_with_them_passes(cli, tmp_path) -> None:
    sub = (
        'import pulumi_gcp as gcp\ngcp.pubsub.Subscription("sub", topic="projects/p/topics/t"{})\n'
    )
    code, violations = _plan(cli, tmp_path / "raw", sub.format(""))
    assert code == 1
    assert _lineage(violations) == {
        "sub": ("mandatory", f"missing or empty lineage tags: {EVERY_KEY}")
    }
    code, violations = _plan(cli, tmp_path / "labelled", sub.format(f", labels={GCP_LABELS!r}"))
    assert (code, _lineage(violations)) == (0, {})
