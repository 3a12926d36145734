"""The deploy-constraint catalogue: data files plus the code that applies them to resources.

Resources are anything with ``urn``, ``type``, ``name`` and ``inputs`` (a ``RecordedResource``, a
resource of a plan's JSON report, a ``pulumi stack export`` entry). Checks never touch the network.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlops_iac.components.testing.deploy import naming
from mlops_iac.components.testing.deploy.state import OPTION, StateResource, read_state

_DATA = Path(__file__).parent
BOTOCORE_URL = "https://github.com/boto/botocore/tree/develop/botocore/data/{service}"
_NUMERIC = {"integer", "long", "float", "double"}


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
        """``_violations`` of a value, remembered per rule id for hashable values."""
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            return _violations(value, rule, rule_id, self)
        key = (rule_id, value)
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = _violations(value, rule, rule_id, self)
        return found


# --------------------------------------------------------------------------------------------
# Data files and botocore models, each loaded once, lazily.


@functools.cache
def catalogue(cloud: str) -> dict[str, Any]:
    """The data file of one cloud (``aws``, ``azure``, ``gcp``), types only (``_`` keys dropped)."""
    data = _yaml(cloud)
    return {key: value for key, value in data.items() if not key.startswith("_")}


@functools.cache
def _gcp_labels() -> dict[str, Any]:
    return dict(_yaml("gcp")["_labels"])


def _yaml(cloud: str) -> dict[str, Any]:
    # libyaml's loader when present: the pure-Python one takes half a second for aws.yaml.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load((_DATA / f"{cloud}.yaml").read_text(), Loader=loader) or {}  # noqa: S506


@functools.cache
def service_model(service: str) -> dict[str, Any] | None:
    """botocore's shipped API model of one service (``None`` when botocore is not installed)."""
    try:
        from botocore.loaders import Loader
    except ImportError:  # the aws extra is not installed: no AWS resources can be planned either
        return None
    return Loader().load_service_model(service, "service-2")


def clear_caches() -> None:
    """Forget loaded data and models (tests that swap a model use this)."""
    cached_functions = (catalogue, _gcp_labels, service_model, aws_table, _aws_plan, _segments)
    for cached in (*cached_functions, _compiled, _sdk_enum):
        # A test may have swapped one for a plain function; its own cache is then not ours.
        clear = getattr(cached, "cache_clear", None)
        if clear is not None:
            clear()


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


@functools.cache
def _sdk_enum(dotted: str) -> tuple[str, ...] | None:
    module, _, name = dotted.rpartition(".")
    try:
        enum = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None
    return tuple(str(member.value) for member in enum)


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


def _values(data: Any, path: str, prefix: str = "") -> Iterator[tuple[str, Any]]:
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


def _member_shape(model: Mapping[str, Any], root: str, path: str) -> tuple[str, dict] | None:
    """The shape an API member path (``A.B[].C``, ``Tags{}``) ends at, from a root shape."""
    shapes = model["shapes"]
    name = root
    for part in path.split("."):
        shape = shapes[name]
        if part.endswith("{}") or part.endswith("{=}"):
            key = part[: part.index("{")]
            if key:
                name = shape["members"][key]["shape"]
                shape = shapes[name]
            name = shape["key" if part.endswith("{}") else "value"]["shape"]
            continue
        key = part[:-2] if part.endswith("[]") else part
        members = shape.get("members", {})
        if key not in members:
            return None
        name = members[key]["shape"]
        if part.endswith("[]"):
            name = shapes[name]["member"]["shape"]
    return name, shapes[name]


# --------------------------------------------------------------------------------------------
# Value checks shared by the clouds.


def _violations(value: Any, rule: Mapping[str, Any], where: str, report: Report) -> list[str]:
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
        problems.append(f"must be one of {', '.join(map(str, rule['enum']))}")
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


