"""The drift job's cloud entry points by the module path the shipped function code imports them
from: each cloud's ``DriftJob`` packages an entry module (AWS ``drift_lambda.py``, GCP
``main.py``, Azure ``drift_timer/__init__.py``) that imports ``aws_handler``, ``gcp_handler``
or ``azure_handler`` from here, and the components read ``job_environment`` from here.

The code lives in ``runtime`` (the cloud-independent core) and one module per cloud (``aws``,
``azure``, ``gcp``); all four are standard library only at import.
"""

from __future__ import annotations

from mlops_iac.drift.aws import aws_handler
from mlops_iac.drift.azure import azure_handler
from mlops_iac.drift.gcp import gcp_handler
from mlops_iac.drift.runtime import JobConfig, job_environment, run_job

__all__ = ["JobConfig", "aws_handler", "azure_handler", "gcp_handler", "job_environment", "run_job"]
