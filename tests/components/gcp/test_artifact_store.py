from __future__ import annotations

import pulumi
import pytest

from mlops_iac.components.gcp import ArtifactStore, ArtifactStoreArgs
from mlops_iac.plan.testing import ProgramError
from tests.components.gcp._helpers import (
    GCS_AGENT,
    KMS_ROLE,
    PROJECT,
    bad_labels,
    children,
    rid,
    run_component,
)

COMPONENT = "mlops:gcp:ArtifactStore"
CHILDREN = {
    "art-key-ring": "gcp:kms/keyRing:KeyRing",
    "art-key": "gcp:kms/cryptoKey:CryptoKey",
    "art-key-gcs-agent": "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
    "art-bucket": "gcp:storage/bucket:Bucket",
    "art-dvc": "gcp:serviceaccount/account:Account",
    "art-dvc-objects": "gcp:storage/bucketIAMMember:BucketIAMMember",
    "art-dvc-checkpoints": "gcp:storage/bucketIAMMember:BucketIAMMember",
    "art-dvc-list": "gcp:storage/bucketIAMMember:BucketIAMMember",
}


def build(**kwargs):
    def program():
        store = ArtifactStore("art", ArtifactStoreArgs(**kwargs))
        for output in ("bucket_name", "bucket_uri", "dvc_remote_url", "kms_key_id"):
            pulumi.export(output, getattr(store, output))
        pulumi.export("dvc_service_account", store.dvc_service_account)

    return run_component(program)


def test_dev_children_are_exact_and_parented():
    recording = build()
    found = children(recording, "art", COMPONENT)
    assert {name: r.type for name, r in found.items()} == CHILDREN
    assert len(recording) == len(CHILDREN) + 1
    assert not any(r.protect for r in recording)


def test_key_rotates_within_90_days_and_the_gcs_agent_may_use_it():
    recording = build()
    key = recording.named("art-key")
    ring = recording.named("art-key-ring")
    assert key.inputs["rotationPeriod"] == "7776000s"
    assert key.inputs["purpose"] == "ENCRYPT_DECRYPT"
    assert key.inputs["keyRing"] == ring.id
    assert ring.inputs["location"] == "us-central1"
    grant = recording.named("art-key-gcs-agent")
    assert grant.inputs == {"cryptoKeyId": key.id, "role": KMS_ROLE, "member": GCS_AGENT}


def test_bucket_is_versioned_private_cmek_encrypted_and_soft_deleting():
    recording = build()
    bucket = recording.named("art-bucket")
    inputs = bucket.inputs
    assert "name" not in inputs, "physical name must be auto-generated"
    assert inputs["versioning"] == {"enabled": True}
    assert inputs["uniformBucketLevelAccess"] is True
    assert inputs["publicAccessPrevention"] == "enforced"
    assert inputs["encryption"] == {"defaultKmsKeyName": recording.named("art-key").id}
    assert inputs["softDeletePolicy"] == {"retentionDurationSeconds": 604800}
    assert inputs["forceDestroy"] is False
    assert inputs["location"] == "US-CENTRAL1" and "customPlacementConfig" not in inputs
    # Encrypting the first write needs the agent's grant in place.
    assert recording.named("art-key-gcs-agent").urn in bucket.dependencies


def test_lifecycle_deletes_noncurrent_versions_and_aborts_uploads():
    recording = build(noncurrent_version_days=30, incomplete_upload_days=3)
    rules = recording.named("art-bucket").inputs["lifecycleRules"]
    assert rules == [
        {
            "action": {"type": "Delete"},
            "condition": {"daysSinceNoncurrentTime": 30, "withState": "ARCHIVED"},
        },
        {"action": {"type": "AbortIncompleteMultipartUpload"}, "condition": {"age": 3}},
    ]


