"""``mlops-iac rollback``: the stack file switch and the ``--now`` endpoint update.

moto 5.2.5 has no ``UpdateEndpoint``. The ``--now`` happy path therefore runs against a botocore
``Stubber`` that expects the exact calls and parameters; the refusals that only need reads run
against moto.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from mlops_iac.cli import aws, stackfile
from tests.ops.conftest import REGION, build_platform, write_outputs

PROD = "stacks/Pulumi.aws-prod.yaml"
ENDPOINT = "fraud-detector-endpoint"
CONFIG_V6 = "fraud-detector-config-v6"
CONFIG_V6_ARN = f"arn:aws:sagemaker:{REGION}:123456789012:endpoint-config/{CONFIG_V6}"


def test_rollback_serves_previous_version(cli, project):
    path = project / PROD
    original = path.read_text()
    assert cli("rollback", "--stack", "aws-prod", "--project", project) == 0, cli.err
    previous_block_end = '"p95_latency_ms <= 80.0"]\n      rollout:'
    assert path.read_text() == original.replace(
        previous_block_end, previous_block_end.replace("\n", "\n      rollback: true\n", 1)
    )
    spec = stackfile.load(project, "aws-prod").spec
    assert spec.serving.active_model.version == "6"
    assert spec.serving.standby_model.version == "7"
    assert f"`pulumi up --stack aws-prod --cwd {project}`" in cli.out
    assert "active: fraud-detector v6; standby: fraud-detector v7" in cli.out
    assert cli.err == ""


def test_rollback_is_idempotent_and_reversible(cli, project):
    path = project / PROD
    original = path.read_text()
    assert cli("rollback", "-s", "aws-prod", "--project", project) == 0
    rolled = path.read_text()
    assert cli("rollback", "-s", "aws-prod", "--project", project) == 0
    assert "nothing to change" in cli.out
    assert path.read_text() == rolled
    assert cli("rollback", "-s", "aws-prod", "--project", project, "--undo") == 0
    assert path.read_text() == original.replace(
        "      rollout:", "      rollback: false\n      rollout:"
    )
    assert stackfile.load(project, "aws-prod").spec.serving.active_model.version == "7"


def test_prints_the_command_for_the_default_project(cli, project, monkeypatch):
    monkeypatch.chdir(project)
    assert cli("rollback", "--stack", "aws-dev") == 0, cli.err
    assert "run `pulumi up --stack aws-dev` to apply it" in cli.out


def test_warns_when_the_rollback_target_lacks_an_approval(cli, project):
    path = project / PROD
    path.write_text(
        path.read_text().replace(
            'version: "6"\n          approvedBy', 'version: "5"\n          approvedBy'
        )
    )
    assert cli("rollback", "--stack", "aws-prod", "--project", project) == 0, cli.err
    assert "warning: fraud-detector v6 has no recorded approval" in cli.err


def test_refuses_without_previous_version(cli, project):
    path = project / PROD
    text = path.read_text()
    start = text.index("      previousModel:")
    end = text.index("      rollout:")
    path.write_text(text[:start] + text[end:])
    before = path.read_bytes()
    assert cli("rollback", "--stack", "aws-prod", "--project", project) == 2
    assert "no previous model version to roll back to" in cli.one_error_line()
    assert path.read_bytes() == before


def test_unknown_stack(cli, project):
    assert cli("rollback", "--stack", "no-such-stack", "--project", project) == 2
    assert "no stack file" in cli.one_error_line()
    assert "(known stacks: aws-dev, aws-prod)" in cli.err


def test_crash_during_write_leaves_original(cli, project, monkeypatch):
    import os

    path = project / PROD
    original = path.read_bytes()

    def crash(src, dst):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", crash)
    assert cli("rollback", "--stack", "aws-prod", "--project", project) == 1
    monkeypatch.undo()
    assert path.read_bytes() == original
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


# --- --now ----------------------------------------------------------------------------------------


@pytest.fixture
def stubbed_sagemaker(aws_env, monkeypatch):
    client = boto3.client("sagemaker", region_name=REGION)
    stubber = Stubber(client)
    monkeypatch.setattr(aws, "client", lambda service, **kwargs: client)
    with stubber:
        yield stubber
    stubber.assert_no_pending_responses()


def _expect_reads(stubber: Stubber, current_config: str, tag_version: str = "6") -> None:
    stubber.add_response(
        "describe_endpoint",
        {
            "EndpointName": ENDPOINT,
            "EndpointArn": f"arn:aws:sagemaker:{REGION}:123456789012:endpoint/{ENDPOINT}",
            "EndpointConfigName": current_config,
            "EndpointStatus": "InService",
            "CreationTime": "2026-11-20T00:00:00Z",
            "LastModifiedTime": "2026-11-20T00:00:00Z",
        },
        {"EndpointName": ENDPOINT},
    )
    if current_config == CONFIG_V6:
        return
    stubber.add_response(
        "describe_endpoint_config",
        {
            "EndpointConfigName": CONFIG_V6,
            "EndpointConfigArn": CONFIG_V6_ARN,
            "ProductionVariants": [{"VariantName": "primary", "ModelName": "fraud-detector-v6"}],
            "CreationTime": "2026-10-02T00:00:00Z",
        },
        {"EndpointConfigName": CONFIG_V6},
    )
    stubber.add_response(
        "list_tags",
        {"Tags": [{"Key": "mlops:model-version", "Value": tag_version}]},
        {"ResourceArn": CONFIG_V6_ARN},
    )


def _outputs(tmp_path, **overrides):
    values = {
        "endpoint_name": ENDPOINT,
        "active_model_version": "7",
        "previous_model_version": "6",
        "active_endpoint_config_name": "fraud-detector-config-v7",
        "previous_endpoint_config_name": CONFIG_V6,
    }
    values.update(overrides)
    return write_outputs(tmp_path / "outputs.json", values)


def test_now_points_the_endpoint_at_the_previous_config(cli, project, tmp_path, stubbed_sagemaker):
    _expect_reads(stubbed_sagemaker, current_config="fraud-detector-config-v7")
    stubbed_sagemaker.add_response(
        "update_endpoint",
        {"EndpointArn": f"arn:aws:sagemaker:{REGION}:123456789012:endpoint/{ENDPOINT}"},
        {
            "EndpointName": ENDPOINT,
            "EndpointConfigName": CONFIG_V6,
            "RetainDeploymentConfig": True,
        },
    )
    code = cli("rollback", "--stack", "aws-prod", "--project", project, "--now",
               "--outputs", _outputs(tmp_path))  # fmt: skip
    assert code == 0, cli.err
    assert f"endpoint {ENDPOINT} is updating to {CONFIG_V6} (fraud-detector v6)" in cli.out
    assert "so the IaC catches up" in cli.out
    assert stackfile.load(project, "aws-prod").spec.serving.rollback is True


def test_now_with_explicit_names_and_already_rolled_back_endpoint(
    cli, project, tmp_path, stubbed_sagemaker
):
    _expect_reads(stubbed_sagemaker, current_config=CONFIG_V6)
    code = cli("rollback", "--stack", "aws-prod", "--project", project, "--now",
               "--endpoint", ENDPOINT, "--endpoint-config", CONFIG_V6)  # fmt: skip
    assert code == 0, cli.err
    assert "already uses" in cli.out


def test_now_matches_the_config_by_version(cli, project, tmp_path, stubbed_sagemaker):
    # After an applied rollback, the outputs call the v6 config the active one.
    _expect_reads(stubbed_sagemaker, current_config=CONFIG_V6)
    outputs = _outputs(
        tmp_path,
        active_model_version="6",
        active_endpoint_config_name=CONFIG_V6,
        previous_model_version="7",
        previous_endpoint_config_name="fraud-detector-config-v7",
    )
    assert (
        cli("rollback", "-s", "aws-prod", "--project", project, "--now", "--outputs", outputs) == 0
    )


def test_now_refuses_a_config_of_another_version(cli, project, tmp_path, stubbed_sagemaker):
    _expect_reads(stubbed_sagemaker, current_config="fraud-detector-config-v7", tag_version="5")
    code = cli("rollback", "--stack", "aws-prod", "--project", project, "--now",
               "--outputs", _outputs(tmp_path))  # fmt: skip
    assert code == 2
    assert "tagged mlops:model-version=5, not 6" in cli.one_error_line()
    assert stackfile.load(project, "aws-prod").spec.serving.rollback is False


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "must hold a JSON object"),
        (
            '{"endpoint_name": "e", "previous_model_version": "6"}',
            "no 'previous_endpoint_config_name'",
        ),
        ('{"previous_endpoint_config_name": "c"}', "has no 'endpoint_name'"),
        ('{"endpoint_name": "[secret]"}', "'endpoint_name' is masked"),
        (
            '{"endpoint_name": "e", "previous_model_version": "5", "active_model_version": "7"}',
            "no endpoint config for fraud-detector v6",
        ),
    ],
)
def test_now_with_malformed_outputs(cli, project, tmp_path, content, message):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(content)
    original = (project / PROD).read_bytes()
    code = cli(
        "rollback", "--stack", "aws-prod", "--project", project, "--now", "--outputs", outputs
    )
    assert code == 2
    assert message in cli.one_error_line()
    assert (project / PROD).read_bytes() == original


def test_now_needs_a_config_source(cli, project):
    code = cli("rollback", "-s", "aws-prod", "--project", project, "--now", "--endpoint", ENDPOINT)
    assert code == 2
    assert "--now needs --endpoint-config NAME or --outputs F" in cli.one_error_line()


def test_now_against_moto_refuses_unknown_endpoint_and_config(cli, project, tmp_path, aws_env):
    with mock_aws():
        outputs = build_platform(boto3.Session())
        base = ["rollback", "-s", "aws-prod", "--project", project, "--now"]
        assert cli(*base, "--endpoint", "nope", "--endpoint-config", CONFIG_V6) == 2
        assert "endpoint nope not found" in cli.one_error_line()
        assert cli(*base, "--endpoint", outputs["endpoint_name"], "--endpoint-config", "gone") == 2
        assert "endpoint config gone not found" in cli.one_error_line()
    assert stackfile.load(project, "aws-prod").spec.serving.rollback is False


def test_now_and_undo_together_are_refused(cli, project):
    assert cli("rollback", "-s", "aws-prod", "--project", project, "--now", "--undo") == 2
    assert "--now only rolls back" in cli.one_error_line()
