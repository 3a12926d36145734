"""The stack outputs file: what ``pulumi stack output --json > F`` writes.

A flat JSON object with snake_case keys (``kms_key_id``, ``endpoint_name``, ``alarm_names``…).
Every problem is one line naming the file and the key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlops_iac.cli import OpsError

_HINT = "write it with: pulumi stack output --json --show-secrets > F"


class Outputs:
    """Typed access to one outputs file."""

    def __init__(self, path: str | Path, values: dict[str, Any]) -> None:
        self.path = str(path)
        self.values = values

    def _value(self, key: str) -> Any:
        if key not in self.values or self.values[key] is None:
            raise OpsError(f"outputs file {self.path} has no {key!r} ({_HINT})")
        value = self.values[key]
        if value == "[secret]":
            raise OpsError(f"outputs file {self.path}: {key!r} is masked ({_HINT})")
        return value

    def has(self, key: str) -> bool:
        return self.values.get(key) not in (None, "")

    def string(self, key: str) -> str:
        """A non-empty string output."""
        value = self._value(key)
        if not isinstance(value, str) or not value:
            raise OpsError(f"outputs file {self.path}: {key!r} must be a non-empty string")
        return value

    def strings(self, key: str) -> list[str]:
        """A list-of-strings output."""
        value = self._value(key)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise OpsError(f"outputs file {self.path}: {key!r} must be a list of strings")
        return value

    def optional_string(self, key: str) -> str | None:
        return self.string(key) if self.has(key) else None


def load_outputs(path: str | Path) -> Outputs:
    """Read an outputs file; ``OpsError`` (exit 2, one line) when unreadable or malformed."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OpsError(f"outputs file {path} not found ({_HINT})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise OpsError(f"cannot read outputs file {path}: {exc}") from None
    try:
        values = json.loads(text)
    except json.JSONDecodeError as exc:
        raise OpsError(
            f"outputs file {path} is not valid JSON: {exc.msg} (line {exc.lineno})"
        ) from None
    if not isinstance(values, dict):
        raise OpsError(f"outputs file {path} must hold a JSON object ({_HINT})")
    return Outputs(path, values)
