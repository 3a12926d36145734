"""The monthly always-on estimate of the six reference stacks, from the cited price table."""

from __future__ import annotations

import copy
import re

import pytest

from mlops_iac.plan import cost
from mlops_iac.spec import clouds
from tests.conftest import REPO, reference_recording

STACKS = [f"{c}-{e}" for c in clouds.NAMES for e in ("dev", "prod")]
UNPRICED_TRACKING = {"aws-sagemaker-mlflow-small", "gcp-cloudsql-db-custom-1-3840"}
ALWAYS_ON = {
    "aws": {"aws-nat-gateway", "aws-eks-control-plane", "aws-sagemaker-ml.m5.large"},
    "azure": {"azure-functions-ep1", "azure-vm-Standard_DS3_v2"},
    "gcp": {"gcp-gke-cluster-management", "gcp-cloud-nat-vm", "gcp-e2-standard-4"},
}


@pytest.mark.parametrize("stack", STACKS)
def test_each_reference_stack_has_a_positive_itemised_estimate_with_sources(stack):
    estimate = cost.estimate(reference_recording(stack).resources)
    table = cost.price_table()
    assert estimate.usd_per_month > 0
    # The tracking servers have no entry in the price table yet: listed as unpriced, never free.
    assert {i.priced_as for i in estimate.unpriced} <= UNPRICED_TRACKING
    assert ALWAYS_ON[stack.split("-")[0]] <= {i.priced_as for i in estimate.items}
    for item in estimate.as_dict()["items"]:
        if item.get("unpriced"):
            assert item["usdPerMonth"] == 0
            continue
        price = table.prices[item["price"]]
        assert item["source"] == price.source and price.source.startswith("https://")
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", item["checked"])
        assert item["usdPerMonth"] > 0
    assert estimate.usd_per_month == round(sum(i.usd_per_month for i in estimate.items), 2)


def test_items_are_quantity_times_price_times_hours():
    estimate = cost.estimate(reference_recording("aws-prod").resources)
    nats = [i for i in estimate.items if i.priced_as == "aws-nat-gateway"]
    assert [i.resource for i in nats] == ["mlops-training-nat-0", "mlops-training-nat-1"]
    assert nats[0].usd_per_month == round(0.045 * 730, 2)
    (endpoint,) = [i for i in estimate.items if i.resource == "mlops-serving-endpoint"]
    # Minimum replicas come from the autoscaling target (2), not the config's 4.
    assert endpoint.quantity == 2
    # A blue/green rollout runs the new fleet (4 × ml.m5.large) beside the old one.
    assert estimate.rollout_usd_per_hour == pytest.approx(4 * 0.115)


def test_always_on_cloud_run_gpus_and_the_premium_plan_are_counted():
    gcp = cost.estimate(reference_recording("gcp-prod").resources)
    (run,) = [i for i in gcp.items if i.priced_as == "gcp-cloud-run-l4-instance"]
    assert run.quantity == 2 and run.usd_per_month == round(2 * 1.0464 * 730, 2)
    azure = cost.estimate(reference_recording("azure-dev").resources)
    (plan,) = [i for i in azure.items if i.priced_as == "azure-functions-ep1"]
    assert plan.quantity == 1


def test_a_size_without_a_price_is_unpriced_never_free():
    # A copy: the cached reference recording is shared by other tests.
    resources = copy.deepcopy(reference_recording("aws-dev").resources)
    (group,) = [r for r in resources if r.name == "mlops-training-system"]
    group.inputs["instanceTypes"] = ["x9.huge"]
    estimate = cost.estimate(resources)
    (item,) = [i for i in estimate.unpriced if i.priced_as not in UNPRICED_TRACKING]
    assert (item.priced_as, item.usd_per_month) == ("aws-ec2-x9.huge", 0.0)
    assert item.as_dict()["unpriced"] is True


def test_every_price_entry_has_a_source_a_date_and_a_region():
    for entry in cost.price_table().prices.values():
        assert entry.source.startswith("https://") and entry.usd > 0
        assert entry.unit in ("hour", "month", "GB-month") and entry.region
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", entry.checked)


def _budget_findings(stack: str, environment: str, budget: float | None):
    from mlops_iac.plan.service import NODE_TYPE_PRICES
    from mlops_iac.policies import packs

    recording = reference_recording(stack)
    document = packs.pack_config(
        environment, node_type_prices=NODE_TYPE_PRICES, monthly_budget=budget
    )
    estimate = cost.estimate(recording.resources).usd_per_month
    document["mlops-cost-monthly-budget"]["estimatedUsdPerMonth"] = estimate
    results = packs.evaluate(recording, document, environment=environment)
    return [v for v in results.violations if v.policy == "mlops-cost-monthly-budget"], estimate


def test_mlops_cost_monthly_budget_fires_over_the_budget_by_environment_level():
    found, estimate = _budget_findings("gcp-prod", "prod", 1000)
    (violation,) = found
    assert violation.level == "mandatory"
    assert f"{estimate:,.2f} $/month exceeds the budget of 1000 $/month" in violation.message
    (dev,), _ = _budget_findings("gcp-dev", "dev", 100)
    assert dev.level == "advisory"


def test_mlops_cost_monthly_budget_is_quiet_within_the_budget_or_without_one():
    assert _budget_findings("gcp-prod", "prod", 5000)[0] == []
    assert _budget_findings("gcp-prod", "prod", None)[0] == []


def test_the_stack_files_monthly_budget_reaches_the_rule():
    from mlops_iac.plan import service

    result = service.plan(REPO, "gcp-dev", overrides={"governance.monthlyBudgetUsd": 50})
    config = result.pack_config["mlops-cost-monthly-budget"]
    assert config["monthlyBudgetUsd"] == 50.0
    assert config["estimatedUsdPerMonth"] == result.cost.usd_per_month
    (violation,) = [v for v in result.results.advisory if v.policy == "mlops-cost-monthly-budget"]
    assert "exceeds the budget of 50 $/month" in violation.message


@pytest.mark.parametrize(
    ("stack", "entry"),
    [("aws-dev", "aws-sagemaker-mlflow-small"), ("gcp-dev", "gcp-cloudsql-db-custom-1-3840")],
)
def test_the_tracking_servers_are_counted_and_the_total_says_what_it_leaves_out(stack, entry):
    estimate = cost.estimate(reference_recording(stack).resources)
    assert [i.priced_as for i in estimate.unpriced] == [entry]
    assert cost.summary_lines(estimate)[0].endswith("; 1 unpriced item(s) not included")
