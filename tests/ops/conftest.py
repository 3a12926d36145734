"""Fixtures for the day-2 commands: a throwaway project, fake AWS credentials, a moto platform."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from mlops_iac.cli.main import main
from mlops_iac.plan.testing.moto_s3 import (  # noqa: F401 (re-exported for the ops tests)
    REGION,
    artifact_bucket_policy,
    create_artifact_store,
    fake_aws_environment,
)
from tests.conftest import STACKS
from tests.ops.keys import install_allowed_signers

ACCOUNT = "123456789012"
BUCKET = "fraud-detection-artifacts-1a2b3c"


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """Fake credentials and no way to reach real AWS config, profiles or instance metadata."""
    values, unset = fake_aws_environment(tmp_path)
    for var in unset:
        monkeypatch.delenv(var, raising=False)
    for var, value in values.items():
        monkeypatch.setenv(var, value)


@pytest.fixture
def project(tmp_path) -> Path:
    """A project directory with copies of the reference AWS stack files."""
    root = tmp_path / "project"
    shutil.copytree(
        STACKS,
        root / "stacks",
        ignore=lambda _dir, names: [n for n in names if not n.startswith("Pulumi.aws-")],
    )
    install_allowed_signers(root)
    return root


class Cli:
    """Run ``mlops-iac`` in-process and capture exit code, stdout and stderr."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.out = ""
        self.err = ""

    def __call__(self, *argv: str | Path) -> int:
        self.capsys.readouterr()
        code = main([str(a) for a in argv])
        captured = self.capsys.readouterr()
        self.out, self.err = captured.out, captured.err
        return code

    def one_error_line(self) -> str:
        """The single stderr line of a refused command (fails the test otherwise)."""
        lines = self.err.splitlines()
        assert len(lines) == 1, self.err
        assert "Traceback" not in self.err
        return lines[0]


@pytest.fixture
def cli(capsys) -> Cli:
    return Cli(capsys)


def write_outputs(path: Path, outputs: dict[str, Any]) -> Path:
    path.write_text(json.dumps(outputs, indent=2))
    return path


def _serving_tags(version: str) -> list[dict[str, str]]:
    return [
        {"Key": "mlops:project", "Value": "fraud-detection"},
        {"Key": "mlops:model", "Value": "fraud-detector"},
        {"Key": "mlops:model-version", "Value": version},
    ]


MODELS = "fraud-detection-models"
#: The image digest the reference aws-prod approvals sign (stacks/Pulumi.aws-prod.yaml).
APPROVED_IMAGE_DIGEST = "sha256:c47036387552897f897e0ff1f0111a555b43c495399845cc18d54d74abde2752"


def approved_artifact(version: str) -> bytes:
    """The model.tar.gz bytes whose sha256 the reference aws-prod approval of ``version`` signs."""
    return f"aws-prod/fraud-detector/{version}/model.tar.gz".encode()


def create_endpoint_config(sagemaker: Any, version: str, s3: Any = None) -> str:
    """A model and endpoint config for one version (tagged like the lineage transform does).

    With ``s3``, the model runs the approved image by digest and its artifact is uploaded with a
    SHA-256 checksum (what ``verify`` compares with the approval); without, a tagged image."""
    model = f"fraud-detector-v{version}"
    image = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/fraud:{version}"
    url = f"s3://{BUCKET}/models/{version}/model.tar.gz"
    if s3 is not None:
        # The reference stack's model bucket (stacks/Pulumi.aws-prod.yaml artifactUri).
        image = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/fraud@{APPROVED_IMAGE_DIGEST}"
        if not any(b["Name"] == MODELS for b in s3.list_buckets().get("Buckets", [])):
            s3.create_bucket(Bucket=MODELS)
        key = f"fraud-detector/{version}/model.tar.gz"
        s3.put_object(
            Bucket=MODELS, Key=key, Body=approved_artifact(version), ChecksumAlgorithm="SHA256"
        )
        url = f"s3://{MODELS}/{key}"
    sagemaker.create_model(
        ModelName=model,
        PrimaryContainer={"Image": image, "ModelDataUrl": url},
        ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/serving",
        Tags=_serving_tags(version),
    )
    config = f"fraud-detector-config-v{version}"
    sagemaker.create_endpoint_config(
        EndpointConfigName=config,
        ProductionVariants=[
            {
                "VariantName": "primary",
                "ModelName": model,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
        Tags=_serving_tags(version),
    )
    return config


def build_platform(session: Any) -> dict[str, Any]:
    """A compliant AWS platform in moto; returns its stack outputs (as pulumi prints them)."""
    s3 = session.client("s3", region_name=REGION)
    kms = session.client("kms", region_name=REGION)
    sagemaker = session.client("sagemaker", region_name=REGION)
    cloudwatch = session.client("cloudwatch", region_name=REGION)
    sns = session.client("sns", region_name=REGION)

    key_arn = create_artifact_store(s3, kms, BUCKET)
    active = create_endpoint_config(sagemaker, "7", s3)
    previous = create_endpoint_config(sagemaker, "6", s3)
    endpoint = "fraud-detector-endpoint"
    sagemaker.create_endpoint(
        EndpointName=endpoint, EndpointConfigName=active, Tags=_serving_tags("7")
    )
    alert_topic = sns.create_topic(Name="alerts", Attributes={"KmsMasterKeyId": key_arn})
    approvers_topic = sns.create_topic(Name="approvers", Attributes={"KmsMasterKeyId": key_arn})
    alarms = ["fraud-detector-latency-p99", "fraud-detector-5xx-rate"]
    for name in alarms:
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            Namespace="AWS/SageMaker",
            MetricName="ModelLatency",
            Dimensions=[{"Name": "EndpointName", "Value": endpoint}],
            Statistic="Average",
            Period=60,
            EvaluationPeriods=3,
            Threshold=250_000,
            ComparisonOperator="GreaterThanThreshold",
            AlarmActions=[alert_topic["TopicArn"]],
        )
    return {
        "artifact_bucket_name": BUCKET,
        "artifact_bucket_uri": f"s3://{BUCKET}",
        "dvc_remote_url": f"s3://{BUCKET}/dvc",
        "kms_key_id": key_arn,
        "endpoint_name": endpoint,
        "endpoint_url": f"https://runtime.sagemaker.{REGION}.amazonaws.com/endpoints/{endpoint}/invocations",
        "active_model_version": "7",
        "previous_model_version": "6",
        "active_endpoint_config_name": active,
        "previous_endpoint_config_name": previous,
        "alarm_names": alarms,
        "approvers_topic": approvers_topic["TopicArn"],
        "alert_topic": alert_topic["TopicArn"],
        "registry_name": "fraud-detector",
        "image_repository_url": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/fraud",
    }
