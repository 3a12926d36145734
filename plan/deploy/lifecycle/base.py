"""The lifecycle rules' registry and the helpers every cloud's rules share.

A rule module (``gcp``, ``azure``, ``aws``) imports this module, never the package (which imports
them to register their rules).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from mlops_iac.plan.deploy.base import DeployError, Report
from mlops_iac.plan.deploy.state import StateResource

Rule = Callable[[list[Any], list[StateResource], Mapping[str, Any]], Iterable[DeployError]]
RULES: dict[str, tuple[str, Rule]] = {}
"""Rule id → (source URL, check)."""


def rule(rule_id: str, source: str) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        RULES[rule_id] = (source, fn)
        return fn

    return register


class _Indexed(list):
    """The plan's resources, indexed by type once (every rule looks resources up by type)."""

    def __init__(self, resources: Iterable[Any]) -> None:
        super().__init__(resources)
        self.by_type: dict[str, list[Any]] = {}
        for resource in self:
            self.by_type.setdefault(resource.type, []).append(resource)


def check(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any], report: Report
) -> None:
    indexed = _Indexed(resources)
    for _, fn in RULES.values():
        report.errors.extend(fn(indexed, state, config))


def of(resources: Iterable[Any], type_token: str) -> list[Any]:
    if isinstance(resources, _Indexed):
        return resources.by_type.get(type_token, [])
    return [r for r in resources if r.type == type_token]


def get(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, Mapping):
            return None
        data = data.get(part)
    return data


def today(config: Mapping[str, Any]) -> dt.date:
    """Planning date (``mlops-iac:today`` in config pins it in tests)."""
    pinned = config.get("mlops-iac:today")
    return dt.date.fromisoformat(str(pinned)) if pinned else dt.date.today()


def rolled_back(sources: Iterable[Mapping[str, Any]], *keys: str) -> dict[str, Any] | None:
    """The rollout function's record (``mlops_iac.drift.rollout``) under the first of ``keys``
    (``tags``, ``annotations``, …) of ``sources`` that holds one, when it says "rolled back"."""
    from mlops_iac.drift.rollout import RECORD_KEY, ROLLED_BACK, read_record

    for source in sources:
        for key in keys:
            held = source.get(key) if isinstance(source, Mapping) else None
            if isinstance(held, Mapping) and held.get(RECORD_KEY):
                record = read_record(str(held[RECORD_KEY]))
                return record if record and record.get("state") == ROLLED_BACK else None
    return None


def rolled_back_message(record: Mapping[str, Any], share: Any) -> str:
    """What a plan says when it would give a rolled-back version traffic again."""
    return (
        f"the rollout function rolled {record.get('new')} back at {record.get('at')} "
        f"({record.get('why')}); this update would send it {share}% of traffic again. Set "
        "serving.rollback: true to keep serving the previous version, or fix the model and "
        "roll out a new version"
    )
