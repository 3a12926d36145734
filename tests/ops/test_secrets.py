"""Secrets never reach a report: ``Output.secret`` inputs and exports, ``secure:`` values at any
depth of ``mlops:platform``, and a plain-text webhook URL (which also gets a warning)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO, STACKS

TOKEN = "s3cr3t-token-0123456789"
WEBHOOK = "https://hooks.example.com/services/T000/B000/XXXXSECRETXXXX"

TEAM_PROGRAM = f'''
import pulumi
import pulumi_aws as aws

token = pulumi.Output.secret("{TOKEN}")
topic = aws.sns.Topic("alerts", display_name=token, kms_master_key_id="alias/team")
pulumi.export("token", token)
pulumi.export("nested", {{"inner": token, "plain": "visible"}})
pulumi.export("topicName", topic.name)
'''


def _reports(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "plan.json", tmp_path / "plan.sarif"


def test_team_program_secrets_are_redacted_in_json_and_sarif(cli, tmp_path) -> None:
    program = tmp_path / "team"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: team\nruntime: python\n")
    (program / "__main__.py").write_text(textwrap.dedent(TEAM_PROGRAM))
    (program / "Pulumi.team-dev.yaml").write_text("config:\n  aws:region: us-east-1\n")
    json_file, sarif_file = _reports(tmp_path)
    cli("plan", "-s", "team-dev", "--project", program, "-q", "--json", json_file,
        "--sarif", sarif_file)  # fmt: skip
    assert "Traceback" not in cli.err
    for path in (json_file, sarif_file):
        assert TOKEN not in path.read_text(), path.name
    document = json.loads(json_file.read_text())
    assert document["exports"]["token"] == "[secret]"
    assert document["exports"]["nested"] == "[secret]"
    topic = next(r for r in document["resources"] if r["type"] == "aws:sns/topic:Topic")
    assert topic["inputs"]["displayName"] == "[secret]"
    assert TOKEN not in cli.out + cli.err


@pytest.mark.parametrize("secure", [True, False], ids=["secure", "plain-text"])
def test_webhook_url_inside_the_platform_object(secure: bool, cli, tmp_path) -> None:
    value = '{secure: "v1:AAAAencryptedAAAA"}' if secure else f'"{WEBHOOK}"'
    text = (STACKS / "Pulumi.aws-dev.yaml").read_text()
    anchor = "    monitoring:\n"
    assert anchor in text
    text = text.replace(anchor, f"{anchor}      webhookUrl: {value}\n")
    path = tmp_path / "Pulumi.aws-dev.yaml"
    path.write_text(text)
    json_file, sarif_file = _reports(tmp_path)
    code = cli("plan", "-s", "aws-dev", "--project", REPO, "--config-file", path, "-q",
               "--json", json_file, "--sarif", sarif_file)  # fmt: skip
    assert code == 0, cli.err
    for report in (json_file, sarif_file):
        content = report.read_text()
        assert WEBHOOK not in content and "offline-secret" not in content
    assert WEBHOOK not in cli.out + cli.err
    warned = "monitoring.webhookUrl is plain text in the stack file" in cli.err
    assert warned is not secure
    assert (json.loads(json_file.read_text())["warnings"] != []) is not secure
