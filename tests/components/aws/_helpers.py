"""What the AWS component tests share: the region config and IAM document checks."""

from __future__ import annotations

import json
from typing import Any

REGION = {"aws:region": "us-east-1"}

# Resource types whose inputs hold an IAM / resource policy document, and the input holding it.
POLICY_INPUTS = {
    "aws:iam/policy:Policy": "policy",
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:kms/key:Key": "policy",
    "aws:sns/topicPolicy:TopicPolicy": "policy",
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
    "aws:iam/role:Role": "assumeRolePolicy",
}


def statements(resource: Any, key: str = "policy") -> list[dict[str, Any]]:
    return json.loads(resource.inputs[key])["Statement"]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def wildcard_allows(recording: Any) -> list[tuple[str, str]]:
    """(resource name, action) of every Allow statement whose action has a wildcard."""
    found = []
    for resource in recording:
        key = POLICY_INPUTS.get(resource.type)
        if key is None or key not in resource.inputs:
            continue
        for stmt in statements(resource, key):
            if stmt.get("Effect") != "Allow":
                continue
            if "NotAction" in stmt:
                found.append((resource.name, "NotAction"))
            for action in as_list(stmt.get("Action", [])):
                if "*" in action:
                    found.append((resource.name, action))
    return found


def children_by_name(recording: Any, component: Any) -> dict[str, Any]:
    return recording.children_by_name(component)
