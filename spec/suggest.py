"""Did-you-mean for a mistyped name (a region, an instance type): the nearest known name."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(value: str, names: Iterable[str]) -> str | None:
    """The name nearest to ``value`` by edits, a swap of two neighbours counting as one edit
    (``us-esat-1`` is ``us-east-1``, not ``us-west-1`` as difflib's ratio alone would say); ties
    go to difflib's ratio. ``None`` when the nearest needs more than a third of the letters.
    """
    best: tuple[int, float, str] | None = None
    for name in names:
        distance = _edits(value, name)
        ratio = difflib.SequenceMatcher(None, value, name).ratio()
        if best is None or (distance, -ratio) < best[:2]:
            best = (distance, -ratio, name)
    if best is None or best[0] > max(1, len(value) // 3):
        return None
    return best[2]


def _edits(a: str, b: str) -> int:
    """Optimal string alignment distance (insert, delete, substitute, swap neighbours)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], previous2[j - 2] + 1)
        previous2, previous = previous, row
    return previous[-1]
