"""Shared fixtures: the reference stack files as raw ``mlops:platform`` mappings."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]
STACKS = REPO / "stacks"


def stack_config(stack: str) -> dict:
    """The whole ``config:`` mapping of ``stacks/Pulumi.<stack>.yaml``."""
    return yaml.safe_load((STACKS / f"Pulumi.{stack}.yaml").read_text())["config"]


def platform_raw(stack: str) -> dict:
    """A deep copy of the stack's ``mlops:platform`` object, safe to mutate."""
    return copy.deepcopy(stack_config(stack)["mlops:platform"])


def azure_problems(**azure) -> list[str]:
    """The spec errors of azure-prod with its ``azure`` section replaced by ``azure``."""
    from mlops_iac.components.spec import SpecError, parse_spec

    raw = platform_raw("azure-prod")
    raw["azure"] = azure
    try:
        parse_spec(raw)
    except SpecError as exc:
        return exc.lines
    return []


@pytest.fixture
def aws_dev_raw() -> dict:
    return platform_raw("aws-dev")


@pytest.fixture
def aws_prod_raw() -> dict:
    return platform_raw("aws-prod")
