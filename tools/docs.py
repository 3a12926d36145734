"""The generated reference, ``docs/reference.md``: stack keys, the component contract, every
component's arguments with their default VALUES, and the policy catalogue; and the rules
reference, ``docs/rules.md``, one linkable section per rule.

``python -m tools.docs`` rewrites the file; ``--check`` exits 1 when it is stale (the test suite
runs the same check, so CI fails on an outdated reference). Defaults are read from the code (the
spec's field defaults, the Args dataclasses' defaults and the values ``unset`` fields resolve to,
``spec/defaults.py``), never from docstring text: change a constant and the reference
changes with it.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import sys
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from mlops_iac.spec.clouds import NAMES
from mlops_iac.spec.keys import ROOT
from mlops_iac.spec.models import PlatformSpec

ROOT_DIR = Path(__file__).resolve().parents[1]
REFERENCE = ROOT_DIR / "docs" / "reference.md"
RULES = ROOT_DIR / "docs" / "rules.md"
"""One section per rule; SARIF ``helpUri`` and ``mlops-iac policies --json`` link to its anchor."""
CLOUDS = NAMES


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
        f"Every key under `{ROOT}` (generated from `spec/models.py`). Unknown keys are "
        "errors; `prod` also requires an owner and an alert email and refuses `forceDestroy`, "
        "public endpoints and storage without a customer-managed key.",
        "",
        "| key | type | default | constraints | meaning |",
        "|---|---|---|---|---|",
    ]
    return "\n".join(header + _rows(PlatformSpec, ROOT))


def _value(value: Any) -> str:
    """A default as the reference shows it: code-formatted, booleans lower-case."""
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, tuple | list | dict) and not value:
        return "none"
    if isinstance(value, str | int | float | tuple | list | dict):
        return f"`{value!r}`"
    return "—"


def _field_default(found: dataclasses.Field) -> str:
    """The value an Args field takes when the caller leaves it out."""
    if "default" in found.metadata:  # components._component.unset: None resolves to this
        return f"unset → {_value(found.metadata['default'])}"
    if found.default is not dataclasses.MISSING:
        return "unset" if found.default is None else _value(found.default)
    if found.default_factory is not dataclasses.MISSING:
        return _value(found.default_factory())
    return "**required**"


def _docstrings(cls: type) -> dict[str, str]:
    """Each Args field's docstring (the string literal under it), flattened to one line."""
    body = ast.parse(inspect.getsource(cls)).body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, following in zip(body, [*body[1:], None], strict=True):
        named = isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
        if named and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant):
            docs[node.target.id] = " ".join(str(following.value.value).split())  # type: ignore[union-attr]
    return docs


