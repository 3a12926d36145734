"""Production data stores are protected from deletion by both Pulumi and the provider."""

from __future__ import annotations

from collections.abc import Mapping

from pulumi_policy import ResourceValidationArgs

from ._base import (
    ENVIRONMENT_SCHEMA,
    Report,
    Rule,
    environments_schema,
    skip_outside_environments,
)

#: Data stores, and the input that lets the provider delete them with their contents.
DATA_STORE_TYPES: Mapping[str, str | None] = {
    "aws:s3/bucket:Bucket": "forceDestroy",
    "aws:kms/key:Key": None,
    "azure-native:storage:StorageAccount": None,
    "azure-native:keyvault:Vault": None,
    "gcp:storage/bucket:Bucket": "forceDestroy",
    "gcp:kms/keyRing:KeyRing": None,
    "gcp:kms/cryptoKey:CryptoKey": None,
}

_DEFAULT_ENVIRONMENTS = ("prod",)


def _validate(args: ResourceValidationArgs, report: Report) -> None:
    if args.resource_type not in DATA_STORE_TYPES:
        return
    skip_outside_environments(args, _DEFAULT_ENVIRONMENTS)
    if not args.opts.protect:
        report("protect is not set: `pulumi destroy` or a rename would delete the data")
    force_key = DATA_STORE_TYPES[args.resource_type]
    if force_key and args.props.get(force_key) is True:
        report(f"{force_key} is true: the provider would empty it on delete")


DATA_PROTECTED = Rule(
    name="mlops-data-protected",
    description="In production, buckets and keys are protected against deletion.",
    remediation=(
        "Create production data stores with ResourceOptions(protect=True) and forceDestroy "
        "false; ArtifactStore does both when the environment is prod."
    ),
    kind="resource",
    validate=_validate,
    config={
        "environment": ENVIRONMENT_SCHEMA,
        "environments": environments_schema(_DEFAULT_ENVIRONMENTS),
    },
)

RULES: tuple[Rule, ...] = (DATA_PROTECTED,)
