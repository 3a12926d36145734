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
GCP_MAX_PSI_NAME = "max_psi"
"""GCP spelling of :data:`MAX_PSI_METRIC`."""
GCP_ROWS_NAME = "rows_checked"
"""GCP spelling of :data:`ROWS_METRIC`."""
GCP_METRIC_KINDS = {
    GCP_METRIC_NAME: "INT64",
    GCP_MAX_PSI_NAME: "DOUBLE",
    GCP_ROWS_NAME: "INT64",
}
"""Value type of each GCP custom metric (all GAUGE, one ``endpoint`` label, on ``global``): what
the job writes and what the platform declares as metric descriptors before alerting on them."""
GCP_METRIC_LABEL = "endpoint"
"""The one label of the GCP custom metrics: the serving endpoint a run checked."""

PSI = 0.2
"""Population stability index above which a feature has drifted (the usual "significant
shift" level)."""
KS = 0.1
"""Kolmogorov-Smirnov statistic above which a numeric feature has drifted."""
JENSEN_SHANNON = 0.1
"""Jensen-Shannon distance (base 2) above which a categorical feature has drifted."""
MIN_ROWS = 1000
"""Served rows a run needs before it gives a verdict (fewer: ``insufficient-data``)."""
SIGNIFICANCE = 0.05
"""Significance level of a check (evidently's default p-value threshold): the chance that data
without drift is reported as drift, Bonferroni-divided among the features."""
DRIFT_SHARE = 0.5
"""Share of drifted features from which the dataset as a whole has drifted (evidently's
``DatasetDriftMetric`` default)."""
