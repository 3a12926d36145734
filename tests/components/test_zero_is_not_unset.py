"""An explicit ``0`` is a setting, not "use the default" (``value or default`` is a bug).

Where the cloud accepts 0 it reaches the recorded resource input; where it does not (S3 lifecycle
days: "a non-zero positive integer"; Azure blob soft delete 1-365 days; Log Analytics PerGB2018
30-730 days) the component refuses it, naming the setting, instead of silently using the default.
"""

from __future__ import annotations

import pulumi
import pytest

from mlops_iac.plan.testing import ProgramError, run
from tests.components.azure import test_model_registry as azure_registry
from tests.components.azure import test_monitoring as azure_monitoring
from tests.components.azure import test_training_cluster as azure_training


def _aws_store(**kwargs):
    from mlops_iac.components.aws import ArtifactStore, ArtifactStoreArgs

    return run(
        lambda: ArtifactStore("art", ArtifactStoreArgs(**kwargs)),
        config={"aws:region": "us-east-1"},
    )


def _azure_store(**kwargs):
    from mlops_iac.components.azure import ArtifactStore, ArtifactStoreArgs

    return run(
        lambda: ArtifactStore("art", ArtifactStoreArgs(resource_group_name="rg", **kwargs)),
        config={"azure-native:location": "eastus"},
    )


def _gcp_store(**kwargs):
    from mlops_iac.components.gcp import ArtifactStore, ArtifactStoreArgs

    def program():
        store = ArtifactStore("art", ArtifactStoreArgs(**kwargs))
        pulumi.export("bucket", store.bucket_name)

    return run(program, config={"gcp:project": "proj", "gcp:region": "us-central1"})


@pytest.mark.parametrize("setting", ["noncurrent_version_days", "incomplete_upload_days"])
def test_aws_lifecycle_zero_is_refused_not_the_default(setting):
    message = f"ArtifactStore art: {setting} must be at least 1, got 0"
    with pytest.raises(ProgramError, match=message):
        _aws_store(**{setting: 0})


def test_aws_lifecycle_unset_is_the_default():
    rules = {r["id"]: r for r in _aws_store().named("art-lifecycle").inputs["rules"]}
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"] == {
        "noncurrentDays": 90
    }
    assert rules["abort-incomplete-uploads"]["abortIncompleteMultipartUpload"] == {
        "daysAfterInitiation": 7
    }


def test_gcp_zero_reaches_the_bucket():
    bucket = _gcp_store(
        noncurrent_version_days=0, incomplete_upload_days=0, soft_delete_days=0
    ).named("art-bucket")
    rules = bucket.inputs["lifecycleRules"]
    assert rules[0]["condition"]["daysSinceNoncurrentTime"] == 0
    assert rules[1]["condition"]["age"] == 0
    # pulumi-gcp drops a 0 condition from the request unless told to send it.
    assert rules[0]["condition"]["sendDaysSinceNoncurrentTimeIfZero"] is True
    assert rules[1]["condition"]["sendAgeIfZero"] is True
    assert bucket.inputs["softDeletePolicy"] == {"retentionDurationSeconds": 0}
    default = _gcp_store().named("art-bucket")
    assert default.inputs["lifecycleRules"][0]["condition"]["daysSinceNoncurrentTime"] == 90
    assert "sendAgeIfZero" not in default.inputs["lifecycleRules"][1]["condition"]
    assert default.inputs["softDeletePolicy"]["retentionDurationSeconds"] > 0


@pytest.mark.parametrize("days", [1, 6, 91, 365])
def test_gcp_soft_delete_outside_cloud_storages_range_is_refused(days):
    message = f"ArtifactStore art: soft_delete_days must be 0 \\(off\\) or 7 to 90 .*got {days}"
    with pytest.raises(ProgramError, match=message):
        _gcp_store(soft_delete_days=days)


def test_azure_noncurrent_zero_reaches_the_policy_and_soft_delete_zero_is_refused():
    policy = _azure_store(noncurrent_version_days=0).named("art-lifecycle").inputs["policy"]
    [rule] = policy["rules"]
    expected = {"version": {"delete": {"daysAfterCreationGreaterThan": 0}}}
    assert rule["definition"]["actions"] == expected
    message = "ArtifactStore art: soft_delete_days must be at least 1, got 0"
    with pytest.raises(ProgramError, match=message):
        _azure_store(soft_delete_days=0)


def test_azure_untagged_image_days_zero_reaches_the_registry():
    recording = azure_registry.build(environment="prod", untagged_image_days=0)
    policies = recording.named("reg-images").inputs["policies"]
    assert policies["retentionPolicy"] == {"status": "enabled", "days": 0}


def test_azure_log_retention_zero_is_not_the_default():
    with pytest.raises(ProgramError, match="log_retention_days must be at least 30, got 0"):
        azure_training.build(log_retention_days=0)
    # Monitoring documents "at least 30": an explicit 0 is raised to 30, never the default 90.
    recording = azure_monitoring.build(log_retention_days=0)
    [workspace] = [
        r for r in recording.resources if r.type == "azure-native:operationalinsights:Workspace"
    ]
    assert workspace.inputs["retentionInDays"] == 30
