"""Realistic outputs for pulumi-kubernetes types, and the names the API server would refuse.

No network: a Helm release is recorded with its chart, version, repository and values, never
fetched. ``validate`` checks names as the API server and Helm check them (for the deploy-constraint
catalogue to run over recorded resources, and for ``components.kubernetes.addons`` before it
declares anything). ``outputs`` does not raise: an exception thrown inside a mock's
``new_resource`` runs on an SDK worker thread and leaves the offline engine unable to run again in
the same process, so refusals happen in the component (main thread) or after the run.

- namespaces and services: RFC 1123 labels (≤ 63 characters of ``[a-z0-9-]``, alphanumeric at
  both ends); most other objects (service accounts, config maps…): RFC 1123 subdomains (≤ 253);
- Helm release names: RFC 1123 labels of at most 53 characters (Helm's own limit);
- label keys and values: ``mlops_iac.components.kubernetes.labels.invalid_label``.

Sources: https://kubernetes.io/docs/concepts/overview/working-with-objects/names/ and
https://helm.sh/docs/chart_template_guide/getting_started/ (release names).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from mlops_iac.components.kubernetes.labels import DNS1123_LABEL, invalid_label
from mlops_iac.plan.mocks.base import MockContext

HELM_RELEASE_MAX = 53
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")
# Kinds whose metadata.name must be a DNS-1123 label rather than a subdomain.
_LABEL_NAMED = {"core/v1:Namespace", "core/v1:Service"}

INVOKES: dict[str, Any] = {}


class KubernetesNameError(ValueError):
    """A Kubernetes name or label the API server (or Helm) would refuse."""


def _check_label_name(kind: str, name: str, limit: int = 63) -> None:
    if len(name) > limit or not DNS1123_LABEL.match(name):
        raise KubernetesNameError(
            f"{kind} name {name!r} must be a DNS-1123 label of at most {limit} characters"
        )


def _check_subdomain(kind: str, name: str) -> None:
    if len(name) > 253 or not DNS1123_SUBDOMAIN.match(name):
        raise KubernetesNameError(f"{kind} name {name!r} must be a DNS-1123 subdomain")


def validate(resource_type: str, inputs: Mapping[str, Any]) -> None:
    """Raise ``KubernetesNameError`` for a name or label Kubernetes would refuse."""
    kind = resource_type.split(":", 1)[1]
    if kind == "helm.sh/v3:Release":
        name = inputs.get("name")
        if isinstance(name, str):
            _check_label_name("Helm release", name, HELM_RELEASE_MAX)
        namespace = inputs.get("namespace")
        if isinstance(namespace, str):
            _check_label_name("namespace", namespace)
        return
    metadata = inputs.get("metadata") or {}
    name = metadata.get("name")
    if isinstance(name, str):
        if kind in _LABEL_NAMED:
            _check_label_name(kind, name)
        else:
            _check_subdomain(kind, name)
    namespace = metadata.get("namespace")
    if isinstance(namespace, str):
        _check_label_name("namespace", namespace)
    for key, value in (metadata.get("labels") or {}).items():
        problem = invalid_label(str(key), str(value))
        if problem:
            raise KubernetesNameError(f"{kind} {name or ''}: {problem}")


def outputs(ctx: MockContext) -> dict[str, Any]:
    """Outputs of a Kubernetes resource: the object with its name filled in, or a release's
    status. Unknown names are auto-named like the provider does (logical name + suffix)."""
    kind = ctx.type.split(":", 1)[1]
    if kind == "helm.sh/v3:Release":
        name = str(ctx.inputs.get("name") or ctx.physical_name)
        namespace = str(ctx.inputs.get("namespace") or "default")
        return {
            "__id": f"{namespace}/{name}",
            "name": name,
            "status": {
                "name": name,
                "namespace": namespace,
                "chart": str(ctx.inputs.get("chart", "")).rsplit("/", 1)[-1],
                "version": ctx.inputs.get("version", ""),
                "revision": 1,
                "status": "deployed",
            },
        }
    metadata = dict(ctx.inputs.get("metadata") or {})
    metadata.setdefault("name", ctx.physical_name)
    metadata.setdefault("uid", hashlib.sha1(ctx.name.encode()).hexdigest()[:32])
    in_namespace = metadata.get("namespace")
    return {
        "__id": f"{in_namespace}/{metadata['name']}" if in_namespace else metadata["name"],
        "metadata": metadata,
    }
