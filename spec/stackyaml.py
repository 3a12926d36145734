"""The one loader for stack files: bounded, strict and with one-line errors.

A stack file is untrusted input (anyone who opens a pull request edits one), so it is read with
limits *before* anything else looks at it: ``mlops-iac plan``, the day-2 commands and the offline
engine all call :func:`load`. It refuses, each with one line naming the line number:

- a file over :data:`MAX_BYTES` or not UTF-8;
- nesting deeper than :data:`MAX_DEPTH` (a 1,000-level file would exhaust Python's stack);
- more than :data:`MAX_ALIASES` aliases, an alias expansion over :data:`MAX_NODES` nodes (the
  "billion laughs" bomb is 1 KB on disk and billions of nodes once expanded) and recursive aliases;
- duplicate keys anywhere (YAML loaders silently keep the last one: ``environment: prod`` then
  ``environment: dev`` would plan as dev), naming both lines;
- merge keys (``<<: *base``): a merge overrides keys without the duplicate check seeing them;
- two config keys that are one key to the Pulumi CLI (``platform`` and ``mlops:platform`` in
  project ``mlops``, ``mlops:config:platform`` and ``mlops:platform``, or spellings that differ
  only in case), naming both lines: see :func:`config_key`;
- keys that are not strings (Pulumi config is JSON: ``1:`` or ``true:`` cannot be a key);
- explicit tags other than the core schema (``!!binary``, ``!!python/…``, ``!custom``).

Scanning and parsing run in libyaml when available; composition is ours, so the limits hold while
the document is built, before any value is constructed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

try:  # libyaml scans in C; the pure-Python parser is the fallback
    from yaml.cyaml import CParser as _Parser
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml.parser import Parser as _Parser  # type: ignore[assignment]

MAX_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 64
MAX_ALIASES = 256
MAX_NODES = 200_000
MAX_ECHO = 120
"""Longest value text echoed back in an error (a 1 MB value is shown truncated)."""
MAX_PATH = 4096
"""Longest key path :meth:`KeyLines.locate` considers."""

_CORE = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {
    _CORE + t for t in ("str", "int", "float", "bool", "null", "timestamp", "seq", "map")
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class StackYamlError(ValueError):
    """A stack file refused by the loader; ``str()`` is one printable line."""


def printable(text: object, limit: int = MAX_ECHO) -> str:
    """``text`` safe to echo on a terminal: control and bidi characters escaped, length capped.

    Terminal escape sequences in a stack file must never reach the reviewer's terminal raw (they
    can rewrite what was printed before), and a 1 MB value must not flood a CI log.
    """
    raw = str(text)
    shown = raw[:limit]
    escaped = _CONTROL.sub(_escape, shown)
    if len(raw) > limit:
        escaped += f"… ({len(raw) - limit} more characters)"
    return escaped


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _line(node_or_mark: Any) -> int:
    mark = getattr(node_or_mark, "start_mark", node_or_mark)
    return int(getattr(mark, "line", -1)) + 1


class _BoundedComposer(Composer):
    """PyYAML's composer with depth, alias and key checks applied as nodes are built."""

    def __init__(self) -> None:
        super().__init__()
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:  # type: ignore[override]
        if self.check_event(AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                event = self.peek_event()
                raise StackYamlError(
                    f"more than {MAX_ALIASES} aliases (line {_line(event)}); "
                    "write the values out instead"
                )
            return super().compose_node(parent, index)
        event = self.peek_event()
        tag = getattr(event, "tag", None)
        if tag not in (None, "!") and _expand(tag) not in _ALLOWED_TAGS:
            raise StackYamlError(
                f"line {_line(event)}: tag {printable(tag)} is not allowed in a stack file"
            )
        if isinstance(event, MappingStartEvent | SequenceStartEvent):
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise StackYamlError(f"line {_line(event)}: nested deeper than {MAX_DEPTH} levels")
            try:
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1
        return super().compose_node(parent, index)

    def compose_mapping_node(self, anchor: str | None) -> MappingNode:  # type: ignore[override]
        node = super().compose_mapping_node(anchor)
        seen: dict[str, int] = {}
        for key, _ in node.value:
            if isinstance(key, ScalarNode) and (key.tag == _CORE + "merge" or key.value == "<<"):
                raise StackYamlError(
                    f"line {_line(key)}: YAML merge keys (<<) are not allowed in a stack file "
                    "(a merge can override a key unseen); write the keys out"
                )
            if not isinstance(key, ScalarNode) or key.tag != _CORE + "str":
                text = key.value if isinstance(key, ScalarNode) else "a collection"
                raise StackYamlError(
                    f"line {_line(key)}: key {printable(text)} is not a string "
                    "(quote it: config keys are text)"
                )
            if key.value in seen:
                raise StackYamlError(
                    f"duplicate key {printable(key.value)!s} at lines {seen[key.value]} and "
                    f"{_line(key)} (a YAML loader would silently keep the last one)"
                )
            seen[key.value] = _line(key)
        return node


def _expand(tag: str) -> str:
    return _CORE + tag[2:] if tag.startswith("!!") else tag


class _Loader(_BoundedComposer, _Parser, SafeConstructor, Resolver):  # type: ignore[misc]
    def __init__(self, text: str) -> None:
        _Parser.__init__(self, text)
        _BoundedComposer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            if isinstance(exc, StackYamlError | yaml.YAMLError):
                raise
            # int("9" * 5000) and out-of-range dates fail here: name the line.
            problem = printable(exc)
            raise StackYamlError(f"line {_line(node)}: value cannot be read: {problem}") from None


def _check_expansion(root: Node) -> None:
    """Refuse recursive aliases and documents whose aliases expand past ``MAX_NODES`` nodes."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise StackYamlError(f"line {_line(node)}: recursive alias (a value contains itself)")
        active.add(key)
        total = 1
        if isinstance(node, MappingNode):
            for k, v in node.value:
                total += size(k) + size(v)
                if total > MAX_NODES:
                    break
        elif isinstance(node, SequenceNode):
            for item in node.value:
                total += size(item)
                if total > MAX_NODES:
                    break
        active.discard(key)
        if total > MAX_NODES:
            raise StackYamlError(
                f"line {_line(node)}: aliases expand to more than {MAX_NODES:,} values "
                "(an alias bomb?)"
            )
        sizes[key] = total
        return total

    size(root)


def config_key(key: str, project: str | None = None) -> str:
    """The full config key the Pulumi CLI reads a stack file's ``key`` as.

    ``<namespace>:config:<name>`` is the old spelling of ``<namespace>:<name>``, and a key without
    a namespace is the project's (``platform`` in project ``mlops`` is ``mlops:platform``).
    """
    parts = key.split(":")
    if len(parts) == 3 and parts[1] == "config":
        return f"{parts[0]}:{parts[2]}"
    if len(parts) == 1 and project:
        return f"{project}:{key}"
    return key


def _check_config_keys(root: Node, project: str | None) -> None:
    """Refuse two keys under ``config`` that are one full key (see :func:`config_key`).

    The engine would silently keep one of them, so ``platform: {environment: dev}`` beside
    ``mlops:platform`` could decide what a program and a plan see. Case variants are refused
    too: no reader should have to guess whether ``MLOPS:platform`` is ``mlops:platform``.
    """
    if not isinstance(root, MappingNode):
        return
    config = next(
        (v for k, v in root.value if isinstance(k, ScalarNode) and k.value == "config"), None
    )
    if not isinstance(config, MappingNode):
        return
    seen: dict[str, ScalarNode] = {}
    for key, _ in config.value:
        if not isinstance(key, ScalarNode):
            continue
        full = config_key(key.value, project).casefold()
        if full in seen:
            first = seen[full]
            raise StackYamlError(
                f"config keys {printable(first.value)} (line {_line(first)}) and "
                f"{printable(key.value)} (line {_line(key)}) are the same key "
                f"{printable(config_key(first.value, project))}; keep one"
            )
        seen[full] = key


def load(source: str | bytes, project: str | None = None) -> Any:
    """Load one stack file's text with every limit above; ``StackYamlError`` on refusal.

    ``project`` is the program's name (``Pulumi.yaml``), which a key without a namespace takes.
    """
    if isinstance(source, bytes):
        if len(source) > MAX_BYTES:
            raise StackYamlError(f"file is {len(source):,} bytes; the limit is {MAX_BYTES:,}")
        try:
            text = source.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise StackYamlError(f"not UTF-8 text (byte {exc.start})") from None
    else:
        text = source
        if len(text) > MAX_BYTES:
            raise StackYamlError(f"file is {len(text):,} characters; the limit is {MAX_BYTES:,}")
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node)
        _check_config_keys(node, project)
        return loader.construct_document(node)
    except StackYamlError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise StackYamlError(f"not valid YAML: {printable(problem)}{where}") from None
    except yaml.YAMLError as exc:
        raise StackYamlError(f"not valid YAML: {printable(str(exc).splitlines()[0])}") from None
    except (ValueError, OverflowError, RecursionError) as exc:
        # int("9" * 5000) and timestamps out of range fail in the constructor.
        raise StackYamlError(f"a value cannot be read: {printable(exc)}") from None
    finally:
        loader.dispose()


# --- where each key is: findings about the stack configuration point at its line -------------


@dataclass(frozen=True)
class KeyLines:
    """Where each key path under a stack file's ``config`` starts: ``(line, column)``, 1-based.

    Paths are spelled as the spec validator and the pack spell them (``components.spec``):
    ``mlops:platform.governance.approvals[0].approvedBy``; a top-level key without a namespace
    gets the project's (as the Pulumi CLI does). Columns count UTF-16 code units, SARIF's default
    ``columnKind``. A path that is not in the file (a key left out, a value inside an alias)
    resolves to its nearest enclosing key that is.
    """

    positions: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: str) -> tuple[int, int] | None:
        """The position of ``path``, else of its longest prefix in the file, else ``None``."""
        if not path or not self.positions:
            return None
        # Paths can come from finding text: cut a hostile one short (every key in a stack file
        # fits, and prefix lookups below copy the path once per separator).
        path = path[:MAX_PATH]
        if path in self.positions:
            return self.positions[path]
        # Cut at every separator from the right: a key that itself holds "." or "[" is tried
        # whole as well as split, so the nearest spelling that exists wins.
        for end in range(len(path) - 1, 0, -1):
            if path[end] in ".[" and path[:end] in self.positions:
                return self.positions[path[:end]]
        return None


def key_lines(source: str | bytes, project: str | None = None) -> KeyLines:
    """The :class:`KeyLines` of one stack file, for reports about a file :func:`load` accepted.

    Built once per file from the parser's events, without composing or constructing anything:
    an alias is a leaf (its anchor's subtree is mapped once, where it is written), so an alias
    bomb costs no more than its text. Never raises: a file that cannot be parsed, is too large
    or too deep has no positions (``load`` names the problem).
    """
    try:
        text = source.decode("utf-8") if isinstance(source, bytes) else source
    except UnicodeDecodeError:
        return KeyLines()
    if len(text) > MAX_BYTES:
        return KeyLines()
    parser = _Parser(text)
    positions: dict[str, tuple[int, int]] = {}
    frames: list[_Frame] = []
    try:
        while True:
            event = parser.get_event()
            if isinstance(event, MappingEndEvent | SequenceEndEvent):
                frames.pop()
            elif isinstance(event, MappingStartEvent | SequenceStartEvent):
                path = _slot(frames, event, positions, text, project)
                if len(frames) >= MAX_DEPTH:
                    return KeyLines()
                frames.append(_Frame(isinstance(event, MappingStartEvent), path))
            elif isinstance(event, ScalarEvent | AliasEvent):
                _slot(frames, event, positions, text, project)
            elif isinstance(event, DocumentEndEvent | StreamEndEvent):
                break
    except (yaml.YAMLError, ValueError):
        return KeyLines()
    finally:
        parser.dispose()
    return KeyLines(positions)


_CONFIG = "\x00config"
"""The path of the root's ``config`` mapping (its children's paths start afresh)."""


@dataclass
class _Frame:
    """An open mapping or sequence while the events stream past."""

    mapping: bool
    path: str | None
    """``None``: not under ``config`` (or inside a complex key), so nothing below is mapped."""
    index: int = 0
    expect_key: bool = True
    pending: str | None = None


def _slot(
    frames: list[_Frame],
    event: Any,
    positions: dict[str, tuple[int, int]],
    text: str,
    project: str | None,
) -> str | None:
    """Place one node event in its parent: record a key's or an item's position and return the
    path of the node (``None`` when the node is a key or is not mapped)."""
    if not frames:
        return ""  # the document's root
    frame = frames[-1]
    if not frame.mapping:
        index, frame.index = frame.index, frame.index + 1
        if frame.path is None or frame.path == "":
            return None
        path = f"{frame.path}[{index}]"
        positions.setdefault(path, _position(event, text))
        return path
    if not frame.expect_key:
        frame.expect_key = True
        return frame.pending
    frame.expect_key = False
    frame.pending = None
    if frame.path is None or not isinstance(event, ScalarEvent):
        return None  # a complex or aliased key (load() refuses it): nothing below is mapped
    key = event.value
    if frame.path == "":
        frame.pending = _CONFIG if key == "config" else None
        return None
    if frame.path == _CONFIG:
        path = config_key(key, project)
    else:
        path = frame.path + (f"[{key}]" if key.isdigit() else f".{key}")
    # The first spelling wins: a key "a.b" and a nested a: {b: …} look alike.
    positions.setdefault(path, _position(event, text))
    frame.pending = path
    return None


def _position(node_or_event: Any, text: str) -> tuple[int, int]:
    mark = node_or_event.start_mark
    line, column, index = int(mark.line), int(mark.column), int(mark.index)
    prefix = text[max(index - column, 0) : index]
    # SARIF counts UTF-16 code units; libyaml counts characters (differs past the BMP).
    return line + 1, len(prefix.encode("utf-16-le")) // 2 + 1
