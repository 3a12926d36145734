"""The portable drift job: baselines, per-feature PSI/KS/Jensen–Shannon checks, cloud handlers.

Standard library only, so the same code runs in ``mlops-iac drift`` and, unchanged, as an AWS
Lambda, Azure Functions or Cloud Functions handler packaged from this folder (no build step).
"""

from __future__ import annotations

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
