"""mlops-dvc-identity-scoped: quiet on ArtifactStore's grants, firing on each way to widen them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_iac.policies import packs

from .baseline import Rec
from .test_other_clouds import res

RULE = "mlops-dvc-identity-scoped"
BUCKET_ARN = "arn:aws:s3:::fraud-artifacts-1a2b3c"
CONTAINER = (
    "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct"
    "/blobServices/default/containers/dvc"
)
PREFIX_EXPR = 'resource.name.startsWith("projects/_/buckets/fraud-b/objects/dvc/")'
BUCKET_EXPR = 'resource.name == "projects/_/buckets/fraud-b"'


def fired(*resources: Any, **config: Any) -> list[str]:
    document = packs.pack_config("prod")
    if config:
        document[RULE] = {**document.get(RULE, {}), **config}
    result = packs.evaluate(Rec(list(resources), {}, "x-prod", "proj"), document)
    return [v.message for v in result.violations if v.policy == RULE]


def aws_policy(*statements: dict[str, Any], name: str = "art-dvc-policy") -> Any:
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    return res(name, "aws:iam/policy:Policy", {"policy": json.dumps(document)})


LIST = {
    "Effect": "Allow",
    "Action": ["s3:ListBucket"],
    "Resource": BUCKET_ARN,
    "Condition": {"StringLike": {"s3:prefix": ["dvc", "dvc/*"]}},
}
OBJECTS = {
    "Effect": "Allow",
    "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
    "Resource": f"{BUCKET_ARN}/dvc/*",
}
KEY = {
    "Effect": "Allow",
    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
    "Resource": "arn:aws:kms:us-east-1:123456789012:key/k",
}


def azure_grant(scope: str, name: str = "art-dvc-access") -> Any:
    return res(name, "azure-native:authorization:RoleAssignment", {"scope": scope})


def gcs_grant(role: str, expression: str | None, name: str = "art-dvc-objects") -> Any:
    inputs: dict[str, Any] = {"bucket": "fraud-b", "role": role, "member": "serviceAccount:x"}
    if expression is not None:
        inputs["condition"] = {"title": "t", "expression": expression}
    return res(name, "gcp:storage/bucketIAMMember:BucketIAMMember", inputs)


def test_artifact_store_grants_are_quiet_on_every_cloud() -> None:
    assert (
        fired(
            aws_policy(LIST, OBJECTS, KEY),
            azure_grant(CONTAINER),
            gcs_grant("roles/storage.objectAdmin", PREFIX_EXPR),
            gcs_grant("roles/storage.objectViewer", BUCKET_EXPR, name="art-dvc-list"),
        )
        == []
    )


@pytest.mark.parametrize(
    ("statement", "fragment"),
    [
        ({**OBJECTS, "Resource": f"{BUCKET_ARN}/*"}, "beyond a prefix"),
        ({**OBJECTS, "Resource": "*"}, "on every resource ('*')"),
        ({**LIST, "Condition": {}}, "s3:ListBucket without an s3:prefix condition"),
        ({**KEY, "Resource": "*"}, "kms:Decrypt, kms:GenerateDataKey on every resource"),
    ],
)
def test_aws_wider_than_the_prefix_fires(statement, fragment) -> None:
    [message] = fired(aws_policy(LIST, OBJECTS, statement))
    assert message.startswith("DVC identity art-dvc-policy: ")
    assert fragment in message


@pytest.mark.parametrize(
    "scope",
    [
        CONTAINER.rsplit("/blobServices", 1)[0],  # the whole account
        "/subscriptions/0000/resourceGroups/rg",
        "/subscriptions/0000",
    ],
)
def test_azure_wider_than_the_container_fires(scope) -> None:
    [message] = fired(azure_grant(scope))
    assert f"scope {scope} is wider than one blob container" in message


@pytest.mark.parametrize(
    ("role", "expression", "fragment"),
    [
        ("roles/storage.objectAdmin", None, "on the whole bucket (no IAM condition"),
        ("roles/storage.objectAdmin", BUCKET_EXPR, "does not confine roles/storage.objectAdmin"),
        (
            "roles/storage.objectAdmin",
            'resource.name.startsWith("projects/_/buckets/fraud-b/objects/")',
            "does not confine",
        ),
        ("roles/storage.objectAdmin", "request.time < timestamp('2030-01-01')", "does not"),
    ],
)
def test_gcp_wider_than_the_prefix_fires(role, expression, fragment) -> None:
    [message] = fired(gcs_grant(role, expression))
    assert fragment in message


def test_gcp_project_level_grant_to_the_dvc_identity_fires() -> None:
    grant = res(
        "art-dvc-project",
        "gcp:projects/iAMMember:IAMMember",
        {"role": "roles/storage.objectAdmin", "member": "serviceAccount:x", "project": "p"},
    )
    [message] = fired(grant)
    assert "granted on the whole project" in message


def test_grants_of_other_identities_are_not_this_rules_business() -> None:
    assert (
        fired(
            aws_policy({**OBJECTS, "Resource": "*"}, name="serving-policy"),
            azure_grant("/subscriptions/0000", name="art-identity-key-access"),
            gcs_grant("roles/storage.objectAdmin", None, name="capture-writer"),
        )
        == []
    )


def test_name_pattern_is_configurable() -> None:
    grant = azure_grant("/subscriptions/0000", name="team-data-sync")
    assert fired(grant) == []
    assert len(fired(grant, namePattern=r"-data-sync$")) == 1
