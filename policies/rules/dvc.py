"""DVC rule: the identity a stack creates for DVC reaches the remote's prefix and nothing more.

The DVC grants are recognised by their logical name (``<store>-dvc-…``, as ArtifactStore names
them on every cloud; the ``namePattern`` knob changes it):

- AWS ``aws:iam/policy:Policy``: object actions only on ``arn:aws:s3:::BUCKET/PREFIX/*`` (a
  non-empty prefix), ``s3:ListBucket`` only with an ``s3:prefix`` condition, nothing on ``*``.
- Azure ``RoleAssignment``: scoped to one blob container (``…/blobServices/default/containers/
  NAME``), never the account, resource group or subscription. Container scope is the narrowest
  built-in role scope for blob data:
  https://learn.microsoft.com/en-us/azure/storage/blobs/assign-azure-role-data-access
- GCP bucket IAM member/binding: an IAM condition on the object prefix
  (``resource.name.startsWith("projects/_/buckets/B/objects/PREFIX/")``), or, for the list-only
  viewer role, on the bucket's own name; project-level grants to the DVC identity fire.
  https://cloud.google.com/iam/docs/conditions-resource-attributes
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs

from ._base import Report, Rule, get, items, parse_document

_DEFAULT_PATTERN = r"-dvc(-|$)"
_AWS_POLICY = "aws:iam/policy:Policy"
_AZURE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
_GCP_BUCKET_GRANTS = frozenset(
    {"gcp:storage/bucketIAMMember:BucketIAMMember", "gcp:storage/bucketIAMBinding:BucketIAMBinding"}
)
_GCP_PROJECT_GRANTS = frozenset(
    {"gcp:projects/iAMMember:IAMMember", "gcp:projects/iAMBinding:IAMBinding"}
)
_CONTAINER_SCOPE = re.compile(
    r"/providers/Microsoft\.Storage/storageAccounts/[^/]+/blobServices/default/containers/[^/]+$",
    re.IGNORECASE,
)
_OBJECT_ARN = re.compile(r"^arn:aws[a-z-]*:s3:::[^/*]+/[^*]+/\*$")
_GCS_PREFIX = re.compile(
    r'^resource\.name\.startsWith\("projects/_/buckets/[^/"]+/objects/[^"]+/"\)$'
)
_GCS_BUCKET = re.compile(r'^resource\.name == "projects/_/buckets/[^/"]+"$')
_LIST_ONLY_ROLES = frozenset({"roles/storage.objectViewer"})


def _aws(props: Mapping[str, Any]) -> list[str]:
    document = parse_document(props.get("policy"))
    if document is None:
        return ["the DVC policy is not a readable JSON policy document"]
    problems = []
    for statement in items(document.get("Statement")):
        if get(statement, "Effect") != "Allow":
            continue
        actions = [a for a in items(get(statement, "Action")) if isinstance(a, str)]
        resources = [r for r in items(get(statement, "Resource")) if isinstance(r, str)]
        if "*" in resources or get(statement, "NotResource") is not None:
            problems.append(f"{', '.join(actions)} on every resource ('*')")
            continue
        object_actions = [a for a in actions if a.startswith("s3:") and "Object" in a]
        wide = [r for r in resources if r.startswith("arn:") and ":s3:::" in r]
        if object_actions and any(not _OBJECT_ARN.match(r) for r in wide):
            problems.append(f"{', '.join(object_actions)} beyond a prefix: {', '.join(wide)}")
        if "s3:ListBucket" in actions and not get(
            statement, "Condition", "StringLike", "s3:prefix"
        ):
            problems.append("s3:ListBucket without an s3:prefix condition (lists the bucket)")
    return problems


def _azure(props: Mapping[str, Any]) -> list[str]:
    scope = props.get("scope")
    if isinstance(scope, str) and not _CONTAINER_SCOPE.search(scope):
        return [f"scope {scope} is wider than one blob container"]
    return []


def _gcp(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type in _GCP_PROJECT_GRANTS:
        return [f"{props.get('role')} granted on the whole project, not on the store"]
    expression = get(props, "condition", "expression")
    if not isinstance(expression, str):
        return [f"{props.get('role')} on the whole bucket (no IAM condition on the DVC prefix)"]
    expression = expression.strip()
    if _GCS_PREFIX.match(expression):
        return []
    if _GCS_BUCKET.match(expression) and props.get("role") in _LIST_ONLY_ROLES:
        return []
    return [f"condition {expression!r} does not confine {props.get('role')} to the DVC prefix"]


def _validate(args: ResourceValidationArgs, report: Report) -> None:
    pattern = args.get_config().get("namePattern", _DEFAULT_PATTERN)
    if not re.search(pattern, args.name or ""):
        return
    if args.resource_type == _AWS_POLICY:
        problems = _aws(args.props)
    elif args.resource_type == _AZURE_ASSIGNMENT:
        problems = _azure(args.props)
    elif args.resource_type in _GCP_BUCKET_GRANTS | _GCP_PROJECT_GRANTS:
        problems = _gcp(args.resource_type, args.props)
    else:
        return
    for problem in problems:
        report(f"DVC identity {args.name}: {problem}")


DVC_IDENTITY_SCOPED = Rule(
    name="mlops-dvc-identity-scoped",
    description=(
        "The identity a stack grants for DVC can list, read, write and delete the remote's "
        "prefix (or container) only."
    ),
    remediation=(
        "Use ArtifactStore's DVC grant: AWS object actions on BUCKET/dvc/* and ListBucket with "
        "an s3:prefix condition; Azure Storage Blob Data Contributor scoped to the dvc "
        "container; GCP bucket IAM with a resource.name.startsWith condition on the prefix."
    ),
    kind="resource",
    validate=_validate,
    checkov=("CKV_AWS_355",),
    config={
        "namePattern": {
            "type": "string",
            "default": _DEFAULT_PATTERN,
            "description": "Regular expression on logical names that marks DVC grants.",
        }
    },
)

RULES: tuple[Rule, ...] = (DVC_IDENTITY_SCOPED,)
