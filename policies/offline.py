"""Evaluate a policy pack over a recorded program, the way the Pulumi engine would.

The engine side of CrossGuard is reproduced here, in-process and without gRPC:

- config is reconciled like ``ReconcilePolicyPackConfig``: schema defaults, then the pack's
  ``initial_config``, then user config; within each layer ``all`` sets every policy's level
  first, then per-policy entries apply; the result is validated against each policy's JSON
  schema and every error is reported, naming the policy and the key;
- resource policies see each resource's **inputs**, stack policies see every resource's
  **outputs** with parent, dependencies and property dependencies resolved to ``PolicyResource``
  objects (what ``AnalyzeStack`` builds);
- properties and config go through the same normalisation as the protobuf ``Struct`` the
  engine sends (integers become floats, secrets are unwrapped) and props are wrapped in
  ``unknown_checking_proxy``;
- enforcement levels (advisory, mandatory, remediate -> mandatory, disabled) and
  ``not_applicable`` behave as in pulumi_policy's analyzer servicer; a diagnostic's message is
  the servicer's ``description + "\\n" + message``.

Unlike the servicer, which rebuilds every proxy once per policy, props are proxied once per
resource and shared: rules never mutate them, and this keeps the whole pack well under a
millisecond per resource.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from inspect import isawaitable
from typing import Any, Literal, Protocol

import jsonschema
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import SPECIAL_SIG_KEY, deserialize_properties
from pulumi_policy.policy import PolicyCustomTimeouts, _NotApplicableError
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

__all__ = [
    "NotApplicable",
    "PolicyConfigError",
    "PolicySummary",
    "PolicyError",
    "RecordedResource",
    "Recording",
    "ResultSet",
    "Violation",
    "evaluate",
    "reconcile_config",
]

LevelName = Literal["advisory", "mandatory"]
PACK_NAME = "mlops-governance"
PACK_VERSION = "0.0.1"
"""What the Python SDK reports as the pack version (the CLI takes the real one from YAML)."""


class RecordedResource(Protocol):
    """One resource registration, as the offline engine records it (read-only view)."""

    @property
    def urn(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def parent(self) -> str | None: ...

    @property
    def inputs(self) -> Mapping[str, Any]: ...

    @property
    def outputs(self) -> Mapping[str, Any]: ...

    @property
    def dependencies(self) -> Sequence[str]: ...

    @property
    def property_dependencies(self) -> Mapping[str, Sequence[str]]: ...

    @property
    def protect(self) -> bool: ...

    @property
    def custom(self) -> bool: ...

    @property
    def provider(self) -> str | None: ...


class Recording(Protocol):
    """A whole program run: resources (parents and dependencies before what needs them) plus
    stack exports."""

    @property
    def resources(self) -> Sequence[RecordedResource]: ...

    @property
    def exports(self) -> Mapping[str, Any]: ...

    @property
    def stack(self) -> str: ...

    @property
    def project(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Violation:
    """One policy diagnostic. ``urn`` is empty for a stack-wide violation."""

    policy: str
    level: LevelName
    urn: str
    resource_name: str
    resource_type: str
    message: str
    remediation: str
    description: str
    unknown: bool = False
    """True when the policy could not run because a value was unknown (preview only)."""

    @property
    def engine_message(self) -> str:
        """The message as the analyzer servicer formats it."""
        if self.unknown or not self.message:
            return self.message or self.description
        return f"{self.description}\n{self.message}"


@dataclass(frozen=True, slots=True)
class PolicySummary:
    """A policy as it ran: its reconciled level and the text reports show for it."""

    name: str
    kind: Literal["resource", "stack"]
    level: str
    description: str
    remediation: str


@dataclass(frozen=True, slots=True)
class NotApplicable:
    policy: str
    urn: str
    reason: str


@dataclass(frozen=True)
class ResultSet:
    """Everything one evaluation found."""

    violations: tuple[Violation, ...]
    not_applicable: tuple[NotApplicable, ...] = ()
    policies: tuple[PolicySummary, ...] = ()
    """Every policy of the pack with its reconciled level, disabled ones included."""
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """The reconciled config properties of every policy."""
    resource_count: int = 0

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "mandatory"]

    @property
    def advisory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "advisory"]

    @property
    def levels(self) -> dict[str, str]:
        return {p.name: p.level for p in self.policies}

    def passed(self) -> bool:
        """True when nothing would block a deployment."""
        return not self.mandatory

    def by_policy(self) -> dict[str, list[Violation]]:
        grouped: dict[str, list[Violation]] = {}
        for violation in self.violations:
            grouped.setdefault(violation.policy, []).append(violation)
        return grouped

    def __iter__(self) -> Iterator[Violation]:
        return iter(self.violations)

    def __len__(self) -> int:
        return len(self.violations)


class PolicyConfigError(ValueError):
    """Config that the engine would refuse; ``errors`` has one ``policy: key: problem`` each."""

    def __init__(self, errors: Iterable[str]) -> None:
        self.errors = list(errors)
        super().__init__("invalid policy pack config:\n" + "\n".join(self.errors))


class PolicyError(RuntimeError):
    """A policy raised an unexpected exception (the engine fails the update likewise)."""


# --- config reconciliation -----------------------------------------------------------------------

_LEVELS = {level.value: level for level in EnforcementLevel}


@dataclass
class _PolicyConfig:
    level: EnforcementLevel | None
    properties: dict[str, Any] | None


def _parse_level(value: Any, where: str) -> EnforcementLevel:
    if isinstance(value, EnforcementLevel):
        return value
    if isinstance(value, str) and value in _LEVELS:
        return _LEVELS[value]
    raise PolicyConfigError([f"{where}: {value!r} is not a valid enforcement level"])


def _parse_layer(layer: Mapping[str, Any] | None, source: str) -> dict[str, _PolicyConfig]:
    """One config layer in the engine's shape: a level, or an object with optional level."""
    parsed: dict[str, _PolicyConfig] = {}
    for name, value in (layer or {}).items():
        where = f"{source} config for {name!r}"
        if isinstance(value, EnforcementLevel | str):
            parsed[name] = _PolicyConfig(_parse_level(value, where), None)
        elif isinstance(value, Mapping):
            props = dict(value)
            raw_level = props.pop("enforcementLevel", None)
            level = None if raw_level is None else _parse_level(raw_level, where)
            if level is not None or props:
                parsed[name] = _PolicyConfig(level, props or None)
        else:
            raise PolicyConfigError([f"{where}: {value!r} must be a level or an object"])
    return parsed


