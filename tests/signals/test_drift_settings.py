"""The drift handlers read only what the reference plans (or the platform) set.

Each cloud's handler runs as deployed (``tests/signals/_drift.py``): its environment is the
recorded settings of the drift function plus the platform's documented variables, and every name
it reads is recorded. A read of a setting the plan does not set fails here, unless it is one of
the emulator hooks below, whose absence means "the real service" (nothing in the cloud sets them).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mlops_iac.plan.testing import Recording
from tests.conftest import reference_recording
from tests.drift._clouds import APP_SERVICE_PLATFORM, LAMBDA_PLATFORM
from tests.signals import _drift

STACKS = ("aws-dev", "aws-prod", "azure-dev", "azure-prod", "gcp-dev", "gcp-prod")
RUNS: dict[str, Callable[..., _drift.Run]] = {
    "aws": _drift.aws_run,
    "azure": _drift.azure_run,
    "gcp": _drift.gcp_run,
}
PLATFORM = {"aws": LAMBDA_PLATFORM, "azure": APP_SERVICE_PLATFORM, "gcp": {}}
# Emulator hooks: unset in the cloud, where the handler then talks to the real service.
HOOKS = {
    "aws": set(),
    "azure": {"DRIFT_EMULATOR_ACCOUNT_KEY"},  # Shared Key for Azurite
    "gcp": {"DRIFT_MONITORING_URL", "STORAGE_EMULATOR_HOST"},  # emulator base URLs
}
# The handler's own settings; the SDKs' (``AWS_*`` of botocore) are the runtime's business.
OWN = ("DRIFT_", "AZURE_", "IDENTITY_", "GOOGLE_", "STORAGE_EMULATOR")


def _run(stack: str, monkeypatch: pytest.MonkeyPatch) -> tuple[_drift.Run, str, Recording]:
    cloud = stack.split("-")[0]
    rec = reference_recording(stack)
    run = RUNS[cloud](rec, monkeypatch, shifted=True)
    assert run.error is None, run.error
    return run, cloud, rec


@pytest.mark.parametrize("stack", STACKS)
def test_the_handler_reads_no_setting_the_plan_does_not_set(
    stack: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, cloud, _ = _run(stack, monkeypatch)
    read = {name for name in run.read if name.startswith(OWN)}
    unset = read - set(run.settings) - set(PLATFORM[cloud])
    assert unset == HOOKS[cloud], f"{stack}: the handler reads {sorted(unset)}, the plan sets none"
    assert run.manifest is not None and run.manifest.missing == ()
    # What it read is what its manifest declares (the permission rules check the manifest).
    assert {n for n in read if n.startswith("DRIFT_")} <= set(run.manifest.reads)


@pytest.mark.parametrize("stack", STACKS)
def test_the_handler_publishes_its_metrics_from_the_plans_settings(
    stack: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, cloud, _ = _run(stack, monkeypatch)
    if cloud == "aws":
        [call] = run.published
        assert call["Namespace"] == run.settings["DRIFT_METRIC_NAMESPACE"]
        names = {d["MetricName"] for d in call["MetricData"]}
    elif cloud == "azure":
        resource = run.settings["DRIFT_METRIC_RESOURCE_ID"]
        assert {url.split(".monitoring.azure.com", 1)[1] for url, _ in run.published} == {
            f"{resource}/metrics"
        }
        names = {doc["data"]["baseData"]["metric"] for _, doc in run.published}
    else:
        [body] = run.published
        names = {s["metric"]["type"].rsplit("/", 1)[1] for s in body["timeSeries"]}
        names = {"".join(p.title() for p in n.split("_")) for n in names}
    assert {"DriftedFeatures", "MaxPsi", "RowsChecked"} <= names


def test_a_setting_the_plan_drops_fails_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check bites: the Function without one of its recorded settings fails to run."""
    rec = reference_recording("azure-prod")
    function = rec.named("mlops-drift-function")
    settings = function.inputs["siteConfig"]["appSettings"]
    kept = [s for s in settings if s["name"] != "DRIFT_METRIC_RESOURCE_ID"]
    monkeypatch.setitem(function.inputs["siteConfig"], "appSettings", kept)
    run = _drift.azure_run(rec, monkeypatch, shifted=False)
    assert run.error is not None and "DRIFT_METRIC_RESOURCE_ID" in run.error
    assert run.manifest is not None and run.manifest.missing == ("DRIFT_METRIC_RESOURCE_ID",)
