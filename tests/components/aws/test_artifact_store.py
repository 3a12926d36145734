from __future__ import annotations

import json

import pulumi
import pytest

from mlops_iac.components.aws import ArtifactStore, ArtifactStoreArgs
from mlops_iac.plan.testing import ProgramError, run

REGION = {"aws:region": "us-east-1"}
COMPONENT = "mlops:aws:ArtifactStore"
CORE_CHILDREN = {
    "art-key": "aws:kms/key:Key",
    "art-key-alias": "aws:kms/alias:Alias",
    "art-bucket": "aws:s3/bucket:Bucket",
    "art-versioning": "aws:s3/bucketVersioning:BucketVersioning",
    "art-encryption": "aws:s3/bucketServerSideEncryptionConfiguration:"
    "BucketServerSideEncryptionConfiguration",
    "art-public-access-block": "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "art-ownership": "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "art-policy": "aws:s3/bucketPolicy:BucketPolicy",
    "art-lifecycle": "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "art-dvc-policy": "aws:iam/policy:Policy",
}


def build(**kwargs):
    def program():
        store = ArtifactStore("art", ArtifactStoreArgs(**kwargs))
        pulumi.export("dvc_remote_url", store.dvc_remote_url)
        pulumi.export("bucket_uri", store.bucket_uri)
        pulumi.export("kms_key_id", store.kms_key_id)
        pulumi.export("bucket_name", store.bucket_name)

    return run(program, config=REGION)


def children(recording):
    component = recording.named("art", COMPONENT)
    return recording.children_by_name(component)


def test_dev_children_are_exact_and_parented():
    recording = build()
    found = children(recording)
    assert {name: r.type for name, r in found.items()} == CORE_CHILDREN
    assert len(recording) == len(CORE_CHILDREN) + 1
    assert not any(r.protect for r in recording)


def test_key_rotates_and_encrypts_the_bucket():
    recording = build()
    key = recording.named("art-key")
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == 30
    [rule] = recording.named("art-encryption").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": key.outputs["arn"],
    }
    assert rule["bucketKeyEnabled"] is True
    assert recording.exports["kms_key_id"] == key.outputs["arn"]


def test_bucket_is_versioned_private_and_owner_enforced():
    recording = build()
    bucket = recording.named("art-bucket")
    assert "bucket" not in bucket.inputs, "physical name must be auto-generated"
    assert bucket.inputs["forceDestroy"] is False
    versioning = recording.named("art-versioning")
    assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}
    assert versioning.inputs["bucket"] == bucket.outputs["bucket"]
    assert versioning.property_dependencies["bucket"] == [bucket.urn]
    pab = recording.named("art-public-access-block").inputs
    for flag in (
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ):
        assert pab[flag] is True
    assert recording.named("art-ownership").inputs["rule"] == {
        "objectOwnership": "BucketOwnerEnforced"
    }


def test_bucket_policy_denies_plain_http_and_unencrypted_uploads():
    recording = build()
    arn = recording.named("art-bucket").outputs["arn"]
    policy = recording.named("art-policy")
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    tls = statements["DenyInsecureTransport"]
    assert tls["Effect"] == "Deny" and tls["Resource"] == [arn, f"{arn}/*"]
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    sse = statements["DenyUploadsWithOtherEncryption"]
    assert sse["Action"] == "s3:PutObject"
    # Only a wrong header is denied: multipart UploadPart calls carry none and must pass.
    assert sse["Condition"] == {
        "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
        "Null": {"s3:x-amz-server-side-encryption": "false"},
    }
    assert recording.named("art-public-access-block").urn in policy.dependencies


def test_lifecycle_expires_noncurrent_versions_and_aborts_uploads():
    recording = build(noncurrent_version_days=30)
    rules = {r["id"]: r for r in recording.named("art-lifecycle").inputs["rules"]}
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"] == {
        "noncurrentDays": 30
    }
    assert rules["abort-incomplete-uploads"]["abortIncompleteMultipartUpload"] == {
        "daysAfterInitiation": 7
    }
    # Captured requests (personal data) expire after 30 days, their old versions a day later.
    assert rules["expire-capture"] == {
        "id": "expire-capture",
        "status": "Enabled",
        "filter": {"prefix": "capture/"},
        "expiration": {"days": 30},
        "noncurrentVersionExpiration": {"noncurrentDays": 1},
    }
    assert all(r["status"] == "Enabled" for r in rules.values())


def test_capture_retention_is_a_setting_and_at_least_a_day():
    recording = build(capture_retention_days=7)
    rules = {r["id"]: r for r in recording.named("art-lifecycle").inputs["rules"]}
    assert rules["expire-capture"]["expiration"] == {"days": 7}
    with pytest.raises(ProgramError, match="capture_retention_days must be at least 1"):
        build(capture_retention_days=0)


def test_dvc_policy_grants_exactly_the_dvc_actions_on_the_prefix():
    recording = build()
    arn = recording.named("art-bucket").outputs["arn"]
    key_arn = recording.named("art-key").outputs["arn"]
    statements = json.loads(recording.named("art-dvc-policy").inputs["policy"])["Statement"]
    grants = {(s["Sid"], tuple(s["Action"]), json.dumps(s["Resource"])) for s in statements}
    assert grants == {
        ("ListDvcPrefix", ("s3:ListBucket",), json.dumps(arn)),
        (
            "ReadWriteDvcObjects",
            ("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"),
            json.dumps(f"{arn}/dvc/*"),
        ),
        ("UseArtifactKey", ("kms:Decrypt", "kms:GenerateDataKey"), json.dumps(key_arn)),
    }
    assert all("*" not in action for s in statements for action in s["Action"])
    assert statements[0]["Condition"] == {"StringLike": {"s3:prefix": ["dvc", "dvc/*"]}}