def _apply(result: dict[str, _PolicyConfig], layer: dict[str, _PolicyConfig]) -> None:
    everything = layer.get("all")
    if everything is not None and everything.level is not None:
        for current in result.values():
            current.level = everything.level
    for name, given in layer.items():
        current = result.setdefault(name, _PolicyConfig(None, None))
        if given.level is not None:
            current.level = given.level
        if given.properties:
            current.properties = {**(current.properties or {}), **given.properties}


def _schema_document(policy: Policy) -> dict[str, Any] | None:
    schema = policy.config_schema
    if schema is None:
        return None
    document: dict[str, Any] = {"type": "object"}
    if schema.properties:
        document["properties"] = schema.properties
    if schema.required:
        document["required"] = list(schema.required)
    return document


def _error_line(policy: str, error: jsonschema.ValidationError) -> str:
    key = ".".join(str(p) for p in error.absolute_path)
    return f"{policy}: {key}: {error.message}" if key else f"{policy}: {error.message}"


def reconcile_config(
    policies: Sequence[Policy],
    initial_config: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    enforcement_level: EnforcementLevel = EnforcementLevel.ADVISORY,
) -> dict[str, tuple[EnforcementLevel, dict[str, Any]]]:
    """The engine's merged config: ``{policy: (level, properties)}``; raises PolicyConfigError."""
    result: dict[str, _PolicyConfig] = {}
    for policy in policies:
        defaults = {
            key: spec["default"]
            for key, spec in (
                policy.config_schema.properties if policy.config_schema else {}
            ).items()
            if "default" in spec
        }
        result[policy.name] = _PolicyConfig(
            policy.enforcement_level or enforcement_level, defaults or None
        )
    _apply(result, _parse_layer(initial_config, "initial"))
    _apply(result, _parse_layer(config, "policy pack"))

    errors: list[str] = []
    for policy in policies:
        document = _schema_document(policy)
        if document is None:
            continue
        validator = jsonschema.Draft7Validator(document)
        props = result[policy.name].properties or {}
        errors.extend(
            _error_line(policy.name, e) for e in sorted(validator.iter_errors(props), key=str)
        )
    if errors:
        raise PolicyConfigError(errors)
    return {
        p.name: (result[p.name].level or enforcement_level, result[p.name].properties or {})
        for p in policies
    }


