"""Rule metadata and the small helpers every rule module shares.

Rules read camelCase property bags through pulumi_policy's proxies, so containers are
``Mapping``/``Sequence`` (never ``dict``/``list``) and numbers may arrive as floats: the engine
sends properties and config through a protobuf ``Struct``, which has no integers.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, Protocol, TypeGuard, cast

from pulumi_policy import (
    Policy,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from mlops_iac.spec import keys
from mlops_iac.spec.identities import exact

Kind = Literal["resource", "stack"]
Level = Literal["advisory", "mandatory", "disabled"]
ENVIRONMENTS: tuple[str, ...] = ("dev", "staging", "prod")

#: Advisory while a team iterates, mandatory wherever real data or traffic lives.
DEFAULT_LEVELS: Mapping[str, Level] = {
    "dev": "advisory",
    "staging": "mandatory",
    "prod": "mandatory",
}

#: Lineage keys without their cloud prefix (``mlops:`` on AWS and Azure, ``mlops-`` on GCP).
LINEAGE_KEYS: tuple[str, ...] = keys.LINEAGE_KEYS

#: Config knob shared by the environment-aware rules; ``pack_config`` fills it in.
ENVIRONMENT_SCHEMA: dict[str, Any] = {
    "type": "string",
    "enum": list(ENVIRONMENTS),
    "description": "The stack's environment. Default: the resource's mlops:environment tag.",
}


def environments_schema(default: Sequence[str]) -> dict[str, Any]:
    """Schema of the ``environments`` knob: where an environment-scoped rule applies."""
    return {
        "type": "array",
        "items": {"type": "string", "enum": list(ENVIRONMENTS)},
        "default": list(default),
        "description": "Environments the rule applies in.",
    }


class Report(Protocol):
    """The violation callback a rule is given. pulumi_policy calls it with the urn optional (the
    resource under validation) but types it ``Callable[[str, Optional[str]], None]``, which would
    make every one-argument call an error to a type checker."""

    def __call__(self, message: str, urn: str | None = None, /) -> None: ...


Validate = Callable[[Any, Report], None]


@dataclass(frozen=True)
class Rule:
    """One governance rule: metadata for the catalogue plus the validation function."""

    name: str
    description: str
    remediation: str
    kind: Kind
    validate: Validate = field(repr=False, compare=False)
    checkov: tuple[str, ...] = ()
    awsguard: tuple[str, ...] = ()
    """AWSGuard / AWS Config managed-rule names the rule corresponds to."""
    config: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    """JSON-schema ``properties`` of the rule's config knobs (empty when it has none)."""
    required: tuple[str, ...] = ()
    levels: Mapping[str, Level] = field(default_factory=lambda: dict(DEFAULT_LEVELS))
    waivable: bool = True
    """``False`` for a rule whose whole purpose is a human decision (the approval gate, the
    signed governance records): a waiver would let the same person skip the decision itself."""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"mlops-[a-z]+(-[a-z0-9]+)+", self.name):
            raise ValueError(f"rule name {self.name!r} is not of the form mlops-<area>-<check>")

    @property
    def area(self) -> str:
        return self.name.split("-")[1]

    @cached_property
    def policy(self) -> Policy:
        """The pulumi_policy object, built once: the pack and the offline evaluator share it."""
        schema = (
            PolicyConfigSchema(dict(self.config), list(self.required) or None)
            if self.config
            else None
        )
        common: dict[str, Any] = {
            "config_schema": schema,
            "tags": [self.area],
            "remediation_steps": self.remediation,
        }
        validate = self.validate

        # Rules select resources by type token; they see every token canonical, so a resource
        # declared under an SDK alias or an explicit azure-native API version is governed alike.
        def canonical_validate(args: Any, report: ReportViolation) -> None:
            # The SDK's callback takes the urn as optional; only its type says otherwise (Report).
            validate(canonical_args(args), cast(Report, report))

        if self.kind == "resource":
            return ResourceValidationPolicy(
                self.name, self.description, canonical_validate, **common
            )
        return StackValidationPolicy(self.name, self.description, canonical_validate, **common)


# --- value helpers -------------------------------------------------------------------------------


