"""What a deploy would change: the program's resources against the saved state, by URN.

Each resource is ``create`` (not in the state), ``update`` (its inputs differ; the changed input
paths listed), ``replace`` (a changed input the provider cannot update in place; the input named,
from ``data/replacements.json``), ``delete`` (in the state, no longer declared) or ``same``, as
``pulumi preview --diff`` shows them. The stack's root resource is not compared. A replacement or
deletion of a protected resource (``protect=True``) is what Pulumi refuses mid-deploy, so it is
reported before the deploy as a deploy error; one of a retained resource (``retainOnDelete``)
leaves the old one behind, which is a warning.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_iac.plan.deploy.base import DeployError
from mlops_iac.plan.deploy.state import ROOT_STACK, StateResource
from mlops_iac.policies.report import SECRET

REPLACEMENTS_FILE = Path(__file__).with_name("data") / "replacements.json"
ACTIONS = ("create", "update", "replace", "delete", "same")
PROTECT_RULE = "pulumi-protected-replace"
PROTECT_SOURCE = "https://www.pulumi.com/docs/iac/concepts/options/protect/"
RETAIN_SOURCE = "https://www.pulumi.com/docs/iac/concepts/options/retainondelete/"
#: Pulumi's marker of an encrypted secret in a state export: its value cannot be compared.
SECRET_SIG = "4dabf18193072939515e22adb298388d"
#: A secret as a previous ``plan --json`` report (usable as ``--state``) shows it.
REDACTED = SECRET


@dataclass(frozen=True)
class Change:
    """One resource's fate in the next deploy."""

    action: str
    urn: str
    name: str
    type: str
    paths: tuple[str, ...] = ()
    """Changed input paths (``update`` and ``replace``), ``a.b[0].c``."""
    replaced_by: tuple[str, ...] = ()
    """``replace``: the changed inputs that force it."""
    source: str = ""
    """``replace``: the page saying those inputs force a replacement."""
    protected: bool = False
    retained: bool = False

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "action": self.action,
            "urn": self.urn,
            "name": self.name,
            "type": self.type,
        }
        if self.paths:
            found["changedInputs"] = list(self.paths)
        if self.replaced_by:
            found["replaceBecause"] = list(self.replaced_by)
            found["source"] = self.source
        if self.protected:
            found["protected"] = True
        if self.retained:
            found["retainOnDelete"] = True
        return found


@dataclass(frozen=True)
class Diff:
    """Every resource's change, in the recording's order (``engine.canonical_order``) then
    the state's deletions."""

    changes: tuple[Change, ...] = field(default_factory=tuple)

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(ACTIONS, 0)
        for change in self.changes:
            counts[change.action] += 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        return {"counts": self.counts(), "resources": [c.as_dict() for c in self.changes]}

    def deploy_errors(self) -> list[DeployError]:
        """Replacements and deletions Pulumi refuses: the resource is protected."""
        return [
            DeployError(
                rule=PROTECT_RULE,
                urn=c.urn,
                resource_name=c.name,
                resource_type=c.type,
                input=(c.replaced_by or ("",))[0],
                value=None,
                message=(
                    f"the deploy would {c.action} this protected resource and Pulumi refuses "
                    f"to; keep {_kept(c)}, or unprotect it in a reviewed change first"
                ),
                source=PROTECT_SOURCE,
            )
            for c in self.changes
            if c.protected and c.action in ("replace", "delete")
        ]

    def warnings(self) -> list[str]:
        """Replacements of retained (not protected) resources: the old one stays behind."""
        return [
            f"{c.name} ({c.type}) would be replaced (because of {', '.join(c.replaced_by)}) and "
            f"is retained on delete: the old one stays in the account, unmanaged ({RETAIN_SOURCE})"
            for c in self.changes
            if c.action == "replace" and c.retained and not c.protected
        ]


def _kept(change: Change) -> str:
    if change.replaced_by:
        return f"{', '.join(change.replaced_by)} as deployed"
    return "it declared"


@functools.cache
def replacements() -> Mapping[str, tuple[tuple[str, ...], str]]:
    """Type token -> (inputs whose change replaces it, source URL), from the data file."""
    raw = json.loads(REPLACEMENTS_FILE.read_text())
    return {
        token: (tuple(entry["replaceOn"]), entry["source"])
        for token, entry in raw.items()
        if not token.startswith("_")
    }


def _package_root() -> str:
    """The folder holding this package's own modules (``drift/``, ...): the code assets the
    components ship are read from there, wherever the project being planned lives."""
    return str(Path(__file__).resolve().parent.parent)


