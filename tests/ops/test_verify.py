"""``mlops-iac verify`` against a compliant and a drifted moto account."""

from __future__ import annotations

import hashlib
import json

import boto3
import pytest
from moto import mock_aws

from mlops_iac.cli import aws, verify
from tests.ops.conftest import (
    BUCKET,
    MODELS,
    REGION,
    approved_artifact,
    build_platform,
    write_outputs,
)

PROD = "stacks/Pulumi.aws-prod.yaml"
ALL_CHECKS = [
    "bucket-versioning",
    "bucket-encryption",
    "bucket-public-access",
    "bucket-tls-only",
    "kms-rotation",
    "endpoint-in-service",
    "endpoint-approved-version",
    "endpoint-config",
    "endpoint-model-version",
    "endpoint-artifact-digest",
    "alarm-actions",
    "alarm-actions",
    "approvers-topic-encrypted",
    "alert-topic-encrypted",
]


@pytest.fixture
def platform(aws_env, tmp_path, monkeypatch):
    """A compliant platform in moto, its outputs file, and a log of every AWS operation."""
    operations: list[str] = []
    real_client = aws.client

    def recording_client(service, **kwargs):
        client = real_client(service, **kwargs)
        client.meta.events.register(
            "before-call.*.*", lambda model, **_: operations.append(model.name)
        )
        return client

    monkeypatch.setattr(aws, "client", recording_client)
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        outputs = build_platform(session)
        yield session, outputs, write_outputs(tmp_path / "outputs.json", outputs), operations


def _verify(cli, project, outputs_file, *extra):
    return cli("verify", "--stack", "aws-prod", "--project", project,
               "--outputs", outputs_file, *extra)  # fmt: skip


def test_compliant_account_passes(cli, project, platform, tmp_path):
    _, _, outputs_file, operations = platform
    result = tmp_path / "verify.json"
    assert _verify(cli, project, outputs_file, "--json", result) == 0, cli.out + cli.err
    document = json.loads(result.read_text())
    assert document["passed"] is True
    assert [c["check"] for c in document["checks"]] == ALL_CHECKS
    assert all(c["passed"] for c in document["checks"]), document
    assert "14 checks, 0 failed" in cli.out
    approved = next(c for c in document["checks"] if c["check"] == "endpoint-approved-version")
    assert approved["detail"] == "fraud-detector v7 approved by jane@example.com (CHG-1234)"
    # Read-only: nothing but Get/Describe/List calls reached AWS.
    assert operations
    assert all(op.startswith(("Get", "Describe", "List", "Head")) for op in operations), operations


def test_drifted_account_names_every_drifted_check(cli, project, platform):
    session, outputs, outputs_file, operations = platform
    s3 = session.client("s3")
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    s3.put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_public_access_block(
        Bucket=BUCKET,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": True,
        },
    )
    s3.delete_bucket_policy(Bucket=BUCKET)
    session.client("kms").disable_key_rotation(KeyId=outputs["kms_key_id"])
    cloudwatch = session.client("cloudwatch")
    cloudwatch.disable_alarm_actions(AlarmNames=[outputs["alarm_names"][0]])
    cloudwatch.delete_alarms(AlarmNames=[outputs["alarm_names"][1]])
    session.client("sns").set_topic_attributes(
        TopicArn=outputs["approvers_topic"], AttributeName="KmsMasterKeyId", AttributeValue=""
    )
    # The served v7 loses its approval; the stack's deployed config differs from the live one.
    path = project / PROD
    path.write_text(
        path.read_text().replace(
            'version: "7"\n          approvedBy', 'version: "9"\n          approvedBy'
        )
    )
    outputs["active_endpoint_config_name"] = "fraud-detector-config-v9"
    outputs_file.write_text(json.dumps(outputs))
    del operations[:]

    assert _verify(cli, project, outputs_file, "--json") == 1
    document = json.loads(cli.out)
    failed = {
        (c["check"], c["resource"]): c["detail"] for c in document["checks"] if not c["passed"]
    }
    assert failed == {
        ("bucket-versioning", BUCKET): "versioning Suspended",
        ("bucket-encryption", BUCKET): "default encryption is AES256, not SSE-KMS",
        ("bucket-public-access", BUCKET): "not set: BlockPublicPolicy",
        ("bucket-tls-only", BUCKET): "NoSuchBucketPolicy: The bucket policy does not exist",
        ("kms-rotation", outputs["kms_key_id"]): "rotation disabled",
        (
            "endpoint-approved-version",
            outputs["endpoint_name"],
        ): "fraud-detector v7 has no valid approval in the stack file",
        (
            "endpoint-config",
            outputs["endpoint_name"],
        ): "uses fraud-detector-config-v7, the stack deployed fraud-detector-config-v9 "
        "(rolled back, or changed outside the stack)",
        (
            "endpoint-artifact-digest",
            outputs["endpoint_name"],
        ): "fraud-detector v7 has no approval that records its digests",
        ("alarm-actions", outputs["alarm_names"][0]): "actions disabled",
        ("alarm-actions", outputs["alarm_names"][1]): "alarm not found",
        (
            "approvers-topic-encrypted",
            outputs["approvers_topic"],
        ): "not encrypted (no KmsMasterKeyId)",
    }
    assert document["passed"] is False
    assert all(op.startswith(("Get", "Describe", "List", "Head")) for op in operations), operations

    # The table names the same drift for a human.
    assert _verify(cli, project, outputs_file) == 1
    summary = cli.out.strip().splitlines()[-1]
    assert summary.startswith("14 checks, 11 failed: alarm-actions, approvers-topic-encrypted")
    for check in {check for check, _ in failed}:
        assert check in summary


