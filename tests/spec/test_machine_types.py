"""Serving instance types on Azure (the VM size form) and GCP (Cloud Run's GPU types)."""

from __future__ import annotations

import pytest

from mlops_iac.plan import service
from mlops_iac.spec import gpu, machine_types


@pytest.mark.parametrize(
    "size",
    [
        "Standard_DS3_v2",
        "Standard_NC24ads_A100_v4",
        "Standard_E8-4ds_v5",
        "Standard_B2ms",
        "Standard_NC6",
        "standard_ds3_v2",  # Azure compares sizes case-insensitively
        *sorted({o.node_type for o in gpu.CATALOGUE.values() if o.cloud == "azure"}),
    ],
)
def test_azure_vm_sizes_of_the_documented_form_are_quiet(size: str) -> None:
    assert machine_types.serving_problem("azure", size) is None


@pytest.mark.parametrize("size", ["Standard_DS3v2", "Standrd_DS3_v2", "DS3_v2", "Standard_DS3_v"])
def test_a_malformed_azure_vm_size_is_refused_with_the_form(size: str) -> None:
    message = machine_types.serving_problem("azure", size)
    assert message is not None
    assert f"{size!r} is not an Azure VM size" in message
    assert machine_types.AZURE_VM_SIZES_URL in message


def test_a_cloud_run_gpu_typo_names_the_nearest() -> None:
    message = machine_types.serving_problem("gcp", "nvidia-l44")
    assert message is not None and "did you mean 'nvidia-l4'?" in message
    assert machine_types.CLOUD_RUN_GPUS_URL.startswith("https://")
    assert machine_types.serving_problem("gcp", "nvidia-l4") is None
    assert machine_types.serving_problem("gcp", "cpu") is None  # not a GPU: Cloud Run CPU


def test_the_plan_checks_serving_instance_type_per_cloud() -> None:
    azure = {"cloud": "azure", "serving": {"instanceType": "Standard_DS3v2"}}
    [(path, message)] = service._instance_type_problems(azure)
    assert path == "mlops:platform.serving.instanceType" and "Azure VM size" in message
    gcp = {"cloud": "gcp", "serving": {"instanceType": "nvidia-l44"}}
    [(_, message)] = service._instance_type_problems(gcp)
    assert "'nvidia-l4'" in message
    assert service._instance_type_problems({"cloud": "gcp", "serving": {}}) == []
