"""AWS policy evaluation for one principal of the same account: identity policies, plus the
resource policy a call crosses (an S3 bucket policy, a KMS key policy).

Follows the evaluation logic of
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html:
an explicit Deny in any policy wins; otherwise an Allow in the identity policies or in the
resource policy (same account) allows. KMS is the exception: a key policy must allow, either the
principal itself or the account (``arn:aws:iam::<account>:root``), and only in the second case do
identity policies count
(https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html). A key without
a policy has the default one, which allows the account
(https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html).

Statement elements: Action/NotAction with ``*``/``?`` wildcards (case-insensitive),
Resource/NotResource (case-sensitive wildcards), Principal/NotPrincipal for resource policies,
and the Condition operators the toolkit's policies use: String(Not)Equals(IgnoreCase),
String(Not)Like, Arn(Not)Equals, Arn(Not)Like, Bool, Null, each with ``…IfExists``
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
Any other operator is an ``Unsupported`` error, never a silent guess.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

EVALUATION = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html"
)
OPERATORS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html"

Decision = Literal["allow", "deny", "implicit-deny"]


class Unsupported(ValueError):
    """A policy element this evaluator does not implement (named in the message)."""


@dataclass(frozen=True)
class Request:
    """What the evaluator judges: the principal, action, resource and request context."""

    principal: str
    """The role ARN (``arn:aws:iam::<account>:role/<name>``)."""
    action: str
    resource: str
    context: Mapping[str, str]


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _wildcard(pattern: str, text: str, *, fold: bool) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, (re.IGNORECASE if fold else 0) | re.DOTALL) is not None


def _any(patterns: Iterable[Any], text: str, *, fold: bool) -> bool:
    return any(_wildcard(str(p), text, fold=fold) for p in patterns)


def _string_op(op: str, wanted: list[Any], value: str) -> bool:
    if op in ("StringEquals", "ArnEquals"):
        return (
            value in [str(w) for w in wanted]
            if op == "StringEquals"
            else _any(wanted, value, fold=False)
        )
    if op == "StringEqualsIgnoreCase":
        return value.lower() in [str(w).lower() for w in wanted]
    if op in ("StringLike", "ArnLike"):
        return _any(wanted, value, fold=False)
    raise Unsupported(f"condition operator {op} ({OPERATORS})")


_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _condition(condition: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    """Every operator block holds (AND), every key in it holds (AND), any value (OR)."""
    for raw_op, block in condition.items():
        if raw_op.startswith(("ForAnyValue:", "ForAllValues:")):
            raise Unsupported(f"condition set operator {raw_op} ({OPERATORS})")
        if_exists = raw_op.endswith("IfExists")
        op = raw_op.removesuffix("IfExists")
        for key, wanted_raw in block.items():
            wanted = _list(wanted_raw)
            value = next((v for k, v in context.items() if k.lower() == key.lower()), None)
            if op == "Null":
                absent = value is None
                if not any(str(w).lower() == str(absent).lower() for w in wanted):
                    return False
                continue
            if value is None:
                # A missing key matches nothing, so a negated operator holds and a positive one
                # does not; ...IfExists holds either way.
                if if_exists or op in _NEGATED:
                    continue
                return False
            if op == "Bool":
                holds = value.lower() in [str(w).lower() for w in wanted]
            elif op in _NEGATED:
                holds = not _string_op(_NEGATED[op], wanted, value)
            else:
                holds = _string_op(op, wanted, value)
            if not holds:
                return False
    return True


def _account(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


def _principal_matches(principal: Any, arn: str) -> bool:
    """Whether a resource policy's Principal names ``arn`` itself or its account."""
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    for value in _list(principal.get("AWS")):
        value = str(value)
        if (
            value == "*"
            or value == arn
            or value in (_account(arn), f"arn:aws:iam::{_account(arn)}:root")
        ):
            return True
    return False


def _principal_is_self(principal: Any, arn: str) -> bool:
    return isinstance(principal, Mapping) and arn in [str(v) for v in _list(principal.get("AWS"))]


def _statements(policy: Any) -> list[Mapping[str, Any]]:
    document = json.loads(policy) if isinstance(policy, str) else policy
    if not isinstance(document, Mapping):
        return []
    return [s for s in _list(document.get("Statement")) if isinstance(s, Mapping)]


def _applies(statement: Mapping[str, Any], request: Request, *, resource_policy: bool) -> bool:
    if "NotAction" in statement:
        if _any(_list(statement["NotAction"]), request.action, fold=True):
            return False
    elif not _any(_list(statement.get("Action")), request.action, fold=True):
        return False
    if "NotResource" in statement:
        if _any(_list(statement["NotResource"]), request.resource, fold=False):
            return False
    elif not _any(_list(statement.get("Resource")), request.resource, fold=False):
        return False
    if resource_policy:
        if "NotPrincipal" in statement:
            if _principal_matches(statement["NotPrincipal"], request.principal):
                return False
        elif not _principal_matches(statement.get("Principal"), request.principal):
            return False
    return _condition(statement.get("Condition") or {}, request.context)


def evaluate(request: Request, policies: Sequence[Any]) -> tuple[Decision, str]:
    """Identity policies only: ``("allow" | "deny" | "implicit-deny", the deciding Sid)``."""
    return _decide(request, [(p, False) for p in policies])


def _decide(request: Request, policies: Sequence[tuple[Any, bool]]) -> tuple[Decision, str]:
    allowed = ""
    for policy, resource_policy in policies:
        for n, statement in enumerate(_statements(policy)):
            if not _applies(statement, request, resource_policy=resource_policy):
                continue
            sid = str(statement.get("Sid") or f"statement {n}")
            if statement.get("Effect") == "Deny":
                return "deny", sid
            if statement.get("Effect") == "Allow" and not allowed:
                allowed = sid
    return ("allow", allowed) if allowed else ("implicit-deny", "")


def evaluate_with_resource_policy(
    request: Request, identity: Sequence[Any], resource_policy: Any | None
) -> tuple[Decision, str]:
    """An S3-style call: a Deny anywhere wins, an Allow in either policy allows."""
    policies = [(p, False) for p in identity]
    if resource_policy is not None:
        policies.append((resource_policy, True))
    return _decide(request, policies)


_DEFAULT_KEY_POLICY = {
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "ACCOUNT"}, "Action": "kms:*", "Resource": "*"}
    ]
}


def evaluate_kms(
    request: Request, identity: Sequence[Any], key_policy: Any | None
) -> tuple[Decision, str]:
    """A KMS call: the key policy must allow the principal, or the account and then an identity
    policy too; a Deny in either wins."""
    if key_policy is None:
        key_policy = json.loads(
            json.dumps(_DEFAULT_KEY_POLICY).replace("ACCOUNT", _account(request.principal))
        )
    via_account = False
    direct = ""
    for n, statement in enumerate(_statements(key_policy)):
        if not _applies(statement, request, resource_policy=True):
            continue
        sid = str(statement.get("Sid") or f"key policy statement {n}")
        if statement.get("Effect") == "Deny":
            return "deny", sid
        if statement.get("Effect") == "Allow":
            if _principal_is_self(statement.get("Principal"), request.principal) or (
                statement.get("Principal") == "*"
            ):
                direct = direct or sid
            else:
                via_account = True
    decision, sid = evaluate(request, identity)
    if decision == "deny":
        return decision, sid
    if direct:
        return "allow", direct
    if via_account and decision == "allow":
        return "allow", sid
    return "implicit-deny", ""