def test_outputs():
    recording = build()
    name = recording.named("art-bucket").outputs["bucket"]
    assert recording.exports["bucket_name"] == name
    assert recording.exports["bucket_uri"] == f"s3://{name}"
    assert recording.exports["dvc_remote_url"] == f"s3://{name}/dvc"
    registered = recording.named("art", COMPONENT).registered_outputs
    assert set(registered) == {
        "bucket_name",
        "bucket_arn",
        "bucket_uri",
        "dvc_remote_url",
        "kms_key_id",
        "dvc_policy_arn",
    }, "replica_bucket_name is None without replication, and None outputs are not registered"


def test_prod_protects_and_retains_the_data():
    recording = build(environment="prod")
    protected = {r.name for r in recording if r.protect}
    assert protected == {"art-bucket", "art-key"}
    assert all(r.retain_on_delete for r in recording if r.protect)


def test_prod_refuses_force_destroy():
    with pytest.raises(ProgramError, match="ArtifactStore art: force_destroy is refused in prod"):
        build(environment="prod", force_destroy=True)


def test_turning_off_a_secure_default_warns():
    recording = build(customer_managed_key=False, force_destroy=True)
    assert not recording.of_type("aws:kms/key:Key")
    [rule] = recording.named("art-encryption").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    assert any("customer_managed_key is False" in w for w in recording.warnings)
    assert any("force_destroy is True" in w for w in recording.warnings)
    statements = json.loads(recording.named("art-policy").inputs["policy"])["Statement"]
    assert [s["Sid"] for s in statements] == ["DenyInsecureTransport"]


def test_existing_key_is_used_instead_of_a_new_one():
    existing = "arn:aws:kms:us-east-1:123456789012:key/existing"
    recording = build(kms_key_arn=existing)
    assert not recording.of_type("aws:kms/key:Key")
    [rule] = recording.named("art-encryption").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == existing


def test_replication_to_a_second_region_with_its_own_key():
    recording = build(environment="prod", replica_region="us-west-2")
    found = children(recording)
    replica_key = found["art-replica-key"]
    replica = found["art-replica-bucket"]
    assert replica.inputs["region"] == "us-west-2" and replica_key.inputs["region"] == "us-west-2"
    assert replica_key.inputs["enableKeyRotation"] is True
    for suffix in (
        "versioning",
        "encryption",
        "public-access-block",
        "ownership",
        "policy",
        "lifecycle",
    ):
        assert found[f"art-replica-{suffix}"].inputs["region"] == "us-west-2"
    config = found["art-replication"]
    [rule] = config.inputs["rules"]
    assert rule["destination"]["bucket"] == replica.outputs["arn"]
    assert rule["destination"]["encryptionConfiguration"] == {
        "replicaKmsKeyId": replica_key.outputs["arn"]
    }
    assert rule["sourceSelectionCriteria"] == {"sseKmsEncryptedObjects": {"status": "Enabled"}}
    assert config.inputs["role"] == found["art-replication-role"].outputs["arn"]
    assert {found["art-versioning"].urn, found["art-replica-versioning"].urn} <= set(
        config.dependencies
    )
    assert {r.name for r in recording if r.protect} == {
        "art-bucket",
        "art-key",
        "art-replica-bucket",
        "art-replica-key",
    }
    role_policy = json.loads(found["art-replication-role-policy"].inputs["policy"])
    assert all("*" not in a for s in role_policy["Statement"] for a in s["Action"])


def test_access_logging_to_an_existing_bucket():
    recording = build(access_log_bucket="org-logs")
    logging = recording.named("art-logging")
    assert logging.type == "aws:s3/bucketLogging:BucketLogging"
    assert logging.inputs["targetBucket"] == "org-logs"


def test_two_stores_in_one_program_do_not_collide():
    def program():
        ArtifactStore("data", ArtifactStoreArgs())
        ArtifactStore("models", ArtifactStoreArgs())

    recording = run(program, config=REGION)
    urns = [r.urn for r in recording]
    assert len(urns) == len(set(urns)) == 2 * (len(CORE_CHILDREN) + 1)
    buckets = recording.of_type("aws:s3/bucket:Bucket")
    assert len({b.outputs["bucket"] for b in buckets}) == 2
    aliases = [a.inputs["namePrefix"] for a in recording.of_type("aws:kms/alias:Alias")]
    assert sorted(aliases) == ["alias/mlops-data-", "alias/mlops-models-"]


def test_caller_options_are_merged_not_replaced():
    def program():
        ArtifactStore("art", ArtifactStoreArgs(), opts=pulumi.ResourceOptions(protect=True))

    recording = run(program, config=REGION)
    component = recording.named("art", COMPONENT)
    assert component.protect is True
    # Children inherit protect from the component: nothing a caller asked for is dropped.
    assert all(r.protect for r in recording.children(component))
