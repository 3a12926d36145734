"""ArtifactStore on GCP: a versioned GCS bucket with a rotating Cloud KMS key, the DVC remote.

Location: a single region by default. ``multi_region=True`` (the default in prod) puts the bucket
in the multi-region containing the region (``US``, ``EU``, ``ASIA``); a ``replica_region`` makes it
a dual-region bucket (``custom_placement_config`` with both regions, location the multi-region
code), which is GCS's replication: both copies are written by the service, so no second bucket or
replication job exists. The KMS key ring lives where the bucket lives (``us`` for a multi- or
dual-region US bucket), as CMEK requires.

GCS serves every authenticated request over TLS, so there is no TLS-only policy to attach (the AWS
bucket policy's equivalent). Uniform bucket-level access disables object ACLs and public access
prevention is enforced, so no IAM binding can make the bucket public.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import pulumi
from pulumi_gcp import serviceaccount, storage

from mlops_iac.components._component import (
    Component,
    child_opts,
    component_opts,
    given,
    require_not_prod,
    secure_default,
    unset,
)
from mlops_iac.components.contract_types import ArtifactStoreArgsBase
from mlops_iac.components.gcp import _defaults as defaults
from mlops_iac.components.gcp._common import (
    crypto_key,
    objects_under,
    region_or_default,
    resource_id,
)

TYPE = "mlops:gcp:ArtifactStore"
SECONDS_PER_DAY = 24 * 3600
# Region prefix -> the multi-region that holds every region with that prefix. ``northamerica-*``
# (Montréal, Toronto, Querétaro) is not in ``US``: that multi-region is "data centers in the United
# States", so such buckets stay regional. https://cloud.google.com/storage/docs/locations
_MULTI_REGIONS = {"us": "US", "europe": "EU", "asia": "ASIA"}


@dataclass(frozen=True, kw_only=True)
class ArtifactStoreArgs(ArtifactStoreArgsBase):
    """Inputs of ``ArtifactStore``. Every field is optional; defaults are the secure choice."""

    FIELD_NOTES: ClassVar[Mapping[str, str]] = {
        "environment": (
            "``dev``, ``staging`` or ``prod``. Default ``dev``. In prod the bucket and key "
            "are protected and retained, the bucket is multi-region, and ``force_destroy`` is"
            " refused."
        ),
        "customer_managed_key": (
            "Encrypt with a Cloud KMS key (90-day rotation). Default: true (false falls back "
            "to Google-managed keys and logs a warning)."
        ),
        "noncurrent_version_days": (
            "Days before a noncurrent object version is deleted. Default: 90."
        ),
        "force_destroy": (
            "Let ``pulumi destroy`` delete a non-empty bucket. Default: false; refused in prod."
        ),
        "tags": (
            "Extra tags on the bucket and key, as GCP labels (GCP-valid keys and values). "
            "Default: none (the stack's lineage transform adds lineage)."
        ),
    }

    region: str | None = None
    """Region of the bucket (and of its key). Default: the provider's ``gcp:region``, else
    us-central1."""
    multi_region: bool | None = None
    """Put the bucket in the multi-region containing ``region``. Default: true in prod only."""
    replica_region: str | None = None
    """Make the bucket dual-region (``region`` + this region). Default: no second region."""
    kms_key_id: pulumi.Input[str] | None = None
    """Use an existing Cloud KMS key id instead of creating one (the caller grants the GCS service
    agent on it). Default: a new key."""
    incomplete_upload_days: pulumi.Input[int] | None = unset(defaults.INCOMPLETE_UPLOAD_DAYS)
    """Days before an incomplete multipart upload is aborted. Default: 7."""
    soft_delete_days: int | None = None
    """Soft-delete retention of deleted objects, in days: 0 (off) or 7 to 90, the range Cloud
    Storage accepts (https://cloud.google.com/storage/docs/soft-delete). Default: 7 days."""
    access_log_bucket: pulumi.Input[str] | None = None
    """Existing bucket that receives usage logs. Default: no access logging."""
    dvc_prefix: str = defaults.DVC_PREFIX
    """Object prefix of the DVC remote inside the bucket. Default ``dvc``."""


class ArtifactStore(Component):
    """Versioned GCS bucket encrypted with a rotating Cloud KMS key: the DVC remote.

    Children (names derive from ``name``): ``{name}-key-ring`` (KeyRing), ``{name}-key``
    (CryptoKey), ``{name}-key-gcs-agent`` (the GCS service agent may encrypt/decrypt),
    ``{name}-bucket`` (auto-named; versioning, uniform access, public access prevention, default
    KMS key, soft delete, lifecycle), ``{name}-dvc`` (service account), ``{name}-dvc-objects``
    (object admin on objects under ``dvc_prefix/`` only, an IAM condition),
    ``{name}-dvc-checkpoints`` (the same under ``checkpoints/``: training writes its checkpoints
    as this account through Workload Identity) and ``{name}-dvc-list``
    (object listing, conditioned on the bucket's own name: what ``dvc status -c`` and ``gc -c``
    need; it shows the names of other objects in the bucket, not their content).

    Outputs: ``bucket_name``, ``bucket_uri`` (``gs://bucket``), ``dvc_remote_url``
    (``gs://bucket/dvc``), ``kms_key_id`` (the CryptoKey id), ``dvc_service_account`` (email),
    ``location``.
    """

    bucket_name: pulumi.Output[str]
    bucket_uri: pulumi.Output[str]
    dvc_remote_url: pulumi.Output[str]
    kms_key_id: pulumi.Output[str | None]
    dvc_service_account: pulumi.Output[str]
    location: pulumi.Output[str]

    def __init__(
        self, name: str, args: ArtifactStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, component_opts(opts))
        label = f"ArtifactStore {name}"
        require_not_prod(label, args.environment, "force_destroy", bool(args.force_destroy))
        _check_soft_delete(label, args.soft_delete_days)
        prod = args.environment == "prod"
        cmk = secure_default(
            label, "customer_managed_key", args.customer_managed_key, defaults.CUSTOMER_MANAGED_KEY
        )
        force_destroy = secure_default(
            label, "force_destroy", args.force_destroy, defaults.FORCE_DESTROY
        )
        region = region_or_default(args.region)
        location, placement = _placement(region, args.replica_region, args.multi_region, prod)

        key_id, grants = self._bucket_key(name, args, cmk=cmk, location=location, prod=prod)
        # Where the key the store makes lives (its bucket's location), known before the deploy:
        # a region-bound user of the key (Cloud SQL) needs its own when it differs. None: no key,
        # or the caller's, whose location is the caller's to know.
        self.kms_key_location: str | None = (
            location.lower() if cmk and args.kms_key_id is None else None
        )
        bucket = self._bucket(
            name,
            args,
            location=location,
            placement=placement,
            key_id=key_id,
            grants=grants,
            force_destroy=force_destroy,
            prod=prod,
        )
        account = self._dvc_access(name, bucket, args.dvc_prefix)

        self.register(
            bucket_name=bucket.name,
            bucket_uri=pulumi.Output.concat("gs://", bucket.name),
            dvc_remote_url=pulumi.Output.concat("gs://", bucket.name, f"/{args.dvc_prefix}"),
            kms_key_id=pulumi.Output.from_input(key_id),
            dvc_service_account=account.email,
            location=pulumi.Output.from_input(location),
        )

    def _bucket_key(
        self, name: str, args: ArtifactStoreArgs, *, cmk: bool, location: str, prod: bool
    ) -> tuple[pulumi.Input[str] | None, list[pulumi.Resource]]:
        """(key id, grants the bucket must wait for): the caller's key, a new one, or none."""
        if not cmk:
            return None, []
        if args.kms_key_id is not None:
            return args.kms_key_id, []
        agent = storage.get_project_service_account_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        )
        key, grants = crypto_key(
            self,
            f"{name}-key",
            location=location.lower(),
            prod=prod,
            grants={"gcs-agent": agent.member},
            labels=args.tags,
        )
        return key.id, grants

    def _bucket(
        self,
        name: str,
        args: ArtifactStoreArgs,
        *,
        location: str,
        placement: dict[str, list[str]] | None,
        key_id: pulumi.Input[str] | None,
        grants: list[pulumi.Resource],
        force_destroy: bool,
        prod: bool,
    ) -> storage.Bucket:
        """``{name}-bucket``: versioned, uniform access, no public access, CMEK, soft delete."""
        logging = None
        if args.access_log_bucket is not None:
            logging = {
                "log_bucket": args.access_log_bucket,
                "log_object_prefix": f"gcs-access/{name}/",
            }
        return storage.Bucket(
            f"{name}-bucket",
            location=location,
            custom_placement_config=placement,
            storage_class="STANDARD",
            versioning={"enabled": True},
            uniform_bucket_level_access=defaults.UNIFORM_BUCKET_LEVEL_ACCESS,
            public_access_prevention=defaults.PUBLIC_ACCESS_PREVENTION,
            encryption={"default_kms_key_name": key_id} if key_id is not None else None,
            soft_delete_policy={
                # GCS: 0 turns soft delete off; an explicit 0 is kept, unset is the default.
                "retention_duration_seconds": defaults.SOFT_DELETE_SECONDS
                if args.soft_delete_days is None
                else args.soft_delete_days * SECONDS_PER_DAY
            },
            lifecycle_rules=lifecycle_rules(
                args.noncurrent_version_days, args.incomplete_upload_days
            ),
            logging=logging,
            force_destroy=force_destroy,
            labels=args.tags,
            # The bucket's first write is encrypted with the key: the agent must hold it first.
            opts=child_opts(self, protect=prod, depends_on=grants or None),
        )

    def _dvc_access(
        self, name: str, bucket: storage.Bucket, dvc_prefix: str
    ) -> serviceaccount.Account:
        """``{name}-dvc``: the DVC remote's account, confined to ``dvc_prefix/`` (plus listing)."""
        account = serviceaccount.Account(
            f"{name}-dvc",
            account_id=resource_id(name, "dvc", limit=30),
            display_name=f"DVC remote of {name}",
            description="Reads and writes the DVC remote of the artifact store",
            opts=child_opts(self),
        )
        # IAM Conditions on Cloud Storage resource names: objects are
        # projects/_/buckets/B/objects/NAME, so the prefix condition confines read, write and
        # delete to the DVC prefix. Listing is authorised on the bucket itself, which no object
        # prefix matches, hence a second binding whose condition is the bucket's own name: it
        # lists object names and metadata, and cannot read an object (object reads are checked
        # on the object's name). https://cloud.google.com/iam/docs/conditions-resource-attributes
        # https://cloud.google.com/ruby/docs/reference/google-cloud-storage/1.40.0/Google-Cloud-Storage-Policy-Condition
        storage.BucketIAMMember(
            f"{name}-dvc-objects",
            bucket=bucket.name,
            role=defaults.DVC_ROLE,
            member=account.member,
            condition=_dvc_condition(
                "dvc-prefix",
                f"Objects under {dvc_prefix}/ only",
                objects_under(bucket.name, [f"{dvc_prefix}/"]),
            ),
            opts=child_opts(self),
        )
        # Training pods act as this account (Workload Identity) and write their checkpoints
        # beside the data, as the AWS trainer role does under the same prefix.
        storage.BucketIAMMember(
            f"{name}-dvc-checkpoints",
            bucket=bucket.name,
            role=defaults.DVC_ROLE,
            member=account.member,
            condition=_dvc_condition(
                "checkpoints-prefix",
                f"Objects under {defaults.CHECKPOINT_PREFIX}/ only",
                objects_under(bucket.name, [f"{defaults.CHECKPOINT_PREFIX}/"]),
            ),
            opts=child_opts(self),
        )
        storage.BucketIAMMember(
            f"{name}-dvc-list",
            bucket=bucket.name,
            role=defaults.DVC_LIST_ROLE,
            member=account.member,
            condition=_dvc_condition(
                "dvc-list",
                "Listing the bucket (object names), no object reads",
                bucket.name.apply(lambda b: f'resource.name == "projects/_/buckets/{b}"'),
            ),
            opts=child_opts(self),
        )
        return account


