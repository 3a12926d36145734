"""Generated reference documentation, kept in README.md between marker comments.

``python -m tools.docs`` rewrites the generated sections in place; ``--check`` exits 1 when
README.md is stale (the test suite runs the same check, so CI fails on an outdated reference).
Each section sits between ``<!-- BEGIN generated:NAME -->`` and ``<!-- END generated:NAME -->``.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import re
import sys
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from mlops_iac.components.spec import ROOT, PlatformSpec

README = Path(__file__).resolve().parents[1] / "README.md"


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        optional = " (optional)" if type(None) in args else ""
        return " \\| ".join(names) + optional
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    return getattr(annotation, "__name__", str(annotation))


def _constraints(field: FieldInfo) -> str:
    parts = []
    for meta in field.metadata:
        for attr, symbol in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            value = getattr(meta, attr, None)
            if value is not None:
                parts.append(f"{symbol} {value}")
        for attr in ("min_length", "max_length", "pattern"):
            value = getattr(meta, attr, None)
            if value is not None:
                parts.append(f"{attr.replace('_', ' ')} `{value}`")
    return ", ".join(parts)


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    factory = field.default_factory
    value = factory() if factory is not None else field.default  # type: ignore[call-arg]
    if value is PydanticUndefined or value is None:
        return "—"
    if isinstance(value, BaseModel):
        return "see below"
    return f"`{value!r}`" if not isinstance(value, bool) else f"`{str(value).lower()}`"


def _model_of(annotation: Any) -> type[BaseModel] | None:
    candidates = [annotation, *typing.get_args(annotation)]
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
        for inner in typing.get_args(candidate):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                return inner
    return None


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows: list[str] = []
    nested: list[tuple[type[BaseModel], str]] = []
    for name, field in model.model_fields.items():
        key = f"{prefix}.{field.alias or name}"
        description = (field.description or "").replace("|", "\\|")
        rows.append(
            f"| `{key}` | {_type_name(field.annotation)} | {_default(field)} | "
            f"{_constraints(field)} | {description} |"
        )
        inner = _model_of(field.annotation)
        if inner is not None:
            suffix = "[]" if typing.get_origin(field.annotation) is list else ""
            nested.append((inner, key + suffix))
    for inner, key in nested:
        rows.extend(_rows(inner, key))
    return rows


def stack_reference() -> str:
    """Every key of the stack file: type, default, constraints and meaning."""
    header = [
        f"Every key under `{ROOT}` (generated from `components/spec.py`). Unknown keys are "
        "errors; `prod` also requires an owner and an alert email and refuses `forceDestroy`, "
        "public endpoints and storage without a customer-managed key.",
        "",
        "| key | type | default | constraints | meaning |",
        "|---|---|---|---|---|",
    ]
    return "\n".join(header + _rows(PlatformSpec, ROOT))


def _args_fields(cls: type) -> list[tuple[str, str, str]]:
    """(field, default source, docstring) for a component Args dataclass, read from its source."""
    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body  # type: ignore[attr-defined]
    fields = []
    for index, node in enumerate(body):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            default = ast.unparse(node.value) if node.value is not None else "required"
            doc = ""
            following = body[index + 1] if index + 1 < len(body) else None
            if isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant):
                doc = " ".join(str(following.value.value).split())
            fields.append((node.target.id, default, doc))
    return fields


def component_defaults(package: str) -> str:
    """A "Default settings" table per component of one cloud package."""
    module = __import__(package, fromlist=["__all__"])
    lines = []
    for name in module.__all__:
        if not name.endswith("Args"):
            continue
        cls = getattr(module, name)
        lines += [
            f"**{name[: -len('Args')]}** (`{package}`)",
            "",
            "| arg | behaviour |",
            "|---|---|",
        ]
        for field, _default_src, doc in _args_fields(cls):
            cell = doc.replace("|", "\\|")
            lines.append(f"| `{field}` | {cell} |")
        lines.append("")
    return "\n".join(lines).rstrip()


def sections() -> dict[str, Callable[[], str]]:
    """Generated README sections by marker name."""
    found: dict[str, Callable[[], str]] = {"stack-reference": stack_reference}
    for cloud in ("aws", "azure", "gcp"):
        package = f"mlops_iac.components.{cloud}"
        if (Path(__file__).resolve().parents[1] / "components" / cloud / "__init__.py").exists():
            found[f"defaults-{cloud}"] = lambda package=package: component_defaults(package)
    # The docs generator, like the CLI, may read the pack: components proper never do.
    from mlops_iac.policies.packs import catalogue_markdown

    found["policy-catalogue"] = catalogue_markdown
    return found


def render(text: str) -> str:
    """README text with every generated section present in it brought up to date."""
    for name, build in sections().items():
        marker = re.escape(name)
        pattern = re.compile(
            rf"(<!-- BEGIN generated:{marker} -->\n).*?(<!-- END generated:{marker} -->)", re.S
        )
        if pattern.search(text):
            content = build()
            text = pattern.sub(
                lambda m, content=content: f"{m.group(1)}{content}\n{m.group(2)}", text
            )
    return text


def main(argv: list[str] | None = None) -> int:
    """Rewrite README.md's generated sections, or with ``--check`` report whether it is stale."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is stale")
    args = parser.parse_args(argv)
    current = README.read_text()
    fresh = render(current)
    if args.check:
        if fresh != current:
            print("README.md is stale: run `python -m tools.docs`", file=sys.stderr)
            return 1
        return 0
    README.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
