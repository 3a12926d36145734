"""Deploy fidelity: refuse offline what the real providers and clouds would refuse at deploy.

``check(resources)`` runs the deploy-constraint catalogue over every recorded resource (a
component's or a team program's own alike) and returns ``DeployError``s: the resource, the input,
the value, the rule and the URL of the documentation the rule comes from.

- AWS: constraints (length, pattern, enum, range, required members) read from the API models
  shipped inside botocore (``aws.py``); ``aws.yaml`` only maps Pulumi inputs to API members.
- Azure and GCP: name and value rules per type in ``azure.yaml`` / ``gcp.yaml``, each with its URL.
- Cross-field and lifecycle rules (``lifecycle/``, one module per cloud): what a create or
  update of the plan needs that does not exist yet. A plan is of a stack created from nothing
  unless ``state`` (a ``pulumi stack export`` or a previous plan's JSON, read strictly by
  ``read_state``) says what exists; ``previous_outputs(state)`` are its stack outputs, which a
  program's reference to its own stack reads (``mlops-testing:previousOutputs``): without a state
  they are unknown, never "nothing deployed".

What every part shares (the errors, the data files, the value checks) is in ``base``, which
imports none of them.
"""

from __future__ import annotations

from mlops_iac.plan.deploy.catalogue import (
    DeployError,
    Report,
    Skipped,
    check,
    clear_caches,
    load_state,
)
from mlops_iac.plan.deploy.state import (
    SavedState,
    StateError,
    live_resources,
    previous_outputs,
    read_state,
)

__all__ = [
    "DeployError",
    "Report",
    "Skipped",
    "check",
    "clear_caches",
    "SavedState",
    "StateError",
    "live_resources",
    "load_state",
    "previous_outputs",
    "read_state",
]