def _dvc_condition(
    title: str, description: str, expression: pulumi.Input[str]
) -> storage.BucketIAMMemberConditionArgs:
    return storage.BucketIAMMemberConditionArgs(
        title=title, description=description, expression=expression
    )


def multi_region_of(region: str) -> str:
    """The multi-region code that contains ``region`` (``us-central1`` → ``US``)."""
    prefix = region.split("-")[0].lower()
    if prefix not in _MULTI_REGIONS:
        raise ValueError(
            f"no GCS multi-region contains {region!r} (multi-regions: US, EU, ASIA); "
            "use a regional bucket (multi_region=False)"
        )
    return _MULTI_REGIONS[prefix]


def _placement(
    region: str, replica_region: str | None, multi_region: bool | None, prod: bool
) -> tuple[str, dict[str, list[str]] | None]:
    if replica_region:
        if multi_region_of(replica_region) != multi_region_of(region):
            raise ValueError(
                f"replica_region {replica_region!r} must share a continent with {region!r} "
                "(GCS dual-regions stay within one multi-region)"
            )
        return multi_region_of(region), {"data_locations": [region.upper(), replica_region.upper()]}
    if multi_region:
        return multi_region_of(region), None
    if multi_region is None and prod:
        # The prod default: the containing multi-region if there is one, else the region itself
        # (never a multi-region outside the requested geography).
        prefix = region.split("-")[0].lower()
        if prefix in _MULTI_REGIONS:
            return _MULTI_REGIONS[prefix], None
        pulumi.log.warn(f"no GCS multi-region contains {region}: the prod bucket is regional")
    return region.upper(), None


