"""Errors of the stack file: :class:`SpecError`, and pydantic's errors turned into one line per
problem, each naming the key path (``mlops:platform.training.maxNodes: must be >= minNodes (2)``),
with a did-you-mean for an unknown key and the replacement of a retired one.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

from mlops_iac.spec.keys import ROOT
from mlops_iac.spec.stackyaml import printable


class SpecError(ValueError):
    """A stack file that does not validate. ``problems`` holds ``(key path, message)`` pairs."""

    def __init__(self, problems: Iterable[tuple[str, str]]) -> None:
        # Messages can quote the file's values: never echo escape sequences raw or 1 MB of text.
        self.problems: list[tuple[str, str]] = [
            (printable(path), printable(message, 300)) for path, message in problems
        ]
        super().__init__("\n".join(self.lines))

    @property
    def lines(self) -> list[str]:
        return [f"{path}: {message}" for path, message in self.problems]


def rule_error(problems: list[tuple[str, str]]) -> PydanticCustomError:
    """One validation error carrying several (relative key, message) problems.

    A model validator can raise only one error; ``format_errors`` expands this one into a line
    per problem so that a file with several cross-field mistakes reports them all.
    """
    return PydanticCustomError(
        "spec_rules",
        "; ".join(f"{key}: {msg}" for key, msg in problems),
        {"problems": problems},
    )


def loc_path(loc: Iterable[Any]) -> str:
    """``('training', 'maxNodes')`` → ``mlops:platform.training.maxNodes`` (indices as ``[0]``)."""
    path = ROOT
    for part in loc:
        index = isinstance(part, int) or (isinstance(part, str) and part.isdigit())
        path += f"[{part}]" if index else f".{part}"
    return path


def _model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that holds the key at ``loc`` (for did-you-mean on unknown keys)."""
    model: Any = root
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fields = {f.alias or name: f for name, f in model.model_fields.items()}
        field = fields.get(part)
        if field is None:
            return None
        candidates = [
            arg
            for arg in (getattr(field.annotation, "__args__", None) or (field.annotation,))
            if isinstance(arg, type) and issubclass(arg, BaseModel)
        ]
        if not candidates:
            list_args = getattr(field.annotation, "__args__", ())
            candidates = [a for a in list_args if isinstance(a, type) and issubclass(a, BaseModel)]
        if not candidates:
            return None
        model = candidates[0]
    return model


#: Keys that existed once: what replaced them.
_RETIRED_KEYS: dict[tuple[str, ...], str] = {
    ("governance", "maxWaiverDays"): "removed: the stack file's author must not set their own "
    "waiver cap; it is waivers.maxDays in governance/settings.yaml (platform owners); delete "
    "the key",
    ("gcp", "previousRevisionExists"): "removed: the Cloud Run split now follows what the "
    "stack's own last deployment served (its serving_revisions output); delete the key",
}


def _unknown_key_message(root: type[BaseModel], loc: tuple[Any, ...]) -> str:
    if retired := _RETIRED_KEYS.get(tuple(str(part) for part in loc)):
        return retired
    model = _model_at(root, loc)
    if model is None:
        return "unknown key"
    valid = [f.alias or name for name, f in model.model_fields.items()]
    close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key{hint} (valid keys: {', '.join(valid)})"


def format_errors(exc: ValidationError, root: type[BaseModel]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        if error["type"] == "spec_rules":
            for key, message in error["ctx"]["problems"]:
                problems.append((loc_path(loc + tuple(key.split("."))), message))
        elif error["type"] == "extra_forbidden":
            problems.append((loc_path(loc), _unknown_key_message(root, loc)))
        elif error["type"] == "missing":
            problems.append((loc_path(loc), "required key is missing"))
        else:
            message = error["msg"]
            if message.startswith("Value error, "):
                message = message[len("Value error, ") :]
            problems.append((loc_path(loc), message))
    return problems


_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def control_characters(value: Any, loc: tuple[Any, ...] = ()) -> list[tuple[str, str]]:
    """Strings holding control or bidi characters: no tag, name or URL needs them, and they
    are how a value hides from a reviewer (terminal escapes, right-to-left overrides)."""
    if isinstance(value, str):
        if _CONTROL_CHARS.search(value):
            return [(loc_path(loc), "control or bidi characters are not allowed")]
        return []
    if isinstance(value, Mapping):
        return [p for k, v in value.items() for p in control_characters(v, (*loc, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in control_characters(v, (*loc, i))]
    return []
