"""The SageMaker traffic limits, defined once in ``mlops_iac.spec.limits``, give the same answers
as the three copies they replaced (the stack file's rule, the AWS serving endpoint's check and
the deploy catalogue's rounding), on a grid that covers every boundary: frozen copies of the old
code (as of the commit before the move) are the reference.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

import pytest

from mlops_iac.spec import limits, rules

# --- the old copies, verbatim apart from names (reference only) ---------------------------------


def _get(raw: Mapping[str, Any], path: str, default: Any = None) -> Any:
    value: Any = raw
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return default
        value = value[key]
    return default if value is None else value


def _old_spec_rule(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What SageMaker's TrafficRoutingConfig refuses, checked against the fleet a rollout starts.

    LinearStepSize must be 10-50 % and CanarySize at most 50 % of the variant's instances, the
    wait between steps at most 3600 s
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TrafficRoutingConfig.html).
    Endpoint configs start at ``replicas.max`` instances; a percentage takes whole instances,
    rounded up (AWS does not document the rounding; this is the conservative reading).
    """
    problems: list[tuple[str, str]] = []
    strategy = _get(raw, "serving.rollout.strategy", "canary")
    bake = _get(raw, "serving.rollout.bakeMinutes", 10)
    fleet = _get(raw, "serving.replicas.max", 2)
    if isinstance(bake, int) and bake > 60:
        problems.append(("serving.rollout.bakeMinutes", "must be <= 60 on AWS (3600 s per step)"))
    if not isinstance(fleet, int) or fleet < 1 or not isinstance(strategy, str):
        return problems
    key, default, low = {
        "canary": ("canaryPercent", 10, 1),
        "linear": ("linearStepPercent", 20, 10),
    }.get(strategy, (None, 0, 0))
    if key is None:
        return problems
    percent = _get(raw, f"serving.rollout.{key}", default)
    if not isinstance(percent, int) or not 1 <= percent <= 50:
        return problems
    path = f"serving.rollout.{key}"
    if percent < low:
        problems.append((path, f"must be >= {low} on AWS (linear steps are 10-50% of the fleet)"))
        return problems
    instances = -(-percent * fleet // 100)
    if 2 * instances > fleet:
        problems.append(
            (
                path,
                f"{percent}% of serving.replicas.max ({fleet}) is {instances} instance(s), more "
                "than half the fleet, which AWS refuses; raise serving.replicas.max or use "
                "strategy all-at-once",
            )
        )
    return problems


def _old_step_instances(percent: int, fleet: int) -> int:
    """Instances a CAPACITY_PERCENT step activates on a fleet of ``fleet``.

    AWS does not document the rounding; an instance cannot be split, so this assumes the
    conservative reading: any fraction takes a whole instance (round up).
    """
    return max(1, math.ceil(percent * fleet / 100))


def _old_problems(strategy: str, canary: int, linear: int, bake: int, fleet: int) -> list[str]:
    """What SageMaker's TrafficRoutingConfig refuses, as (field, message) texts.

    LinearStepSize must be 10-50 % and CanarySize at most 50 % of the variant's instance count;
    the wait between steps is at most 3600 s.
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TrafficRoutingConfig.html
    """
    problems = []
    top = 50
    if not 0 <= bake <= 60:
        problems.append(f"bake_minutes must be within 0..{60}")
    if strategy == "canary":
        if not 1 <= canary <= top:
            problems.append(f"canary_percent must be within 1..{top}")
        elif 2 * _old_step_instances(canary, fleet) > fleet:
            problems.append(
                f"canary_percent {canary}% of {fleet} instance(s) is "
                f"{_old_step_instances(canary, fleet)} instance(s), more than half the fleet; "
                "raise max_replicas or use all-at-once"
            )
    if strategy == "linear":
        low = 10
        if not low <= linear <= top:
            problems.append(f"linear_step_percent must be within {low}..{top}")
        elif 2 * _old_step_instances(linear, fleet) > fleet:
            problems.append(
                f"linear_step_percent {linear}% of {fleet} instance(s) is "
                f"{_old_step_instances(linear, fleet)} instance(s), more than half the fleet; "
                "raise max_replicas or use all-at-once"
            )
    return problems


def _old_ceil_instances(percent: float, fleet: int) -> int:
    """Instances a capacity percentage of a fleet amounts to (at least one)."""
    return max(1, math.ceil(fleet * percent / 100))


# --- the grids ----------------------------------------------------------------------------------

MISSING = object()
PERCENTS = [MISSING, None, True, "10", 10.0, -1, 0, 1, 5, 9, 10, 11, 20, 25, 33, 34, 49, 50, 51, 99]
FLEETS = [MISSING, None, True, "2", 2.0, -3, 0, *range(1, 41), 99, 100, 101, 10**20 + 1]
BAKES = [MISSING, None, "5", -1, 0, 10, 60, 61, 120]
STRATEGIES = [MISSING, None, 7, "canary", "linear", "all-at-once", "blue-green"]


def _raw(strategy: Any, key: str, percent: Any, fleet: Any, bake: Any) -> dict[str, Any]:
    rollout = {
        name: value
        for name, value in (("strategy", strategy), (key, percent), ("bakeMinutes", bake))
        if value is not MISSING
    }
    serving: dict[str, Any] = {"rollout": rollout}
    if fleet is not MISSING:
        serving["replicas"] = {"max": fleet}
    return {"cloud": "aws", "serving": serving}


def test_the_stack_file_rule_answers_as_before():
    compared = 0
    for strategy, key, percent, fleet, bake in itertools.product(
        STRATEGIES, ("canaryPercent", "linearStepPercent"), PERCENTS, FLEETS, BAKES
    ):
        raw = _raw(strategy, key, percent, fleet, bake)
        # The blue/green execution-timeout check came later (its own test below).
        assert _without_timeout(rules._aws_rollout_rules(raw)) == _old_spec_rule(raw), raw
        compared += 1
    assert compared > 100_000


def _without_timeout(problems: list[Any]) -> list[Any]:
    return [p for p in problems if "execution timeout" not in str(p)]


@pytest.mark.parametrize("strategy", ["canary", "linear", "all-at-once", "blue-green"])
def test_the_serving_endpoint_check_answers_as_before(strategy: str):
    from mlops_iac.components.aws.serving_endpoint import rollout_problems

    fleets = [-3, 0, *range(1, 41), 99, 100, 101, 1000, 10**6]
    for percent, bake, fleet in itertools.product(range(-1, 62), (-1, 0, 60, 61), fleets):
        for canary, linear in ((percent, 20), (10, percent)):
            args = (strategy, canary, linear, bake, fleet)
            assert _without_timeout(rollout_problems(*args)) == _old_problems(*args), args


def test_the_rounding_answers_as_both_old_copies():
    # Whole numbers as the component counted them; fractions as a plan states them (the
    # catalogue passes float(value)).
    for percent, fleet in itertools.product(range(-5, 120), range(-3, 300)):
        assert limits.step_instances(percent, fleet) == _old_step_instances(percent, fleet)
        assert limits.step_instances(float(percent), fleet) == _old_ceil_instances(
            float(percent), fleet
        )
    for tenths, fleet in itertools.product(range(0, 1001, 7), range(1, 120)):
        percent = tenths / 10
        assert limits.step_instances(percent, fleet) == _old_ceil_instances(percent, fleet)
    # 33.3% of 3: 0.999 instances in floating point, still one.
    assert limits.step_instances(33.3, 3) == 1


def test_whole_numbers_round_up_exactly_beyond_floating_point():
    # The stack file's rule counted exactly; the component's float division would not, once the
    # product passes 2**53 (no real fleet is that large; the rule must not depend on it).
    fleet = 2**60 + 1
    assert limits.step_instances(50, fleet) == (fleet + 1) // 2
    assert limits.more_than_half(50, fleet)
    assert not limits.more_than_half(50, fleet - 1)


def test_the_limits_read_as_the_api_reference_says():
    assert limits.step_percent_range("canary") == (1, 50)
    assert limits.step_percent_range("linear") == (10, 50)
    assert limits.step_percent_range("all-at-once") is None
    assert limits.SAGEMAKER_BAKE_MINUTES_MAX * 60 == limits.SAGEMAKER_WAIT_SECONDS_MAX == 3600
    assert [limits.bake_minutes_allowed(m) for m in (-1, 0, 60, 61)] == [False, True, True, False]
    assert limits.step_problem("linear", 9, 100) == "range"
    assert limits.step_problem("canary", 50, 3) == "half"  # 1.5 instances take 2 of 3
    assert limits.step_problem("canary", 50, 4) is None
    assert limits.step_problem("all-at-once", 99, 1) is None


def test_the_blue_green_timeout_covers_every_wait_and_refuses_what_no_timeout_fits():
    # AWS: the timeout "should be larger than the total waiting time specified in
    # TerminationWaitInSeconds and WaitIntervalInSeconds. Valid Range: 600-28800".
    # Canary, bake 60: two shifts' waits + termination + provisioning (the old fixed 3600 s was
    # shorter than the canary's wait plus termination alone).
    assert limits.blue_green_waits("canary", 10, 4, 3600) == 2 * 3600 + 300
    assert limits.blue_green_timeout("canary", 10, 4, 3600) == 2 * 3600 + 300 + 1800
    # Linear 10 % of 10 instances: ten shifts.
    assert limits.traffic_shifts("linear", 10, 10) == 10
    assert limits.blue_green_timeout("linear", 10, 10, 600) == 10 * 600 + 300 + 1800
    # Linear 20 % of 4 rounds up to one instance a step: four shifts, not five.
    assert limits.traffic_shifts("linear", 20, 4) == 4
    assert limits.traffic_shifts("all-at-once", 0, 4) == 1
    assert limits.blue_green_timeout("all-at-once", 0, 4, 0) == 2100
    # Linear 10 % with an hour's bake: 10 x 3600 s alone is over 28800 s.
    assert "28800" in (limits.blue_green_timeout_problem("linear", 10, 10, 3600) or "")
    assert limits.blue_green_timeout_problem("linear", 10, 10, 44 * 60) is None
    assert limits.blue_green_timeout_problem("linear", 10, 10, 45 * 60) is not None
    assert limits.blue_green_timeout_problem("canary", 50, 4, 3600) is None
    # Every timeout the toolkit sets is within the API's range and above the waits.
    for strategy, percent, fleet, minutes in itertools.product(
        ("canary", "linear", "all-at-once"), (10, 20, 50), range(1, 12), range(0, 61)
    ):
        wait = minutes * 60
        timeout = limits.blue_green_timeout(strategy, percent, fleet, wait)
        assert timeout > limits.blue_green_waits(strategy, percent, fleet, wait)
        assert timeout >= 600
        if limits.blue_green_timeout_problem(strategy, percent, fleet, wait) is None:
            assert timeout <= 28800


def test_a_rollout_over_the_timeout_cap_is_refused_with_the_key_path():
    raw = _raw("linear", "linearStepPercent", 10, 10, 60)
    ((path, message),) = rules._aws_rollout_rules(raw)
    assert path == "serving.rollout.bakeMinutes"
    assert message.startswith("10 traffic shift(s) x 3600 s bake")
    assert "over SageMaker's 28800 s blue/green execution timeout" in message
    assert rules._aws_rollout_rules(_raw("linear", "linearStepPercent", 10, 10, 44)) == []