def test_owner_approval_does_not_count(cli, project, platform):
    _, _, outputs_file, _ = platform
    path = project / PROD
    path.write_text(
        path.read_text().replace(
            "approvedBy: jane@example.com", "approvedBy: ml-platform@example.com"
        )
    )
    assert _verify(cli, project, outputs_file, "--json") == 1
    assert json.loads(cli.out)["failed"] == ["endpoint-approved-version"]


def test_missing_endpoint_fails_both_endpoint_checks(cli, project, platform):
    session, outputs, outputs_file, _ = platform
    session.client("sagemaker").delete_endpoint(EndpointName=outputs["endpoint_name"])
    assert _verify(cli, project, outputs_file, "--json") == 1
    assert json.loads(cli.out)["failed"] == [
        "endpoint-in-service",
        "endpoint-approved-version",
        "endpoint-config",
        "endpoint-model-version",
    ]


def test_key_given_as_alias_is_resolved(platform):
    session, outputs, _, _ = platform
    kms = session.client("kms")
    kms.create_alias(AliasName="alias/artifacts", TargetKeyId=outputs["kms_key_id"])
    s3 = session.client("s3")
    s3.put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": "alias/artifacts",
                    }
                }
            ]
        },
    )
    checks = verify.bucket_checks(s3, kms, BUCKET, outputs["kms_key_id"])
    assert all(c.passed for c in checks), checks


@pytest.mark.parametrize(
    ("statement", "denies"),
    [
        ({}, True),
        ({"Principal": {"AWS": "*"}, "Condition": {"Bool": {"aws:SecureTransport": False}}}, True),
        ({"Effect": "Allow"}, False),
        ({"Action": "s3:GetObject"}, False),
        ({"Resource": f"arn:aws:s3:::{BUCKET}"}, False),
        ({"Principal": {"AWS": "arn:aws:iam::123456789012:root"}}, False),
        ({"Condition": {"Bool": {"aws:SecureTransport": "true"}}}, False),
    ],
)
def test_tls_policy_recognition(statement, denies):
    base = json.loads(
        __import__(
            "tests.ops.conftest", fromlist=["artifact_bucket_policy"]
        ).artifact_bucket_policy(BUCKET)
    )
    base["Statement"][0].update(statement)
    assert verify.denies_insecure_transport(base, BUCKET) is denies


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ({}, "has no 'artifact_bucket_name'"),
        ({"alarm_names": "one-alarm"}, "'alarm_names' must be a list of strings"),
        ({"kms_key_id": "1234abcd-12ab"}, "output 'kms_key_id' must be an kms ARN"),
        ({"approvers_topic": None}, "has no 'approvers_topic'"),
    ],
)
def test_malformed_outputs_exit_2_before_any_call(
    cli, project, tmp_path, monkeypatch, outputs, message
):
    def no_aws(service, **kwargs):
        raise AssertionError(f"unexpected {service} client")

    monkeypatch.setattr(aws, "client", no_aws)
    good = {
        "artifact_bucket_name": BUCKET,
        "kms_key_id": f"arn:aws:kms:{REGION}:123456789012:key/1234abcd-12ab",
        "endpoint_name": "e",
        "alarm_names": ["a"],
        "approvers_topic": f"arn:aws:sns:{REGION}:123456789012:approvers",
    }
    values = {**good, **outputs} if outputs else {}
    outputs_file = write_outputs(tmp_path / "outputs.json", values)
    assert _verify(cli, project, outputs_file) == 2
    assert message in cli.one_error_line()