def field_docs(cls: type) -> dict[str, str]:
    """Each Args field's meaning: the docstring where the field is declared (the contract's base
    Args for a shared field), replaced by the cloud's ``FIELD_NOTES`` entry where it has one."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass):
            docs.update(_docstrings(klass))
    for key, note in getattr(cls, "FIELD_NOTES", {}).items():
        docs[key] = " ".join(note.split())
    return docs


def component_defaults(package: str) -> str:
    """One table per component of a cloud package: argument, default value, meaning."""
    module = __import__(package, fromlist=["__all__"])
    lines = []
    for name in module.__all__:
        if not name.endswith("Args"):
            continue
        cls = getattr(module, name)
        docs = field_docs(cls)
        lines += [
            f"**{name[: -len('Args')]}** (`{package}`)",
            "",
            "| arg | default | meaning |",
            "|---|---|---|",
        ]
        for found in dataclasses.fields(cls):
            cell = docs.get(found.name, "").replace("|", "\\|")
            lines.append(f"| `{found.name}` | {_field_default(found)} | {cell} |")
        lines.append("")
    return "\n".join(lines).rstrip()


def neutral_defaults() -> str:
    """``spec/defaults.py`` as a table: the values every cloud shares."""
    from mlops_iac.spec import defaults

    tree = ast.parse(inspect.getsource(defaults))
    rows = ["| name | value | meaning |", "|---|---|---|"]
    for node, following in zip(tree.body, [*tree.body[1:], None], strict=True):
        # `NAME: Final = value` (a literal type to checkers) is a default like `NAME = value`.
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(target, ast.Name):
            name = target.id
            doc = ""
            if isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant):
                doc = " ".join(str(following.value.value).split())
            rows.append(f"| `{name}` | {_value(getattr(defaults, name))} | {doc} |")
    return "\n".join(rows)


def contract_table() -> str:
    """The component contract: shared Args and outputs, names shared by some clouds, choices."""
    from mlops_iac.components import contract

    lines = [
        "| component | Args on every cloud | outputs on every cloud | secure defaults (warn) |",
        "|---|---|---|---|",
    ]
    for thing in contract.COMPONENTS:
        args = ", ".join(f"`{a}`" for a in contract.ARGS[thing])
        outputs = ", ".join(f"`{o}`" for o in contract.OUTPUTS[thing])
        secure = ", ".join(f"`{s}`" for s in contract.SECURE_DEFAULTS.get(thing, ())) or "—"
        lines.append(f"| `{thing}` | {args} | {outputs} | {secure} |")
    lines += ["", "Fields only some clouds have (the same name wherever they exist):", ""]
    lines += ["| component | field | kind | clouds |", "|---|---|---|---|"]
    for kind, table in (
        ("Args", contract.SHARED_BY_SOME),
        ("output", contract.OUTPUTS_SHARED_BY_SOME),
    ):
        for thing, fields in table.items():
            for field, clouds in fields.items():
                lines.append(f"| `{thing}` | `{field}` | {kind} | {', '.join(clouds)} |")
    lines += ["", "Components that only some clouds have follow the same contract:", ""]
    lines += ["| component | clouds | Args on each of them | outputs on each of them |"]
    lines += ["|---|---|---|---|"]
    for thing, clouds in contract.PARTIAL.items():
        args = ", ".join(f"`{a}`" for a in contract.PARTIAL_ARGS[thing])
        outputs = ", ".join(f"`{o}`" for o in contract.PARTIAL_OUTPUTS[thing])
        lines.append(f"| `{thing}` | {', '.join(clouds)} | {args} | {outputs} |")
    lines += ["", "Names chosen where a cloud's own vocabulary differs:", ""]
    lines += ["| name | why |", "|---|---|"]
    lines += [f"| {name} | {why} |" for name, why in contract.CHOICES]
    renamed = {**contract.RENAMED_ARGS, **contract.RENAMED_OUTPUTS}
    lines += ["", "Replaced names of release 0.1 (see CHANGELOG.md):", ""]
    lines += ["| 0.1 name | contract name |", "|---|---|"]
    lines += [f"| `{old}` | `{new}` |" for old, new in renamed.items()]
    return "\n".join(lines)


def sections() -> dict[str, Callable[[], str]]:
    """Generated sections of docs/reference.md, in order, by title."""
    found: dict[str, Callable[[], str]] = {
        "The stack file": stack_reference,
        "The component contract": contract_table,
        "Cloud-neutral defaults": neutral_defaults,
    }
    for cloud in CLOUDS:
        package = f"mlops_iac.components.{cloud}"
        found[f"{cloud.upper() if cloud != 'azure' else 'Azure'} components"] = (
            lambda package=package: component_defaults(package)
        )
    # The docs generator, like the CLI, may read the pack: components proper never do.
    from mlops_iac.policies.packs import catalogue_markdown

    found["Policy catalogue"] = catalogue_markdown
    found["Command line"] = cli_reference
    return found


CLI_INTRO = """Every command follows one grammar:

- `--json [F]` writes the JSON report to the file F, or to stdout without F (or with `-`), and
  stdout then carries nothing else;
