"""Object-store rules: customer-key encryption, versioning, public access, TLS, lifecycle.

These are stack policies. In pulumi-aws v7 a bucket's encryption, versioning, public-access block,
policy and lifecycle are separate resources whose ``bucket`` input refers to the bucket; Azure
keeps versioning and lifecycle in resources whose ``accountName`` names the account. A store is
checked either inline (its own properties) or through the attached configuration resources,
per store type, so a new cloud slots in as a row in each table.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import StackValidationArgs

from ._base import (
    Report,
    Rule,
    attached,
    get,
    items,
    number,
    of_type,
    parse_document,
    short_type,
    truthy_text,
)

AWS_BUCKET = "aws:s3/bucket:Bucket"
AZURE_ACCOUNT = "azure-native:storage:StorageAccount"
GCP_BUCKET = "gcp:storage/bucket:Bucket"

Check = Callable[[Mapping[str, Any]], str | None]
"""Returns None when compliant, else what is wrong."""


@dataclass(frozen=True)
class StoreCheck:
    """How one store type satisfies one rule: inline, or via an attached config resource."""

    inline: Check | None = None
    config_type: str | None = None
    config_key: str = "bucket"
    config_check: Check | None = None


AZURE_APP = "azure-native:web:WebApp"
AZURE_BLOB = "azure-native:storage:Blob"
AZURE_CONTAINER = "azure-native:storage:BlobContainer"
_PACKAGE_URL = re.compile(r"https://([a-z0-9]{3,24})\.blob\.core\.windows\.net/([^/?#]+)/([^?#]+)")


def function_package_accounts(resources: Sequence[Any]) -> set[str]:
    """URNs of the Azure accounts that only hold Function App packages, and so are no object
    store: every container and blob declared in the account is a package that a Function App
    runs from (its ``WEBSITE_RUN_FROM_PACKAGE`` names the blob's URL), and anonymous blob access
    is off. Such an account keeps Shared Key on because azure-native uploads a blob's source
    with the account key (https://github.com/pulumi/pulumi-azure-native/issues/2015); it holds
    no data, so the object-store rules do not apply to it. Anything else in it (a container or
    blob no app runs from) makes it an object store again."""
    packages: set[tuple[str, str, str]] = set()
    for app in of_type(resources, [AZURE_APP]):
        for item in items(get(app.props, "siteConfig", "appSettings")):
            if isinstance(item, Mapping) and item.get("name") == "WEBSITE_RUN_FROM_PACKAGE":
                match = _PACKAGE_URL.fullmatch(str(item.get("value") or ""))
                if match:
                    packages.add((match.group(1), match.group(2), match.group(3)))
    if not packages:
        return set()
    exempt = set()
    for account in of_type(resources, [AZURE_ACCOUNT]):
        names = {n for n in (account.props.get("accountName"), account.props.get("name")) if n}
        held = {(a, c, b) for a, c, b in packages if a in names}
        if not held or account.props.get("allowBlobPublicAccess") is not False:
            continue
        containers = {
            str(r.props.get("containerName") or r.props.get("name"))
            for r in of_type(resources, [AZURE_CONTAINER])
            if r.props.get("accountName") in names
        }
        blobs = {
            (str(r.props.get("containerName")), str(r.props.get("blobName") or r.props.get("name")))
            for r in of_type(resources, [AZURE_BLOB])
            if r.props.get("accountName") in names
        }
        if containers <= {c for _, c, _ in held} and blobs <= {(c, b) for _, c, b in held}:
            exempt.add(account.urn)
    return exempt


def _store_rule(table: Mapping[str, StoreCheck]) -> Callable[[StackValidationArgs, Any], None]:
    def validate(args: StackValidationArgs, report: Report) -> None:
        packages = function_package_accounts(list(args.resources))
        stores = [s for s in of_type(args.resources, table) if s.urn not in packages]
        if not stores:
            args.not_applicable("no object stores in the stack")
        joins: dict[tuple[str, str], dict[int, list[Any]]] = {}
        for store in stores:
            check = table[store.resource_type]
            problem = check.inline(store.props) if check.inline else None
            if problem is None and check.config_type:
                join_key = (store.resource_type, check.config_type)
                if join_key not in joins:
                    subjects = of_type(stores, [store.resource_type])
                    configs = of_type(args.resources, [check.config_type])
                    joins[join_key] = attached(subjects, configs, check.config_key)
                configs = joins[join_key][id(store)]
                if not configs:
                    problem = f"no {short_type(check.config_type)} resource refers to it"
                elif check.config_check:
                    problems = [check.config_check(c.props) for c in configs]
                    if all(problems):
                        problem = problems[0]
            if problem:
                report(f"{short_type(store.resource_type)} '{store.name}': {problem}", store.urn)

    return validate


# --- encryption with a customer-managed key ------------------------------------------------------


def _aws_sse(props: Mapping[str, Any]) -> str | None:
    for rule in items(props.get("rules")):
        default = get(rule, "applyServerSideEncryptionByDefault")
        algorithm = get(default, "sseAlgorithm")
        if algorithm in ("aws:kms", "aws:kms:dsse") and truthy_text(get(default, "kmsMasterKeyId")):
            return None
    return "default encryption is not SSE-KMS with a customer-managed key (kmsMasterKeyId)"


def _azure_cmk(props: Mapping[str, Any]) -> str | None:
    encryption = props.get("encryption")
    if get(encryption, "keySource") == "Microsoft.Keyvault" and truthy_text(
        get(encryption, "keyVaultProperties", "keyName")
    ):
        return None
    return "encryption.keySource is not Microsoft.Keyvault with a key vault key"


def _gcp_cmk(props: Mapping[str, Any]) -> str | None:
    if truthy_text(get(props, "encryption", "defaultKmsKeyName")):
        return None
    return "encryption.defaultKmsKeyName is not set"


def _unverifiable_store(props: Mapping[str, Any]) -> str | None:
    return (
        "an object store this pack cannot check (encryption, versioning, public access); "
        "use aws.s3.Bucket (ArtifactStore)"
    )


#: Other object stores the AWS SDK ships: fail closed rather than go unseen.
UNVERIFIABLE_STORES = (
    "aws:s3/directoryBucket:DirectoryBucket",
    "aws:s3/vectorsVectorBucket:VectorsVectorBucket",
    "aws:s3control/bucket:Bucket",
    "aws:s3tables/tableBucket:TableBucket",
)

ENCRYPTION: Mapping[str, StoreCheck] = {
    **{t: StoreCheck(inline=_unverifiable_store) for t in UNVERIFIABLE_STORES},
    AWS_BUCKET: StoreCheck(
        config_type="aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        config_check=_aws_sse,
    ),
    AZURE_ACCOUNT: StoreCheck(inline=_azure_cmk),
    GCP_BUCKET: StoreCheck(inline=_gcp_cmk),
}

ENCRYPTED_CMK = Rule(
    name="mlops-storage-encrypted-cmk",
    description="Object stores are encrypted at rest with a customer-managed key.",
    remediation=(
        "Attach a BucketServerSideEncryptionConfiguration with sseAlgorithm 'aws:kms' and the "
        "ArtifactStore's kmsMasterKeyId (Azure: encryption.keySource Microsoft.Keyvault; GCP: "
        "encryption.defaultKmsKeyName). ArtifactStore does this by default."
    ),
    kind="stack",
    validate=_store_rule(ENCRYPTION),
    checkov=("CKV_AWS_145", "CKV_AWS_19", "CKV2_AZURE_1"),
    awsguard=("s3-default-encryption-kms",),
)


# --- versioning ----------------------------------------------------------------------------------


def _aws_versioning(props: Mapping[str, Any]) -> str | None:
    status = get(props, "versioningConfiguration", "status")
    return None if status == "Enabled" else f"versioning status is {status!r}, not 'Enabled'"


def _azure_versioning(props: Mapping[str, Any]) -> str | None:
    return None if props.get("isVersioningEnabled") is True else "isVersioningEnabled is not true"


def _gcp_versioning(props: Mapping[str, Any]) -> str | None:
    if get(props, "versioning", "enabled") is True:
        return None
    # GCS refuses versioning on a bucket with a retention policy, which protects objects from
    # deletion and overwrite instead ("Object versioning cannot be enabled on a bucket with a
    # retention policy"). https://cloud.google.com/storage/docs/bucket-lock
    if (get(props, "retentionPolicy", "retentionPeriod") or 0) > 0:
        return None
    return "versioning.enabled is not true (and no retention policy)"


VERSIONING: Mapping[str, StoreCheck] = {
    AWS_BUCKET: StoreCheck(
        config_type="aws:s3/bucketVersioning:BucketVersioning", config_check=_aws_versioning
    ),
    AZURE_ACCOUNT: StoreCheck(
        config_type="azure-native:storage:BlobServiceProperties",
        config_key="accountName",
        config_check=_azure_versioning,
    ),
    GCP_BUCKET: StoreCheck(inline=_gcp_versioning),
}

VERSIONED = Rule(
    name="mlops-storage-versioned",
    description="Object stores keep object versions, so DVC data and models can be recovered.",
    remediation=(
        "Attach a BucketVersioning with versioningConfiguration.status 'Enabled' (Azure: "
        "BlobServiceProperties.isVersioningEnabled; GCP: versioning.enabled)."
    ),
    kind="stack",
    validate=_store_rule(VERSIONING),
    checkov=("CKV_AWS_21", "CKV_GCP_78"),
    awsguard=("s3-bucket-versioning-enabled",),
)


# --- public access -------------------------------------------------------------------------------

_PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def _aws_public_access(props: Mapping[str, Any]) -> str | None:
    off = [flag for flag in _PAB_FLAGS if props.get(flag) is not True]
    return f"public access block leaves {', '.join(off)} off" if off else None


def _azure_public_access(props: Mapping[str, Any]) -> str | None:
    if props.get("allowBlobPublicAccess") is not False:
        return "allowBlobPublicAccess is not false"
    # Shared keys bypass Entra ID and RBAC; an open network rule set exposes the endpoint.
    if props.get("allowSharedKeyAccess") is not False:
        return "allowSharedKeyAccess is not false"
    if (
        props.get("publicNetworkAccess") != "Disabled"
        and get(props, "networkRuleSet", "defaultAction") != "Deny"
    ):
        return "networkRuleSet.defaultAction is not Deny (and publicNetworkAccess is not Disabled)"
    return None


def _gcp_public_access(props: Mapping[str, Any]) -> str | None:
    value = props.get("publicAccessPrevention")
    if value != "enforced":
        return f"publicAccessPrevention is {value!r}, not 'enforced'"
    # Without uniform access, object ACLs can still grant access object by object.
    if props.get("uniformBucketLevelAccess") is not True:
        return "uniformBucketLevelAccess is not true"
    return None


PUBLIC_ACCESS: Mapping[str, StoreCheck] = {
    AWS_BUCKET: StoreCheck(
        config_type="aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        config_check=_aws_public_access,
    ),
    AZURE_ACCOUNT: StoreCheck(inline=_azure_public_access),
    GCP_BUCKET: StoreCheck(inline=_gcp_public_access),
}

PUBLIC_ACCESS_BLOCKED = Rule(
    name="mlops-storage-public-access-blocked",
    description="Object stores block every form of public access.",
    remediation=(
        "Attach a BucketPublicAccessBlock with blockPublicAcls, blockPublicPolicy, "
        "ignorePublicAcls and restrictPublicBuckets all true (Azure: allowBlobPublicAccess false; "
        "GCP: publicAccessPrevention 'enforced' and uniformBucketLevelAccess; Azure: no blob "
        "public access, shared keys off, network default Deny)."
    ),
    kind="stack",
    validate=_store_rule(PUBLIC_ACCESS),
    checkov=(
        "CKV2_AWS_6",
        "CKV_AWS_53",
        "CKV_AWS_54",
        "CKV_AWS_55",
        "CKV_AWS_56",
        "CKV_GCP_114",
        "CKV_GCP_29",
    ),
    awsguard=("s3-bucket-level-public-access-prohibited",),
)


# --- TLS only ------------------------------------------------------------------------------------


def _denies_plain_http(statement: Any) -> bool:
    if get(statement, "Effect") != "Deny":
        return False
    secure = get(statement, "Condition", "Bool", "aws:SecureTransport")
    return any(str(v).lower() == "false" for v in items(secure))


def _aws_tls(props: Mapping[str, Any]) -> str | None:
    document = parse_document(props.get("policy"))
    if document is None:
        return "bucket policy is not a readable JSON document"
    if any(_denies_plain_http(s) for s in items(document.get("Statement"))):
        return None
    return "bucket policy has no Deny statement on aws:SecureTransport = false"


def _azure_tls(props: Mapping[str, Any]) -> str | None:
    if props.get("enableHttpsTrafficOnly") is False:
        return "enableHttpsTrafficOnly is false"
    if props.get("minimumTlsVersion") not in ("TLS1_2", "TLS1_3"):
        return f"minimumTlsVersion is {props.get('minimumTlsVersion')!r}, not TLS1_2 or later"
    return None


# GCS serves its APIs over HTTPS only, so GCP buckets have nothing to check here.
TLS: Mapping[str, StoreCheck] = {
    AWS_BUCKET: StoreCheck(config_type="aws:s3/bucketPolicy:BucketPolicy", config_check=_aws_tls),
    AZURE_ACCOUNT: StoreCheck(inline=_azure_tls),
}

TLS_ONLY = Rule(
    name="mlops-storage-tls-only",
    description="Object stores refuse requests that do not use TLS.",
    remediation=(
        "Attach a BucketPolicy with a Deny statement for all principals and s3:* actions under "
        "the condition Bool aws:SecureTransport 'false' (Azure: enableHttpsTrafficOnly true and "
        "minimumTlsVersion TLS1_2)."
    ),
    kind="stack",
    validate=_store_rule(TLS),
    awsguard=("s3-bucket-ssl-requests-only",),
)


# --- lifecycle -----------------------------------------------------------------------------------


def _aws_lifecycle(props: Mapping[str, Any]) -> str | None:
    enabled = [r for r in items(props.get("rules")) if get(r, "status") == "Enabled"]
    noncurrent = any(
        (number(get(r, "noncurrentVersionExpiration", "noncurrentDays")) or 0) > 0 for r in enabled
    )
    aborts = any(
        (number(get(r, "abortIncompleteMultipartUpload", "daysAfterInitiation")) or 0) > 0
        for r in enabled
    )
    missing = [
        what
        for what, ok in (
            ("noncurrentVersionExpiration", noncurrent),
            ("abortIncompleteMultipartUpload", aborts),
        )
        if not ok
    ]
    return f"no enabled lifecycle rule with {' or '.join(missing)}" if missing else None


def _azure_lifecycle(props: Mapping[str, Any]) -> str | None:
    return None if items(get(props, "policy", "rules")) else "management policy has no rules"


def _gcp_lifecycle(props: Mapping[str, Any]) -> str | None:
    return None if items(props.get("lifecycleRules")) else "lifecycleRules is empty"


LIFECYCLE: Mapping[str, StoreCheck] = {
    AWS_BUCKET: StoreCheck(
        config_type="aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        config_check=_aws_lifecycle,
    ),
    AZURE_ACCOUNT: StoreCheck(
        config_type="azure-native:storage:ManagementPolicy",
        config_key="accountName",
        config_check=_azure_lifecycle,
    ),
    GCP_BUCKET: StoreCheck(inline=_gcp_lifecycle),
}

LIFECYCLE_PRESENT = Rule(
    name="mlops-storage-lifecycle",
    description="Object stores expire noncurrent versions and abort incomplete uploads.",
    remediation=(
        "Attach a BucketLifecycleConfiguration with enabled rules for noncurrentVersionExpiration "
        "and abortIncompleteMultipartUpload (Azure: a ManagementPolicy; GCP: lifecycleRules)."
    ),
    kind="stack",
    validate=_store_rule(LIFECYCLE),
    checkov=("CKV2_AWS_61", "CKV_AWS_300"),
    awsguard=("s3-lifecycle-policy-check",),
)

RULES: tuple[Rule, ...] = (
    ENCRYPTED_CMK,
    VERSIONED,
    PUBLIC_ACCESS_BLOCKED,
    TLS_ONLY,
    LIFECYCLE_PRESENT,
)
