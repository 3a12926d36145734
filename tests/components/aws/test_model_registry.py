from __future__ import annotations

import json

import pulumi
import pytest

from mlops_iac.components.aws import ModelRegistry, ModelRegistryArgs
from mlops_iac.plan.testing import run
from tests.components.aws._helpers import REGION, children_by_name, statements, wildcard_allows

COMPONENT = "mlops:aws:ModelRegistry"
ALERTS = "arn:aws:sns:us-east-1:123456789012:alerts"
CHILDREN = {
    "reg-key": "aws:kms/key:Key",
    "reg-key-alias": "aws:kms/alias:Alias",
    "reg-group": "aws:sagemaker/modelPackageGroup:ModelPackageGroup",
    "reg-images": "aws:ecr/repository:Repository",
    "reg-images-lifecycle": "aws:ecr/lifecyclePolicy:LifecyclePolicy",
    "reg-approvers": "aws:sns/topic:Topic",
    "reg-approvers-policy": "aws:sns/topicPolicy:TopicPolicy",
    "reg-approver-0": "aws:sns/topicSubscription:TopicSubscription",
    "reg-approver-1": "aws:sns/topicSubscription:TopicSubscription",
    "reg-pending-rule": "aws:cloudwatch/eventRule:EventRule",
    "reg-pending-target": "aws:cloudwatch/eventTarget:EventTarget",
    "reg-approved-rule": "aws:cloudwatch/eventRule:EventRule",
    "reg-approved-target": "aws:cloudwatch/eventTarget:EventTarget",
}


def build(**kwargs):
    kwargs.setdefault("approvers", ["jane@example.com", "raj@example.com"])
    kwargs.setdefault("alert_topic_arn", ALERTS)

    def program():
        reg = ModelRegistry("reg", ModelRegistryArgs(**kwargs))
        for key in ("registry_name", "registry_id", "image_repository_url", "approvers_topic"):
            pulumi.export(key, getattr(reg, key))

    return run(program, config=REGION)


@pytest.fixture(scope="module")
def dev():
    return build()


def test_children_are_exact_and_parented(dev):
    found = children_by_name(dev, dev.named("reg", COMPONENT))
    assert {name: r.type for name, r in found.items()} == CHILDREN
    assert len(dev) == len(CHILDREN) + 1
    assert not any(r.protect for r in dev)


def test_image_repository_is_immutable_scanned_encrypted_and_pruned(dev):
    key_arn = dev.named("reg-key").outputs["arn"]
    repo = dev.named("reg-images")
    assert repo.inputs["imageTagMutability"] == "IMMUTABLE"
    assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo.inputs["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": key_arn}]
    assert repo.inputs["forceDelete"] is False
    lifecycle = dev.named("reg-images-lifecycle")
    assert lifecycle.inputs["repository"] == repo.outputs["name"]
    [rule] = json.loads(lifecycle.inputs["policy"])["rules"]
    assert rule["selection"] == {
        "tagStatus": "untagged",
        "countType": "imageCountMoreThan",
        "countNumber": 10,
    }
    assert rule["action"] == {"type": "expire"}
    assert dev.named("reg-key").inputs["enableKeyRotation"] is True


def test_approvers_are_notified_through_an_encrypted_topic(dev):
    key_arn = dev.named("reg-key").outputs["arn"]
    topic = dev.named("reg-approvers")
    assert topic.inputs["kmsMasterKeyId"] == key_arn
    emails = [dev.named(f"reg-approver-{i}").inputs for i in range(2)]
    assert [(e["protocol"], e["endpoint"], e["topic"]) for e in emails] == [
        ("email", "jane@example.com", topic.outputs["arn"]),
        ("email", "raj@example.com", topic.outputs["arn"]),
    ]
    policy = {s["Sid"]: s for s in statements(dev.named("reg-approvers-policy"))}
    publish = policy["ServicesPublish"]
    assert publish["Principal"] == {"Service": ["events.amazonaws.com"]}
    assert publish["Action"] == "sns:Publish"
    assert publish["Resource"] == topic.outputs["arn"]
    key_policy = {s["Sid"]: s for s in statements(dev.named("reg-key"))}
    events = key_policy["EventsUsesKeyForThisAccount"]
    assert events["Principal"] == {"Service": "events.amazonaws.com"}
    # EventBridge delivers to encrypted topics only without source conditions: the key is bound
    # to this account's topics through SNS's encryption context instead.
    assert events["Condition"] == {
        "ArnLike": {
            "kms:EncryptionContext:aws:sns:topicArn": ["arn:aws:sns:us-east-1:123456789012:*"]
        },
    }
    assert wildcard_allows(dev) == []


@pytest.mark.parametrize(
    "role, status, target",
    [("pending", "PendingManualApproval", None), ("approved", "Approved", ALERTS)],
)
def test_state_changes_of_this_group_are_routed(dev, role, status, target):
    group = dev.named("reg-group")
    rule = dev.named(f"reg-{role}-rule")
    pattern = json.loads(rule.inputs["eventPattern"])
    assert pattern == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {
            "ModelPackageGroupName": [group.inputs["modelPackageGroupName"]],
            "ModelApprovalStatus": [status],
        },
    }
    event_target = dev.named(f"reg-{role}-target").inputs
    assert event_target["rule"] == rule.outputs["name"]
    assert event_target["arn"] == (target or dev.named("reg-approvers").outputs["arn"])


def test_outputs(dev):
    group = dev.named("reg-group")
    assert dev.exports["registry_name"] == group.inputs["modelPackageGroupName"]
    assert dev.exports["registry_id"] == group.outputs["arn"]
    assert dev.exports["image_repository_url"] == dev.named("reg-images").outputs["repositoryUrl"]
    assert dev.exports["approvers_topic"] == dev.named("reg-approvers").outputs["arn"]


def test_prod_protects_the_registry_and_key():
    recording = build(environment="prod")
    assert {r.name for r in recording if r.protect} == {"reg-group", "reg-images", "reg-key"}
    assert all(r.retain_on_delete for r in recording if r.protect)


def test_existing_key_and_no_alert_topic():
    existing = "arn:aws:kms:us-east-1:123456789012:key/existing"
    recording = build(kms_key_arn=existing, alert_topic_arn=None, approvers=[])
    assert not recording.of_type("aws:kms/key:Key")
    assert not recording.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert [r.name for r in recording.of_type("aws:cloudwatch/eventRule:EventRule")] == [
        "reg-pending-rule"
    ]
    assert recording.named("reg-approvers").inputs["kmsMasterKeyId"] == existing


def test_weakening_the_repository_warns():
    recording = build(immutable_tags=False, scan_on_push=False)
    repo = recording.named("reg-images").inputs
    assert repo["imageTagMutability"] == "MUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": False}
    assert any("immutable_tags is False" in w for w in recording.warnings)
    assert any("scan_on_push is False" in w for w in recording.warnings)
