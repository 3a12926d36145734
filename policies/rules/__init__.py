"""The pure governance rules, one module per area.

Nothing here constructs a ``PolicyPack`` (that starts a gRPC server): ``policies/__main__.py``
does, for the Pulumi CLI, and ``mlops_iac.policies.offline`` evaluates the same ``Policy`` objects
in-process.
"""

from __future__ import annotations

from . import (
    alarms,
    approval,
    drift,
    gpu,
    iam,
    images,
    kms,
    lineage,
    logs,
    network,
    protection,
    serving,
    storage,
)
from ._base import DEFAULT_LEVELS, LINEAGE_KEYS, Rule

RULES: tuple[Rule, ...] = (
    *storage.RULES,
    *kms.RULES,
    *lineage.RULES,
    *approval.RULES,
    *serving.RULES,
    *network.RULES,
    *gpu.RULES,
    *alarms.RULES,
    *drift.RULES,
    *images.RULES,
    *logs.RULES,
    *iam.RULES,
    *protection.RULES,
)

BY_NAME: dict[str, Rule] = {rule.name: rule for rule in RULES}
if len(BY_NAME) != len(RULES):  # pragma: no cover - a programming error caught at import
    raise RuntimeError("duplicate rule names")

__all__ = ["BY_NAME", "DEFAULT_LEVELS", "LINEAGE_KEYS", "RULES", "Rule"]