def test_gcp_stack_without_its_outputs_is_one_line(cli, project, tmp_path, monkeypatch):
    # GCP stacks are verified through the cloud's REST API (tests/ops/test_cloud_day2.py); a
    # stack that cannot be located fails before any credential is loaded.
    from mlops_iac.cli import cloudrest

    monkeypatch.setattr(cloudrest, "transport_for", lambda cloud: pytest.fail("no transport"))
    path = project / "stacks/Pulumi.aws-dev.yaml"
    text = path.read_text().replace("cloud: aws", "cloud: gcp").replace("gpu: t4", "gpu: l4")
    # A valid GCP spec: model artifacts in gs:// need gcp.externalArtifacts (bring your own).
    text = text.replace("s3://", "gs://") + "    gcp:\n      externalArtifacts: true\n"
    (project / "stacks/Pulumi.gcp-dev.yaml").write_text(text)
    outputs = write_outputs(tmp_path / "o.json", {})
    assert cli("verify", "-s", "gcp-dev", "--project", project, "--outputs", outputs) == 2
    assert "no gcp:project and no output names a project" in cli.one_error_line()


def test_missing_credentials_is_one_line(cli, project, tmp_path, aws_env, monkeypatch):
    # No mock: botocore finds no credentials and fails before sending anything.
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    outputs = write_outputs(
        tmp_path / "outputs.json",
        {
            "artifact_bucket_name": BUCKET,
            "kms_key_id": f"arn:aws:kms:{REGION}:123456789012:key/1234abcd-12ab",
            "endpoint_name": "e",
            "alarm_names": ["a"],
            "approvers_topic": f"arn:aws:sns:{REGION}:123456789012:approvers",
        },
    )
    assert _verify(cli, project, outputs) == 2
    assert "Unable to locate credentials" in cli.one_error_line()


# A rollout SageMaker rolled back: the endpoint is InService again on the previous config, while
# the stack's exports (here aws-prod's, as planned) name the new one. `pulumi up` succeeded.
@pytest.fixture
def planned_endpoint(aws_env):
    from tests.conftest import reference_recording

    recording = reference_recording("aws-prod")
    exports = recording.exports
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        for version in (exports["active_model_version"], exports["previous_model_version"]):
            model = recording.named(f"mlops-serving-model-v{version}")
            config = recording.named(f"mlops-serving-config-v{version}")
            tags = [{"Key": k, "Value": v} for k, v in model.inputs["tags"].items()]
            sagemaker.create_model(
                ModelName=model.outputs["name"],
                PrimaryContainer={
                    "Image": model.inputs["primaryContainer"]["image"],
                    "ModelDataUrl": model.inputs["primaryContainer"]["modelDataUrl"],
                },
                ExecutionRoleArn=model.inputs["executionRoleArn"],
                Tags=tags,
            )
            (variant,) = config.inputs["productionVariants"]
            sagemaker.create_endpoint_config(
                EndpointConfigName=config.outputs["name"],
                ProductionVariants=[
                    {
                        "VariantName": variant["variantName"],
                        "ModelName": variant["modelName"],
                        "InitialInstanceCount": int(variant["initialInstanceCount"]),
                        "InstanceType": variant["instanceType"],
                    }
                ],
                Tags=tags,
            )
        yield sagemaker, exports


def _endpoint_verdicts(sagemaker, exports, live_config):
    from mlops_iac.spec.parse import parse_spec
    from tests.conftest import platform_raw

    sagemaker.create_endpoint(EndpointName=exports["endpoint_name"], EndpointConfigName=live_config)
    checks = verify.endpoint_checks(
        sagemaker,
        exports["endpoint_name"],
        parse_spec(platform_raw("aws-prod")),
        exports["active_endpoint_config_name"],
        exports["active_model_version"],
    )
    return {c.check: (c.passed, c.detail) for c in checks}


def test_a_rolled_back_rollout_fails_verify_naming_both(planned_endpoint):
    sagemaker, exports = planned_endpoint
    old, new = exports["previous_endpoint_config_name"], exports["active_endpoint_config_name"]
    verdicts = _endpoint_verdicts(sagemaker, exports, live_config=old)
    assert verdicts["endpoint-config"] == (
        False,
        f"uses {old}, the stack deployed {new} (rolled back, or changed outside the stack)",
    )
    old_model = sagemaker.describe_endpoint_config(EndpointConfigName=old)["ProductionVariants"][0][
        "ModelName"
    ]
    assert verdicts["endpoint-model-version"] == (
        False,
        f"variant AllTraffic serves {old_model} (v6); the stack deployed v7",
    )
    # v6 is approved too: the approval check alone would have passed the rolled-back endpoint.
    assert verdicts["endpoint-approved-version"][0] is True


