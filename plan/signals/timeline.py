"""An alarm's or alert's state over time: what every evaluator returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Timeline:
    """States at evaluation times; ``firing`` is the state that notifies (ALARM, OPEN, FIRED)."""

    quiet: str
    firing: str
    points: list[tuple[float, str, Any]] = field(default_factory=list)

    def append(self, t: float, state: str, value: Any = None) -> None:
        self.points.append((t, state, value))

    @property
    def fired(self) -> bool:
        """The alarm/alert was in its firing state at least once."""
        return any(state == self.firing for _, state, _ in self.points)

    def first_fired(self) -> float | None:
        """When it first fired (seconds), or ``None``."""
        return next((t for t, state, _ in self.points if state == self.firing), None)

    def states(self) -> list[str]:
        return [state for _, state, _ in self.points]

    def at(self, t: float) -> str | None:
        """The state of the last evaluation at or before ``t``."""
        state = None
        for when, value, _ in self.points:
            if when > t:
                break
            state = value
        return state

    def __repr__(self) -> str:
        changes = []
        last = None
        for t, state, value in self.points:
            if state != last:
                changes.append(f"{t:g}s:{state}({value!r})")
                last = state
        return f"Timeline({', '.join(changes)})"
