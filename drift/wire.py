"""What the drift job and the platform agree on, defined once: the metric it publishes, where,
and the thresholds it judges with by default.

The job (``mlops_iac.drift.handlers``) publishes under these names; the components' drift jobs
alarm on them; the ``mlops-drift-monitoring`` rule looks for those alarms by them; the stack
file's ``monitoring.drift`` defaults are these thresholds. Imports nothing, so the job, the
pack and the stack-file spec may all read it.
"""

from __future__ import annotations

NAMESPACE = "mlops/drift"
"""Metric namespace (AWS CloudWatch, Azure Monitor custom metrics)."""
METRIC = "DriftedFeatures"
"""Features that drifted in a run (AWS, Azure): an alert fires on one or more."""
MAX_PSI_METRIC = "MaxPsi"
"""Largest PSI of a run (AWS, Azure)."""
ROWS_METRIC = "RowsChecked"
"""Served rows a run checked (AWS, Azure)."""

GCP_METRIC_PREFIX = f"custom.googleapis.com/{NAMESPACE}"
"""Metric type prefix of the GCP custom metrics."""
GCP_METRIC_NAME = "drifted_features"
"""GCP spelling of :data:`METRIC`, under :data:`GCP_METRIC_PREFIX`."""
GCP_METRIC = f"{GCP_METRIC_PREFIX}/{GCP_METRIC_NAME}"
"""The GCP custom metric type of :data:`METRIC`."""

PSI = 0.2
"""Population stability index above which a feature has drifted (the usual "significant
shift" level)."""
KS = 0.1
"""Kolmogorov-Smirnov statistic above which a numeric feature has drifted."""
JENSEN_SHANNON = 0.1
"""Jensen-Shannon distance (base 2) above which a categorical feature has drifted."""
MIN_ROWS = 1000
"""Served rows a run needs before it gives a verdict (fewer: ``insufficient-data``)."""