def fmt(value: Any) -> str:
    """Render a value for a message the same way whether it arrived as an int or a float."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def items(value: Any) -> Sequence[Any]:
    """A list-like view of ``value``: ``()`` for None, a 1-tuple for a scalar or mapping."""
    if value is None:
        return ()
    if isinstance(value, Sequence) and not isinstance(value, str):
        return value
    return (value,)


def get(props: Mapping[str, Any] | None, *path: str | int) -> Any:
    """Walk a path of keys/indexes, returning None where anything is missing."""
    value: Any = props
    for key in path:
        if isinstance(key, int):
            if not isinstance(value, Sequence) or isinstance(value, str) or len(value) <= key:
                return None
            value = value[key]
        else:
            if not isinstance(value, Mapping):
                return None
            value = value.get(key)
    return value


def number(value: Any) -> float | None:
    """A numeric value, or None for missing and non-numeric values (bools are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def truthy_text(value: Any) -> TypeGuard[str]:
    """A string with at least one letter or digit (the test for tags, key ids and ARNs).

    Blank is not enough: GCP's label sanitiser turns ``" "`` into ``"_"``, which says nothing.
    """
    return isinstance(value, str) and any(c.isalnum() for c in value)


def short_type(resource_type: str) -> str:
    """``aws:s3/bucket:Bucket`` -> ``Bucket``."""
    return resource_type.rsplit(":", 1)[-1]


def parse_document(value: Any) -> Mapping[str, Any] | None:
    """An IAM-style policy document given as a JSON string or a mapping; None if unreadable."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str):
        try:
            doc = json.loads(value)
        except ValueError:
            return None
        return doc if isinstance(doc, Mapping) else None
    return None


# --- tags and environments -----------------------------------------------------------------------


#: Where resources keep their tags: AWS and Azure ``tags``, GCP ``labels`` (GKE clusters
#: ``resourceLabels``, monitoring policies and channels ``userLabels``).
TAG_KEYS: tuple[str, ...] = ("tags", "labels", "resourceLabels", "userLabels")


def tags_of(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """Tags (AWS, Azure) or labels (GCP) of a resource; empty when it has neither.

    A resource may hold several maps (a GCP notification channel's ``labels`` is its channel
    configuration, its lineage sits in ``userLabels``): the one carrying ``mlops`` keys wins.
    """
    maps = [v for key in TAG_KEYS if isinstance(v := props.get(key), Mapping)]
    for candidate in maps:
        if any(str(key).startswith("mlops") for key in candidate):
            return candidate
    return maps[0] if maps else {}


def lineage_tag(tags: Mapping[str, Any], key: str) -> Any:
    """A lineage tag under any of its cloud spellings: ``mlops:git-sha``, ``mlops-git-sha``..."""
    for spelled in (f"mlops:{key}", f"mlops-{key}", f"mlops_{key.replace('-', '_')}"):
        if spelled in tags:
            return tags[spelled]
    return None


def identity(text: Any) -> str:
    """An approver identity as compared by the gate: exact, except the domain's case
    (:func:`mlops_iac.spec.identities.exact`)."""
    return exact(text)


_GCP_LABEL_BAD = re.compile(r"[^a-z0-9_-]")
_AWS_TAG_BAD = re.compile(r"[^\w\s.:/=+\-@]", re.UNICODE)


def tag_spellings(value: Any) -> set[str]:
    """``value`` as each cloud's tag sanitiser writes it (``mlops_iac.components.lineage``).

    A tag can only be compared after sanitising the *trusted* side the same way: the GCP label of
    ``jane@example.com`` is ``jane_example_com``.
    """
    text = str(value)
    return {
        text,
        identity(text),
        _AWS_TAG_BAD.sub("_", text)[:256],
        _GCP_LABEL_BAD.sub("_", text.lower())[:63],
    }


def tag_matches(tagged: Any, trusted: Any) -> bool:
    """Whether a tag value is ``trusted`` as one of the clouds' sanitisers writes it."""
    return tagged is not None and str(tagged) in tag_spellings(trusted)


def environment(args: ResourceValidationArgs) -> str | None:
    """The environment from config, else from the resource's own ``mlops:environment`` tag."""
    configured = args.get_config().get("environment")
    if configured:
        return str(configured)
    tagged = lineage_tag(tags_of(args.props), "environment")
    return str(tagged).lower() if truthy_text(tagged) else None


def skip_outside_environments(args: ResourceValidationArgs, default: Sequence[str]) -> str | None:
    """Mark the rule not applicable outside its environments; returns the environment.

    An unknown environment counts as in scope: a resource that hides its environment must not
    slip past a production-only rule (the lineage rule reports the missing tag separately).
    """
    env = environment(args)
    scope = args.get_config().get("environments", default)
    if env is not None and env not in scope:
        args.not_applicable(f"applies in {', '.join(scope)}; this resource is in {env}")
    return env


def per_type_in_environments(
    checks: Mapping[str, Callable[[Mapping[str, Any]], list[str]]], environments: Sequence[str]
) -> Validate:
    """A resource rule's ``validate``: a resource whose type has a check in ``checks`` gets each
    problem it returns reported, in ``environments`` only (the rule's ``environments`` config
    overrides them; see :func:`skip_outside_environments`)."""

    def validate(args: Any, report: Report) -> None:
        check = checks.get(args.resource_type)
        if check is None:
            return
        skip_outside_environments(args, environments)
        for problem in check(args.props):
            report(problem)

    return validate


# --- stack helpers -------------------------------------------------------------------------------


#: ``azure-native:storage/v20230101:StorageAccount`` (an explicit API version, as a locally
#: generated azure-native v3 SDK registers it) deploys the same resource as
#: ``azure-native:storage:StorageAccount``.
_AZURE_VERSIONED = re.compile(r"^(azure-native:[A-Za-z0-9]+)/v\d{8}[A-Za-z]*(:[A-Za-z0-9]+)$")

TYPE_ALIASES_FILE = Path(__file__).with_name("type_aliases.txt")
"""Every other token the provider SDKs declare for a resource (``aws:s3/bucketV2:BucketV2`` for
``aws:s3/bucket:Bucket``, the modules an azure-native type moved from...) with its canonical
token, generated by ``python -m tools.typealiases``; ``tests/policies/test_type_tokens.py`` fails
when it is stale."""


def versionless(type_token: str) -> str:
    """``type_token`` without an explicit azure-native API version; other tokens unchanged."""
    return _AZURE_VERSIONED.sub(r"\1\2", type_token)


@functools.cache
def type_aliases() -> Mapping[str, str]:
    """Alias token -> canonical token, read once from ``TYPE_ALIASES_FILE``."""
    table: dict[str, str] = {}
    for raw in TYPE_ALIASES_FILE.read_text().splitlines():
        if raw and not raw.startswith("#"):
            alias, canonical = raw.split()
            table[alias] = canonical
    return table


def canonical_type(type_token: str) -> str:
    """The token the rules are written against for a resource declared as ``type_token``.

    Tokens are compared exactly otherwise: the engine resolves a type by its exact, case-sensitive
    token, so a case variant no provider registers cannot be deployed.
    """
    plain = versionless(type_token)
    return type_aliases().get(plain, plain)


def canonical_args(
    args: ResourceValidationArgs | StackValidationArgs,
) -> ResourceValidationArgs | StackValidationArgs:
    """``args`` as the rules see them: every resource type token canonical (``canonical_type``).

    The engine's objects are not changed: a resource's args are copied, a stack's resources are
    copied with their parent and dependency links pointing at the copies.
    """
    if isinstance(args, ResourceValidationArgs):
        wanted = canonical_type(args.resource_type)
        if wanted == args.resource_type:
            return args
        view = copy.copy(args)
        view.resource_type = wanted
        return view
    resources = args.resources
    if all(canonical_type(r.resource_type) == r.resource_type for r in resources):
        return args
    copies = {id(r): copy.copy(r) for r in resources}

    def mapped(resource: PolicyResource) -> PolicyResource:
        return copies.get(id(resource), resource)

    for resource in copies.values():
        resource.resource_type = canonical_type(resource.resource_type)
        resource.parent = mapped(resource.parent) if resource.parent is not None else None
        resource.dependencies = [mapped(d) for d in resource.dependencies]
        resource.property_dependencies = {
            key: [mapped(d) for d in deps] for key, deps in resource.property_dependencies.items()
        }
    stack_view = copy.copy(args)
    stack_view.resources = [copies[id(r)] for r in resources]
    return stack_view


def of_type(resources: Iterable[PolicyResource], types: Iterable[str]) -> list[PolicyResource]:
    """Resources of any of ``types``, by canonical token."""
    wanted = {canonical_type(t) for t in types}
    return [r for r in resources if canonical_type(r.resource_type) in wanted]


def identifiers(resource: PolicyResource, fields: Iterable[str]) -> set[str]:
    """Non-empty string outputs that other resources use to refer to ``resource``."""
    props = resource.props
    return {v for f in fields if truthy_text(v := props.get(f))}


def attached(
    subjects: Sequence[PolicyResource],
    configs: Iterable[PolicyResource],
    key: str,
    fields: Sequence[str] = ("id", "bucket", "name", "arn"),
) -> dict[int, list[PolicyResource]]:
    """Join each subject to the config resources whose ``key`` input refers to it.

    A config resource refers to a subject when its property dependencies for ``key`` include the
    subject (what the engine records for ``bucket=bucket.id``) or when the value of ``key`` equals
    one of the subject's identifying outputs (a literal name, or a program without dependency
    tracking). Keys of the result are ``id(subject)``.
    """
    joined: dict[int, list[PolicyResource]] = {id(s): [] for s in subjects}
    by_ident: dict[str, PolicyResource] = {}
    for subject in subjects:
        for ident in identifiers(subject, fields):
            by_ident.setdefault(ident, subject)
    for config in configs:
        targets = {id(d) for d in config.property_dependencies.get(key, ()) if id(d) in joined}
        value = config.props.get(key)
        if isinstance(value, str) and value in by_ident:
            targets.add(id(by_ident[value]))
        for target in targets:
            joined[target].append(config)
    return joined
