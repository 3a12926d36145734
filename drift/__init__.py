"""The portable drift job: baselines, per-feature PSI/KS/Jensen–Shannon checks, cloud handlers.

Standard library only, so the same code runs in ``mlops-iac drift`` and, unchanged, as an AWS
Lambda, Azure Functions or Cloud Functions handler packaged from this folder (no build step).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_iac.drift.profile import (
        BASELINE_SCHEMA,
        REPORT_SCHEMA,
        Comparison,
        DriftError,
        Thresholds,
        build_baseline,
        compare,
        dumps,
        load_baseline,
    )
    from mlops_iac.drift.readers import (
        FORMATS,
        Source,
        bytes_source,
        file_source,
        read,
        read_batches,
    )

# Loaded on first use (PEP 562): the components read only ``mlops_iac.drift.wire`` (names and
# thresholds) at import, and must not pay for the profile and readers there.
_HOME = {
    **dict.fromkeys(
        (
            "BASELINE_SCHEMA",
            "REPORT_SCHEMA",
            "Comparison",
            "DriftError",
            "Thresholds",
            "build_baseline",
            "compare",
            "dumps",
            "load_baseline",
        ),
        "profile",
    ),
    **dict.fromkeys(
        ("FORMATS", "Source", "bytes_source", "file_source", "read", "read_batches"), "readers"
    ),
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "BASELINE_SCHEMA",
    "Comparison",
    "FORMATS",
    "REPORT_SCHEMA",
    "DriftError",
    "Source",
    "Thresholds",
    "build_baseline",
    "bytes_source",
    "compare",
    "dumps",
    "file_source",
    "load_baseline",
    "read",
    "read_batches",
]
