"""The boolean skeleton both condition languages share: Azure ABAC conditions and the subset of
CEL that IAM conditions on Google Cloud use. Each language gives its token pattern (with the
groups ``open``, ``close``, ``not``, ``and``, ``or``) and how one atom evaluates; ``not`` binds
tighter than ``and``, which binds tighter than ``or``, as in both languages."""

from __future__ import annotations

import re
from collections.abc import Callable


def evaluate(
    text: str,
    token: re.Pattern[str],
    atom: Callable[[re.Match[str]], bool],
    error: Callable[[str], Exception],
) -> bool:
    """``text`` read with ``token`` and evaluated; ``error(what)`` builds the exception raised
    for anything the grammar does not hold (the atom decides what an atom token means)."""
    tokens: list[re.Match[str]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = token.match(text, position)
        if match is None or match.end() == position:
            raise error(f"cannot read the condition at {text[position : position + 40]!r}")
        tokens.append(match)
        position = match.end()
        while position < len(text) and text[position].isspace():
            position += 1
    index = 0

    def peek(kind: str) -> bool:
        return index < len(tokens) and tokens[index].group(kind) is not None

    def disjunction() -> bool:
        nonlocal index
        result = conjunction()
        while peek("or"):
            index += 1
            right = conjunction()
            result = result or right
        return result

    def conjunction() -> bool:
        nonlocal index
        result = unary()
        while peek("and"):
            index += 1
            right = unary()
            result = result and right
        return result

    def unary() -> bool:
        nonlocal index
        if peek("not"):
            index += 1
            return not unary()
        if peek("open"):
            index += 1
            result = disjunction()
            if not peek("close"):
                raise error("unbalanced parentheses")
            index += 1
            return result
        if index >= len(tokens):
            raise error("condition ends early")
        index += 1
        return atom(tokens[index - 1])

    result = disjunction()
    if index != len(tokens):
        raise error(f"unexpected {tokens[index].group(0).strip()!r}")
    return result
