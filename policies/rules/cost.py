"""The always-on monthly estimate stays within the stack's budget.

The estimate is what ``mlops-iac plan`` computes from its price table (``plan/data/prices.json``)
and writes into this rule's config (``estimatedUsdPerMonth``, also in ``--write-policy-config``):
this package imports no price table and no provider SDK. Without a budget or an estimate the rule
does not apply.
"""

from __future__ import annotations

from pulumi_policy import StackValidationArgs

from ._base import Report, Rule, fmt


def _validate_budget(args: StackValidationArgs, report: Report) -> None:
    config = args.get_config()
    budget = config.get("monthlyBudgetUsd")
    estimate = config.get("estimatedUsdPerMonth")
    if budget is None:
        args.not_applicable("no monthlyBudgetUsd configured")
        return  # not reached: not_applicable raises (the SDK types it as returning None)
    if estimate is None:
        args.not_applicable("no estimatedUsdPerMonth (`mlops-iac plan` computes it)")
        return
    if float(estimate) > float(budget):
        report(
            f"the always-on estimate of {float(estimate):,.2f} $/month exceeds the budget of "
            f"{fmt(float(budget))} $/month (the plan's 'Always-on estimate' lists each item)"
        )


BUDGET = Rule(
    name="mlops-cost-monthly-budget",
    description="The estimate of what the stack runs always stays within monthlyBudgetUsd.",
    remediation=(
        "Lower what runs always (minimum replicas, system node pools, NAT gateways, an always-on "
        "GPU service), or raise governance.monthlyBudgetUsd in the stack file."
    ),
    kind="stack",
    validate=_validate_budget,
    config={
        "monthlyBudgetUsd": {"type": "number", "exclusiveMinimum": 0},
        "estimatedUsdPerMonth": {
            "type": "number",
            "minimum": 0,
            "description": "Set by `mlops-iac plan` from its price table.",
        },
    },
)

RULES: tuple[Rule, ...] = (BUDGET,)
