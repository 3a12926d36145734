"""Serving instance types on Azure and GCP, checked offline (AWS's come from botocore's SageMaker
enum, ``mlops_iac.plan.deploy.aws``).

Neither SDK carries a list: an Azure VM size is checked for the form Azure's naming convention
gives it, and a Cloud Run GPU type against the types Cloud Run documents.
"""

from __future__ import annotations

import re

from mlops_iac.spec import suggest

AZURE_VM_SIZES_URL = (
    "https://learn.microsoft.com/en-us/azure/virtual-machines/vm-naming-conventions"
)
# Standard_<family><vCPUs>[-<constrained vCPUs>]<features>[_<accelerator>][_v<version>]:
# Standard_DS3_v2, Standard_NC24ads_A100_v4, Standard_E8-4ds_v5, Standard_B2ms. Azure compares
# sizes case-insensitively, so only the form is checked, not the case.
AZURE_VM_SIZE = re.compile(
    r"^Standard_[A-Z]{1,3}[0-9]+(?:-[0-9]+)?[a-z]*(?:_[A-Z][A-Z0-9]*[0-9][a-z]*)?(?:_v[0-9]+)?$",
    re.IGNORECASE,
)
CLOUD_RUN_GPUS_URL = "https://cloud.google.com/run/docs/configuring/services/gpu"
CLOUD_RUN_GPUS = ("nvidia-l4", "nvidia-rtx-pro-6000")
"""Cloud Run's GPU types (read 2026-12-07 from ``CLOUD_RUN_GPUS_URL``)."""


def serving_problem(cloud: str, value: str) -> str | None:
    """Why ``value`` cannot be ``serving.instanceType`` on Azure or GCP (``None``: it can)."""
    if cloud == "azure" and not AZURE_VM_SIZE.match(value):
        return (
            f"{value!r} is not an Azure VM size (Standard_<family><vCPUs><features>[_v<n>], "
            f"e.g. Standard_DS3_v2; {AZURE_VM_SIZES_URL})"
        )
    if cloud == "gcp" and value.startswith("nvidia-") and value not in CLOUD_RUN_GPUS:
        guess = suggest.closest(value, CLOUD_RUN_GPUS)
        hint = f"did you mean {guess!r}? " if guess else ""
        return (
            f"{value!r} is not a Cloud Run GPU type; {hint}(Cloud Run offers "
            f"{', '.join(CLOUD_RUN_GPUS)}: {CLOUD_RUN_GPUS_URL})"
        )
    return None
