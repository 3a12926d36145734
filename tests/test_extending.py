"""Guards behind the recipes of ``docs/extending.md`` that no other module holds: a deploy
constraint added to the lifecycle rules fails here until a test exercises it by its id and its
source is a documentation page."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_iac.plan.deploy import lifecycle

TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def test_sources() -> str:
    return "".join(
        p.read_text() for p in sorted(TESTS.rglob("test_*.py")) if p.name != Path(__file__).name
    )


@pytest.mark.parametrize("rule_id", sorted(lifecycle.RULES))
def test_every_deploy_rule_has_a_test_and_a_source(rule_id: str, test_sources: str) -> None:
    source, _check = lifecycle.RULES[rule_id]
    assert source.startswith("https://"), (rule_id, source)
    assert f'"{rule_id}"' in test_sources, f"no test names the deploy rule {rule_id!r}"
