"""The whole pack evaluates in well under a millisecond per resource at 1,000+ resources."""

from __future__ import annotations

import time

from mlops_iac.policies import packs

from . import baseline


def test_pack_is_under_a_millisecond_per_resource() -> None:
    rec = baseline.scaled(20)
    assert len(rec.resources) >= 1000
    # Twenty GPU pools at max size cost more than the reference budget; that is not timed here.
    document = baseline.config("prod", gpu_budget=10_000)
    timings = []
    for _ in range(2):
        start = time.perf_counter()
        result = packs.evaluate(rec, document, environment="prod")
        timings.append(time.perf_counter() - start)
    assert result.violations == ()
    per_resource = min(timings) / len(rec.resources)
    assert per_resource < 1e-3, f"{per_resource * 1e6:.0f} us per resource"
