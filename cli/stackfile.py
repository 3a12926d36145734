"""Read, validate and edit ``stacks/Pulumi.<stack>.yaml`` without disturbing anything else.

Edits are text splices, not a re-dump: ruamel.yaml composes the file into nodes that carry exact
positions, the edit inserts or replaces text at one place, and every other byte (comments, key
order, quoting, indentation, line endings) stays as it was. Each edit is then checked: the edited
file must load to exactly the old data plus the intended change, and must still validate with
``mlops_iac.components.spec``; otherwise nothing is written. Writes are atomic (temp file in the
same
directory, fsync, ``os.replace``), so a crash leaves either the old file or the new one.
"""

from __future__ import annotations

import contextlib
import copy
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mlops_iac.cli import EXIT_FAILED, OpsError
from mlops_iac.spec import stackyaml
from mlops_iac.spec.clouds import Cloud
from mlops_iac.spec.errors import SpecError
from mlops_iac.spec.keys import ROOT
from mlops_iac.spec.models import PlatformSpec, TeamGovernance
from mlops_iac.spec.parse import (
    StackKind,
    is_team_governance,
    parse_spec,
    parse_team_governance,
    reveal_secure,
)

_STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
# Values that may be written as plain YAML scalars (anything else is double-quoted).
_PLAIN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_@.:/+-]*$")


@dataclass(frozen=True)
class StackFile:
    """One stack file as read from disk: exact text, plain data and the validated spec."""

    stack: str
    path: Path
    display: str
    raw: bytes
    text: str
    data: dict[str, Any]
    governed: PlatformSpec | TeamGovernance
    """The validated object: ``PlatformSpec`` for a platform stack file, ``TeamStackSpec`` for a
    team one (``kind``)."""

    @property
    def kind(self) -> StackKind:
        """``platform`` (has ``serving``) or ``team`` (the governance keys only)."""
        return "platform" if isinstance(self.governed, PlatformSpec) else "team"

    @property
    def spec(self) -> PlatformSpec:
        """The platform spec; ``OpsError`` naming the kind and what it lacks for a team file."""
        if isinstance(self.governed, PlatformSpec):
            return self.governed
        raise OpsError(
            f"{self.display} is a team stack file (no serving); this command needs a platform "
            "stack file (cloud, serving, ...)"
        )

    @property
    def cloud(self) -> Cloud:
        """The stack's cloud; ``OpsError`` for a team stack file that does not name one."""
        if self.governed.cloud is None:
            raise OpsError(
                f"{self.display} is a team stack file without cloud; add cloud: aws|azure|gcp"
            )
        return self.governed.cloud

    @property
    def config(self) -> dict[str, Any]:
        return self.data["config"]

    @property
    def aws_region(self) -> str | None:
        """``aws:region`` from the stack config, if set."""
        region = self.config.get("aws:region")
        return region if isinstance(region, str) else None


def stack_file_name(stack: str) -> str:
    """``Pulumi.<stack>.yaml``; a fully-qualified ``org/project/stack`` uses its last part."""
    return f"Pulumi.{stack.rsplit('/', 1)[-1]}.yaml"


def stack_config_dir(project: str | Path) -> Path:
    """Where the project's stack files live, found the way ``plan`` (and the Pulumi CLI) does.

    ``Pulumi.yaml``'s ``stackConfigDir`` when set, else the project directory itself; a directory
    without ``Pulumi.yaml`` keeps its files under ``stacks/`` (this repository's layout).
    """
    root = Path(project)
    data = _manifest(project)
    if data is None:
        return root / "stacks"
    configured = data.get("stackConfigDir")
    if configured is not None and not isinstance(configured, str):
        raise OpsError(f"{root / 'Pulumi.yaml'}: stackConfigDir must be a path")
    return root / configured if configured else root


def _manifest(project: str | Path) -> dict[str, Any] | None:
    """The project's ``Pulumi.yaml`` as data, ``None`` without one; ``OpsError`` if unreadable."""
    manifest = Path(project) / "Pulumi.yaml"
    if not manifest.is_file():
        return None
    try:
        data = stackyaml.load(manifest.read_bytes())
    except (OSError, stackyaml.StackYamlError) as exc:
        raise OpsError(f"{manifest}: {exc}") from None
    return data if isinstance(data, dict) else {}


