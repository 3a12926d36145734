"""GCP IAM evaluation: predefined roles → permissions, where a binding applies, and IAM
conditions on the resource name.

A binding grants a permission on a resource when its member is the caller, it is set on the
resource or an ancestor (a bucket's binding covers its objects; a project's, everything in the
project), its role holds the permission, and its condition holds
(https://cloud.google.com/iam/docs/overview). Conditions: ``resource.name``
``startsWith``/``endsWith``/``==``/``!=``, ``resource.type ==``, ``&&``, ``||``, ``!`` and
parentheses (https://cloud.google.com/iam/docs/conditions-attribute-reference#resource-name).
``storage.objects.list`` is checked on the bucket, so its ``resource.name`` is
``projects/_/buckets/<bucket>`` and an object-prefix condition never matches it
(https://cloud.google.com/storage/docs/access-control/iam#conditions).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from mlops_iac.drift.calls import Call
from mlops_iac.plan.deploy.permissions import _boolean

ROLES_REFERENCE = "https://cloud.google.com/iam/docs/roles-permissions"
STORAGE_ROLES = "https://cloud.google.com/storage/docs/access-control/iam-roles"
CONDITIONS = "https://cloud.google.com/iam/docs/conditions-attribute-reference"

ROLES: dict[str, tuple[frozenset[str], str]] = {
    "roles/storage.objectViewer": (
        frozenset({"storage.objects.get", "storage.objects.list", "storage.folders.get",
                   "storage.folders.list", "storage.managedFolders.get",
                   "storage.managedFolders.list", "resourcemanager.projects.get"}),
        STORAGE_ROLES,
    ),
    "roles/storage.objectCreator": (
        frozenset({"storage.objects.create", "storage.folders.create",
                   "storage.managedFolders.create", "storage.multipartUploads.create",
                   "storage.multipartUploads.abort", "storage.multipartUploads.listParts"}),
        STORAGE_ROLES,
    ),
    "roles/storage.objectUser": (
        frozenset({"storage.objects.create", "storage.objects.delete", "storage.objects.get",
                   "storage.objects.list", "storage.objects.restore", "storage.objects.update",
                   "storage.folders.create", "storage.folders.delete", "storage.folders.get",
                   "storage.folders.list", "storage.folders.rename",
                   "storage.managedFolders.create", "storage.managedFolders.delete",
                   "storage.managedFolders.get", "storage.managedFolders.list",
                   "storage.multipartUploads.abort", "storage.multipartUploads.create",
                   "storage.multipartUploads.list", "storage.multipartUploads.listParts",
                   "resourcemanager.projects.get"}),
        STORAGE_ROLES,
    ),
    "roles/storage.objectAdmin": (
        frozenset({"storage.objects.create", "storage.objects.delete", "storage.objects.get",
                   "storage.objects.getIamPolicy", "storage.objects.list",
                   "storage.objects.restore", "storage.objects.setIamPolicy",
                   "storage.objects.setRetention", "storage.objects.update",
                   "storage.objects.overrideUnlockedRetention", "storage.folders.create",
                   "storage.folders.delete", "storage.folders.get", "storage.folders.list",
                   "storage.folders.rename", "storage.managedFolders.create",
                   "storage.managedFolders.delete", "storage.managedFolders.get",
                   "storage.managedFolders.list", "storage.multipartUploads.abort",
                   "storage.multipartUploads.create", "storage.multipartUploads.list",
                   "storage.multipartUploads.listParts", "resourcemanager.projects.get"}),
        STORAGE_ROLES,
    ),
    "roles/storage.legacyBucketReader": (
        frozenset({"storage.buckets.get", "storage.objects.list"}), STORAGE_ROLES,
    ),
    "roles/monitoring.metricWriter": (
        frozenset({"monitoring.metricDescriptors.create", "monitoring.metricDescriptors.get",
                   "monitoring.metricDescriptors.list",
                   "monitoring.monitoredResourceDescriptors.get",
                   "monitoring.monitoredResourceDescriptors.list",
                   "monitoring.timeSeries.create"}),
        f"{ROLES_REFERENCE}#monitoring.metricWriter",
    ),
    "roles/iam.serviceAccountUser": (
        frozenset({"iam.serviceAccounts.actAs", "iam.serviceAccounts.get",
                   "iam.serviceAccounts.list", "resourcemanager.projects.get",
                   "resourcemanager.projects.list"}),
        f"{ROLES_REFERENCE}#iam.serviceAccountUser",
    ),
}  # fmt: skip
"""Predefined role → (its permissions the toolkit's code needs or might, source)."""
CUSTOM_ROLES = "https://cloud.google.com/iam/docs/creating-custom-roles"


@dataclass(frozen=True)
class Binding:
    """One IAM member binding as the plan records it."""

    member: str
    role: str
    resource: str
    """Where it is set: ``projects/<p>``, ``projects/_/buckets/<b>``."""
    condition: str | None = None
    name: str = ""


class ConditionError(ValueError):
    """A CEL expression this evaluator cannot read (named in the message)."""


_TOKEN = re.compile(
    r"\s*(?:(?P<open>\()|(?P<close>\))|(?P<and>&&)|(?P<or>\|\|)|(?P<not>!(?!=))"
    r"|(?P<attr>resource\.(?:name|type|service))"
    r"(?:\.(?P<method>startsWith|endsWith)\(\s*\"(?P<arg>[^\"]*)\"\s*\)"
    r"|\s*(?P<op>==|!=)\s*\"(?P<val>[^\"]*)\"))"
)


def _attributes(call: Call) -> dict[str, str]:
    kind = (
        "storage.googleapis.com/Object"
        if "/objects/" in call.resource
        else ("storage.googleapis.com/Bucket" if "/buckets/" in call.resource else "")
    )
    return {
        "resource.name": call.resource,
        "resource.type": kind,
        "resource.service": call.action.split(".", 1)[0] + ".googleapis.com",
    }


def condition_holds(expression: str, call: Call) -> bool:
    """Evaluate an IAM condition (the CEL subset on resource attributes) for one request."""
    values = _attributes(call)

    def atom(token: re.Match[str]) -> bool:
        if not token.group("attr"):
            raise ConditionError(f"expected a resource attribute ({CONDITIONS})")
        value = values[token.group("attr")]
        method = token.group("method")
        if method == "startsWith":
            return value.startswith(token.group("arg"))
        if method == "endsWith":
            return value.endswith(token.group("arg"))
        return (value == token.group("val")) == (token.group("op") == "==")

    return _boolean.evaluate(
        expression, _TOKEN, atom, lambda what: ConditionError(f"{what} ({CONDITIONS})")
    )


def _covers(where: str, resource: str) -> bool:
    if resource == where or resource.startswith(where.rstrip("/") + "/"):
        return True
    # A project's bindings apply to its buckets, whose names do not carry the project.
    project = where.startswith("projects/") and not where.startswith("projects/_/")
    return project and resource.startswith("projects/_/buckets/")


def grants(
    binding: Binding,
    member: str,
    call: Call,
    custom: Mapping[str, frozenset[str]] | None = None,
) -> bool:
    """Whether ``binding`` lets ``member`` make ``call``; ``custom``: the plan's custom roles
    (``projects/<p>/roles/<id>`` → permissions)."""
    role = ROLES.get(binding.role) or (
        (custom[binding.role], CUSTOM_ROLES) if custom and binding.role in custom else None
    )
    if role is None or binding.member != member or call.action not in role[0]:
        return False
    if not _covers(binding.resource, call.resource):
        return False
    return not binding.condition or condition_holds(binding.condition, call)


def allowed(
    call: Call,
    member: str,
    bindings: Mapping[str, Binding],
    custom: Mapping[str, frozenset[str]] | None = None,
) -> str:
    """The name of a binding that grants ``call`` to ``member``, or ``""``."""
    for name, binding in bindings.items():
        if grants(binding, member, call, custom):
            return name
    return ""
