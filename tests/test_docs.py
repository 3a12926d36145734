from __future__ import annotations

from tools import docs


def test_readme_generated_sections_are_current():
    current = docs.README.read_text()
    assert docs.render(current) == current, "README.md is stale: run `python -m tools.docs`"


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
    assert "| `replica_region` | Replicate every object" in table