def project_name(project: str | Path) -> str | None:
    """The program's name from ``Pulumi.yaml`` (what a key without a namespace belongs to)."""
    name = (_manifest(project) or {}).get("name")
    return name if isinstance(name, str) and name else None


def known_stacks(project: str | Path) -> list[str]:
    """Stack names that have a stack file in the project's stack config directory."""
    stacks_dir = stack_config_dir(project)
    names = (p.name[len("Pulumi.") : -len(".yaml")] for p in stacks_dir.glob("Pulumi.*.yaml"))
    return sorted(n for n in names if n)


def _display(project: str | Path, stack: str) -> str:
    path = stack_config_dir(project) / stack_file_name(stack)
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path(".")))
    return str(path)


def locate(project: str | Path, stack: str) -> Path:
    """The stack file's path, or ``OpsError`` naming the stacks that do exist."""
    short = stack.rsplit("/", 1)[-1]
    path = stack_config_dir(project) / stack_file_name(stack)
    if not _STACK_NAME.match(short) or not path.is_file():
        known = ", ".join(known_stacks(project)) or "none"
        raise OpsError(f"no stack file {_display(project, stack)} (known stacks: {known})")
    return path


def _safe_yaml() -> YAML:
    return YAML(typ="safe", pure=True)


def _parse(
    display: str, text: str, project: str | None = None
) -> tuple[dict[str, Any], PlatformSpec | TeamGovernance]:
    """Plain data and validated spec of a stack file's text, or ``OpsError`` (one line).

    ``project``: the program's name, so ``platform`` beside ``mlops:platform`` in project
    ``mlops`` is refused as the one key it is (``stackyaml.config_key``).
    """
    try:
        data = stackyaml.load(text, project=project)
    except stackyaml.StackYamlError as exc:
        raise OpsError(f"{display}: {exc}") from None
    config = data.get("config") if isinstance(data, dict) else None
    if not isinstance(config, dict) or ROOT not in config:
        raise OpsError(f"{display} has no config: {ROOT} object")
    raw = config[ROOT]
    try:
        spec: PlatformSpec | TeamGovernance = (
            parse_team_governance(reveal_secure(raw))
            if is_team_governance(raw)
            else parse_spec(reveal_secure(raw))
        )
    except SpecError as exc:
        kind = "team" if is_team_governance(raw) else "platform"
        raise OpsError(
            f"{display} (a {kind} stack file) is invalid: {'; '.join(exc.lines)}"
        ) from None
    return data, spec


def load(project: str | Path, stack: str) -> StackFile:
    """Read and validate a stack file. Every problem is an ``OpsError`` with one line."""
    path = locate(project, stack)
    display = _display(project, stack)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise OpsError(f"{display} is not UTF-8 text") from None
    data, spec = _parse(display, text, project_name(project))
    return StackFile(stack, path, display, raw, text, data, spec)


def write_atomic(path: Path, data: bytes, *, expected: bytes | None = None) -> None:
    """Replace the stack file ``path`` with ``data`` atomically, keeping its permissions; a
    symlinked stack file (or directory) is refused, never written through
    (:func:`mlops_iac.cli.nofollow.write_atomic`). With ``expected``, refuse (exit 1) when the
    file changed on disk since it was read, so two concurrent edits cannot drop one another."""
    from mlops_iac.cli import nofollow  # nofollow imports this package's errors, not stackfile

    nofollow.write_atomic(path, data, expected=expected)


# --- text splicing ------------------------------------------------------------------------------


