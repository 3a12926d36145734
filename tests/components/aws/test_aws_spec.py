"""AWS-specific stack-file mistakes name their key path (base: stacks/Pulumi.aws-dev.yaml)."""

from __future__ import annotations

import pytest

from mlops_iac.plan.testing import ProgramError, run_project
from mlops_iac.spec.errors import SpecError
from mlops_iac.spec.parse import parse_spec
from tests.conftest import REPO, platform_raw, reference_recording


def _set(raw: dict, path: str, value) -> dict:
    keys = path.split(".")
    node = raw
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    return raw


def problems(raw: dict) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_spec(raw)
    return info.value.lines


def test_reference_file_is_valid_for_aws():
    spec = parse_spec(platform_raw("aws-dev"))
    assert spec.cloud == "aws" and spec.training.gpu == "t4"


@pytest.mark.parametrize(
    "path, value, expected",
    [
        ("training.gpu", "v100", "mlops:platform.training.gpu: unknown GPU 'v100'"),
        (
            "training.gpusPerNode",
            4,
            "mlops:platform.training.gpusPerNode: g4dn.xlarge has 1 GPU(s) per node",
        ),
        ("serving.replicas", {"min": 3, "max": 2}, "mlops:platform.serving.replicas.max: must be"),
        ("serving.rollout.canaryPercent", 0, "mlops:platform.serving.rollout.canaryPercent:"),
        ("serving.rollout.canaryPercent", 51, "mlops:platform.serving.rollout.canaryPercent:"),
        ("training.maxNodes", -1, "mlops:platform.training.maxNodes:"),
        (
            "aws",
            {"subnetIds": ["subnet-1", "subnet-2"]},
            "mlops:platform.aws.subnetIds: give vpcId and subnetIds together",
        ),
        ("aws", {"availabilityZones": 1}, "mlops:platform.aws.availabilityZones:"),
        ("aws", {"vpcId": "net-1", "subnetIds": ["a", "b"]}, "mlops:platform.aws.vpcId:"),
        ("azure", {"tenantId": "t"}, "mlops:platform.azure: only valid when cloud is azure"),
    ],
)
def test_aws_mistakes_name_the_key_path(path, value, expected):
    lines = problems(_set(platform_raw("aws-dev"), path, value))
    assert any(line.startswith(expected) for line in lines), lines


def test_the_program_reports_the_key_path_without_a_traceback():
    raw = _set(platform_raw("aws-dev"), "serving.rollout.canaryPercent", 75)
    with pytest.raises(ProgramError, match=r"mlops:platform\.serving\.rollout\.canaryPercent"):
        run_project(REPO, "aws-dev", extra_config={"mlops:platform": raw})


def test_aws_block_fields_reach_the_components():
    raw = platform_raw("aws-dev")
    raw["aws"] = {"kubernetesVersion": "1.30", "captureSamplingPercent": 25}
    recording = run_project(REPO, "aws-dev", extra_config={"mlops:platform": raw})
    assert recording.named("mlops-training-cluster").inputs["version"] == "1.30"
    for version in ("7", "6"):
        capture = recording.named(f"mlops-serving-config-v{version}").inputs["dataCaptureConfig"]
        assert capture["initialSamplingPercentage"] == 25
    assert any("capture_sampling_percent is 25" in w for w in recording.warnings)


def test_capture_expires_in_the_store_and_its_replica_after_the_retention():
    # aws-prod replicates to us-west-2: the replica's capture expires too.
    prod = reference_recording("aws-prod")
    lifecycles = prod.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    assert len(lifecycles) == 2
    for lifecycle in lifecycles:
        rules = {r["id"]: r for r in lifecycle.inputs["rules"]}
        assert rules["expire-capture"]["filter"] == {"prefix": "capture/"}
        assert rules["expire-capture"]["expiration"] == {"days": 30}
    raw = platform_raw("aws-dev")
    raw["aws"] = {"captureRetentionDays": 3}
    recording = run_project(REPO, "aws-dev", extra_config={"mlops:platform": raw})
    (lifecycle,) = recording.of_type(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    )
    rules = {r["id"]: r for r in lifecycle.inputs["rules"]}
    assert rules["expire-capture"]["expiration"] == {"days": 3}


def test_capture_must_outlive_the_drift_window():
    raw = _set(platform_raw("aws-dev"), "aws", {"captureRetentionDays": 3})
    raw["monitoring"]["drift"] = "weekly"
    assert problems(raw) == [
        "mlops:platform.aws.captureRetentionDays: 3 day(s) expire capture the drift job still "
        "reads (its window is 168 hours)"
    ]
    raw["aws"]["captureRetentionDays"] = 7
    assert parse_spec(raw).aws.capture_retention_days == 7


@pytest.mark.parametrize(
    "block, expected",
    [
        ({"kubernetesVersion": "latest"}, "mlops:platform.aws.kubernetesVersion:"),
        ({"captureRetentionDays": 0}, "mlops:platform.aws.captureRetentionDays:"),
        ({"captureSamplingPercent": 0}, "mlops:platform.aws.captureSamplingPercent:"),
    ],
)
def test_aws_block_values_are_checked(block, expected):
    lines = problems(_set(platform_raw("aws-dev"), "aws", block))
    assert any(line.startswith(expected) for line in lines), lines