def _error(
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


def _with_name(resource: Any, name_input: str | None) -> dict[str, Any]:
    """The inputs with the resource's own name filled in as the provider would (auto-name)."""
    inputs = dict(getattr(resource, "inputs", None) or {})
    if name_input:
        inputs[name_input] = naming.physical_name(resource.type, resource.name, inputs, name_input)
    return inputs


# --------------------------------------------------------------------------------------------
# AWS: botocore models.


def _aws_constraint(shape: Mapping[str, Any]) -> dict[str, Any]:
    rule: dict[str, Any] = {"kind": shape.get("type", "string")}
    for key in ("min", "max", "pattern", "enum"):
        if key in shape:
            rule[key] = shape[key]
    if rule["kind"] == "string" and rule.get("min") == 0:
        del rule["min"]
    return rule


def cache_dir() -> Path:
    """Where derived constraint tables are kept (``MLOPS_IAC_CACHE_DIR``, else the user cache)."""
    configured = os.environ.get("MLOPS_IAC_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mlops-iac"


def _botocore_version() -> str | None:
    try:
        import botocore
    except ImportError:
        return None
    return str(botocore.__version__)


@functools.cache
def aws_table(service: str) -> dict[str, Any] | None:
    """The constraints of one service's mapped members, derived from its botocore model.

    Loading a model costs up to half a second (sagemaker, ec2), so the few shapes the catalogue
    maps are extracted once and kept on disk, keyed by the botocore version and this catalogue's
    content: a new botocore release or a changed mapping derives the table again.
    """
    version = _botocore_version()
    if version is None:
        return None
    mapping = {t: e for t, e in catalogue("aws").items() if e["service"] == service}
    digest = hashlib.sha256(json.dumps(mapping, sort_keys=True).encode()).hexdigest()[:16]
    path = cache_dir() / f"deploy-aws-{service}-{version}-{digest}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    model = service_model(service)
    if model is None:
        return None
    table = _derive(model, mapping)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(table))
        tmp.replace(path)
    except OSError:  # a read-only home: derive again next time, still correct
        pass
    return table


def _derive(model: Mapping[str, Any], mapping: Mapping[str, Any]) -> dict[str, Any]:
    ops: dict[str, Any] = {}
    members: dict[str, Any] = {}
    tags: dict[str, Any] = {}
    shapes = model["shapes"]
    for entry in mapping.values():
        calls = [(entry["operation"], entry.get("inputs") or {}, entry.get("tags"))]
        calls += [(c["operation"], c.get("inputs") or {}, None) for c in entry.get("also", ())]
        for operation, inputs, tag_member in calls:
            root = model["operations"][operation]["input"]["shape"]
            ops[operation] = {"required": list(shapes[root].get("required", []))}
            for member_path in inputs.values():
                resolved = _member_shape(model, root, member_path)
                members[f"{operation}|{member_path}"] = (
                    None if resolved is None else [resolved[0], _aws_constraint(resolved[1])]
                )
            if tag_member:
                resolved = _member_shape(model, root, tag_member)
                pair = None
                if resolved is not None:
                    shape = resolved[1]
                    if shape["type"] == "list":
                        item = shapes[shape["member"]["shape"]]
                        found = {k.lower(): v["shape"] for k, v in item.get("members", {}).items()}
                        pair = [found.get("key"), found.get("value")]
                    elif shape["type"] == "map":
                        pair = [shape["key"]["shape"], shape["value"]["shape"]]
                if pair is not None:
                    pair = [None if n is None else [n, _aws_constraint(shapes[n])] for n in pair]
                tags[f"{operation}|{tag_member}"] = pair
    return {"ops": ops, "members": members, "tags": tags}


@dataclass(frozen=True)
class _Check:
    """One mapped input of one operation, resolved against the model once per type."""

    head: str
    """First key of the input path: absent from the inputs → nothing to check (the fast path)."""
    path: str
    rule_id: str
    shape_name: str
    rule: dict[str, Any]
    prefix: str


@dataclass(frozen=True)
class _Plan:
    checks: tuple[_Check, ...]
    required: tuple[tuple[str, str, tuple[str, ...]], ...]
    """(rule id, message, input paths of which at least one must be present)."""
    tags: tuple[tuple[str, str, str, dict[str, Any], str], ...]
    """(part, rule id, shape name, rule, message prefix) for tag keys and values."""
    skipped: tuple[Skipped, ...]


def _head(path: str) -> str:
    return re.split(r"[.\[{]", path, maxsplit=1)[0]


@functools.cache
def _aws_plan(type_token: str) -> _Plan | None:
    entry = catalogue("aws")[type_token]
    service = entry["service"]
    table = aws_table(service)
    if table is None:
        return None
    checks, required, tags, skipped = [], [], [], []
    calls = [(entry["operation"], entry.get("inputs") or {}, entry.get("tags"))]
    calls += [(c["operation"], c.get("inputs") or {}, None) for c in entry.get("also", ())]
    for operation, mapping, tag_member in calls:
        mapped_members = set()
        for input_path, member_path in mapping.items():
            resolved = table["members"].get(f"{operation}|{member_path}")
            if resolved is None:
                skipped.append(
                    Skipped(f"{type_token}.{input_path}", f"{operation} has no {member_path}")
                )
                continue
            mapped_members.add(_top(member_path))
            shape_name, rule = resolved
            checks.append(
                _Check(
                    head=_head(input_path),
                    path=input_path,
                    rule_id=f"aws-api:{service}:{operation}.{member_path}",
                    shape_name=shape_name,
                    rule=rule,
                    prefix=f"{operation} {member_path} ({shape_name})",
                )
            )
        for member in table["ops"][operation]["required"]:
            if member not in mapped_members:
                continue  # set by the provider itself (tokens, account ids), not an input
            paths = tuple(p for p, m in mapping.items() if _top(m) == member)
            required.append(
                (
                    f"aws-api:{service}:{operation}.{member}.required",
                    f"{operation} requires {member}",
                    paths,
                )
            )
        pair = table["tags"].get(f"{operation}|{tag_member}") if tag_member else None
        for part, resolved in zip(("key", "value"), pair or (), strict=False):
            if resolved is not None:
                tags.append(
                    (
                        part,
                        f"aws-api:{service}:{operation}.{tag_member}.{part}",
                        resolved[0],
                        resolved[1],
                        f"tag {part} ({resolved[0]})",
                    )
                )
    return _Plan(tuple(checks), tuple(required), tuple(tags), tuple(skipped))


def _check_aws(resource: Any, entry: Mapping[str, Any], report: Report) -> None:
    plan = _aws_plan(resource.type)
    if plan is None:
        report.skipped.append(Skipped(resource.type, "botocore is not installed"))
        return
    service = entry["service"]
    source = BOTOCORE_URL.format(service=service)
    suffix = f"(AWS API model, botocore {service})"
    report.skipped.extend(plan.skipped)
    inputs = _with_name(resource, entry.get("name"))
    for check_ in plan.checks:
        if check_.head not in inputs:
            continue
        for where, value in _values(inputs, check_.path):
            for problem in report.violations(value, check_.rule, check_.rule_id):
                report.errors.append(
                    _error(
                        resource,
                        check_.rule_id,
                        where,
                        value,
                        f"{check_.prefix} {problem} {suffix}",
                        source,
                    )
                )
    for rule_id, message, paths in plan.required:
        if not any(True for p in paths if _head(p) in inputs for _ in _values(inputs, p)):
            report.errors.append(_error(resource, rule_id, paths[0], None, message, source))
    tags = inputs.get("tags")
    if plan.tags and isinstance(tags, Mapping):
        for key, value in tags.items():
            for part, rule_id, _shape, rule, prefix in plan.tags:
                data = key if part == "key" else value
                for problem in report.violations(data, rule, rule_id):
                    report.errors.append(
                        _error(
                            resource,
                            rule_id,
                            f"tags.{key}",
                            data,
                            f"{prefix} {problem} {suffix}",
                            source,
                        )
                    )


def _top(member_path: str) -> str:
    return re.split(r"[.\[{]", member_path, maxsplit=1)[0]


# --------------------------------------------------------------------------------------------
# Azure and GCP: rules as data.


def _check_rules(resource: Any, entry: Mapping[str, Any], cloud: str, report: Report) -> None:
    inputs = _with_name(resource, entry.get("name"))
    for rule in entry.get("rules", ()):
        rule = dict(rule)
        if "enum" in rule and isinstance(rule["enum"], str):
            allowed = _sdk_enum(rule["enum"])
            if allowed is None:
                report.skipped.append(Skipped(rule["enum"], "SDK enum not importable"))
                continue
            rule["enum"] = list(allowed)
        for where, value in _values(inputs, rule["input"]):
            problems = _violations(value, rule, f"{resource.type}.{rule['input']}", report)
            if problems and "what" in rule and "forbid" not in rule:
                problems = [f"{'; '.join(problems)} ({rule['what']})"]
            for problem in problems:
                scope = f"; uniqueness scope: {rule['scope']}" if rule.get("scope") else ""
                report.errors.append(
                    _error(
                        resource,
                        f"{cloud}-rule:{resource.type}.{rule['input']}",
                        where,
                        value,
                        f"{rule['input']} {problem}{scope}",
                        rule["source"],
                    )
                )
    labels_key = entry.get("labels")
    if labels_key:
        key = "labels" if labels_key is True else str(labels_key)
        labels = inputs.get(key)
        if isinstance(labels, Mapping):
            spec = _gcp_labels()
            for k, v in labels.items():
                for part, rule, data in (("key", spec["key"], k), ("value", spec["value"], v)):
                    for problem in _violations(data, rule, f"{resource.type}.{key}", report):
                        report.errors.append(
                            _error(
                                resource,
                                f"gcp-rule:label-{part}",
                                f"{key}.{k}",
                                data,
                                f"label {part} {problem} ({rule['what']})",
                                rule["source"],
                            )
                        )


_CLOUDS = {"aws": "aws", "azure-native": "azure", "gcp": "gcp"}


def check_resource(resource: Any, report: Report) -> None:
    """Apply the per-type catalogue entry (if any) to one resource."""
    cloud = _CLOUDS.get(str(resource.type).split(":", 1)[0])
    if cloud is None:
        return
    entry = catalogue(cloud).get(resource.type)
    if entry is None:
        return
    if cloud == "aws":
        _check_aws(resource, entry, report)
        if entry.get("rules"):
            _check_rules(resource, entry, cloud, report)
    else:
        _check_rules(resource, entry, cloud, report)


def name_input(type_token: str) -> str | None:
    """The input holding a type's own name, per the catalogue (``None`` when unknown)."""
    cloud = _CLOUDS.get(type_token.split(":", 1)[0])
    entry = catalogue(cloud).get(type_token) if cloud else None
    return entry.get("name") if entry else None


def physical_name_of(resource: Any) -> str:
    """What the resource is (or would be) called in the cloud."""
    inputs = getattr(resource, "inputs", None) or {}
    return naming.physical_name(resource.type, resource.name, inputs, name_input(resource.type))


# --------------------------------------------------------------------------------------------
# State: what exists before this update (read strictly by ``deploy.state``).


def load_state(path: str | Path) -> list[StateResource]:
    """Resources of a ``pulumi stack export`` file or of a previous ``mlops-iac plan --json``
    (``deploy.state.read_state``, which says what is checked).

    Raises ``ValueError`` (a ``StateError``) with one line naming the file and what is wrong.
    """
    return list(read_state(path, source=OPTION).resources)


# --------------------------------------------------------------------------------------------
# Entry point.


def check(
    resources: Iterable[Any],
    *,
    state: Sequence[StateResource] | None = None,
    config: Mapping[str, Any] | None = None,
    report: Report | None = None,
) -> list[DeployError]:
    """Every deploy error of the resources, catalogue and lifecycle rules alike.

    ``state`` lists what exists before this update (``None``: a first deploy, nothing exists);
    ``config`` is the stack config (regions, opt-ins). Pass a ``Report`` to also see what was
    skipped.
    """
    from mlops_iac.components.testing.deploy import lifecycle

    report = report if report is not None else Report()
    resources = [r for r in resources if getattr(r, "custom", True)]
    for resource in resources:
        check_resource(resource, report)
    lifecycle.check(resources, list(state or ()), dict(config or {}), report)
    return report.errors
