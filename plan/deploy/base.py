"""What every part of the deploy check shares: the errors it reports, the data files, the
input paths and the value constraints, and the physical name of a resource.

The catalogue (``catalogue``, ``aws``) and the lifecycle rules (``lifecycle``) import this module;
it imports neither.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlops_iac.plan.deploy import naming
from mlops_iac.spec import clouds, suggest

_DATA = Path(__file__).parent
_NUMERIC = {"integer", "long", "float", "double"}
CLOUDS = clouds.PROVIDER_CLOUD
"""Type-token provider -> cloud name (the cloud registry)."""
"""Provider package → the cloud's data file."""


@dataclass(frozen=True)
class DeployError:
    """One thing the real deploy would refuse."""

    rule: str
    """Stable id of the rule (``aws-api:sagemaker:EndpointConfigName.max`` …)."""
    urn: str
    resource_name: str
    resource_type: str
    input: str
    """The Pulumi input path (``productionVariants[0].variantName``), or ``""`` for the resource."""
    value: Any
    message: str
    """The rule, in words: what the cloud requires and what it would do."""
    source: str
    """URL of the documentation (or API model) the rule comes from."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "urn": self.urn,
            "resourceName": self.resource_name,
            "resourceType": self.resource_type,
            "input": self.input,
            "value": self.value,
            "message": self.message,
            "source": self.source,
        }


@dataclass(frozen=True)
class Skipped:
    """A constraint the catalogue could not apply, and why (a pattern ``re`` cannot compile)."""

    where: str
    reason: str


@dataclass
class Report:
    """Errors plus what was skipped (kept so a skipped check is visible, never silent)."""

    errors: list[DeployError] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    memo: dict[tuple[str, Any], list[str]] = field(default_factory=dict, repr=False)
    """Verdicts per (rule, value): lineage tags repeat the same values on every resource."""

    def violations(self, value: Any, rule: Mapping[str, Any], rule_id: str) -> list[str]:
        """``value_problems`` of a value, remembered per rule id for hashable values."""
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            return value_problems(value, rule, rule_id, self)
        key = (rule_id, value)
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = value_problems(value, rule, rule_id, self)
        return found


# --------------------------------------------------------------------------------------------
# Data files, each loaded once, lazily.


@functools.cache
def catalogue(cloud: str) -> dict[str, Any]:
    """The data file of one cloud (``aws``, ``azure``, ``gcp``), types only (``_`` keys dropped)."""
    data = data_file(cloud)
    return {key: value for key, value in data.items() if not key.startswith("_")}


def data_file(cloud: str) -> dict[str, Any]:
    # libyaml's loader when present: the pure-Python one takes half a second for aws.yaml.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load((_DATA / f"{cloud}.yaml").read_text(), Loader=loader) or {}  # noqa: S506


# --------------------------------------------------------------------------------------------
# Input paths: "a.b[].c", "tags{}" (map keys), "tags{=}" (map values).


@functools.cache
def _segments(path: str) -> tuple[tuple[str, str], ...]:
    """``a.b[].c{}`` → ``(("a", ""), ("b", "[]"), ("c", "{}"))``, parsed once per path."""
    out = []
    for part in path.split("."):
        for kind in ("[]", "{=}", "{}"):
            if part.endswith(kind):
                out.append((part[: -len(kind)], kind))
                break
        else:
            out.append((part, ""))
    return tuple(out)


def values(data: Any, path: str, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every (concrete path, value) a catalogue path reaches in the inputs; missing → nothing."""
    return _walk(data, _segments(path), 0, prefix)


def _walk(
    data: Any, segments: tuple[tuple[str, str], ...], i: int, prefix: str
) -> Iterator[tuple[str, Any]]:
    if i == len(segments):
        yield prefix, data
        return
    key, kind = segments[i]
    value = data.get(key) if isinstance(data, dict) else None
    if value is None:
        return
    where = f"{prefix}.{key}" if prefix else key
    if kind == "":
        yield from _walk(value, segments, i + 1, where)
    elif kind == "[]":
        items = value if isinstance(value, list) else [value]
        for n, item in enumerate(items):
            yield from _walk(item, segments, i + 1, f"{where}[{n}]")
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(k if kind == "{}" else v, segments, i + 1, f"{where}.{k}")


