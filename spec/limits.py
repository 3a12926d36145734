"""Cloud limits as pure functions: what a cloud's API refuses, defined once.

The stack file's validation (``mlops_iac.spec.rules``), the components that build the resources
(``mlops_iac.components.aws.serving_endpoint``) and the plan engine's deploy catalogue all ask
these functions, so the three cannot disagree about a limit. No SDK, no I/O.

SageMaker's TrafficRoutingConfig
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TrafficRoutingConfig.html):
LinearStepSize is 10-50 % and CanarySize at most 50 % of the variant's instance count, and the
wait between steps (WaitIntervalInSeconds) is at most 3600 s. A percentage takes whole
instances; AWS does not document the rounding, so :func:`step_instances` reads it conservatively
(any fraction takes a whole instance, and a step is at least one instance).
"""

from __future__ import annotations

import math

SAGEMAKER_TRAFFIC_ROUTING = (
    "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TrafficRoutingConfig.html"
)
SAGEMAKER_LINEAR_STEP_PERCENT_MIN = 10
"""Smallest linear step, in percent of the variant's instances."""
SAGEMAKER_STEP_PERCENT_MAX = 50
"""Largest canary or linear step, in percent of the variant's instances."""
SAGEMAKER_WAIT_SECONDS_MAX = 3600
"""Longest wait between traffic shifts (WaitIntervalInSeconds)."""
SAGEMAKER_BAKE_MINUTES_MAX = SAGEMAKER_WAIT_SECONDS_MAX // 60
"""Longest bake between traffic shifts, in minutes (60)."""


def step_percent_range(strategy: str) -> tuple[int, int] | None:
    """``(lowest, highest)`` percent SageMaker takes for one step of ``strategy`` (``canary`` or
    ``linear``); ``None`` for a strategy without steps (``all-at-once``)."""
    if strategy == "canary":
        return 1, SAGEMAKER_STEP_PERCENT_MAX
    if strategy == "linear":
        return SAGEMAKER_LINEAR_STEP_PERCENT_MIN, SAGEMAKER_STEP_PERCENT_MAX
    return None


def step_instances(percent: float, fleet: int) -> int:
    """Instances a CAPACITY_PERCENT step of ``percent`` activates on ``fleet`` instances: rounded
    up, at least one. Whole numbers are counted exactly; a fractional percent (as a plan states
    it) in floating point."""
    if isinstance(percent, int) and isinstance(fleet, int):
        return max(1, -(-percent * fleet // 100))
    return max(1, math.ceil(percent * fleet / 100))


def more_than_half(percent: float, fleet: int) -> bool:
    """Whether a step of ``percent`` takes more than half of ``fleet`` instances (refused)."""
    return 2 * step_instances(percent, fleet) > fleet


def step_problem(strategy: str, percent: int, fleet: int) -> str | None:
    """Why SageMaker refuses a ``strategy`` step of ``percent`` % on ``fleet`` instances:
    ``"range"`` (outside :func:`step_percent_range`), ``"half"`` (more than half the fleet once
    rounded to whole instances), or ``None`` (accepted, and for strategies without steps)."""
    bounds = step_percent_range(strategy)
    if bounds is None:
        return None
    if not bounds[0] <= percent <= bounds[1]:
        return "range"
    return "half" if more_than_half(percent, fleet) else None


def bake_minutes_allowed(minutes: int) -> bool:
    """Whether a bake of ``minutes`` between steps fits WaitIntervalInSeconds (0-60 min)."""
    return 0 <= minutes <= SAGEMAKER_BAKE_MINUTES_MAX
