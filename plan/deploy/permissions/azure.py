"""Azure RBAC evaluation of data actions: the built-in roles the toolkit assigns, role
assignment scopes, and ABAC conditions (version 2.0) with the attributes each storage
suboperation offers.

A role assignment grants a data action on a resource when its principal is the caller, its
scope is the resource or one of its parents, the role's ``dataActions`` match the action and
its ``notDataActions`` do not, and its condition (if any) holds
(https://learn.microsoft.com/azure/role-based-access-control/overview#how-azure-rbac-determines-if-a-user-has-access-to-a-resource).

Conditions: ``ActionMatches``, ``SubOperationMatches``, ``!``/``NOT``, ``AND``, ``OR``,
parentheses, and ``@Resource[…]``/``@Request[…]`` attributes compared with ``StringEquals``,
``StringNotEquals``, ``StringStartsWith``, ``StringNotStartsWith``, ``StringLike``
(https://learn.microsoft.com/azure/role-based-access-control/conditions-format). An attribute the
request does not carry makes its comparison false: List Blobs (``Blob.List``) carries the
account, container and the request's blob prefix, not a blob path
(https://learn.microsoft.com/azure/storage/blobs/storage-auth-abac-attributes#list-blobs).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from mlops_iac.drift.calls import LIST_BLOBS, Call
from mlops_iac.plan.deploy.permissions import _boolean

BUILT_IN = "https://learn.microsoft.com/azure/role-based-access-control/built-in-roles"
CONDITIONS = "https://learn.microsoft.com/azure/role-based-access-control/conditions-format"
ATTRIBUTES = "https://learn.microsoft.com/azure/storage/blobs/storage-auth-abac-attributes"

_BLOB = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
_QUEUE = "Microsoft.Storage/storageAccounts/queueServices/queues/messages"


@dataclass(frozen=True)
class Role:
    name: str
    data_actions: tuple[str, ...]
    not_data_actions: tuple[str, ...]
    source: str
    actions: tuple[str, ...] = ()
    """Control-plane actions (a custom role's; the built-in roles above are modelled by their
    data actions only)."""
    not_actions: tuple[str, ...] = ()


ROLES: dict[str, Role] = {
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": Role(
        "Storage Blob Data Contributor",
        (f"{_BLOB}/delete", f"{_BLOB}/read", f"{_BLOB}/write", f"{_BLOB}/move/action",
         f"{_BLOB}/add/action"),
        (),
        f"{BUILT_IN}/storage#storage-blob-data-contributor",
    ),
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": Role(
        "Storage Blob Data Reader", (f"{_BLOB}/read",), (),
        f"{BUILT_IN}/storage#storage-blob-data-reader",
    ),
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": Role(
        "Storage Blob Data Owner", (f"{_BLOB}/*",), (),
        f"{BUILT_IN}/storage#storage-blob-data-owner",
    ),
    "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a": Role(
        "Storage Queue Data Message Sender", (f"{_QUEUE}/add/action",), (),
        f"{BUILT_IN}/storage#storage-queue-data-message-sender",
    ),
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": Role(
        "Storage Queue Data Contributor",
        (f"{_QUEUE}/delete", f"{_QUEUE}/read", f"{_QUEUE}/write", f"{_QUEUE}/process/action"),
        (),
        f"{BUILT_IN}/storage#storage-queue-data-contributor",
    ),
    "3913510d-42f4-4e42-8a64-420c390055eb": Role(
        "Monitoring Metrics Publisher", ("Microsoft.Insights/Metrics/Write",), (),
        f"{BUILT_IN}/monitor#monitoring-metrics-publisher",
    ),
    "e147488a-f6f5-4113-8e2d-b22465e65bf6": Role(
        "Key Vault Crypto Service Encryption User",
        ("Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/wrap/action",
         "Microsoft.KeyVault/vaults/keys/unwrap/action"),
        (),
        f"{BUILT_IN}/security#key-vault-crypto-service-encryption-user",
    ),
}  # fmt: skip
"""Built-in role definition id → its data actions (the roles the toolkit assigns)."""


@dataclass(frozen=True)
class Assignment:
    """A role assignment as the plan records it."""

    principal_id: str
    role_definition_id: str
    scope: str
    condition: str | None = None
    name: str = ""
    custom_role: Role | None = None
    """The plan's custom role this assignment names, if any."""

    @property
    def role(self) -> Role | None:
        found = ROLES.get(self.role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower())
        return found or self.custom_role