# --- property normalisation ----------------------------------------------------------------------


def _normalise(value: Any) -> Any:
    """What a value looks like after a round trip through a protobuf ``Struct``."""
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, Mapping):
        if SPECIAL_SIG_KEY in value:
            # Secrets, assets and archives: let pulumi_policy decode them as the servicer does.
            return deserialize_properties({"v": dict(value)})["v"]
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    return value


def _props(values: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return unknown_checking_proxy(_normalise(dict(values or {})))


# --- evaluation ----------------------------------------------------------------------------------


@dataclass
class _Context:
    results: list[Violation]
    not_applicable: list[NotApplicable]
    descriptions: dict[str, str]
    remediations: dict[str, str]
    pack: str


def _run(validation: Any) -> None:
    if isawaitable(validation):
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(validation)
        finally:
            loop.close()


def _providers(resources: Sequence[RecordedResource]) -> dict[str, PolicyProviderResource]:
    """``PolicyProviderResource`` per ``urn::id`` provider reference, built once each."""
    by_urn = {r.urn: r for r in resources}
    built: dict[str, PolicyProviderResource] = {}
    for reference in {r.provider for r in resources if r.provider}:
        # A reference is the provider's URN (stack::project::type::name) plus "::<id>".
        urn = reference.rsplit("::", 1)[0] if reference.count("::") > 3 else reference
        parts = urn.split("::")
        provider_type = parts[-2].split("$")[-1] if len(parts) >= 2 else ""
        provider = by_urn.get(urn)
        props = _props(provider.inputs if provider is not None else {})
        built[reference] = PolicyProviderResource(provider_type, props, urn, parts[-1])
    return built


def _options(resource: RecordedResource) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        bool(resource.protect), [], None, [], PolicyCustomTimeouts(0, 0, 0), [], resource.parent
    )


def _level_name(level: EnforcementLevel) -> LevelName:
    return (
        "mandatory"
        if level in (EnforcementLevel.MANDATORY, EnforcementLevel.REMEDIATE)
        else "advisory"
    )


def evaluate(
    recording: Recording,
    policies: Sequence[Policy],
    *,
    enforcement_level: EnforcementLevel = EnforcementLevel.ADVISORY,
    initial_config: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    stack_tags: Mapping[str, str] | None = None,
    remediations: Mapping[str, str] | None = None,
    pack_name: str = PACK_NAME,
) -> ResultSet:
    """Run ``policies`` over ``recording`` with engine semantics; see the module docstring.

    ``enforcement_level`` and ``initial_config`` are what the pack passes to ``PolicyPack``;
    ``config`` is the user's policy pack config (``--policy-pack-config``). ``remediations``
    overrides the remediation text per policy (default: each policy's ``remediation_steps``);
    ``pack_name`` only appears in the message of a policy that hit an unknown value.
    """
    reconciled = reconcile_config(policies, initial_config, config, enforcement_level)
    tags = dict(stack_tags or {})
    resources = list(recording.resources)
    by_urn = {r.urn: r for r in resources}
    ctx = _Context(
        [],
        [],
        {p.name: p.description for p in policies},
        {p.name: (remediations or {}).get(p.name) or p.remediation_steps or "" for p in policies},
        f"{pack_name}@v{PACK_VERSION}",
    )
    providers = _providers(resources)
    # Config reaches the servicer as a protobuf Struct too, so its numbers are floats there.
    active = [
        (p, level, _normalise(props))
        for p in policies
        for level, props in [reconciled[p.name]]
        if level != EnforcementLevel.DISABLED
    ]
    resource_policies = [
        (p, level, c) for p, level, c in active if isinstance(p, ResourceValidationPolicy)
    ]
    stack_policies = [
        (p, level, c) for p, level, c in active if isinstance(p, StackValidationPolicy)
    ]

    if resource_policies:
        for resource in resources:
            props = _props(resource.inputs)
            opts = _options(resource)
            provider = providers.get(resource.provider) if resource.provider else None
            for policy, level, policy_config in resource_policies:
                args = ResourceValidationArgs(
                    resource.type,
                    props,
                    resource.urn,
                    resource.name,
                    opts,
                    provider,
                    dict(policy_config) if policy_config else None,
                    tags,
                )
                _check(ctx, policy, level, args, resource, by_urn)

    if stack_policies:
        stack_resources = _stack_resources(resources, providers)
        for stack_policy, level, policy_config in stack_policies:
            stack_args = StackValidationArgs(
                stack_resources, dict(policy_config) if policy_config else None, tags
            )
            _check(ctx, stack_policy, level, stack_args, None, by_urn)

    summaries = tuple(
        PolicySummary(
            p.name,
            "resource" if isinstance(p, ResourceValidationPolicy) else "stack",
            reconciled[p.name][0].value,
            p.description,
            ctx.remediations[p.name],
        )
        for p in policies
    )
    return ResultSet(
        violations=tuple(ctx.results),
        not_applicable=tuple(ctx.not_applicable),
        policies=summaries,
        config={name: props for name, (_, props) in reconciled.items()},
        resource_count=len(resources),
    )


