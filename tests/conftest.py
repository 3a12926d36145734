"""Shared fixtures: the reference stack files as raw ``mlops:platform`` mappings."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

if TYPE_CHECKING:
    from mlops_iac.plan.testing import Recording

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]
STACKS = REPO / "stacks"


# Modules with the longest tests (tens of seconds: a wheel install, real DVC round trips, fresh
# interpreters building a platform, generated corpora), run first. Under ``--dist worksteal`` a
# worker that runs out of tests takes half of another's queue, so what is left at the end is the
# short tests and both workers finish together; a long test left for last keeps one core idle for
# its whole duration. A module is moved whole, so its module-scoped fixtures are set up once.
RUN_FIRST = (
    "tests/test_packaging.py",
    "examples/dvc-remote/test_example_dvc_remote.py",
    "tests/test_import_footprint.py",
    "tests/components/azure/test_stack_azure.py",
    "tests/components/test_spec.py",
    "tests/ops/test_malformed.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long modules first (``RUN_FIRST`` order); the rest keep their order (a stable sort)."""
    rank = {module: n for n, module in enumerate(RUN_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


# The reference plans' shipped code cannot make every call it needs today (the plan-time proof of
# ``mlops_iac.plan.deploy.permissions`` says which); each cloud's fix lands on its own branch.
# Strict: the lead removes the mark when the fix is merged.
def stack_config(stack: str) -> dict:
    """The whole ``config:`` mapping of ``stacks/Pulumi.<stack>.yaml``."""
    return yaml.safe_load((STACKS / f"Pulumi.{stack}.yaml").read_text())["config"]


def platform_raw(stack: str) -> dict:
    """A deep copy of the stack's ``mlops:platform`` object, safe to mutate."""
    return copy.deepcopy(stack_config(stack)["mlops:platform"])


def azure_problems(**azure) -> list[str]:
    """The spec errors of azure-prod with its ``azure`` section replaced by ``azure``."""
    from mlops_iac.spec.errors import SpecError
    from mlops_iac.spec.parse import parse_spec

    raw = platform_raw("azure-prod")
    raw["azure"] = azure
    try:
        parse_spec(raw)
    except SpecError as exc:
        return exc.lines
    return []


@functools.cache
def _recorded(stack: str) -> Recording:
    from mlops_iac.plan.testing import run_project

    return run_project(REPO, stack)


def reference_recording(stack: str) -> Recording:
    """The offline recording of the root program with ``stacks/Pulumi.<stack>.yaml`` as committed.

    Built once per test process (a rebuild costs 1-2.5 s; a copy, milliseconds) and handed out as
    a deep copy, so a test may change what it gets without touching another test's. A test that
    needs other config runs ``run_project`` itself.
    """
    return copy.deepcopy(_recorded(stack))


def reference_state(stack: str) -> list[Any]:
    """The resources of ``stacks/state/<stack>.json``: what the reference stack's first
    (bring-up) ``pulumi up`` leaves, against which the stack file as written is its second up."""
    from mlops_iac.plan import deploy

    return list(deploy.read_state(REPO / "stacks" / "state" / f"{stack}.json").resources)


@functools.cache
def bring_up_sequence(stack: str) -> Any:
    """``mlops_iac.plan.bringup.simulate`` of a reference stack, once per test process (three
    plans each); tests must not change what it returns."""
    from mlops_iac.plan import bringup

    return bringup.simulate(REPO, stack)


@pytest.fixture
def aws_dev_raw() -> dict:
    return platform_raw("aws-dev")


@pytest.fixture
def aws_prod_raw() -> dict:
    return platform_raw("aws-prod")
