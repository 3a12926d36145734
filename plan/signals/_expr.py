"""A small expression language shared by CloudWatch metric math and the KQL subset.

Tokens: numbers, quoted strings ('…' or "…"), identifiers (dotted names allowed), parentheses,
commas and the operators ``+ - * / > < >= <= == != =~ && || AND OR``. Function calls are
looked up in the table the caller gives; identifiers in its environment. A value of ``None`` is
"no data" and makes arithmetic and comparisons ``None`` (CloudWatch: no datapoint at that time).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)|(?P<str>'[^']*'|\"[^\"]*\")"
    r"|(?P<op>>=|<=|==|!=|=~|&&|\|\||[-+*/()<>,])|(?P<name>[A-Za-z_][A-Za-z0-9_.]*))"
)


class ExprError(ValueError):
    """An expression outside the supported subset (the message names what)."""


@dataclass(frozen=True)
class Node:
    kind: str  # num, str, name, call, binop, neg
    value: Any = None
    args: tuple[Node, ...] = ()


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ExprError(f"unsupported syntax at {text[pos : pos + 20]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


_PRECEDENCE = {
    "||": 1,
    "OR": 1,
    "or": 1,
    "&&": 2,
    "AND": 2,
    "and": 2,
    ">": 3,
    "<": 3,
    ">=": 3,
    "<=": 3,
    "==": 3,
    "!=": 3,
    "=~": 3,
    "+": 4,
    "-": 4,
    "*": 5,
    "/": 5,
}


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise ExprError(f"{self.text!r}: expected {value or 'more'}")
        self.pos += 1
        return token

    def parse(self) -> Node:
        node = self.binary(0)
        if self.peek() is not None:
            raise ExprError(f"{self.text!r}: unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return node

    def binary(self, floor: int) -> Node:
        left = self.unary()
        while True:
            token = self.peek()
            if token is None or token[1] not in _PRECEDENCE or _PRECEDENCE[token[1]] <= floor:
                return left
            op = self.take()[1]
            right = self.binary(_PRECEDENCE[op])
            left = Node("binop", op.upper() if op.isalpha() else op, (left, right))

    def unary(self) -> Node:
        kind, value = self.take()
        if value == "-":
            return Node("neg", None, (self.unary(),))
        if value == "(":
            node = self.binary(0)
            self.take(")")
            return node
        if kind == "num":
            return Node("num", float(value))
        if kind == "str":
            return Node("str", value[1:-1])
        if kind == "name":
            if self.peek() == ("op", "("):
                self.take("(")
                args: list[Node] = []
                if self.peek() != ("op", ")"):
                    args.append(self.binary(0))
                    while self.peek() == ("op", ","):
                        self.take(",")
                        args.append(self.binary(0))
                self.take(")")
                return Node("call", value, tuple(args))
            return Node("name", value)
        raise ExprError(f"{self.text!r}: unexpected {value!r}")


def parse(text: str) -> Node:
    """The syntax tree of ``text`` (:class:`ExprError` outside the subset)."""
    return _Parser(text).parse()


def _compare(op: str, a: Any, b: Any) -> bool:
    if op == "=~":
        return str(a).lower() == str(b).lower()
    if op == "==":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    if op == ">":
        return bool(a > b)
    if op == "<":
        return bool(a < b)
    if op == ">=":
        return bool(a >= b)
    return bool(a <= b)


def evaluate(
    node: Node,
    env: Mapping[str, Any],
    functions: Mapping[str, Callable[..., Any]],
    lazy: frozenset[str] = frozenset(),
) -> Any:
    """The value of ``node``; calls named in ``lazy`` receive their argument nodes unevaluated
    (``countif``'s predicate is evaluated per row by the caller)."""
    if node.kind in ("num", "str"):
        return node.value
    if node.kind == "name":
        if node.value not in env:
            raise ExprError(f"unknown name {node.value!r}")
        return env[node.value]
    if node.kind == "neg":
        value = evaluate(node.args[0], env, functions, lazy)
        return None if value is None else -value
    if node.kind == "call":
        name = node.value
        function = functions.get(name) or functions.get(name.lower())
        if function is None:
            raise ExprError(f"unsupported function {name}()")
        if name in lazy or name.lower() in lazy:
            return function(*node.args)
        return function(*(evaluate(arg, env, functions, lazy) for arg in node.args))
    op = node.value
    a = evaluate(node.args[0], env, functions, lazy)
    b = evaluate(node.args[1], env, functions, lazy)
    if op in ("&&", "AND"):
        return None if a is None or b is None else bool(a) and bool(b)
    if op in ("||", "OR"):
        return None if a is None or b is None else bool(a) or bool(b)
    if a is None or b is None:
        return None
    if op in _PRECEDENCE and _PRECEDENCE[op] == 3:
        return _compare(op, a, b)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        return None  # metric math and KQL both give no number for x / 0
    return a / b
