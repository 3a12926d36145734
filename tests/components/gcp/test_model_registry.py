from __future__ import annotations

import pulumi
import pytest

from mlops_iac.components.gcp import ModelRegistry, ModelRegistryArgs
from mlops_iac.plan.testing import ProgramError
from tests.components.gcp._helpers import (
    GCS_AGENT,
    KMS_ROLE,
    PROJECT,
    agent,
    children,
    rid,
    run_component,
)

REPO = rid("reg", "images", 63)

COMPONENT = "mlops:gcp:ModelRegistry"
CORE = {
    "reg-registry-agent": "gcp:projects/serviceIdentity:ServiceIdentity",
    "reg-pubsub-agent": "gcp:projects/serviceIdentity:ServiceIdentity",
    "reg-key-ring": "gcp:kms/keyRing:KeyRing",
    "reg-key": "gcp:kms/cryptoKey:CryptoKey",
    "reg-key-registry-agent": "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
    "reg-key-gcs-agent": "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
    "reg-key-pubsub-agent": "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
    "reg-repository": "gcp:artifactregistry/repository:Repository",
    "reg-models": "gcp:storage/bucket:Bucket",
    "reg-approvals": "gcp:pubsub/topic:Topic",
    "reg-approvals-gcs-publisher": "gcp:pubsub/topicIAMMember:TopicIAMMember",
    "reg-model-notification": "gcp:storage/notification:Notification",
}
APPROVERS = ["jane@example.com", "raj@example.com"]


def build(**kwargs):
    def program():
        registry = ModelRegistry("reg", ModelRegistryArgs(**kwargs))
        for output in (
            "registry_name",
            "registry_id",
            "image_repository_url",
            "approvers_topic",
            "approver_channels",
        ):
            pulumi.export(output, getattr(registry, output))

    return run_component(program)


def test_children_are_exact_and_parented():
    recording = build(approvers=APPROVERS)
    found = children(recording, "reg", COMPONENT)
    assert {name: r.type for name, r in found.items()} == {
        **CORE,
        "reg-approver-0": "gcp:monitoring/notificationChannel:NotificationChannel",
        "reg-approver-1": "gcp:monitoring/notificationChannel:NotificationChannel",
        "reg-image-pushed": "gcp:monitoring/alertPolicy:AlertPolicy",
        "reg-registry-audit-logs": "gcp:projects/iAMAuditConfig:IAMAuditConfig",
    }
    assert not any(r.protect for r in recording)


def test_without_approvers_only_the_topic_notifies():
    recording = build()
    found = children(recording, "reg", COMPONENT)
    assert {name: r.type for name, r in found.items()} == CORE
    assert recording.exports["approver_channels"] == []


def test_key_grants_each_service_agent_that_encrypts_with_it():
    recording = build()
    key = recording.named("reg-key")
    members = {
        name: recording.named(f"reg-key-{name}").inputs
        for name in ("registry-agent", "gcs-agent", "pubsub-agent")
    }
    assert members == {
        "registry-agent": {
            "cryptoKeyId": key.id,
            "role": KMS_ROLE,
            "member": agent("gcp-sa-artifactregistry.iam.gserviceaccount.com"),
        },
        "gcs-agent": {"cryptoKeyId": key.id, "role": KMS_ROLE, "member": GCS_AGENT},
        "pubsub-agent": {
            "cryptoKeyId": key.id,
            "role": KMS_ROLE,
            "member": agent("gcp-sa-pubsub.iam.gserviceaccount.com"),
        },
    }
    grant_urns = {recording.named(f"reg-key-{n}").urn for n in members}
    for name in ("reg-repository", "reg-models", "reg-approvals"):
        assert grant_urns <= set(recording.named(name).dependencies), name


def test_the_agents_the_key_grants_are_created_before_the_grants():
    # A new project has no Artifact Registry or Pub/Sub agent until something creates it; a
    # grant to the agent's name then fails ("Service account ... does not exist").
    recording = build()
    for agent_name, service in (
        ("registry-agent", "artifactregistry.googleapis.com"),
        ("pubsub-agent", "pubsub.googleapis.com"),
    ):
        identity = recording.named(f"reg-{agent_name}")
        assert identity.type == "gcp:projects/serviceIdentity:ServiceIdentity"
        assert identity.inputs == {"project": PROJECT, "service": service}
        grant = recording.named(f"reg-key-{agent_name}")
        assert grant.inputs["member"] == identity.outputs["member"]
        assert identity.urn in grant.dependencies