# --------------------------------------------------------------------------------------------
# Value checks shared by the clouds.


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str] | str:
    """A compiled pattern, or the reason Python's ``re`` cannot compile it.

    AWS models use Java regular expressions; some constructs (``\\p{L}`` classes, possessive
    quantifiers) do not exist in Python's ``re``. Those constraints are skipped with the reason
    recorded, never guessed.
    """
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error as exc:
        return f"pattern {pattern!r} is not a Python regular expression ({exc})"


def value_problems(value: Any, rule: Mapping[str, Any], where: str, report: Report) -> list[str]:
    """What is wrong with one value against one constraint (min/max/pattern/enum/forbid)."""
    problems: list[str] = []
    kind = rule.get("kind", "string")
    if isinstance(value, bool) or value is None:
        return problems
    if kind in _NUMERIC:
        if not isinstance(value, int | float):
            return problems
        if "min" in rule and value < rule["min"]:
            problems.append(f"must be at least {rule['min']}")
        if "max" in rule and value > rule["max"]:
            problems.append(f"must be at most {rule['max']}")
        return problems
    if kind == "list":
        if isinstance(value, list):
            if "min" in rule and len(value) < rule["min"]:
                problems.append(f"needs at least {rule['min']} item(s)")
            if "max" in rule and len(value) > rule["max"]:
                problems.append(f"takes at most {rule['max']} item(s)")
        return problems
    if not isinstance(value, str):
        return problems
    if "min" in rule and len(value) < rule["min"]:
        problems.append(f"is {len(value)} characters, the minimum is {rule['min']}")
    if "max" in rule and len(value) > rule["max"]:
        problems.append(f"is {len(value)} characters, the maximum is {rule['max']}")
    if "enum" in rule and value not in rule["enum"]:
        problems.append(_not_in_enum(value, rule["enum"]))
    if "pattern" in rule:
        compiled = _compiled(rule["pattern"])
        if isinstance(compiled, str):
            report.skipped.append(Skipped(where, compiled))
        elif not compiled.fullmatch(value):
            problems.append(f"must match {rule['pattern']}")
    if "forbid" in rule:
        compiled = _compiled(rule["forbid"])
        if not isinstance(compiled, str) and compiled.search(value):
            problems.append(str(rule.get("what") or f"must not match {rule['forbid']}"))
    return problems


def error(
    resource: Any, rule: str, where: str, value: Any, message: str, source: str
) -> DeployError:
    return DeployError(
        rule=rule,
        urn=str(getattr(resource, "urn", "")),
        resource_name=str(getattr(resource, "name", "")),
        resource_type=str(getattr(resource, "type", "")),
        input=where,
        value=value,
        message=message,
        source=source,
    )


def with_name(resource: Any, name_input: str | None) -> dict[str, Any]:
    """The inputs with the resource's own name filled in as the provider would (auto-name)."""
    inputs = dict(getattr(resource, "inputs", None) or {})
    if name_input:
        inputs[name_input] = naming.physical_name(resource.type, resource.name, inputs, name_input)
    return inputs


def name_input(type_token: str) -> str | None:
    """The input holding a type's own name, per the catalogue (``None`` when unknown)."""
    cloud = CLOUDS.get(type_token.split(":", 1)[0])
    entry = catalogue(cloud).get(type_token) if cloud else None
    return entry.get("name") if entry else None


def physical_name_of(resource: Any) -> str:
    """What the resource is (or would be) called in the cloud."""
    inputs = getattr(resource, "inputs", None) or {}
    return naming.physical_name(resource.type, resource.name, inputs, name_input(resource.type))


def clear_caches() -> None:
    """Forget the loaded data files, parsed paths and compiled patterns."""
    for cached in (catalogue, _segments, _compiled):
        # A test may have swapped one for a plain function; its own cache is then not ours.
        clear = getattr(cached, "cache_clear", None)
        if clear is not None:
            clear()


ENUM_SHOWN = 12
"""Enums up to this size are listed whole in a message; longer ones (instance types: hundreds)
give their size and the nearest value."""


def _not_in_enum(value: Any, allowed: list[Any]) -> str:
    if len(allowed) <= ENUM_SHOWN:
        return f"must be one of {', '.join(map(str, allowed))}"
    guess = suggest.closest(str(value), [str(a) for a in allowed])
    hint = f"; did you mean {guess!r}?" if guess else ""
    return f"is not one of the {len(allowed)} values the API accepts{hint}"
