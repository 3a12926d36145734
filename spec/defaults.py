"""Cloud-neutral defaults: one value, one place.

The stack file (``mlops_iac.spec.models``), the three clouds' Args and the generated reference
all read these names, so changing a value here changes it everywhere (and ``docs/reference.md``
shows the new value after ``python -m tools.docs``). Cloud-specific secure settings (SKUs, TLS
versions, IAM roles) stay in each cloud's ``_defaults.py``.

This module imports only ``mlops_iac.drift.wire`` (the drift job's own default thresholds, which
imports nothing) and ``typing``: the spec, the policy-free CLI and every cloud package may use it.
"""

from __future__ import annotations

from typing import Final

from mlops_iac.drift import wire

ENVIRONMENT = "dev"
"""Environment of a component whose caller names none."""

# Artifact store (the DVC remote).
CUSTOMER_MANAGED_KEY = True
"""Encrypt data with a customer-managed key (secure default: turning it off warns)."""
FORCE_DESTROY = False
"""Refuse to delete a non-empty store (secure default: turning it on warns; refused in prod)."""
NONCURRENT_VERSION_DAYS = 90
"""Days before a noncurrent object version expires."""
INCOMPLETE_UPLOAD_DAYS = 7
"""Days before an incomplete multipart upload is aborted."""
DVC_PREFIX = "dvc"
"""Key prefix of the DVC remote inside the bucket."""

# Training cluster.
GPU = "t4"
"""Neutral GPU name from ``mlops_iac.spec.gpu``."""
MIN_NODES = 0
"""GPU nodes kept warm: zero, so the pool scales to zero when idle."""
MAX_NODES = 2
"""Upper bound of the GPU pool."""
SPOT = False
"""On-demand capacity unless spot / low-priority is asked for."""
PUBLIC_ENDPOINT = False
"""Cluster control planes and serving endpoints are private (secure default: turning it on
warns; refused in prod)."""

# Model registry.
IMMUTABLE_TAGS = True
"""Image tags cannot be moved or deleted (secure default)."""
SCAN_ON_PUSH = True
"""Pushed images are scanned for vulnerabilities (secure default)."""

# Serving endpoint.
ROLLOUT_STRATEGY: Final = "canary"
"""How a new model version takes traffic: ``canary``, ``linear`` or ``all-at-once``."""
CANARY_PERCENT = 10
"""Traffic share of the new version during a canary."""
LINEAR_STEP_PERCENT = 20
"""Traffic share per step of a linear rollout."""
BAKE_MINUTES = 10
"""Wait between traffic shifts, watching the alarms."""
AUTO_ROLLBACK = True
"""A rollout's alarms roll it back, and a quiet bake promotes it, with no human."""
MIN_REPLICAS = 1
"""Serving instances always running."""
MAX_REPLICAS = 2
"""Upper bound of serving autoscaling."""

# Monitoring.
LATENCY_P99_MS = 500
"""p99 latency above which on-call is paged (and AWS rolls a rollout back)."""
ERROR_RATE_PERCENT = 1.0
"""5xx share of requests above which on-call is paged (and AWS rolls a rollout back)."""
DRIFT: Final = "daily"
"""Schedule of the data-drift / data-quality check."""
DRIFT_PSI = wire.PSI
"""Population stability index above which a feature has drifted."""
DRIFT_KS = wire.KS
"""Kolmogorov-Smirnov statistic above which a numeric feature has drifted."""
DRIFT_JENSEN_SHANNON = wire.JENSEN_SHANNON
"""Jensen-Shannon distance above which a categorical feature has drifted."""
DRIFT_MIN_ROWS = wire.MIN_ROWS
"""Served rows a drift check needs before it gives a verdict."""
DRIFT_SIGNIFICANCE = wire.SIGNIFICANCE
"""Significance level of a drift check, shared by its features."""
DRIFT_SHARE = wire.DRIFT_SHARE
"""Share of drifted features from which a dataset has drifted."""
CAPTURE_RETENTION_DAYS = 30
"""Days captured inference requests and responses are kept (AWS capture lifecycle)."""
DRIFT_WINDOW_HOURS = {"hourly": 1, "daily": 24, "weekly": 168}
"""Hours of capture one run of the drift job checks: its schedule's period."""
DRIFT_CRON = {"hourly": "0 * * * *", "daily": "0 0 * * *", "weekly": "0 0 * * 1"}
"""The drift job's schedules as five-field cron (UTC)."""

# Cost.
HOURS_PER_MONTH = 730
"""Hours in an average month (8,760 / 12): turns a $/h GPU cap into a monthly budget."""

# Experiment tracking.
TRACKING = True
"""An MLflow tracking server is part of the platform unless the stack file turns it off."""
TRACKING_SIZE: Final = "Small"
"""Tracking server size (``Small``, ``Medium``, ``Large``)."""
TRACKING_PREFIX = "mlflow"
"""Prefix of the artifact store under which tracked runs keep their artifacts."""
