"""The taggable resource types, ``policies/rules/taggable.txt``: every type of the installed
provider SDKs (pulumi-aws, pulumi-azure-native, pulumi-gcp) whose resource takes tags or labels.

``python -m tools.taggable`` rewrites the file; ``--check`` exits 1 when it is stale. The lineage
rule reads it (the policy pack imports no provider SDK); the lineage transform decides the same
question on the SDK class itself (``mlops_iac.components.lineage.tag_field`` is the one decision
both use), so the rule demands tags exactly where the transform puts them.

No SDK submodule is imported: the types come from each package's ``resource_modules``
registration (its ``__init__.py``) and each resource class's ``_internal_init`` signature is read
from its source file, a few seconds per SDK instead of half a minute and half a gigabyte.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from mlops_iac.components.lineage import MAP, tag_field
from mlops_iac.spec import clouds

from . import generated

ROOT_DIR = generated.ROOT_DIR
OUTPUT = ROOT_DIR / "policies" / "rules" / "taggable.txt"
#: Python package -> distribution, in the order the file lists them.
PACKAGES = {entry.sdk: entry.distribution for entry in clouds.REGISTRY.values()}
#: The tag input a line may leave out: the usual one of its provider.
DEFAULT_FIELD = {entry.provider: entry.tag_input for entry in clouds.REGISTRY.values()}

_CLASS = re.compile(r"^class (\w+)\(pulumi\.CustomResource\):$", re.M)
_SIGNATURE = re.compile(r"def _internal_init\(__self__,\n(.*?)__props__=None\):", re.S)
_PARAM = re.compile(r"^\s+(\w+): (.+?)(?: = None)?,$", re.M)


def registered(package: str) -> list[dict]:
    """The ``resource_modules`` registration of ``package``, read without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise SystemExit(f"{package} is not installed: run `make .venv/.installed`")
    text = Path(spec.origin).read_text()
    body = re.search(r'resource_modules="""(.*?)"""', text, re.S)
    if body is None:
        raise SystemExit(f"{package} no longer registers its resource modules this way")
    return json.loads(body.group(1))


def signatures(directory: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """(class name, parameter -> annotation text) of each resource class in ``directory``."""
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith(("_", "get_")) or path.name == "outputs.py":
            continue
        text = path.read_text()
        for match in _CLASS.finditer(text):
            sig = _SIGNATURE.search(text, match.end())
            if sig is None:
                raise SystemExit(f"{path}: class {match.group(1)} has no _internal_init")
            yield match.group(1), dict(_PARAM.findall(sig.group(1)))


def sdk_taggable(package: str) -> dict[str, tuple[str, str]]:
    """Type token -> (tag input, shape) for every taggable resource type of ``package``."""
    root = Path(importlib.util.find_spec(package).origin).parent  # type: ignore[union-attr]
    by_fqn: dict[str, dict[str, str]] = {}
    for module in registered(package):
        classes = by_fqn.setdefault(module["fqn"], {})
        classes.update({cls: token for token, cls in module["classes"].items()})
    found: dict[str, tuple[str, str]] = {}
    for fqn, tokens in by_fqn.items():
        directory = root.joinpath(*fqn.split(".")[1:])
        seen = set()
        for cls, params in signatures(directory):
            token = tokens.get(cls)
            if token is None:
                continue
            seen.add(cls)
            spec = tag_field(token, params)
            if spec is not None:
                found[token] = spec
        if missing := sorted(set(tokens) - seen):
            raise SystemExit(f"{fqn}: no source file declares {', '.join(missing[:5])}")
    return found


def versions() -> dict[str, str]:
    """Distribution -> installed version, for the file's header."""
    return {dist: importlib.metadata.version(dist) for dist in PACKAGES.values()}


def line(token: str, field: str, shape: str) -> str:
    """``token`` alone when it keeps its tags in the provider's usual map, else with the input."""
    default = DEFAULT_FIELD[token.partition(":")[0]]
    if (field, shape) == (default, MAP):
        return token
    return f"{token} {field}" if shape == MAP else f"{token} {field} {shape}"


def render(entries: Mapping[str, tuple[str, str]] | None = None) -> str:
    """The file's text: a header naming the SDK versions, then one sorted line per type.

    ``entries`` defaults to every taggable type of the installed SDKs (``sdk_taggable``).
    """
    if entries is None:
        entries = {}
        for package in PACKAGES:
            entries.update(sdk_taggable(package))
    header = [
        "# Resource types that take tags or labels, one per line: the type token, then the tag",
        "# input when it is not the provider's usual one (aws and azure-native: tags, gcp:",
        "# labels) and its shape when it is a list. mlops-lineage-tags reads this file.",
        "# Generated by `python -m tools.taggable` from "
        + ", ".join(f"{d} {v}" for d, v in versions().items())
        + ". Do not edit.",
    ]
    body = [line(token, *entries[token]) for token in sorted(entries)]
    return "\n".join(header + body) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Rewrite the file, or with ``--check`` report whether it is stale."""
    return generated.main(argv, OUTPUT, render, "tools.taggable", __doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