def test_repository_is_cmek_immutable_scanned_and_cleaned():
    recording = build()
    repo = recording.named("reg-repository").inputs
    assert repo["format"] == "DOCKER"
    assert repo["repositoryId"] == REPO
    assert repo["kmsKeyName"] == recording.named("reg-key").id
    assert repo["dockerConfig"] == {"immutableTags": True}
    assert repo["vulnerabilityScanningConfig"] == {"enablementConfig": "INHERITED"}
    assert repo["cleanupPolicyDryRun"] is False
    assert repo["cleanupPolicies"] == [
        {"id": "keep-recent-versions", "action": "KEEP", "mostRecentVersions": {"keepCount": 20}},
        {
            "id": "delete-old-untagged",
            "action": "DELETE",
            "condition": {"tagState": "UNTAGGED", "olderThan": "2592000s"},
        },
    ]


def test_model_bucket_is_versioned_retained_private_and_cmek():
    recording = build(retention_days=60)
    bucket = recording.named("reg-models").inputs
    assert "versioning" not in bucket  # GCS refuses versioning beside a retention policy
    assert bucket["retentionPolicy"] == {"retentionPeriod": 60 * 86400, "isLocked": False}
    assert bucket["uniformBucketLevelAccess"] is True
    assert bucket["publicAccessPrevention"] == "enforced"
    assert bucket["encryption"] == {"defaultKmsKeyName": recording.named("reg-key").id}
    assert bucket["location"] == "US-CENTRAL1"
    actions = [r["action"]["type"] for r in bucket["lifecycleRules"]]
    assert actions == ["Delete", "AbortIncompleteMultipartUpload"]


def test_registered_versions_notify_the_cmek_topic_and_the_approvers():
    recording = build(approvers=APPROVERS)
    topic = recording.named("reg-approvals")
    assert topic.inputs["kmsKeyName"] == recording.named("reg-key").id
    publisher = recording.named("reg-approvals-gcs-publisher").inputs
    assert publisher == {"topic": topic.id, "role": "roles/pubsub.publisher", "member": GCS_AGENT}
    notification = recording.named("reg-model-notification")
    assert notification.inputs["topic"] == topic.id
    assert notification.inputs["bucket"] == recording.named("reg-models").outputs["name"]
    assert notification.inputs["eventTypes"] == ["OBJECT_FINALIZE"]
    assert recording.named("reg-approvals-gcs-publisher").urn in notification.dependencies
    channels = [recording.named(f"reg-approver-{i}") for i in (0, 1)]
    # Channel labels are the channel's configuration, passed through without case conversion.
    assert [c.inputs["labels"] for c in channels] == [{"email_address": e} for e in APPROVERS]
    assert all(c.inputs["type"] == "email" for c in channels)
    policy = recording.named("reg-image-pushed").inputs
    assert policy["notificationChannels"] == [c.outputs["name"] for c in channels]
    [condition] = policy["conditions"]
    assert 'methodName="Docker-PutManifest"' in condition["conditionMatchedLog"]["filter"]
    assert f"repositories/{REPO}/" in condition["conditionMatchedLog"]["filter"]


def test_outputs():
    recording = build(approvers=APPROVERS)
    repo = recording.named("reg-repository")
    assert recording.exports["registry_name"] == REPO
    assert recording.exports["registry_id"] == repo.id
    assert recording.exports["image_repository_url"] == (
        f"us-central1-docker.pkg.dev/{PROJECT}/{REPO}"
    )
    assert recording.exports["approvers_topic"] == recording.named("reg-approvals").id
    assert len(recording.exports["approver_channels"]) == 2


def test_prod_protects_registry_bucket_and_key():
    recording = build(environment="prod")
    assert {r.name for r in recording if r.protect} == {
        "reg-repository",
        "reg-models",
        "reg-key",
        "reg-key-ring",
    }
    with pytest.raises(ProgramError, match="force_destroy is refused in prod"):
        build(environment="prod", force_destroy=True)


def test_turning_off_scanning_or_immutability_warns():
    recording = build(scan_on_push=False, immutable_tags=False)
    repo = recording.named("reg-repository").inputs
    assert repo["vulnerabilityScanningConfig"] == {"enablementConfig": "DISABLED"}
    assert repo["dockerConfig"] == {"immutableTags": False}
    assert any("scan_on_push is False" in w for w in recording.warnings)
    assert any("immutable_tags is False" in w for w in recording.warnings)
