"""Lineage and governance tags, sanitised per cloud, and the stack transform that applies them.

Every taggable resource carries ``mlops:project``, ``mlops:environment``, ``mlops:owner``,
``mlops:cost-center``, ``mlops:git-sha`` and ``mlops:dataset-version``; serving resources also carry
``mlops:model``, ``mlops:model-version``, ``mlops:approved-by`` and ``mlops:approval-ticket``.

Keys and values are sanitised for the provider a resource belongs to, not for the stack's cloud, so
a team program that mixes providers still gets valid tags everywhere:

- AWS tags: keys ≤ 128 and values ≤ 256 characters of letters, digits, spaces and ``_.:/=+-@``.
- Azure tags: keys ≤ 512 characters without ``<>%&\\?/``, values ≤ 256 characters.
- GCP labels: keys and values ≤ 63 characters of lowercase ``[a-z0-9_-]``, keys start with a letter
  (``mlops:git-sha`` becomes ``mlops-git-sha``).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

import pulumi

from mlops_iac.spec import clouds
from mlops_iac.spec.keys import LINEAGE_KEYS, LINEAGE_PREFIX, SERVING_LINEAGE_KEYS

if TYPE_CHECKING:
    from mlops_iac.spec.models import ModelRef, PlatformSpec, TeamGovernance

PREFIX = LINEAGE_PREFIX
BASE_KEYS = LINEAGE_KEYS
SERVING_KEYS = SERVING_LINEAGE_KEYS
UNSET = "none"
"""Value of a lineage key the spec leaves empty (cost centre in dev): present, never blank."""

# Provider package of a type token → the cloud whose tag rules apply.
PACKAGE_CLOUD = clouds.PROVIDER_CLOUD

# Input names that hold a resource's tags, in order of preference, as (wire name, Python name).
# GCP: ``labels``; a GKE cluster's labels are ``resourceLabels`` and monitoring resources'
# ``userLabels``. GCP ``tags``/``resourceTags``/``resourceManagerTags`` are Resource Manager tag
# bindings (``tagKeys/123: tagValues/456``), not free-form labels, and ``effectiveLabels``/
# ``pulumiLabels`` are outputs: none of them can carry lineage. AWS ``labels`` (EKS node groups)
# are Kubernetes node labels, not resource tags.
_TAG_INPUTS = {
    "aws": (("tags", "tags"),),
    "azure": (("tags", "tags"),),
    "gcp": (
        ("labels", "labels"),
        ("resourceLabels", "resource_labels"),
        ("userLabels", "user_labels"),
    ),
}
# Types whose ``labels`` input is configuration, not resource labels: a notification channel's
# ``labels`` hold its address (``email_address``, ``topic``); its resource labels are userLabels.
_TAG_INPUT_OVERRIDES = {"gcp:monitoring/notificationChannel:NotificationChannel": "userLabels"}

MAP = "map"
LIST = "list"
"""Shapes of a tag input: a map of key to value, or (AWS autoscaling groups) a list of
``{key, value, propagateAtLaunch}``."""


def tag_field(type_token: str, annotations: Mapping[str, str]) -> tuple[str, str] | None:
    """The (wire name, shape) of the input that holds ``type_token``'s tags, or None.

    ``annotations`` maps the resource class's ``_internal_init`` parameter names to their type
    annotations as text (``inspect`` or the SDK source, both say ``Mapping``/``Sequence``). This
    one decision is shared by the lineage transform (what it tags) and ``tools.taggable`` (what
    the lineage rule demands tags on), so the two cannot disagree.
    """
    package = type_token.partition(":")[0]
    cloud = PACKAGE_CLOUD.get(package)
    if cloud is None:
        return None
    preferred = _TAG_INPUT_OVERRIDES.get(type_token)
    for wire_name, python_name in _TAG_INPUTS[cloud]:
        if preferred is not None and wire_name != preferred:
            continue
        annotation = annotations.get(python_name)
        if annotation is None:
            continue
        if "Mapping" in annotation:
            return wire_name, MAP
        # An AWS autoscaling group's tags are a list of GroupTag objects (key, value,
        # propagateAtLaunch); Azure list "tags" elsewhere are bare strings with no values.
        if cloud == "aws" and "Sequence" in annotation and "TagArgs" in annotation:
            return wire_name, LIST
        # Two Azure resources (importexport Job, migrate Project) type their tag map as Any.
        if cloud == "azure" and re.search(r"\bAny\b", annotation) and "Sequence" not in annotation:
            return wire_name, MAP
    return None


def tag_key(key: str) -> str:
    """The canonical (AWS/Azure) spelling of a lineage key: ``mlops:<key>``."""
    return f"{PREFIX}:{key}"


def base_tags(spec: PlatformSpec | TeamGovernance) -> dict[str, str]:
    """The lineage tags every resource of the stack carries, in canonical spelling."""
    values = {
        "project": spec.project,
        "environment": spec.environment,
        "owner": spec.owner or UNSET,
        "cost-center": spec.cost_center or UNSET,
        "git-sha": spec.lineage.git_sha,
        "dataset-version": spec.lineage.dataset_version,
    }
    return {tag_key(k): v for k, v in values.items()}


def serving_tags(spec: PlatformSpec, model: ModelRef) -> dict[str, str]:
    """Tags that say which model version a serving resource runs and who approved it."""
    approval = spec.governance.approval_for(model)
    values = {
        "model": model.name,
        "model-version": model.version,
        "approved-by": approval.approved_by if approval else UNSET,
        "approval-ticket": approval.ticket if approval else UNSET,
    }
    return {tag_key(k): v for k, v in values.items()}


_AWS_BAD = re.compile(r"[^\w\s.:/=+\-@]", re.UNICODE)
_AZURE_KEY_BAD = re.compile(r"[<>%&\\?/]")
_GCP_BAD = re.compile(r"[^a-z0-9_-]")


def sanitise(tags: Mapping[str, str], cloud: str) -> dict[str, str]:
    """Rewrite canonical tags into what ``cloud`` accepts (see the module docstring)."""
    if cloud == "aws":
        return {_AWS_BAD.sub("_", k)[:128]: _AWS_BAD.sub("_", v)[:256] for k, v in tags.items()}
    if cloud == "azure":
        return {_AZURE_KEY_BAD.sub("_", k)[:512]: v[:256] for k, v in tags.items()}
    if cloud == "gcp":
        return {_gcp_label(k, key=True): _gcp_label(v, key=False) for k, v in tags.items()}
    raise ValueError(f"unknown cloud {cloud!r}; valid choices: {', '.join(clouds.NAMES)}")


def _gcp_label(text: str, *, key: bool) -> str:
    if not key and not any(c.isalnum() for c in text):
        # " " would become "_": a value that says nothing stays empty, so the lineage rule sees
        # it missing instead of passing a placeholder the sanitiser made up.
        return ""
    label = _GCP_BAD.sub("-" if key else "_", text.lower())
    if key:
        label = label.replace(":", "-")
        if not label[:1].isalpha():
            label = f"k-{label}"
    return label[:63]


@functools.cache
def tag_spec(type_token: str) -> tuple[str, str] | None:
    """The (wire name, shape) of ``type_token``'s tag input, or None if it takes no tags.

    Looked up on the provider SDK's resource class, so it covers every resource type of the
    three providers, including those team code creates outside our components.
    """
    package, _, rest = type_token.partition(":")
    if PACKAGE_CLOUD.get(package) is None or ":" not in rest:
        return None
    module = pulumi.runtime.rpc.get_resource_module(package, rest.split(":")[0], "")
    mod_info = getattr(module, "mod_info", None)
    if not mod_info or type_token not in mod_info.get("classes", {}):
        return None
    cls = getattr(importlib.import_module(mod_info["fqn"]), mod_info["classes"][type_token])
    params = inspect.signature(cls._internal_init).parameters
    return tag_field(type_token, {name: str(p.annotation) for name, p in params.items()})


def tag_input(type_token: str) -> str | None:
    """The camelCase input that holds tags/labels for ``type_token``, or None if not taggable."""
    spec = tag_spec(type_token)
    return spec[0] if spec else None


def merge_tags(
    type_token: str, props: Mapping[str, object], tags: Mapping[str, str]
) -> dict[str, object] | None:
    """Props with ``tags`` merged into the resource's tag input; None when nothing changes.

    Tags the caller set explicitly win over the lineage set. An autoscaling group's list gets
    one ``{key, value, propagateAtLaunch: true}`` per missing key, so its instances carry the
    lineage too.
    """
    spec = tag_spec(type_token)
    if spec is None:
        return None
    wire_name, shape = spec
    cloud = PACKAGE_CLOUD[type_token.partition(":")[0]]
    existing = props.get(wire_name)
    if shape == LIST:
        entries = list(existing) if isinstance(existing, list | tuple) else []
        present = {e.get("key") for e in entries if isinstance(e, Mapping)}
        added = [
            {"key": k, "value": v, "propagateAtLaunch": True}
            for k, v in sanitise(tags, cloud).items()
            if k not in present
        ]
        return {**props, wire_name: entries + added} if added else None
    explicit = dict(existing) if isinstance(existing, Mapping) else {}
    merged = {**sanitise(tags, cloud), **explicit}
    if merged == explicit:
        return None
    return {**props, wire_name: merged}


def lineage_transform(tags: Mapping[str, str]) -> pulumi.ResourceTransform:
    """A resource transform that adds ``tags`` to every taggable custom resource."""
    canonical = dict(tags)

    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        if not args.custom:
            return None
        props = merge_tags(args.type_, args.props, canonical)
        if props is None:
            return None
        return pulumi.ResourceTransformResult(props=props, opts=args.opts)

    return transform


def register_lineage_transform(spec: PlatformSpec | TeamGovernance) -> None:
    """Tag every taggable resource the program creates from now on with the stack's lineage.

    A team program needs only the governance keys: ``register_lineage_transform(
    spec.load_team_governance())``.
    """
    pulumi.runtime.register_resource_transform(lineage_transform(base_tags(spec)))
