from __future__ import annotations

import dataclasses

from mlops_iac.spec import defaults
from tools import docs


def test_the_reference_is_current():
    assert docs.REFERENCE.read_text() == docs.render(), (
        "docs/reference.md is stale: run `python -m tools.docs`"
    )


def test_the_rules_reference_is_current_with_one_anchor_per_rule():
    from mlops_iac.policies import packs

    text = docs.RULES.read_text()
    assert text == docs.render_rules(), "docs/rules.md is stale: run `python -m tools.docs`"
    for rule in packs.rules():
        assert f"\n## {rule.name}\n" in text


def test_every_stack_key_is_in_the_reference():
    reference = docs.stack_reference()
    for key in (
        "training.maxNodes",
        "serving.rollout.canaryPercent",
        "governance.approvals[].ticket",
        "monitoring.webhookUrl",
        "aws.subnetIds",
    ):
        assert f"`mlops:platform.{key}`" in reference
    assert "| `mlops:platform.training.maxNodes` | int | `2` | ≥ 0, ≤ 1000 |" in reference


def test_defaults_section_lists_each_component_arg():
    table = docs.component_defaults("mlops_iac.components.aws")
    assert "**ArtifactStore** (`mlops_iac.components.aws`)" in table
    assert "| `replica_region` | unset | Replicate every object" in table


def test_defaults_are_rendered_from_values_not_docstrings(monkeypatch):
    """Change a constant and the reference changes with it (the docstring still says t4)."""
    from mlops_iac.components.aws import TrainingClusterArgs

    field = next(f for f in dataclasses.fields(TrainingClusterArgs) if f.name == "gpu")
    monkeypatch.setattr(field, "default", "a10g")
    table = docs.component_defaults("mlops_iac.components.aws")
    assert "| `gpu` | `'a10g'` |" in table
    monkeypatch.setattr(defaults, "HOURS_PER_MONTH", 744)
    assert "| `HOURS_PER_MONTH` | `744` |" in docs.neutral_defaults()


def test_unset_fields_show_what_they_resolve_to():
    table = docs.component_defaults("mlops_iac.components.aws")
    assert "| `network_isolation` | unset → `true` |" in table
    assert "| `customer_managed_key` | unset → `true` |" in table


def test_the_contract_table_names_every_component():
    table = docs.contract_table()
    for thing in ("ArtifactStore", "TrainingCluster", "ModelRegistry", "ServingEndpoint"):
        assert f"| `{thing}` |" in table
    assert "`active_model`, `previous_model`, `min_replicas`, `max_replicas`" in table
    assert "| `DriftJob` | aws, azure, gcp |" in table
    assert "| `labels` | `tags` |" in table, "the replaced 0.1 names are listed"