def _check_soft_delete(label: str, days: int | None) -> None:
    """Refuse a soft-delete retention Cloud Storage would refuse at deploy time."""
    if days is not None and days != 0 and not 7 <= days <= 90:
        raise ValueError(
            f"{label}: soft_delete_days must be 0 (off) or 7 to 90 (Cloud Storage's range), "
            f"got {days!r}"
        )


def lifecycle_rules(
    noncurrent_version_days: pulumi.Input[int] | None,
    incomplete_upload_days: pulumi.Input[int] | None,
) -> list[dict[str, object]]:
    """Delete noncurrent versions after N days; abort incomplete multipart uploads after M.

    GCS accepts 0 in both conditions, but pulumi-gcp leaves a 0 ``age`` or
    ``days_since_noncurrent_time`` out of the request unless ``send_*_if_zero`` says to send it
    (the rule would then go out without its condition):
    https://www.pulumi.com/registry/packages/gcp/api-docs/storage/bucket/#bucketlifecycleruleCondition
    """
    noncurrent = given(noncurrent_version_days, defaults.NONCURRENT_VERSION_DAYS)
    age = given(incomplete_upload_days, defaults.INCOMPLETE_UPLOAD_DAYS)
    versions: dict[str, object] = {
        "days_since_noncurrent_time": noncurrent,
        "with_state": "ARCHIVED",
    }
    uploads: dict[str, object] = {"age": age}
    if noncurrent == 0:
        versions["send_days_since_noncurrent_time_if_zero"] = True
    if age == 0:
        uploads["send_age_if_zero"] = True
    return [
        {"action": {"type": "Delete"}, "condition": versions},
        {"action": {"type": "AbortIncompleteMultipartUpload"}, "condition": uploads},
    ]