def test_the_rollout_that_took_passes(planned_endpoint):
    sagemaker, exports = planned_endpoint
    verdicts = _endpoint_verdicts(sagemaker, exports, exports["active_endpoint_config_name"])
    assert verdicts["endpoint-config"][0] and verdicts["endpoint-model-version"][0], verdicts
    assert verdicts["endpoint-model-version"][1].endswith("(v7)")


def test_missing_exports_fail_instead_of_skipping(planned_endpoint):
    sagemaker, exports = planned_endpoint
    sagemaker.create_endpoint(
        EndpointName=exports["endpoint_name"],
        EndpointConfigName=exports["active_endpoint_config_name"],
    )
    from mlops_iac.spec.parse import parse_spec
    from tests.conftest import platform_raw

    checks = verify.endpoint_checks(
        sagemaker, exports["endpoint_name"], parse_spec(platform_raw("aws-prod")), None, None
    )
    failed = {c.check: c.detail for c in checks if not c.passed}
    assert failed == {
        "endpoint-config": "the stack exports no active_endpoint_config_name to compare with",
        "endpoint-model-version": "the stack exports no active_model_version to compare with",
    }


def _upload(session, **kwargs) -> None:
    session.client("s3").put_object(Bucket=MODELS, Key="fraud-detector/7/model.tar.gz", **kwargs)


def _artifact_check(cli, project, outputs_file, tmp_path) -> dict:
    result = tmp_path / "result.json"
    assert _verify(cli, project, outputs_file, "--json", result) == 1
    document = json.loads(result.read_text())
    (check,) = [c for c in document["checks"] if c["check"] == "endpoint-artifact-digest"]
    return check


def test_a_replaced_model_artifact_under_the_approved_version_fails(
    cli, project, platform, tmp_path
):
    # Other bytes at v7's key (a v8 model.tar.gz under v7's approval): the live checksum is
    # not the digest the approval signed.
    session, _, outputs_file, _ = platform
    swapped = b"fraud-detector v8 model.tar.gz"
    _upload(session, Body=swapped, ChecksumAlgorithm="SHA256")
    check = _artifact_check(cli, project, outputs_file, tmp_path)
    assert check["passed"] is False
    assert check["detail"] == (
        f"s3://{MODELS}/fraud-detector/7/model.tar.gz has sha256 "
        f"{hashlib.sha256(swapped).hexdigest()}, "
        "not the approved a40a06ed329955a7b11b61bc314debf0e13a6a64dd020ff9c4257655f4d88f1f"
    )


def _artifact_check_any(cli, project, outputs_file, tmp_path) -> dict:
    result = tmp_path / "result.json"
    _verify(cli, project, outputs_file, "--json", result)
    document = json.loads(result.read_text())
    (check,) = [c for c in document["checks"] if c["check"] == "endpoint-artifact-digest"]
    return check


def test_an_artifact_without_a_sha256_checksum_is_hashed_and_passes(
    cli, project, platform, tmp_path
):
    # A multipart `aws s3 cp` or a training job's upload stores no whole-object SHA-256: the
    # object is read and hashed, so the right bytes pass however they were uploaded.
    session, _, outputs_file, _ = platform
    _upload(session, Body=approved_artifact("7"))
    check = _artifact_check_any(cli, project, outputs_file, tmp_path)
    assert check["passed"] is True, check["detail"]
    assert "fraud-detector/7/model.tar.gz sha256 a40a06ed3299" in check["detail"]


def test_a_replaced_artifact_without_a_checksum_fails(cli, project, platform, tmp_path):
    session, _, outputs_file, _ = platform
    swapped = b"fraud-detector v8 model.tar.gz"
    _upload(session, Body=swapped)
    check = _artifact_check(cli, project, outputs_file, tmp_path)
    assert check["detail"] == (
        f"s3://{MODELS}/fraud-detector/7/model.tar.gz has sha256 "
        f"{hashlib.sha256(swapped).hexdigest()}, "
        "not the approved a40a06ed329955a7b11b61bc314debf0e13a6a64dd020ff9c4257655f4d88f1f"
    )
