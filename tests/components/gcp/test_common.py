from __future__ import annotations

import re

from mlops_iac.components.gcp._common import resource_id


def test_derived_ids_are_valid_stable_and_unique_per_stack():
    dev = resource_id("mlops-artifacts", "dvc", limit=30, scope="p/gcp-dev")
    prod = resource_id("mlops-artifacts", "dvc", limit=30, scope="p/gcp-prod")
    assert dev != prod
    assert dev == resource_id("mlops-artifacts", "dvc", limit=30, scope="p/gcp-dev")
    long = resource_id("A_Very.Long-Component-Name-For-A-Team", "nodes", limit=30, scope="p/s")
    short = resource_id("9x", "run", limit=30, scope="p/s")
    for value in (dev, prod, long, short):
        assert re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", value), value
    assert long.startswith("a-very-long-component-")
    assert short.startswith("m-9x-run-")
