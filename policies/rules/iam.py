"""IAM rule: policies grant named actions, never ``*`` or ``service:*`` wildcards."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs

from ._base import Report, Rule, get, items, parse_document

#: Resource types whose ``policy`` input is a policy document.
DOCUMENT_TYPES: frozenset[str] = frozenset(
    {
        "aws:iam/policy:Policy",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/userPolicy:UserPolicy",
        "aws:iam/groupPolicy:GroupPolicy",
    }
)
ROLE = "aws:iam/role:Role"


def _documents(resource_type: str, props: Mapping[str, Any]) -> Iterable[tuple[str, Any]]:
    if resource_type in DOCUMENT_TYPES:
        yield "policy", props.get("policy")
    elif resource_type == ROLE:
        # Inline policies on the role itself; the trust policy grants no actions.
        for inline in items(props.get("inlinePolicies")):
            yield f"inline policy {get(inline, 'name')!r}", get(inline, "policy")


def _wildcards(document: Mapping[str, Any], allowed: set[str]) -> list[str]:
    found = []
    for statement in items(document.get("Statement")):
        if get(statement, "Effect") != "Allow":
            continue
        if get(statement, "NotAction") is not None:
            found.append("NotAction")
        for action in items(get(statement, "Action")):
            if isinstance(action, str) and "*" in action and action not in allowed:
                found.append(action)
    return found


def _validate(args: ResourceValidationArgs, report: Report) -> None:
    allowed = set(args.get_config().get("allowedActions", ()))
    for where, raw in _documents(args.resource_type, args.props):
        if raw is None:
            continue
        document = parse_document(raw)
        if document is None:
            report(f"{where} is not a readable JSON policy document")
            continue
        if found := _wildcards(document, allowed):
            report(f"{where} allows wildcard actions: {', '.join(dict.fromkeys(found))}")


NO_WILDCARD_ACTIONS = Rule(
    name="mlops-iam-no-wildcard-actions",
    description="IAM policies allow only named actions: no '*', 'service:*' or NotAction grants.",
    remediation=(
        "List the exact actions the workload needs (for DVC: s3:GetObject, s3:PutObject, "
        "s3:DeleteObject, s3:ListBucket on the dvc/ prefix); add a deliberate exception to the "
        "policy config allowedActions only with a review."
    ),
    kind="resource",
    validate=_validate,
    checkov=("CKV_AWS_63", "CKV_AWS_62"),
    awsguard=("iam-policy-no-statements-with-full-access",),
    config={
        "allowedActions": {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": "Wildcard actions accepted as reviewed exceptions.",
        }
    },
)

RULES: tuple[Rule, ...] = (NO_WILDCARD_ACTIONS,)