def _stack_resources(
    resources: Sequence[RecordedResource], providers: Mapping[str, PolicyProviderResource]
) -> list[PolicyResource]:
    built: dict[str, PolicyResource] = {}
    for r in resources:
        # The engine analyses a component with the outputs it registered (register_outputs).
        registered = getattr(r, "registered_outputs", None) or {}
        outputs = r.outputs if r.custom else {**r.outputs, **registered}
        built[r.urn] = PolicyResource(
            r.type,
            _props(outputs),
            r.urn,
            r.name,
            _options(r),
            providers.get(r.provider) if r.provider else None,
            None,
            [],
            {},
        )
    for r in resources:
        policy_resource = built[r.urn]
        if r.parent and r.parent in built:
            policy_resource.parent = built[r.parent]
        policy_resource.dependencies = [built[d] for d in r.dependencies if d in built]
        policy_resource.property_dependencies = {
            key: [built[d] for d in urns if d in built]
            for key, urns in r.property_dependencies.items()
        }
    return list(built.values())


def _check(
    ctx: _Context,
    policy: ResourceValidationPolicy | StackValidationPolicy,
    level: EnforcementLevel,
    args: ResourceValidationArgs | StackValidationArgs,
    resource: RecordedResource | None,
    by_urn: Mapping[str, RecordedResource],
) -> None:
    level_name = _level_name(level)

    def report(message: str, urn: str | None = None) -> None:
        if message and not isinstance(message, str):
            raise TypeError("Expected message to be a string")
        # Resource diagnostics always carry the analysed resource's URN, as in the engine.
        target_urn = resource.urn if resource is not None else (urn or "")
        target = by_urn.get(target_urn)
        ctx.results.append(
            Violation(
                policy=policy.name,
                level=level_name,
                urn=target_urn,
                resource_name=target.name if target is not None else "",
                resource_type=target.type if target is not None else "",
                message=message or "",
                remediation=ctx.remediations[policy.name],
                description=ctx.descriptions[policy.name],
            )
        )

    try:
        _run(policy.validate(args, report))  # type: ignore[arg-type]
    except UnknownValueError as exc:
        urn = resource.urn if resource is not None else ""
        target = by_urn.get(urn)
        ctx.results.append(
            Violation(
                policy=policy.name,
                level="advisory",
                urn=urn,
                resource_name=target.name if target is not None else "",
                resource_type=target.type if target is not None else "",
                message=(
                    f"can't run policy '{policy.name}' from policy pack "
                    f"'{ctx.pack}' during preview: {exc.message}"
                ),
                remediation="",
                description=ctx.descriptions[policy.name],
                unknown=True,
            )
        )
    except _NotApplicableError as exc:
        urn = resource.urn if resource is not None else ""
        ctx.not_applicable.append(NotApplicable(policy.name, urn, exc.reason or ""))
    except Exception as exc:
        where = f" on {resource.urn}" if resource is not None else ""
        raise PolicyError(f"policy {policy.name!r} failed{where}: {exc!r}") from exc
