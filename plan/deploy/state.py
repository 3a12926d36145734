"""The one strict reader of a stack's state: what exists before this update.

A state is a ``pulumi stack export`` (kept as ``<stackConfigDir>/state/<stack>.json``, or given
with ``--state``) or a previous ``mlops-iac plan --json`` report (``--state`` only). What it says
decides rules (a Cloud Run service's first deployment, the revisions it served), so a state that
cannot be read exactly is refused, never taken as "nothing was deployed": every problem raises
``StateError`` with one line naming the file and what is wrong.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_STATE_BYTES = 64 * 1024 * 1024
"""Largest state read (64 MiB): a real export of a large stack is a few MiB."""
MAX_STATE_DEPTH = 64
"""Deepest nesting of objects and arrays in a state (real exports stay under 20)."""
ROOT_STACK = "pulumi:pulumi:Stack"
#: The ``label`` of a state read from the stack's saved-state directory (a trust point).
SAVED = "saved state"
#: The ``label`` of a state given on the command line.
OPTION = "--state"


class StateError(ValueError):
    """A state file that cannot be used; the message is one line naming the file."""


@dataclass(frozen=True)
class StateResource:
    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    protect: bool = False
    """The export's ``protect`` flag: Pulumi refuses to delete or replace the resource."""


@dataclass(frozen=True)
class SavedState:
    """A state file read strictly: where it came from, its digest and its resources."""

    path: Path
    source: str
    """``saved state`` (the trusted state directory) or ``--state`` (the command line)."""
    digest: str
    """``sha256:<hex>`` of the file's bytes, so a report says exactly which state it judged."""
    kind: str
    """``export`` (``pulumi stack export``) or ``plan`` (an ``mlops-iac plan --json`` report)."""
    resources: tuple[StateResource, ...]
    outputs_saved: bool
    """Whether the state holds the stack's outputs (an export does; a plan report has them as
    ``exports``, which an old report may lack)."""

    def as_dict(self, file: str | None = None) -> dict[str, str]:
        """``{file, digest, source}`` for reports (``file``: the path as the report shows it)."""
        return {"file": file or str(self.path), "digest": self.digest, "source": self.source}


def _shown(path: str | os.PathLike[str]) -> str:
    # One line, whatever the file is called.
    text = os.fspath(path)
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def read_state(path: str | os.PathLike[str], *, source: str = OPTION) -> SavedState:
    """Read and check a state file; raises ``StateError`` (one line) for anything not exact.

    Refused: a path that does not exist, a symbolic link (dangling or not: a state is read from
    the regular file itself, never through a link out of the reviewed directory), a directory or
    other non-regular file, an empty file, more than ``MAX_STATE_BYTES``, bytes that are not
    UTF-8 (a byte order mark included), not JSON, ``NaN``/``Infinity`` or numbers beyond a float,
    duplicate keys, nesting deeper than ``MAX_STATE_DEPTH``, and shapes that are not a state.
    """
    where = f"{source} {_shown(path)}"
    raw = _read_bytes(Path(path), where)
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    data = _parse(raw, where)
    kind, resources, outputs_saved = _resources(data, where)
    return SavedState(Path(path), source, digest, kind, resources, outputs_saved)


def _read_bytes(path: Path, where: str) -> bytes:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise StateError(f"{where}: does not exist") from None
    except OSError as exc:
        raise StateError(f"{where}: cannot be read ({exc.strerror})") from None
    if stat.S_ISLNK(info.st_mode):
        target = _shown(os.readlink(path))
        dangling = "" if path.exists() else ", which does not exist"
        raise StateError(
            f"{where}: is a symbolic link (to {target}{dangling}); a state is read from a "
            "regular file only, never through a link"
        )
    if stat.S_ISDIR(info.st_mode):
        raise StateError(f"{where}: is a directory, not a state file")
    if not stat.S_ISREG(info.st_mode):
        raise StateError(f"{where}: is not a regular file")
    if info.st_size > MAX_STATE_BYTES:
        raise StateError(f"{where}: is {info.st_size} bytes, more than the 64 MiB a state may be")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
        with os.fdopen(fd, "rb") as handle:
            raw = handle.read(MAX_STATE_BYTES + 1)
    except OSError as exc:
        raise StateError(f"{where}: cannot be read ({exc.strerror})") from None
    if len(raw) > MAX_STATE_BYTES:  # it grew after the check
        raise StateError(f"{where}: is more than the 64 MiB a state may be")
    if not raw.strip():
        raise StateError(
            f"{where}: is empty (a stack never deployed exports "
            '{"version": 3, "deployment": {}}, not nothing)'
        )
    return raw


class _Refused(ValueError):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Refused(f"duplicate key {key!r} (which one counts would be a guess)")
        result[key] = value
    return result


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"number {text[:40]} is beyond a float")
    return value