def _action_matches(pattern: str, action: str) -> bool:
    regex = ".*".join(re.escape(p) for p in pattern.split("*"))
    return re.fullmatch(regex, action, re.IGNORECASE) is not None


def _scope_path(scope: str) -> str:
    """A storage scope from ``storageAccounts/`` on (how manifests name storage), else itself."""
    marker = "/providers/Microsoft.Storage/"
    if marker.lower() in scope.lower():
        return scope[scope.lower().index(marker.lower()) + len(marker) :]
    return scope


def _covers(scope: str, resource: str) -> bool:
    scope, resource = _scope_path(scope).rstrip("/").lower(), resource.rstrip("/").lower()
    return resource == scope or resource.startswith(scope + "/")


def attributes(call: Call) -> dict[str, str]:
    """The ABAC attributes a storage request carries (``@Resource[…]``/``@Request[…]`` names)."""
    found: dict[str, str] = {}
    match = re.match(
        r"storageAccounts/([^/]+)/blobServices/default/containers/([^/]+)(?:/blobs/(.*))?$",
        call.resource,
    )
    if match:
        found["@Resource[Microsoft.Storage/storageAccounts:name]"] = match.group(1)
        found["@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name]"] = (
            match.group(2)
        )
        if match.group(3) is not None and call.suboperation != LIST_BLOBS:
            found[f"@Resource[{_BLOB}:path]"] = match.group(3)
    for key, value in call.attributes:
        if key == f"{_BLOB}:prefix":
            found[f"@Request[{_BLOB}:prefix]"] = value
    return found


_TOKEN = re.compile(
    r"\s*(?:(?P<open>\()|(?P<close>\))|(?P<not>!|NOT\b)|(?P<and>AND\b|&&)|(?P<or>OR\b|\|\|)"
    r"|(?P<fn>ActionMatches|SubOperationMatches)\{'(?P<arg>[^']*)'\}"
    r"|(?P<attr>@(?:Resource|Request|Principal|Environment)\[[^\]]+\])\s+(?P<op>\w+)\s+'(?P<val>[^']*)')",
    re.IGNORECASE,
)


class ConditionError(ValueError):
    """A condition this evaluator cannot read (named in the message)."""


def condition_holds(condition: str, call: Call) -> bool:
    """Evaluate an ABAC condition for one request."""
    values = attributes(call)

    def atom(token: re.Match[str]) -> bool:
        if token.group("fn"):
            if token.group("fn").lower() == "actionmatches":
                return _action_matches(token.group("arg"), call.action)
            return (call.suboperation or "") == token.group("arg")
        if token.group("attr"):
            value = values.get(token.group("attr"))
            if value is None:
                return False  # the request does not carry the attribute
            return _compare(token.group("op"), value, token.group("val"))
        raise ConditionError(f"unexpected {token.group(0).strip()!r} ({CONDITIONS})")

    return _boolean.evaluate(
        condition, _TOKEN, atom, lambda what: ConditionError(f"{what} ({CONDITIONS})")
    )


def _compare(op: str, value: str, wanted: str) -> bool:
    lowered = op.lower()
    if lowered == "stringequals":
        return value == wanted
    if lowered == "stringnotequals":
        return value != wanted
    if lowered == "stringstartswith":
        return value.startswith(wanted)
    if lowered == "stringnotstartswith":
        return not value.startswith(wanted)
    if lowered == "stringlike":
        return _action_matches(wanted, value)
    raise ConditionError(f"operator {op} ({CONDITIONS})")


def grants(assignment: Assignment, principal_id: str, call: Call) -> bool:
    """Whether this assignment lets ``principal_id`` make ``call``."""
    role = assignment.role
    if role is None or assignment.principal_id != principal_id:
        return False
    if not _covers(assignment.scope, call.resource):
        return False
    data = any(_action_matches(p, call.action) for p in role.data_actions) and not any(
        _action_matches(p, call.action) for p in role.not_data_actions
    )
    control = any(_action_matches(p, call.action) for p in role.actions) and not any(
        _action_matches(p, call.action) for p in role.not_actions
    )
    if not (data or control):
        return False
    return not assignment.condition or condition_holds(assignment.condition, call)


def allowed(call: Call, principal_id: str, assignments: Mapping[str, Assignment]) -> str:
    """The name of an assignment that grants ``call``, or ``""``."""
    for name, assignment in assignments.items():
        if grants(assignment, principal_id, call):
            return name
    return ""
