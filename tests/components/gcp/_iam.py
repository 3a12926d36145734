"""Cloud Storage IAM as the recorded plan grants it: which member may do what to which object.

Evaluates the bucket grants (``BucketIAMMember``) of a recording with the permissions of the
predefined roles and the two condition forms the components write (``resource.name == "…"`` and
``resource.name.startsWith("…")``, joined by ``||``). Anything else in a condition is refused, so
a new condition form cannot pass unnoticed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# https://cloud.google.com/storage/docs/access-control/iam-roles
ROLE_PERMISSIONS = {
    "roles/storage.objectViewer": {"storage.objects.get", "storage.objects.list"},
    "roles/storage.objectCreator": {"storage.objects.create"},
    "roles/storage.objectUser": {
        "storage.objects.create",
        "storage.objects.delete",
        "storage.objects.get",
        "storage.objects.list",
        "storage.objects.update",
    },
    "roles/storage.objectAdmin": {
        "storage.objects.create",
        "storage.objects.delete",
        "storage.objects.get",
        "storage.objects.list",
        "storage.objects.update",
    },
}
_TERM = re.compile(
    r'^\(?\s*resource\.name(?:\.startsWith\("(?P<prefix>[^"]*)"\)|\s*==\s*"(?P<exact>[^"]*)")\s*\)?$'
)
BUCKET_GRANT = "gcp:storage/bucketIAMMember:BucketIAMMember"


def condition_holds(expression: str | None, resource_name: str) -> bool:
    """Whether a grant's condition (None: unconditional) admits ``resource_name``."""
    if not expression:
        return True
    for term in expression.split("||"):
        match = _TERM.match(term.strip())
        if match is None:
            raise ValueError(f"condition form this evaluator does not know: {term.strip()!r}")
        if match["prefix"] is not None and resource_name.startswith(match["prefix"]):
            return True
        if match["exact"] is not None and resource_name == match["exact"]:
            return True
    return False


def bucket_resource(bucket: str, name: str | None = None) -> str:
    """The IAM resource name of a bucket, or of an object in it."""
    base = f"projects/_/buckets/{bucket}"
    return base if name is None else f"{base}/objects/{name}"


class BucketIam:
    """The recorded bucket grants of one member."""

    def __init__(self, resources: Iterable[object], member: str) -> None:
        self.grants = [
            r.inputs  # type: ignore[attr-defined]
            for r in resources
            if getattr(r, "type", None) == BUCKET_GRANT and r.inputs.get("member") == member  # type: ignore[attr-defined]
        ]

    def allows(self, permission: str, bucket: str, name: str | None = None) -> bool:
        """``permission`` on the bucket (``name`` None: listing) or on object ``name``."""
        resource = bucket_resource(bucket, name)
        return any(
            grant["bucket"] == bucket
            and permission in ROLE_PERMISSIONS[grant["role"]]
            and condition_holds((grant.get("condition") or {}).get("expression"), resource)
            for grant in self.grants
        )

    def can_list(self, bucket: str) -> bool:
        return self.allows("storage.objects.list", bucket)

    def can_read(self, bucket: str, name: str) -> bool:
        return self.allows("storage.objects.get", bucket, name)

    def can_write(self, bucket: str, name: str, *, exists: bool) -> bool:
        """Create ``name``; replacing an existing object also needs delete."""
        create = self.allows("storage.objects.create", bucket, name)
        return create and (not exists or self.allows("storage.objects.delete", bucket, name))