def test_dvc_account_is_object_admin_on_the_dvc_prefix_and_lists_the_bucket_only():
    recording = build(dvc_prefix="data")
    account = recording.named("art-dvc")
    assert account.inputs["accountId"] == rid("art", "dvc", 30)
    bucket = recording.named("art-bucket").outputs["name"]
    assert recording.named("art-dvc-objects").inputs == {
        "bucket": bucket,
        "role": "roles/storage.objectAdmin",
        "member": account.outputs["member"],
        "condition": {
            "title": "dvc-prefix",
            "description": "Objects under data/ only",
            "expression": f'resource.name.startsWith("projects/_/buckets/{bucket}/objects/data/")',
        },
    }
    assert recording.named("art-dvc-checkpoints").inputs == {
        "bucket": bucket,
        "role": "roles/storage.objectAdmin",
        "member": account.outputs["member"],
        "condition": {
            "title": "checkpoints-prefix",
            "description": "Objects under checkpoints/ only",
            "expression": (
                f'resource.name.startsWith("projects/_/buckets/{bucket}/objects/checkpoints/")'
            ),
        },
    }
    assert recording.named("art-dvc-list").inputs == {
        "bucket": bucket,
        "role": "roles/storage.objectViewer",
        "member": account.outputs["member"],
        "condition": {
            "title": "dvc-list",
            "description": "Listing the bucket (object names), no object reads",
            "expression": f'resource.name == "projects/_/buckets/{bucket}"',
        },
    }


def test_outputs():
    recording = build()
    name = recording.named("art-bucket").outputs["name"]
    assert recording.exports == {
        "bucket_name": name,
        "bucket_uri": f"gs://{name}",
        "dvc_remote_url": f"gs://{name}/dvc",
        "kms_key_id": recording.named("art-key").id,
        "dvc_service_account": f"{rid('art', 'dvc', 30)}@{PROJECT}.iam.gserviceaccount.com",
    }
    registered = recording.named("art", COMPONENT).registered_outputs
    assert set(registered) == {
        "bucket_name",
        "bucket_uri",
        "dvc_remote_url",
        "kms_key_id",
        "dvc_service_account",
        "location",
    }


def test_prod_is_multi_region_protected_and_retained():
    recording = build(environment="prod")
    assert {r.name for r in recording if r.protect} == {"art-bucket", "art-key", "art-key-ring"}
    assert all(r.retain_on_delete for r in recording if r.protect)
    assert recording.named("art-bucket").inputs["location"] == "US"
    assert recording.named("art-key-ring").inputs["location"] == "us"


def test_replica_region_makes_a_dual_region_bucket():
    recording = build(environment="prod", replica_region="us-east1")
    bucket = recording.named("art-bucket").inputs
    assert bucket["location"] == "US"
    assert bucket["customPlacementConfig"] == {"dataLocations": ["US-CENTRAL1", "US-EAST1"]}
    assert recording.named("art-key-ring").inputs["location"] == "us"


def test_replica_on_another_continent_is_refused():
    with pytest.raises(ProgramError, match="must share a continent"):
        build(replica_region="europe-west1")


def test_prod_refuses_force_destroy():
    with pytest.raises(ProgramError, match="ArtifactStore art: force_destroy is refused in prod"):
        build(environment="prod", force_destroy=True)


def test_turning_off_a_secure_default_warns():
    recording = build(customer_managed_key=False, force_destroy=True)
    assert not recording.of_type("gcp:kms/cryptoKey:CryptoKey")
    assert "encryption" not in recording.named("art-bucket").inputs
    assert any("customer_managed_key is False" in w for w in recording.warnings)
    assert any("force_destroy is True" in w for w in recording.warnings)


def test_existing_key_and_access_logging():
    key = "projects/p/locations/us-central1/keyRings/r/cryptoKeys/k"
    recording = build(kms_key_id=key, access_log_bucket="org-logs", tags={"team": "fraud"})
    assert not recording.of_type("gcp:kms/keyRing:KeyRing")
    bucket = recording.named("art-bucket").inputs
    assert bucket["encryption"] == {"defaultKmsKeyName": key}
    assert bucket["logging"] == {"logBucket": "org-logs", "logObjectPrefix": "gcs-access/art/"}
    assert bucket["labels"] == {"team": "fraud"}
    assert bad_labels(recording) == []


def test_caller_options_are_merged_not_replaced():
    def program():
        ArtifactStore("art", ArtifactStoreArgs(), opts=pulumi.ResourceOptions(protect=True))

    recording = run_component(program)
    component = recording.named("art", COMPONENT)
    assert component.protect is True
    assert all(r.protect for r in recording.children(component))


def test_soft_delete_retention_is_given_in_days_as_on_azure():
    recording = build(soft_delete_days=30)
    policy = recording.named("art-bucket").inputs["softDeletePolicy"]
    assert policy == {"retentionDurationSeconds": 30 * 24 * 3600}
