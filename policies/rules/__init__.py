"""The pure governance rules, one module per area.

Nothing here constructs a ``PolicyPack`` (that starts a gRPC server): ``policies/__main__.py``
does, for the Pulumi CLI, and ``mlops_iac.policies.offline`` evaluates the same ``Policy`` objects
in-process.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from mlops_iac.spec import clouds

from . import (
    alarms,
    approval,
    cost,
    drift,
    dvc,
    generic,
    gpu,
    iam,
    images,
    kms,
    kubernetes,
    lineage,
    logs,
    network,
    protection,
    records,
    serving,
    storage,
    tracking,
)
from ._base import DEFAULT_LEVELS, LINEAGE_KEYS, Rule

RULES: tuple[Rule, ...] = (
    *storage.RULES,
    *kms.RULES,
    *lineage.RULES,
    *approval.RULES,
    *records.RULES,
    *serving.RULES,
    *network.RULES,
    *gpu.RULES,
    *cost.RULES,
    *alarms.RULES,
    *drift.RULES,
    *images.RULES,
    *logs.RULES,
    *iam.RULES,
    *dvc.RULES,
    *protection.RULES,
    *generic.RULES,
    *kubernetes.RULES,
    *tracking.RULES,
)

_TOKEN = re.compile(
    rf"^({'|'.join(map(re.escape, clouds.BY_PROVIDER))}):[A-Za-z0-9/]*:[A-Za-z0-9]+$"
)
_MODULES = (
    alarms, approval, drift, dvc, generic, gpu, iam, images, kms, lineage, logs, network,
    protection, records, serving, storage, tracking,
)  # fmt: skip


def named_types() -> frozenset[str]:
    """Every resource type token some rule names (canonical: rules see no other, see
    ``_base.canonical_type``)."""
    found: set[str] = set()
    for module in _MODULES:
        for value in vars(module).values():
            candidates: Iterable[Any]
            if isinstance(value, str):
                candidates = (value,)
            elif isinstance(value, Mapping):
                candidates = value.keys()
            elif isinstance(value, tuple | frozenset | set | list):
                candidates = value
            else:
                continue
            found.update(c for c in candidates if isinstance(c, str) and _TOKEN.match(c))
    return frozenset(found)


BY_NAME: dict[str, Rule] = {rule.name: rule for rule in RULES}
if len(BY_NAME) != len(RULES):  # pragma: no cover - a programming error caught at import
    raise RuntimeError("duplicate rule names")

__all__ = ["BY_NAME", "DEFAULT_LEVELS", "LINEAGE_KEYS", "RULES", "Rule", "named_types"]