def _plain(value: Any, root: str) -> Any:
    """``value`` as a state export holds it: JSON types, paths inside ``root`` (the project) or
    inside this package relative, so the same code assets compare equal from any checkout."""
    text = json.dumps(value, sort_keys=True, default=str)
    for folder in {root, _package_root()} - {""}:
        text = text.replace(json.dumps(folder + "/")[1:-1], "")
    return json.loads(text)


def changed_paths(old: Any, new: Any, at: str = "") -> list[str]:
    """Input paths where ``new`` differs from ``old``; a secret in ``old`` counts as unchanged
    (its value is encrypted in an export and redacted in a plan report: it cannot be compared)."""
    if (isinstance(old, dict) and SECRET_SIG in old) or old == REDACTED:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        found: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            where = f"{at}.{key}" if at else str(key)
            if key not in old or key not in new:
                found.append(where)
            else:
                found += changed_paths(old[key], new[key], where)
        return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        found = []
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            found += changed_paths(a, b, f"{at}[{index}]")
        return found
    if (
        isinstance(old, int | float)
        and isinstance(new, int | float)
        and not (isinstance(old, bool) or isinstance(new, bool))
    ):
        return [] if float(old) == float(new) else [at or "(inputs)"]
    return [] if old == new else [at or "(inputs)"]


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith((prefix + ".", prefix + "["))


def _holds(inputs: Mapping[str, Any], path: str) -> bool:
    """Whether the dotted ``path`` (no list indexes) is set in ``inputs``."""
    node: Any = inputs
    for part in path.split("."):
        if not isinstance(node, Mapping) or node.get(part) is None:
            return False
        node = node[part]
    return True


def _ignored(path: str, ignore: Sequence[str]) -> bool:
    return any(_under(path, i) for i in ignore)


def diff(
    resources: Iterable[Any], state: Iterable[StateResource], root: Path | str | None = None
) -> Diff:
    """Compare recorded ``resources`` (``RecordedResource``) with a saved ``state``.

    ``root``: the repository root, whose paths a saved state holds relative (assets). Inputs
    under a resource's ``ignore_changes`` do not count.
    """
    prefix = str(root) if root else ""
    before = {r.urn: r for r in state if r.type != ROOT_STACK}
    table = replacements()
    changes: list[Change] = []
    declared: set[str] = set()
    for resource in resources:
        if resource.type == ROOT_STACK:
            continue
        declared.add(resource.urn)
        protected = bool(getattr(resource, "protect", False))
        retained = bool(getattr(resource, "retain_on_delete", False))
        common = {
            "urn": resource.urn,
            "name": resource.name,
            "type": resource.type,
            "protected": protected,
            "retained": retained,
        }
        old = before.get(resource.urn)
        if old is None:
            changes.append(Change("create", **common))
            continue
        ignore = list(getattr(resource, "ignore_changes", ()) or ())
        paths = tuple(
            p
            for p in changed_paths(old.inputs, _plain(resource.inputs, prefix))
            if not _ignored(p, ignore)
        )
        if not paths:
            changes.append(Change("same", **common))
            continue
        forcing, source = table.get(resource.type, ((), ""))
        # An input the state does not hold (set now, computed before) is read back by the
        # provider, not a reason to replace.
        because = tuple(
            f for f in forcing if _holds(old.inputs, f) and any(_under(p, f) for p in paths)
        )
        if because:
            replaced = Change("replace", paths=paths, replaced_by=because, source=source, **common)
            changes.append(replaced)
        else:
            changes.append(Change("update", paths=paths, **common))
    for urn, old in before.items():
        if urn not in declared:
            changes.append(
                Change("delete", urn=urn, name=old.name, type=old.type, protected=old.protect)
            )
    return Diff(tuple(changes))


def summary_lines(result: Diff) -> list[str]:
    """The console block: counts, then one line per resource that is not ``same``."""
    counts = result.counts()
    head = ", ".join(f"{counts[a]} to {a}" for a in ACTIONS[:4]) + f", {counts['same']} unchanged"
    lines = [f"Changes against the state: {head}"]
    sign = {"create": "+", "update": "~", "replace": "+-", "delete": "-"}
    for change in result.changes:
        if change.action == "same":
            continue
        line = f"  {sign[change.action]:<2} {change.action:<7} {change.name} ({change.type})"
        if change.action == "replace":
            line += f" because of {', '.join(change.replaced_by)}"
        elif change.paths:
            shown = ", ".join(change.paths[:4])
            more = len(change.paths) - 4
            line += f": {shown}" + (f" and {more} more" if more > 0 else "")
        if change.protected and change.action in ("replace", "delete"):
            line += " [protected]"
        lines.append(line)
    return lines