- `--quiet`/`-q` drops the progress display (and, where a command says so, more);
- `--no-color` (or a non-empty `NO_COLOR`, https://no-color.org) gives plain text;
- `--project DIR` is the Pulumi project directory and `--stack`/`-s S` its stack file
  `Pulumi.<S>.yaml` (in `stackConfigDir` when `Pulumi.yaml` sets one).

Exit codes: 0 ok, 1 a finding (a violation, drift, a failed check), 2 bad input (one line on
stderr). Long work (the offline run, reading large drift files) shows a spinner with the elapsed
time on stderr when it is a terminal, and nothing when it is piped. Shell completion:
`mlops-iac completion bash|zsh|fish` prints a script generated from this parser. `plan` checks
the regions a stack names (AWS: the installed botocore's partitions; Azure and GCP: lists kept
with their sources) and `serving.instanceType` (AWS: botocore's SageMaker enum; Azure: the VM
size form; GCP: Cloud Run's GPU types) before it runs the program; a brand-new region passes
with `--allow-unknown-region` (a warning instead)."""


def _command_summaries(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, str]:
    """``{"plan": "check a stack offline…", "drift check": …}``: each command's one-line help."""
    found: dict[str, str] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                path = f"{prefix} {name}".strip()
                found[path] = helps.get(name, "")
                found.update(_command_summaries(sub, path))
    return found


def cli_reference() -> str:
    """Every command's usage and options, from the CLI's own parser."""
    from mlops_iac.cli.main import build_parser, leaf_parsers

    lines = [CLI_INTRO]
    root = build_parser()
    summaries = _command_summaries(root)
    for name, parser in leaf_parsers(root).items():
        summary = summaries.get(name, "")
        usage = " ".join(parser.format_usage().split())
        lines += ["", f"### `mlops-iac {name}`", "", f"{summary}." if summary else "", ""]
        lines += [f"`{usage.removeprefix('usage: ')}`", "", "| option | meaning |", "|---|---|"]
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            flags = ", ".join(action.option_strings) or action.dest
            if action.nargs != 0 and action.option_strings:
                value = action.metavar or action.dest.upper()
                flags += f" [{value}]" if action.nargs == "?" else f" {value}"
            if action.choices:
                flags += " {" + ",".join(map(str, action.choices)) + "}"
            text = " ".join((action.help or "").split()).replace("|", "\\|").replace("<", "\\<")
            lines.append(f"| `{flags}` | {text} |")
    return "\n".join(line for line in lines).replace("\n\n\n", "\n\n")


INTRO = """# Reference

Generated by `python -m tools.docs` from the code (do not edit by hand; `tests/test_docs.py`
fails when this file is stale). Defaults are the values the code uses: an Args field shown as
`unset → X` is `None` unless the caller sets it and resolves to `X`; overriding a secure default
logs a warning naming the component and setting on every cloud. The versioning policy
([CHANGELOG.md](../CHANGELOG.md)) treats every name on this page as public API. Each rule of the
policy catalogue has its own section in [rules.md](rules.md).
"""


def render() -> str:
    """The whole of docs/reference.md."""
    parts = [INTRO]
    for title, build in sections().items():
        parts.append(f"## {title}\n\n{build()}\n")
    return "\n".join(parts)


RULES_INTRO = """# Rules reference

Generated by `python -m tools.docs` from the policy pack (do not edit by hand;
`tests/test_docs.py` fails when this file is stale). Each rule's heading is its id, so
`docs/rules.md#<rule-id>` links to it: SARIF `helpUri` and `mlops-iac policies --json` use these
anchors. Levels are per environment (the one `governance/settings.yaml` gives the stack, never
the stack file's claim); a stack's `governance.enforcement` overrides them only with a signed
four-eyes approval ([governance.md](governance.md)).
"""


def _cell(value: Any) -> str:
    return f"`{value!r}`" if not isinstance(value, bool) else f"`{str(value).lower()}`"


def render_rules() -> str:
    """The whole of docs/rules.md: one ``## <rule id>`` section per rule, in catalogue order."""
    from mlops_iac.policies import packs, report

    parts = [RULES_INTRO]
    for entry in packs.catalogue():
        name = entry["name"]
        assert report.rule_anchor(name) == name, f"rule id {name!r} is not its own anchor"
        levels = " / ".join(entry["levels"].values())
        ids = ", ".join(entry["checkov"] + entry["awsguard"]) or "—"
        lines = [
            f"## {name}",
            "",
            entry["description"],
            "",
            f"- **Checks:** {'each resource' if entry['kind'] == 'resource' else 'the stack'} "
            f"(area `{entry['area']}`)",
            f"- **Levels** (dev / staging / prod): {levels}",
            f"- **Corresponds to:** {ids}",
            "- **Waivable:** "
            + (
                "yes (`mlops-iac waive`; signed wherever the rule is mandatory)"
                if entry["waivable"]
                else "no: its whole purpose is a human decision, so no waiver applies"
            ),
            "",
            f"**Remediation:** {entry['remediation']}",
        ]
        if entry["config"]:
            lines += ["", "| config key | type | default | meaning |", "|---|---|---|---|"]
            for key, spec in entry["config"].items():
                default = _cell(spec["default"]) if "default" in spec else "—"
                meaning = str(spec.get("description", "")).replace("|", "\\|")
                lines.append(f"| `{key}` | {spec.get('type', '')} | {default} | {meaning} |")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def outputs() -> dict[Path, Callable[[], str]]:
    """Every generated file and how it is rendered."""
    return {REFERENCE: render, RULES: render_rules}


def main(argv: list[str] | None = None) -> int:
    """Rewrite the generated docs, or with ``--check`` report whether any is stale."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the reference is stale")
    args = parser.parse_args(argv)
    stale = 0
    for path, build in outputs().items():
        fresh = build()
        name = path.relative_to(ROOT_DIR).as_posix()
        if args.check:
            if fresh != (path.read_text() if path.exists() else ""):
                print(f"{name} is stale: run `python -m tools.docs`", file=sys.stderr)
                stale = 1
            continue
        path.parent.mkdir(exist_ok=True)
        path.write_text(fresh)
    return stale


if __name__ == "__main__":
    sys.exit(main())
