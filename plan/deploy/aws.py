"""AWS's deploy constraints, read from the API models shipped inside botocore: ``aws.yaml`` only
maps Pulumi inputs to API members; the lengths, patterns, enums and required members are the
model's.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_iac.plan.deploy.base import Report, Skipped, catalogue, error, values, with_name
from mlops_iac.spec import suggest

BOTOCORE_URL = "https://github.com/boto/botocore/tree/develop/botocore/data/{service}"


@functools.cache
def service_model(service: str) -> dict[str, Any] | None:
    """botocore's shipped API model of one service (``None`` when botocore is not installed)."""
    try:
        from botocore.loaders import Loader
    except ImportError:  # the aws extra is not installed: no AWS resources can be planned either
        return None
    return Loader().load_service_model(service, "service-2")


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


@functools.cache
def shape_enum(service: str, shape: str) -> list[str] | None:
    """The values of one enum shape of a botocore model (``None`` without botocore), kept on
    disk per botocore version like ``aws_table``: the ec2 model alone takes half a second."""
    version = _botocore_version()
    if version is None:
        return None
    path = cache_dir() / f"deploy-aws-enum-{service}-{shape}-{version}.json"
    try:
        return list(json.loads(path.read_text()))
    except (OSError, ValueError):
        pass
    model = service_model(service)
    if model is None:
        return None
    found = [str(v) for v in model["shapes"][shape]["enum"]]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(found))
        tmp.replace(path)
    except OSError:  # a read-only home: derive again next time, still correct
        pass
    return found


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


def check(resource: Any, entry: Mapping[str, Any], report: Report) -> None:
    plan = _aws_plan(resource.type)
    if plan is None:
        report.skipped.append(Skipped(resource.type, "botocore is not installed"))
        return
    service = entry["service"]
    source = BOTOCORE_URL.format(service=service)
    suffix = f"(AWS API model, botocore {service})"
    report.skipped.extend(plan.skipped)
    inputs = with_name(resource, entry.get("name"))
    for check_ in plan.checks:
        if check_.head not in inputs:
            continue
        for where, value in values(inputs, check_.path):
            for problem in report.violations(value, check_.rule, check_.rule_id):
                report.errors.append(
                    error(
                        resource,
                        check_.rule_id,
                        where,
                        value,
                        f"{check_.prefix} {problem} {suffix}",
                        source,
                    )
                )
    for rule_id, message, paths in plan.required:
        if not any(True for p in paths if _head(p) in inputs for _ in values(inputs, p)):
            report.errors.append(error(resource, rule_id, paths[0], None, message, source))
    for path, ref in (entry.get("enums") or {}).items():
        if _head(path) not in inputs:
            continue
        accepted = shape_enum(ref["service"], ref["shape"])
        if accepted is None:
            report.skipped.append(Skipped(f"{resource.type}.{path}", "botocore is not installed"))
            continue
        rule_id = f"aws-api:{ref['service']}:{ref['shape']}"
        for where, value in values(inputs, path):
            for problem in report.violations(value, {"kind": "string", "enum": accepted}, rule_id):
                report.errors.append(
                    error(
                        resource,
                        rule_id,
                        where,
                        value,
                        f"{ref['shape']} {problem} (AWS API model, botocore {ref['service']})",
                        BOTOCORE_URL.format(service=ref["service"]),
                    )
                )
    tags = inputs.get("tags")
    if plan.tags and isinstance(tags, Mapping):
        for key, value in tags.items():
            for part, rule_id, _shape, rule, prefix in plan.tags:
                data = key if part == "key" else value
                for problem in report.violations(data, rule, rule_id):
                    report.errors.append(
                        error(
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


def clear_caches() -> None:
    """Forget loaded models and derived tables (tests that swap a model use this)."""
    for cached in (service_model, aws_table, _aws_plan, shape_enum):
        # A test may have swapped one for a plain function; its own cache is then not ours.
        clear = getattr(cached, "cache_clear", None)
        if clear is not None:
            clear()


SERVING_INSTANCE_TYPE = ("sagemaker", "CreateEndpointConfig", "ProductionVariants[].InstanceType")
"""Where SageMaker's serving instance types are enumerated (ProductionVariantInstanceType)."""


def enum_problem(member: tuple[str, str, str], value: Any) -> str | None:
    """Why ``value`` is not in the enum of a mapped API member (``None``: it is, or botocore
    is not installed), with the nearest accepted value."""
    service, operation, path = member
    table = aws_table(service)
    resolved = table["members"].get(f"{operation}|{path}") if table else None
    if resolved is None or "enum" not in resolved[1] or value in resolved[1]["enum"]:
        return None
    shape_name, rule = resolved
    accepted = [str(v) for v in rule["enum"]]
    guess = suggest.closest(str(value), accepted)
    hint = f"did you mean {guess!r}? " if guess else ""
    return (
        f"{value!r} is not a {service} instance type; {hint}({len(accepted)} accepted, from "
        f"{shape_name} in botocore's {service} model)"
    )
