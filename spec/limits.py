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

import ipaddress
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


SAGEMAKER_BLUE_GREEN = (
    "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_BlueGreenUpdatePolicy.html"
)
SAGEMAKER_EXECUTION_TIMEOUT_MIN = 600
"""Shortest MaximumExecutionTimeoutInSeconds of a blue/green update."""
SAGEMAKER_EXECUTION_TIMEOUT_MAX = 28800
"""Longest MaximumExecutionTimeoutInSeconds of a blue/green update (8 hours)."""
SAGEMAKER_TERMINATION_WAIT_SECONDS = 300
"""TerminationWaitInSeconds the toolkit sets: the old fleet stays 5 minutes after the shift."""
SAGEMAKER_PROVISIONING_MARGIN_SECONDS = 1800
"""Time the timeout allows for creating the new (green) fleet before the first shift."""


def traffic_shifts(strategy: str, percent: float, fleet: int) -> int:
    """How many times a blue/green update of ``strategy`` shifts traffic on ``fleet`` instances:
    canary twice (the canary, then the rest), linear once per step of ``percent`` (in whole
    instances, :func:`step_instances`), all-at-once once. Each shift is followed by a wait of
    WaitIntervalInSeconds, counted for the last shift too (the upper bound)."""
    if strategy == "canary":
        return 2
    if strategy == "linear":
        return -(-fleet // step_instances(percent, fleet)) if fleet > 0 else 1
    return 1


def blue_green_waits(strategy: str, percent: float, fleet: int, wait_seconds: int) -> int:
    """The waits a blue/green update holds, in seconds: every shift's wait plus the termination
    wait. AWS: the execution timeout "should be larger than the total waiting time specified in
    TerminationWaitInSeconds and WaitIntervalInSeconds" (:data:`SAGEMAKER_BLUE_GREEN`)."""
    shifts = traffic_shifts(strategy, percent, fleet)
    return shifts * wait_seconds + SAGEMAKER_TERMINATION_WAIT_SECONDS


def blue_green_timeout(strategy: str, percent: float, fleet: int, wait_seconds: int) -> int:
    """MaximumExecutionTimeoutInSeconds for a rollout: the provisioning margin plus
    :func:`blue_green_waits`, at least 600 s. May exceed the API's 28800 s: callers refuse such
    a rollout (:func:`blue_green_timeout_problem`) rather than cap it below its own waits."""
    waits = blue_green_waits(strategy, percent, fleet, wait_seconds)
    return max(SAGEMAKER_EXECUTION_TIMEOUT_MIN, SAGEMAKER_PROVISIONING_MARGIN_SECONDS + waits)


def blue_green_timeout_problem(
    strategy: str, percent: float, fleet: int, wait_seconds: int
) -> str | None:
    """Why no execution timeout SageMaker accepts fits a rollout (its waits plus the provisioning
    margin exceed 28800 s), or ``None``."""
    needed = blue_green_timeout(strategy, percent, fleet, wait_seconds)
    if needed <= SAGEMAKER_EXECUTION_TIMEOUT_MAX:
        return None
    shifts = traffic_shifts(strategy, percent, fleet)
    return (
        f"{shifts} traffic shift(s) x {wait_seconds} s bake + "
        f"{SAGEMAKER_TERMINATION_WAIT_SECONDS} s termination wait + "
        f"{SAGEMAKER_PROVISIONING_MARGIN_SECONDS} s provisioning = {needed} s, over SageMaker's "
        f"{SAGEMAKER_EXECUTION_TIMEOUT_MAX} s blue/green execution timeout"
    )


EKS_PRIVATE_ENDPOINT = "https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html"
PRIVATE_RANGES = tuple(
    ipaddress.ip_network(cidr)
    for cidr in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
"""Private address space (RFC 1918, RFC 6598 shared space, IPv6 unique local): the only sources
a private API endpoint sees, through its VPC, a VPN or peering (EKS_PRIVATE_ENDPOINT)."""


def private_cidr_problem(cidr: object) -> str | None:
    """Why ``cidr`` cannot be a private API source (not a CIDR, not private space), or None."""
    try:
        net = ipaddress.ip_network(str(cidr), strict=True)
    except ValueError as exc:
        return f"{cidr!r} is not a CIDR block ({exc})"
    if not any(
        net.version == r.version and net.subnet_of(r)  # type: ignore[arg-type]
        for r in PRIVATE_RANGES
    ):
        return (
            f"{cidr} is not private address space (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, "
            "100.64.0.0/10, fc00::/7): a private endpoint is reached from its VPC, a VPN or "
            "peering only"
        )
    return None
