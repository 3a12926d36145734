"""Names the stack file, the components, the pack and the plan engine all spell: defined once.

- :data:`ROOT` is the stack config key that holds the platform object (``mlops:platform``),
  :data:`CONFIG_NAMESPACE` and :data:`CONFIG_KEY` its two halves as ``pulumi.Config`` takes them.
- :data:`LINEAGE_PREFIX` and :data:`LINEAGE_KEYS`: the lineage tags every taggable resource
  carries (``mlops:project`` … on AWS and Azure, ``mlops-project`` … as GCP labels), and
  :data:`SERVING_LINEAGE_KEYS` the ones serving resources carry on top.
"""

from __future__ import annotations

ROOT = "mlops:platform"
"""The stack config key of the platform object."""
CONFIG_NAMESPACE, CONFIG_KEY = ROOT.split(":")

LINEAGE_PREFIX = "mlops"
"""Prefix of every lineage tag key (``mlops:`` on AWS and Azure, ``mlops-`` on GCP)."""
LINEAGE_KEYS: tuple[str, ...] = (
    "project",
    "environment",
    "owner",
    "cost-center",
    "git-sha",
    "dataset-version",
)
"""Lineage keys every taggable resource carries, without their cloud prefix."""
SERVING_LINEAGE_KEYS: tuple[str, ...] = ("model", "model-version", "approved-by", "approval-ticket")
"""Lineage keys serving resources carry on top of :data:`LINEAGE_KEYS`."""
