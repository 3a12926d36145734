"""ArtifactStore on AWS: a versioned, KMS-encrypted S3 bucket that serves as the DVC remote."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import pulumi
import pulumi_aws as aws

from mlops_iac.components._component import (
    Component,
    at_least,
    child_opts,
    component_opts,
    given,
    require_not_prod,
    secure_default,
    unset,
)
from mlops_iac.components.aws import _defaults as defaults
from mlops_iac.components.contract_types import ArtifactStoreArgsBase

TYPE = "mlops:aws:ArtifactStore"

# Exactly what `dvc push/pull/gc` needs on the remote prefix, and nothing else.
DVC_OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload")
DVC_BUCKET_ACTIONS = ("s3:ListBucket",)
DVC_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
REPLICA_KEY_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey")


@dataclass(frozen=True, kw_only=True)
class ArtifactStoreArgs(ArtifactStoreArgsBase):
    """Inputs of ``ArtifactStore``. Every field is optional; defaults are the secure choice."""

    FIELD_NOTES: ClassVar[Mapping[str, str]] = {
        "environment": (
            "``dev``, ``staging`` or ``prod``. Default ``dev``. In prod the bucket and key "
            "are protected and retained, and ``force_destroy`` is refused."
        ),
        "customer_managed_key": (
            "Encrypt with a customer-managed KMS key. Default: a new key with yearly rotation"
            " (``False`` falls back to S3-managed keys and logs a warning)."
        ),
        "force_destroy": (
            "Let ``pulumi destroy`` delete a non-empty bucket. Default: false; refused in prod."
        ),
        "tags": (
            "Extra tags on every child. Default: none (the stack's lineage transform adds lineage)."
        ),
    }

    kms_key_arn: pulumi.Input[str] | None = None
    """Use an existing KMS key instead of creating one. Default: a new key with rotation."""
    incomplete_upload_days: pulumi.Input[int] | None = unset(defaults.INCOMPLETE_UPLOAD_DAYS)
    """Days before an incomplete multipart upload is aborted. Default: 7."""
    replica_region: str | None = None
    """Replicate every object to a bucket in this region, encrypted with its own key.
    Default: no replication."""
    access_log_bucket: pulumi.Input[str] | None = None
    """Existing bucket that receives S3 server access logs. Default: no access logging."""
    dvc_prefix: str = defaults.DVC_PREFIX
    """Key prefix of the DVC remote inside the bucket. Default ``dvc``."""
    capture_retention_days: int = defaults.CAPTURE_RETENTION_DAYS
    """Days before objects under ``capture/`` (the endpoint's request/response capture) expire,
    in the bucket and its replica; their noncurrent versions go a day later. Default: 30."""


class ArtifactStore(Component):
    """Versioned S3 bucket encrypted with a rotating customer-managed key: the DVC remote.

    Children (names derive from ``name``): ``{name}-key`` and ``{name}-key-alias`` (KMS),
    ``{name}-bucket`` (auto-named), ``-versioning``, ``-encryption`` (SSE-KMS with bucket key),
    ``-public-access-block`` (all four blocks), ``-ownership`` (``BucketOwnerEnforced``),
    ``-policy`` (denies non-TLS requests and uploads without SSE-KMS), ``-lifecycle``
    (noncurrent versions, ``capture/`` objects and incomplete uploads expire),
    ``{name}-dvc-policy`` (IAM policy with exactly the DVC read/write actions on ``dvc/``), and
    optionally ``-logging`` and a replica bucket with its own key, role and ``-replication``
    configuration.

    Outputs: ``bucket_name``, ``bucket_arn``, ``bucket_uri`` (``s3://bucket``), ``dvc_remote_url``
    (``s3://bucket/dvc``), ``kms_key_id`` (the key ARN), ``dvc_policy_arn``,
    ``replica_bucket_name`` (None without replication).
    """

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    bucket_uri: pulumi.Output[str]
    dvc_remote_url: pulumi.Output[str]
    kms_key_id: pulumi.Output[str | None]
    dvc_policy_arn: pulumi.Output[str]
    replica_bucket_name: pulumi.Output[str | None]

    def __init__(
        self, name: str, args: ArtifactStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, component_opts(opts))
        label = f"ArtifactStore {name}"
        require_not_prod(label, args.environment, "force_destroy", bool(args.force_destroy))
        prod = args.environment == "prod"
        cmk = secure_default(
            label, "customer_managed_key", args.customer_managed_key, defaults.CUSTOMER_MANAGED_KEY
        )
        force_destroy = secure_default(
            label, "force_destroy", args.force_destroy, defaults.FORCE_DESTROY
        )
        tags = args.tags

        key_arn: pulumi.Input[str] | None = None
        if cmk:
            key_arn = args.kms_key_arn or self._key(f"{name}-key", "artifact store", prod, tags)

        bucket, versioning = self._bucket(name, args, key_arn, force_destroy, cmk)
        replica_bucket = None
        if args.replica_region:
            replica_bucket = self._replica(name, bucket, versioning, key_arn, args, prod)
        dvc_policy = self._dvc_policy(name, args, bucket, key_arn)
        self.register(
            bucket_name=bucket.bucket,
            bucket_arn=bucket.arn,
            bucket_uri=pulumi.Output.concat("s3://", bucket.bucket),
            dvc_remote_url=pulumi.Output.concat("s3://", bucket.bucket, f"/{args.dvc_prefix}"),
            kms_key_id=pulumi.Output.from_input(key_arn),
            dvc_policy_arn=dvc_policy.arn,
            replica_bucket_name=(
                replica_bucket.bucket
                if replica_bucket is not None
                else pulumi.Output.from_input(None)
            ),
        )

    def _bucket(
        self,
        name: str,
        args: ArtifactStoreArgs,
        key_arn: pulumi.Input[str] | None,
        force_destroy: bool,
        cmk: bool,
    ) -> tuple[aws.s3.Bucket, aws.s3.BucketVersioning]:
        """The artifact bucket, its security settings and, when asked, its access logging."""
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            force_destroy=force_destroy,
            tags=args.tags,
            opts=child_opts(self, protect=args.environment == "prod"),
        )
        versioning = self._secure_bucket(name, bucket, key_arn, args, upload_sse_required=cmk)
        if args.access_log_bucket is not None:
            aws.s3.BucketLogging(
                f"{name}-logging",
                bucket=bucket.id,
                target_bucket=args.access_log_bucket,
                target_prefix=pulumi.Output.concat("s3-access/", bucket.id, "/"),
                opts=child_opts(self),
            )
        return bucket, versioning

    def _dvc_policy(
        self,
        name: str,
        args: ArtifactStoreArgs,
        bucket: aws.s3.Bucket,
        key_arn: pulumi.Input[str] | None,
    ) -> aws.iam.Policy:
        """The IAM policy with exactly the DVC read/write actions on the DVC prefix."""
        return aws.iam.Policy(
            f"{name}-dvc-policy",
            description="Read/write access to the DVC remote of the artifact store",
            policy=_dvc_policy_document(bucket.arn, args.dvc_prefix, key_arn),
            tags=args.tags,
            opts=child_opts(self),
        )

    def _key(
        self,
        name: str,
        purpose: str,
        prod: bool,
        tags: pulumi.Input[Mapping[str, pulumi.Input[str]]] | None,
        region: str | None = None,
    ) -> pulumi.Output[str]:
        key = aws.kms.Key(
            name,
            description=f"mlops {purpose} ({self._name})",
            enable_key_rotation=defaults.KMS_KEY_ROTATION,
            deletion_window_in_days=defaults.KMS_DELETION_WINDOW_DAYS,
            region=region,
            tags=tags,
            opts=child_opts(self, protect=prod),
        )
        aws.kms.Alias(
            f"{name}-alias",
            name_prefix=f"alias/mlops-{self._name}-",
            target_key_id=key.key_id,
            region=region,
            opts=child_opts(self),
        )
        return key.arn

    def _secure_bucket(
        self,
        prefix: str,
        bucket: aws.s3.Bucket,
        key_arn: pulumi.Input[str] | None,
        args: ArtifactStoreArgs,
        *,
        upload_sse_required: bool,
        region: str | None = None,
    ) -> aws.s3.BucketVersioning:
        """Versioning, encryption, public-access block, ownership, TLS policy and lifecycle."""
        versioning = aws.s3.BucketVersioning(
            f"{prefix}-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            region=region,
            opts=child_opts(self),
        )
        by_default: dict[str, pulumi.Input[str]] = {"sse_algorithm": "AES256"}
        if key_arn is not None:
            by_default = {"sse_algorithm": "aws:kms", "kms_master_key_id": key_arn}
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{prefix}-encryption",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": by_default,
                    "bucket_key_enabled": defaults.BUCKET_KEY_ENABLED and key_arn is not None,
                }
            ],
            region=region,
            opts=child_opts(self),
        )
        public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{prefix}-public-access-block",
            bucket=bucket.id,
            block_public_acls=defaults.BLOCK_PUBLIC_ACCESS,
            block_public_policy=defaults.BLOCK_PUBLIC_ACCESS,
            ignore_public_acls=defaults.BLOCK_PUBLIC_ACCESS,
            restrict_public_buckets=defaults.BLOCK_PUBLIC_ACCESS,
            region=region,
            opts=child_opts(self),
        )
        aws.s3.BucketOwnershipControls(
            f"{prefix}-ownership",
            bucket=bucket.id,
            rule={"object_ownership": defaults.OBJECT_OWNERSHIP},
            region=region,
            opts=child_opts(self),
        )
        aws.s3.BucketPolicy(
            f"{prefix}-policy",
            bucket=bucket.id,
            policy=_bucket_policy_document(bucket.arn, upload_sse_required),
            region=region,
            # Applying a policy while the public access block is being changed races in S3.
            opts=child_opts(self, depends_on=[public_access_block]),
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{prefix}-lifecycle",
            bucket=bucket.id,
            rules=[
                {
                    "id": "expire-noncurrent-versions",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    "noncurrent_version_expiration": {
                        # S3: "The value must be a non-zero positive integer."
                        "noncurrent_days": at_least(
                            f"ArtifactStore {self._name}",
                            "noncurrent_version_days",
                            given(args.noncurrent_version_days, defaults.NONCURRENT_VERSION_DAYS),
                            1,
                        )
                    },
                },
                {
                    # Captured requests are personal data: kept only as long as drift needs
                    # them. S3 honours the shorter of overlapping expirations.
                    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-conflicts.html
                    "id": "expire-capture",
                    "status": "Enabled",
                    "filter": {"prefix": f"{defaults.CAPTURE_PREFIX}/"},
                    "expiration": {
                        "days": at_least(
                            f"ArtifactStore {self._name}",
                            "capture_retention_days",
                            args.capture_retention_days,
                            1,
                        )
                    },
                    "noncurrent_version_expiration": {
                        "noncurrent_days": defaults.CAPTURE_NONCURRENT_DAYS
                    },
                },
                {
                    "id": "abort-incomplete-uploads",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    "abort_incomplete_multipart_upload": {
                        "days_after_initiation": at_least(
                            f"ArtifactStore {self._name}",
                            "incomplete_upload_days",
                            given(args.incomplete_upload_days, defaults.INCOMPLETE_UPLOAD_DAYS),
                            1,
                        )
                    },
                },
            ],
            region=region,
            # Lifecycle rules on versions need versioning to exist first.
            opts=child_opts(self, depends_on=[versioning]),
        )
        return versioning

    def _replica(
        self,
        name: str,
        source: aws.s3.Bucket,
        source_versioning: aws.s3.BucketVersioning,
        source_key_arn: pulumi.Input[str] | None,
        args: ArtifactStoreArgs,
        prod: bool,
    ) -> aws.s3.Bucket:
        region = args.replica_region
        replica_key_arn = None
        if source_key_arn is not None:
            replica_key_arn = self._key(f"{name}-replica-key", "replica", prod, args.tags, region)
        replica = aws.s3.Bucket(
            f"{name}-replica-bucket",
            region=region,
            force_destroy=False,
            tags=args.tags,
            opts=child_opts(self, protect=prod),
        )
        replica_versioning = self._secure_bucket(
            f"{name}-replica",
            replica,
            replica_key_arn,
            args,
            upload_sse_required=False,
            region=region,
        )
        role = aws.iam.Role(
            f"{name}-replication-role",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "s3.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
            tags=args.tags,
            opts=child_opts(self),
        )
        aws.iam.RolePolicy(
            f"{name}-replication-role-policy",
            role=role.id,
            policy=_replication_policy_document(
                source.arn, replica.arn, source_key_arn, replica_key_arn
            ),
            opts=child_opts(self),
        )
        destination: dict[str, object] = {"bucket": replica.arn, "storage_class": "STANDARD"}
        rule: dict[str, object] = {
            "id": "replicate-all",
            "status": "Enabled",
            "filter": {},
            "delete_marker_replication": {"status": "Enabled"},
            "destination": destination,
        }
        if replica_key_arn is not None:
            destination["encryption_configuration"] = {"replica_kms_key_id": replica_key_arn}
            rule["source_selection_criteria"] = {"sse_kms_encrypted_objects": {"status": "Enabled"}}
        aws.s3.BucketReplicationConfig(
            f"{name}-replication",
            bucket=source.id,
            role=role.arn,
            rules=[rule],
            # Replication requires versioning on both buckets.
            opts=child_opts(self, depends_on=[replica_versioning, source_versioning]),
        )
        return replica


def _statement(**fields: object) -> dict[str, object]:
    return {key: value for key, value in fields.items() if value is not None}


def bucket_policy(bucket_arn: str, *, require_sse_kms: bool) -> dict[str, object]:
    """The artifact bucket's policy: TLS only, and (with a customer key) no other encryption.

    The upload statement denies a *different* SSE header only: ``s3:PutObject`` also authorises
    multipart ``UploadPart`` calls, which never carry the header, and uploads without it get the
    bucket's default SSE-KMS anyway. Denying a missing header would block every large upload.
    """
    statements = [
        _statement(
            Sid="DenyInsecureTransport",
            Effect="Deny",
            Principal="*",
            Action="s3:*",
            Resource=[bucket_arn, f"{bucket_arn}/*"],
            Condition={"Bool": {"aws:SecureTransport": "false"}},
        )
    ]
    if require_sse_kms:
        statements.append(
            _statement(
                Sid="DenyUploadsWithOtherEncryption",
                Effect="Deny",
                Principal="*",
                Action="s3:PutObject",
                Resource=f"{bucket_arn}/*",
                Condition={
                    "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
                    "Null": {"s3:x-amz-server-side-encryption": "false"},
                },
            )
        )
    return {"Version": "2012-10-17", "Statement": statements}


def _bucket_policy_document(
    bucket_arn: pulumi.Input[str], upload_sse_required: bool
) -> pulumi.Output[str]:
    return pulumi.Output.from_input(bucket_arn).apply(
        lambda arn: json.dumps(bucket_policy(arn, require_sse_kms=upload_sse_required))
    )


def _dvc_policy_document(
    bucket_arn: pulumi.Input[str], prefix: str, key_arn: pulumi.Input[str] | None
) -> pulumi.Output[str]:
    def render(values: list[str | None]) -> str:
        arn, key = values
        statements = [
            _statement(
                Sid="ListDvcPrefix",
                Effect="Allow",
                Action=list(DVC_BUCKET_ACTIONS),
                Resource=arn,
                Condition={"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}},
            ),
            _statement(
                Sid="ReadWriteDvcObjects",
                Effect="Allow",
                Action=list(DVC_OBJECT_ACTIONS),
                Resource=f"{arn}/{prefix}/*",
            ),
        ]
        if key:
            statements.append(
                _statement(
                    Sid="UseArtifactKey", Effect="Allow", Action=list(DVC_KEY_ACTIONS), Resource=key
                )
            )
        return json.dumps({"Version": "2012-10-17", "Statement": statements})

    return pulumi.Output.all(bucket_arn, key_arn).apply(render)


def _replication_policy_document(
    source_arn: pulumi.Input[str],
    replica_arn: pulumi.Input[str],
    source_key: pulumi.Input[str] | None,
    replica_key: pulumi.Input[str] | None,
) -> pulumi.Output[str]:
    def render(values: list[str | None]) -> str:
        source, replica, skey, rkey = values
        statements = [
            _statement(
                Effect="Allow",
                Action=["s3:GetReplicationConfiguration", "s3:ListBucket"],
                Resource=source,
            ),
            _statement(
                Effect="Allow",
                Action=[
                    "s3:GetObjectVersionForReplication",
                    "s3:GetObjectVersionAcl",
                    "s3:GetObjectVersionTagging",
                ],
                Resource=f"{source}/*",
            ),
            _statement(
                Effect="Allow",
                Action=["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                Resource=f"{replica}/*",
            ),
        ]
        if skey:
            statements.append(_statement(Effect="Allow", Action=["kms:Decrypt"], Resource=skey))
        if rkey:
            # The replica bucket uses an S3 Bucket Key: replication then also needs kms:Decrypt
            # on the replica key (it verifies the bucket key), and GenerateDataKey to make one.
            # https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html#bk-replication
            statements.append(
                _statement(
                    Effect="Allow",
                    Action=list(REPLICA_KEY_ACTIONS),
                    Resource=rkey,
                )
            )
        return json.dumps({"Version": "2012-10-17", "Statement": statements})

    return pulumi.Output.all(source_arn, replica_arn, source_key, replica_key).apply(render)
