from __future__ import annotations

import re

import pulumi
import pulumi_aws as aws
import pytest

from mlops_iac.components.lineage import (
    lineage_transform,
    merge_tags,
    sanitise,
    serving_tags,
    tag_input,
)
from mlops_iac.plan.testing import run
from mlops_iac.spec.parse import parse_spec
from tests.conftest import platform_raw

LINEAGE = {
    "mlops:project": "fraud-detection",
    "mlops:owner": "ml-platform@example.com",
    "mlops:git-sha": "4f2c1e9",
    "mlops:dataset-version": "md5:3b1f0c2d",
}


def test_base_tags_from_the_spec():
    from mlops_iac.components.lineage import base_tags

    spec = parse_spec(platform_raw("aws-prod"))
    assert base_tags(spec) == {
        "mlops:project": "fraud-detection",
        "mlops:environment": "prod",
        "mlops:owner": "ml-platform@example.com",
        "mlops:cost-center": "cc-1234",
        "mlops:git-sha": "4f2c1e9",
        "mlops:dataset-version": "md5:3b1f0c2d9e8a7b6c5d4e3f2a1b0c9d8e",
    }


def test_serving_tags_name_the_approval():
    spec = parse_spec(platform_raw("aws-prod"))
    assert serving_tags(spec, spec.serving.model) == {
        "mlops:model": "fraud-detector",
        "mlops:model-version": "7",
        "mlops:approved-by": "jane@example.com",
        "mlops:approval-ticket": "CHG-1234",
    }
    raw = platform_raw("aws-prod")
    raw["governance"]["approvals"] = []
    unapproved = parse_spec(raw)
    assert serving_tags(unapproved, unapproved.serving.model)["mlops:approved-by"] == "none"


def test_gcp_labels_follow_the_key_rules():
    labels = sanitise({**LINEAGE, "mlops:Weird Key!": "X" * 100}, "gcp")
    assert labels["mlops-git-sha"] == "4f2c1e9"
    assert labels["mlops-owner"] == "ml-platform_example_com"
    assert labels["mlops-dataset-version"] == "md5_3b1f0c2d"
    for key, value in labels.items():
        assert re.fullmatch(r"[a-z][a-z0-9_-]{0,62}", key), key
        assert re.fullmatch(r"[a-z0-9_-]{0,63}", value), value


def test_aws_and_azure_keep_canonical_keys():
    assert sanitise(LINEAGE, "aws") == LINEAGE
    assert sanitise({"mlops:a/b": "v?"}, "azure") == {"mlops:a_b": "v?"}
    assert sanitise({"k": "a<b>"}, "aws") == {"k": "a_b_"}
    with pytest.raises(ValueError, match="valid choices: aws, azure, gcp"):
        sanitise(LINEAGE, "oracle")


@pytest.mark.parametrize(
    ("type_token", "expected"),
    [
        ("aws:s3/bucket:Bucket", "tags"),
        ("aws:s3/bucketPolicy:BucketPolicy", None),
        ("aws:autoscaling/group:Group", "tags"),  # a list of {key, value, propagateAtLaunch}
        ("azure-native:storage:StorageAccount", "tags"),
        ("gcp:storage/bucket:Bucket", "labels"),
        ("gcp:container/cluster:Cluster", "resourceLabels"),
        ("gcp:monitoring/alertPolicy:AlertPolicy", "userLabels"),
        ("mlops:aws:ArtifactStore", None),
        ("random:index/randomId:RandomId", None),
    ],
)
def test_tag_input_is_read_from_the_provider_sdk(type_token, expected):
    # In a program the provider package is loaded by the time its resources register.
    import pulumi_azure_native  # noqa: F401
    import pulumi_gcp  # noqa: F401

    assert tag_input(type_token) == expected


def test_merge_keeps_explicit_tags():
    merged = merge_tags(
        "aws:s3/bucket:Bucket", {"tags": {"mlops:owner": "team@example.com"}}, LINEAGE
    )
    assert merged["tags"]["mlops:owner"] == "team@example.com"
    assert merged["tags"]["mlops:git-sha"] == "4f2c1e9"
    assert merge_tags("aws:s3/bucket:Bucket", {"tags": dict(LINEAGE)}, LINEAGE) is None


def test_transform_tags_team_resources_created_outside_components():
    def program():
        pulumi.runtime.register_resource_transform(lineage_transform(LINEAGE))
        aws.sqs.Queue("team-queue")
        aws.s3.Bucket("team-bucket", tags={"mlops:owner": "team@example.com", "team": "fraud"})
        aws.s3.BucketPolicy("team-policy", bucket="b", policy="{}")

    recording = run(program, config={"aws:region": "us-east-1"})
    assert recording.named("team-queue").inputs["tags"] == LINEAGE
    assert recording.named("team-bucket").inputs["tags"] == {
        **LINEAGE,
        "mlops:owner": "team@example.com",
        "team": "fraud",
    }
    assert "tags" not in recording.named("team-policy").inputs


def test_transform_tags_an_autoscaling_group_through_its_tag_list():
    def program():
        pulumi.runtime.register_resource_transform(lineage_transform(LINEAGE))
        aws.autoscaling.Group(
            "team-asg",
            max_size=1,
            min_size=0,
            tags=[
                {"key": "mlops:owner", "value": "team@example.com", "propagate_at_launch": False}
            ],
        )

    recording = run(program, config={"aws:region": "us-east-1"})
    tags = recording.named("team-asg").inputs["tags"]
    assert tags[0] == {
        "key": "mlops:owner",
        "value": "team@example.com",
        "propagateAtLaunch": False,
    }
    assert {t["key"]: t["value"] for t in tags} == {**LINEAGE, "mlops:owner": "team@example.com"}
    assert all(t["propagateAtLaunch"] for t in tags[1:])
    assert len(tags) == len(LINEAGE)


def test_transform_sanitises_per_provider():
    import pulumi_gcp as gcp

    def program():
        pulumi.runtime.register_resource_transform(lineage_transform(LINEAGE))
        gcp.storage.Bucket("gcs", location="US")

    recording = run(program, config={"gcp:project": "p"})
    assert recording.named("gcs").inputs["labels"]["mlops-git-sha"] == "4f2c1e9"


def test_gcp_notification_channels_get_lineage_in_user_labels_not_in_their_config():
    assert tag_input("gcp:monitoring/notificationChannel:NotificationChannel") == "userLabels"
    props = {"type": "email", "labels": {"email_address": "a@example.com"}}
    merged = merge_tags("gcp:monitoring/notificationChannel:NotificationChannel", props, LINEAGE)
    assert merged["labels"] == {"email_address": "a@example.com"}
    assert merged["userLabels"]["mlops-git-sha"] == "4f2c1e9"
