"""The rollout functions' alerts (Azure, GCP) in the reference stacks: their scenarios live in
``test_rollout_alarms.py``, so the inventory of ``test_reference_alarms.py`` leaves them out."""

from __future__ import annotations

ROLLOUT_ALARMS: dict[str, set[str]] = {
    stack: {"mlops-rollout-errors", "mlops-rollout-latency"}
    for stack in ("azure-dev", "azure-prod", "gcp-dev", "gcp-prod")
}
for _stack in ("azure-dev", "azure-prod"):
    ROLLOUT_ALARMS[_stack].add("mlops-rollout-failed-runs")