def _parse(raw: bytes, where: str) -> Any:
    if raw.startswith(b"\xef\xbb\xbf"):
        raise StateError(f"{where}: starts with a byte order mark (JSON is UTF-8 without one)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StateError(f"{where}: is not UTF-8 (byte {exc.start})") from None
    try:
        data = json.loads(
            text, object_pairs_hook=_pairs, parse_constant=_constant, parse_float=_float
        )
    except json.JSONDecodeError as exc:
        raise StateError(
            f"{where}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except RecursionError:
        # json's scanner recurses per level; far past MAX_STATE_DEPTH it gives up on its own.
        raise StateError(f"{where}: nested deeper than {MAX_STATE_DEPTH} levels") from None
    except _Refused as exc:
        raise StateError(f"{where}: not JSON ({exc})") from None
    except ValueError:  # an integer longer than Python converts (sys.get_int_max_str_digits)
        raise StateError(f"{where}: not JSON (a number with too many digits)") from None
    if _depth_exceeds(data, MAX_STATE_DEPTH):
        raise StateError(f"{where}: nested deeper than {MAX_STATE_DEPTH} levels")
    return data


def _depth_exceeds(data: Any, limit: int) -> bool:
    """Whether objects and arrays nest deeper than ``limit`` (iterative: no recursion to blow)."""
    pending: list[tuple[Any, int]] = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


def _resources(data: Any, where: str) -> tuple[str, tuple[StateResource, ...], bool]:
    if isinstance(data, dict) and "deployment" in data:
        return ("export", *_export(data, where))
    if isinstance(data, dict) and "resources" in data:
        return ("plan", *_plan_report(data, where))
    raise StateError(
        f"{where}: neither a `pulumi stack export` (deployment.resources) nor an "
        "`mlops-iac plan --json` report (resources)"
    )


def _export(data: dict[str, Any], where: str) -> tuple[tuple[StateResource, ...], bool]:
    version = data.get("version")
    if "version" in data and (not isinstance(version, int) or isinstance(version, bool)):
        raise StateError(f"{where}: version must be a number, not {_kind(version)}")
    deployment = data["deployment"]
    if not isinstance(deployment, dict):
        raise StateError(f"{where}: deployment must be an object, not {_kind(deployment)}")
    # A stack never deployed exports a deployment without resources.
    raw = deployment.get("resources", [])
    if not isinstance(raw, list):
        raise StateError(f"{where}: deployment.resources must be a list, not {_kind(raw)}")
    resources = _items(raw, "deployment.resources", where)
    roots = [r for r in resources if r.type == ROOT_STACK]
    if resources and len(roots) != 1:
        found = "no" if not roots else f"{len(roots)}"
        raise StateError(
            f"{where}: deployment.resources has {found} root {ROOT_STACK} resource; "
            "the export of a deployed stack has exactly one"
        )
    return resources, True


def _plan_report(data: dict[str, Any], where: str) -> tuple[tuple[StateResource, ...], bool]:
    raw = data["resources"]
    if not isinstance(raw, list):
        raise StateError(f"{where}: resources must be a list, not {_kind(raw)}")
    resources = tuple(r for r in _items(raw, "resources", where) if r.type != ROOT_STACK)
    if "exports" not in data:
        return resources, False
    exports = data["exports"]
    if not isinstance(exports, dict):
        raise StateError(f"{where}: exports must be an object, not {_kind(exports)}")
    # A plan report's stack outputs, as the root stack resource of an export holds them.
    stack = data.get("stack")
    urn = f"urn:pulumi:{stack}::{ROOT_STACK}" if isinstance(stack, str) else ROOT_STACK
    root = StateResource(urn=urn, type=ROOT_STACK, name=ROOT_STACK, inputs={}, outputs=exports)
    return (root, *resources), True


def _items(raw: list[Any], key: str, where: str) -> tuple[StateResource, ...]:
    resources: list[StateResource] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        at = f"{where}: {key}[{i}]"
        if not isinstance(item, dict):
            raise StateError(f"{at} must be an object, not {_kind(item)}")
        for field in ("urn", "type"):
            if field not in item:
                raise StateError(f"{at} has no {field} (a resource without urn and type)")
            value = item[field]
            if not isinstance(value, str):
                raise StateError(f"{at}.{field} must be a string, not {_kind(value)}")
            if not value.strip():
                raise StateError(f"{at}.{field} is empty")
        urn = item["urn"]
        if not urn.startswith("urn:pulumi:"):
            raise StateError(f"{at}.urn {urn[:80]!r} is not a Pulumi URN (urn:pulumi:...)")
        if urn in seen:
            raise StateError(f"{at}.urn {urn[:80]!r} appears twice")
        seen.add(urn)
        name = item.get("name")
        if name is not None and not isinstance(name, str):
            raise StateError(f"{at}.name must be a string, not {_kind(name)}")
        bags = {}
        for field in ("inputs", "outputs"):
            value = item.get(field, {})
            if not isinstance(value, dict):
                raise StateError(f"{at}.{field} must be an object, not {_kind(value)}")
            bags[field] = value
        resources.append(
            StateResource(
                urn=urn,
                type=item["type"],
                name=name or urn.rsplit("::", 1)[-1],
                inputs=bags["inputs"],
                outputs=bags["outputs"],
                protect=item.get("protect") is True,
            )
        )
    return tuple(resources)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


#: Previous outputs of a stack whose state lists resources but not its stack outputs: it was
#: deployed, so "no outputs" (a stack never deployed) would be a false claim.
OUTPUTS_NOT_SAVED = {"mlops-testing:outputsNotSaved": True}
#: Previous outputs when no state was read at all: whether and what the stack's last deployment
#: served is unknown (never "nothing", which would make every plan a first deployment).
NO_SAVED_STATE = {"mlops-testing:noSavedState": True}


def previous_outputs(state: SavedState | Any | None) -> dict[str, Any]:
    """The stack outputs of the deployment ``state`` describes, for the program's reference to
    its own stack.

    - no state (``None``): ``NO_SAVED_STATE``, which reads as "unknown", never as a first
      deployment;
    - a stack never deployed (an export without resources): ``{}``;
    - the root stack resource's outputs; ``OUTPUTS_NOT_SAVED`` when resources exist and the
      outputs are empty or were not saved (deployed, but the outputs tell nothing).

    ``state`` is a ``SavedState`` or a sequence of ``StateResource``.
    """
    if state is None:
        return dict(NO_SAVED_STATE)
    resources = list(state.resources if isinstance(state, SavedState) else state)
    saved = getattr(state, "outputs_saved", True)
    roots = [r for r in resources if r.type == ROOT_STACK]
    others = [r for r in resources if r.type != ROOT_STACK]
    outputs = dict(roots[0].outputs) if roots and saved else {}
    listed = outputs.get(SERVED_REVISIONS)
    if isinstance(listed, list):
        # What the state's own Cloud Run services show was served counts too: outputs that
        # leave a revision out (edited, or saved from another run) cannot hide it.
        shown = [r for r in _service_revisions(others) if r not in listed]
        outputs[SERVED_REVISIONS] = [*listed, *shown]
    if outputs:
        return outputs
    if others or not saved:
        return dict(OUTPUTS_NOT_SAVED)
    return {}


SERVED_REVISIONS = "serving_revisions"
CLOUD_RUN_SERVICE = "gcp:cloudrunv2/service:Service"
ONLINE_ENDPOINT = "azure-native:machinelearningservices:OnlineEndpoint"
#: What the program reads from the live cloud at every apply (the serving components' rollout
#: record and the traffic it must agree with), by type: the properties an offline plan answers
#: those reads with, and the kind each must be (anything else is left out).
LIVE_READS: dict[str, dict[str, type]] = {
    CLOUD_RUN_SERVICE: {"annotations": dict, "effectiveAnnotations": dict, "traffics": list},
    ONLINE_ENDPOINT: {"tags": dict, "properties": dict},
}


def live_resources(state: SavedState | Any | None) -> dict[str, dict[str, dict[str, Any]]]:
    """What the live cloud would answer the program's reads with, taken from ``state``: per type
    of ``LIVE_READS``, name → those properties (outputs over inputs; an endpoint's ``properties``
    only with its ``traffic``). A state exported after ``pulumi refresh`` is the live view; an
    older one answers with what it saved."""
    if state is None:
        return {}
    # Every type is answered for: one the state does not hold is "not found", as in the cloud.
    found: dict[str, dict[str, dict[str, Any]]] = {token: {} for token in LIVE_READS}
    for resource in state.resources if isinstance(state, SavedState) else state:
        kinds = LIVE_READS.get(resource.type)
        if kinds is None:
            continue
        merged = {**(resource.inputs or {}), **(resource.outputs or {})}
        name = merged.get("name")
        if not isinstance(name, str):
            continue
        kept = {k: merged[k] for k, kind in kinds.items() if isinstance(merged.get(k), kind)}
        if "properties" in kept:
            traffic = kept["properties"].get("traffic")
            kept["properties"] = {"traffic": traffic} if isinstance(traffic, dict) else {}
        found[resource.type][name] = {"name": name, **kept}
    return found


def _service_revisions(resources: list[StateResource]) -> list[str]:
    """Revisions the state's Cloud Run services show (template, traffic, latest ready)."""
    found: list[str] = []
    for resource in resources:
        if resource.type != CLOUD_RUN_SERVICE:
            continue
        for bag in (resource.inputs, resource.outputs):
            template = bag.get("template")
            names = [template.get("revision") if isinstance(template, dict) else None]
            for key in ("trafficStatuses", "traffics"):
                entries = bag.get(key)
                if isinstance(entries, list):
                    names += [e.get("revision") for e in entries if isinstance(e, dict)]
            latest = bag.get("latestReadyRevision")
            names.append(latest.rsplit("/", 1)[-1] if isinstance(latest, str) else None)
            found += [n for n in names if isinstance(n, str) and n and n not in found]
    return found
