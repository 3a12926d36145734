"""Cross-field and lifecycle rules: combinations the clouds refuse, and what a first deploy lacks.

Each rule is a function over all resources of the plan (plus the prior state and the stack config)
with a stable id and the URL of the page it comes from. A plan is of a stack created from nothing
unless ``state`` lists what exists: then references to things only a previous update could have
created (a previous revision, a deployment the endpoint's traffic names) must be in it.
"""

from __future__ import annotations

# Importing a cloud's module registers its rules; the order is the order errors are reported in.
from mlops_iac.plan.deploy.lifecycle import aws, azure, bringup, gcp  # noqa: F401, I001
from mlops_iac.plan.deploy.lifecycle.base import RULES, Rule, check, rule

# Shipped code's calls proven against the plan's grants (after the cloud rules).
from mlops_iac.plan.deploy.permissions import rules as _runtime  # noqa: F401, I001

__all__ = ["RULES", "Rule", "check", "rule"]