def scalar(value: str | bool | int) -> str:
    """A YAML scalar that loads back as exactly ``value`` (plain when safe, else double-quoted)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if _PLAIN.match(value) and _loads_back_plain(value):
        return value
    return quoted(value)


def _loads_back_plain(value: str) -> bool:
    # Some plain-looking strings do not even parse ("0:" reads as a nested mapping key).
    try:
        return _safe_yaml().load(f"k: {value}") == {"k": value}
    except YAMLError:
        return False


def quoted(value: str) -> str:
    """A double-quoted YAML scalar that loads back as exactly ``value``.

    Not ``json.dumps``: YAML does not join JSON's surrogate pairs, folds raw NEL/LS/PS as line
    breaks and refuses raw control and non-characters, so those are escaped one code point at a
    time (every code point round-trips).
    """
    out = []
    for char in value:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif code < 0x20 or 0x7F <= code <= 0x9F:
            out.append(f"\\x{code:02x}")
        elif code in (0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF) or 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _get(node: Node, key: str) -> tuple[Node, Node] | None:
    if not isinstance(node, MappingNode):
        return None
    for key_node, value_node in node.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            return key_node, value_node
    return None


def _walk(root: Node, keys: list[str]) -> Node | None:
    node: Node | None = root
    for key in keys:
        pair = _get(node, key) if node is not None else None
        if pair is None:
            return None
        node = pair[1]
    return node


def _descendants(node: Node) -> Iterator[Node]:
    yield node
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            yield from _descendants(key_node)
            yield from _descendants(value_node)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            yield from _descendants(item)


def _end(node: Node) -> int:
    """Index just past the last character of ``node``'s own text.

    Block collections end where the next token starts (after comments and blank lines that belong
    to what follows), so their end is taken from the last scalar or flow collection inside them.
    """
    ends = [
        n.end_mark.index
        for n in _descendants(node)
        if isinstance(n, ScalarNode) or getattr(n, "flow_style", False)
    ]
    return max(ends) if ends else node.end_mark.index


def _line_after(text: str, index: int) -> int:
    """Start of the line after the one holding ``index`` (keeps a trailing comment on its line)."""
    if index > 0 and text[index - 1] == "\n":
        return index
    newline = text.find("\n", index)
    return len(text) if newline < 0 else newline + 1


def _insert_lines(text: str, index: int, lines: list[str]) -> str:
    newline = "\r\n" if "\r\n" in text else "\n"
    position = _line_after(text, index)
    block = newline.join(lines) + newline
    if position == len(text) and text and not text.endswith("\n"):
        block = newline + block
    return text[:position] + block + text[position:]


def _flow_mapping(pairs: list[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{key}: {value}" for key, value in pairs) + "}"


def flow_mapping(pairs: list[tuple[str, str]]) -> str:
    """A one-line ``{key: value, …}`` of (key, rendered scalar) pairs."""
    return _flow_mapping(pairs)


def compose(text: str) -> Node:
    """The node tree of ``text`` with exact positions (for a second splice in one edit)."""
    return YAML(typ="rt").compose(text)


def _block_item(pairs: list[tuple[str, str]], dash_col: int, key_col: int) -> list[str]:
    key_col = max(key_col, dash_col + 2)
    first = " " * dash_col + "-" + " " * (key_col - dash_col - 1)
    return [(first if i == 0 else " " * key_col) + f"{k}: {v}" for i, (k, v) in enumerate(pairs)]


def _block_key_col(mapping: MappingNode) -> int:
    return mapping.value[0][0].start_mark.column


def append_to_sequence(
    text: str,
    root: Node,
    mapping_keys: list[str],
    key: str,
    item: list[tuple[str, str]],
    *,
    after: str | None = None,
) -> str:
    """Append the mapping ``item`` to the sequence at ``mapping_keys + [key]``, creating it.

    ``item`` is (key, rendered scalar) pairs. The new item copies the layout of the sequence's
    existing items (or of a sibling sequence when it has to create the key). A new key goes right
    after the sibling ``after`` when present, else at the end of the mapping.
    """
    parent = _walk(root, mapping_keys)
    if not isinstance(parent, MappingNode):
        raise OpsError(f"cannot edit: {'.'.join(mapping_keys)} is not a mapping", EXIT_FAILED)
    pair = _get(parent, key)
    if pair is not None and isinstance(pair[1], SequenceNode):
        seq = pair[1]
        if seq.flow_style:
            if seq.value:
                at = _end(seq.value[-1])
                return text[:at] + ", " + _flow_mapping(item) + text[at:]
            at = seq.start_mark.index + 1  # just inside "["
            return text[:at] + _flow_mapping(item) + text[at:]
        dash_col = seq.start_mark.column
        first = seq.value[0]
        key_col = (
            _block_key_col(first)
            if isinstance(first, MappingNode) and not first.flow_style and first.value
            else dash_col + 2
        )
        return _insert_lines(text, _end(seq), _block_item(item, dash_col, key_col))
    if pair is not None:
        raise OpsError(f"cannot edit: {key} is not a list", EXIT_FAILED)
    # The key is missing: add it to the parent mapping.
    anchor = _get(parent, after) if after else None
    if parent.flow_style:
        if not parent.value:
            at = parent.start_mark.index + 1  # just inside "{"
            return text[:at] + f"{key}: [{_flow_mapping(item)}]" + text[at:]
        at = _end(anchor[1] if anchor else parent.value[-1][1])
        return text[:at] + f", {key}: [{_flow_mapping(item)}]" + text[at:]
    key_col = _block_key_col(parent)
    dash_col = key_col + 2
    for _, sibling in parent.value:  # copy the indentation style of a sibling block sequence
        if isinstance(sibling, SequenceNode) and not sibling.flow_style and sibling.value:
            dash_col = sibling.start_mark.column
            break
    lines = [" " * key_col + f"{key}:", *_block_item(item, dash_col, dash_col + 2)]
    return _insert_lines(text, _end(anchor[1]) if anchor else _end(parent), lines)


def set_scalar(
    text: str, root: Node, mapping_keys: list[str], key: str, value: str, *, after: str | None
) -> str:
    """Set ``mapping_keys + [key]`` to the rendered scalar ``value``, adding the key if missing.

    A new key goes right after the sibling ``after`` when present, else at the end of the mapping.
    """
    parent = _walk(root, mapping_keys)
    if not isinstance(parent, MappingNode):
        raise OpsError(f"cannot edit: {'.'.join(mapping_keys)} is not a mapping", EXIT_FAILED)
    pair = _get(parent, key)
    if pair is not None:
        node = pair[1]
        if not isinstance(node, ScalarNode) or node.end_mark.index <= node.start_mark.index:
            raise OpsError(f"cannot edit: {key} is not a simple value", EXIT_FAILED)
        return text[: node.start_mark.index] + value + text[node.end_mark.index :]
    anchor = _get(parent, after) if after else None
    if parent.flow_style:
        if not parent.value:
            at = parent.start_mark.index + 1
            return text[:at] + f"{key}: {value}" + text[at:]
        at = _end(anchor[1] if anchor else parent.value[-1][1])
        return text[:at] + f", {key}: {value}" + text[at:]
    end = _end(anchor[1]) if anchor else _end(parent)
    return _insert_lines(text, end, [" " * _block_key_col(parent) + f"{key}: {value}"])


def edit(
    sf: StackFile, splice: Callable[[str, Node], str], change: Callable[[dict[str, Any]], None]
) -> bytes:
    """Apply a text ``splice`` and prove it made exactly ``change`` to the data.

    Returns the new file content. Raises ``OpsError``: exit 2 when the result would not validate
    (the spec's one-line message names the key), exit 1 when the splice did not produce the
    intended data (an unusual layout; nothing is written).
    """
    try:
        root = YAML(typ="rt").compose(sf.text)
    except YAMLError as exc:  # pragma: no cover - the file was already loaded once
        raise OpsError(f"{sf.display} is not valid YAML: {exc}") from None
    new_text = splice(sf.text, root)
    expected = copy.deepcopy(sf.data)
    change(expected["config"][ROOT])
    try:
        data, _ = _parse(sf.display, new_text)
    except OpsError as exc:
        raise OpsError(f"refusing to write: {exc}") from None
    if data != expected:
        raise OpsError(
            f"could not edit {sf.display} safely (unusual layout); make the change by hand",
            EXIT_FAILED,
        )
    return new_text.encode("utf-8")
