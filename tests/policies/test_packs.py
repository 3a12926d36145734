"""Levels per environment, the pack config document, and the pack's entry point files."""

from __future__ import annotations

import ast
import datetime as dt
import json
from pathlib import Path

import pytest
import yaml

from mlops_iac.policies import packs

from . import baseline

POLICIES_DIR = Path(packs.__file__).resolve().parent
STACKS_DIR = Path(__file__).resolve().parents[2] / "stacks"


def _one_violation(tagged: str, config=None, **evaluate_kwargs):
    """Evaluate a platform tagged ``tagged`` with one scanning violation."""
    rec = baseline.aws_platform(tagged)
    rec.set("registry-images", "imageScanningConfiguration.scanOnPush", False)
    return packs.evaluate(rec, config, **evaluate_kwargs)


@pytest.mark.parametrize(
    "environment, level", [("dev", "advisory"), ("staging", "mandatory"), ("prod", "mandatory")]
)
def test_levels_per_environment(environment: str, level: str) -> None:
    assert set(packs.levels(environment).values()) == {level}
    result = _one_violation(
        environment, config=baseline.config(environment), environment=environment
    )
    assert [v.level for v in result.violations] == [level]
    assert result.passed() is (level == "advisory")


def test_enforcement_override_from_the_stack_file() -> None:
    assert set(packs.levels("dev", "mandatory").values()) == {"mandatory"}
    document = baseline.config("prod", enforcement="advisory")
    result = _one_violation("prod", config=document, environment="prod")
    assert [v.level for v in result.violations] == ["advisory"]


def test_environment_comes_from_resource_tags_when_not_given() -> None:
    result = _one_violation("dev", config={"mlops-gpu-budget": {"nodeTypePrices": baseline.PRICES}})
    assert [v.level for v in result.violations] == ["advisory"]


def test_environment_comes_from_the_config_document() -> None:
    result = _one_violation("prod", config=baseline.config("dev"))
    assert [v.level for v in result.violations] == ["advisory"]


def test_untagged_stack_fails_closed_as_prod() -> None:
    rec = baseline.aws_platform("dev")
    for resource in rec.resources:
        resource.inputs.pop("tags", None)
    assert packs.environment_of(rec.resources) is None
    result = packs.evaluate(rec)
    assert result.levels["mlops-lineage-tags"] == "mandatory"
    assert not result.passed()


def test_environment_of_picks_the_strictest_tag() -> None:
    rec = baseline.aws_platform("dev")
    rec.set("artifacts-bucket", "tags.mlops:environment", "prod")
    assert packs.environment_of(rec.resources) == "prod"


@pytest.mark.parametrize(
    "stack, environment",
    [("aws-prod", "prod"), ("gcp-dev", "dev"), ("team.staging", "staging"), ("sandbox", None)],
)
def test_environment_from_stack_name(stack: str, environment: str | None) -> None:
    assert packs.environment_from_stack(stack) == environment


def test_pack_config_document() -> None:
    document = packs.pack_config(
        "prod",
        owner="o@example.com",
        approvers=["a@example.com"],
        approvals=[
            {
                "model": "m",
                "version": 7,
                "approvedBy": "a@example.com",
                "ticket": "T-1",
                "approvedAt": dt.date(2026, 1, 2),
            }
        ],
        gpu_budget=10,
        node_type_prices={"g5.xlarge": 1},
        overrides={"mlops-gpu-pool-caps": {"maxNodes": 32}},
    )
    json.dumps(document)
    assert set(document) == {rule.name for rule in packs.rules()}
    assert all(entry["enforcementLevel"] == "mandatory" for entry in document.values())
    gate = document["mlops-approval-gate"]
    assert gate["environment"] == "prod"
    assert gate["approvals"] == [
        {
            "model": "m",
            "version": "7",
            "approvedBy": "a@example.com",
            "ticket": "T-1",
            "approvedAt": "2026-01-02",
        }
    ]
    assert document["mlops-gpu-budget"] == {
        "enforcementLevel": "mandatory",
        "gpuBudgetUsdPerHour": 10.0,
        "nodeTypePrices": {"g5.xlarge": 1.0},
    }
    assert document["mlops-gpu-pool-caps"]["maxNodes"] == 32
    assert "environment" not in document["mlops-storage-versioned"]


def test_pack_config_refuses_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown policy 'mlops-typo'"):
        packs.pack_config("dev", overrides={"mlops-typo": {}})
    with pytest.raises(ValueError, match="unknown environment 'qa'"):
        packs.pack_config("qa")


def test_settings_from_the_stack_config_the_cli_passes() -> None:
    platform = yaml.safe_load((STACKS_DIR / "Pulumi.aws-prod.yaml").read_text())["config"]
    config_json = json.dumps(
        {
            "aws:region": "us-east-1",
            "mlops:platform": json.dumps(platform["mlops:platform"], default=str),
        }
    )
    settings = packs.settings_from_stack_config(config_json, "aws-prod")
    assert settings["environment"] == "prod"
    assert settings["owner"] == "ml-platform@example.com"
    assert settings["approvers"] == ["jane@example.com", "raj@example.com"]
    assert settings["approvals"][0]["version"] == "7"
    assert settings["gpu_budget"] == 50
    document = packs.pack_config(**settings)
    assert document["mlops-approval-gate"]["approvals"][0]["approvedBy"] == "jane@example.com"


def _gate_budget_and_records(document: dict) -> tuple:
    return (
        document["mlops-approval-gate"],
        {k: v for k, v in document["mlops-gpu-budget"].items() if k != "nodeTypePrices"},
        document["mlops-governance-records"],
        {name: entry["enforcementLevel"] for name, entry in document.items()},
    )


@pytest.mark.parametrize("stack", ["aws-prod", "gcp-prod", "azure-dev"])
def test_the_pack_process_reads_the_stack_file_as_plan_does(stack: str) -> None:
    # One parser (mlops_iac.spec) for both readers: the config document the pack process builds
    # from PULUMI_CONFIG is the one `mlops-iac plan` builds (GPU prices aside: only plan has them).
    from mlops_iac.plan.service import pack_settings

    config = yaml.safe_load((STACKS_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]
    config_json = json.dumps({k: json.dumps(v, default=str) for k, v in config.items()})
    pack = packs.pack_config(**packs.settings_from_stack_config(config_json, stack))
    plan = pack_settings(stack, config, STACKS_DIR.parent).document
    assert _gate_budget_and_records(pack) == _gate_budget_and_records(plan)


def test_the_pack_reads_a_team_program_as_plan_does() -> None:
    # A team stack file's governance records are reviewed as plan reviews them: an unsigned
    # approval in prod is listed, unverified, so it cannot pass the gate in the pack process
    # either.
    from mlops_iac.plan.service import pack_settings

    team = {
        "project": "fraud-team",
        "environment": "prod",
        "owner": "team@example.com",
        "lineage": {"gitSha": "4f2c1e9", "datasetVersion": "md5:0123"},
        "governance": {
            "approvers": ["jane@example.com"],
            "approvals": [
                {
                    "model": "fraud",
                    "version": "7",
                    "approvedBy": "jane@example.com",
                    "ticket": "CHG-1",
                    "approvedAt": "2024-01-01",
                }
            ],
        },
    }
    settings = packs.settings_from_stack_config(
        json.dumps({"mlops:platform": json.dumps(team)}), "team-prod"
    )
    assert (settings["owner"], settings["approvers"]) == ("team@example.com", ["jane@example.com"])
    [approval] = settings["approvals"]
    assert (approval["model"], approval["version"]) == ("fraud", "7")
    assert approval["signatureStatus"] != "verified" and "verifiedBy" not in approval
    plan = pack_settings("team-prod", {"mlops:platform": team}, STACKS_DIR.parent).document
    pack = packs.pack_config(**settings)
    assert _gate_budget_and_records(pack) == _gate_budget_and_records(plan)


def test_a_stack_file_the_spec_refuses_does_not_stop_the_pack() -> None:
    # Invalid (no project, no lineage, a maxNodes below minNodes): still reviewed as written.
    invalid = {"environment": "dev", "owner": "o@example.com", "cloud": "aws", "serving": 1}
    settings = packs.settings_from_stack_config(
        json.dumps({"mlops:platform": json.dumps(invalid)}), "aws-prod"
    )
    assert settings["environment"] == "prod" and settings["owner"] == "o@example.com"
    assert settings["approvals"] == [] and settings["enforcement"] is None
    # Nested as deep as JSON decodes: refused by the spec, the pack still starts.
    deep: object = "x"
    for _ in range(900):
        deep = {"k": deep}
    hostile = json.dumps({"mlops:platform": json.dumps({**invalid, "serving": deep})})
    assert packs.settings_from_stack_config(hostile, "aws-prod")["owner"] == "o@example.com"


@pytest.mark.parametrize(
    "config_json, stack, environment",
    [
        (None, "team-dev", "dev"),
        ("not json", None, "prod"),
        ('{"mlops:platform": "[1]"}', None, "prod"),
    ],
)
def test_settings_fall_back_safely(config_json, stack, environment) -> None:
    assert packs.settings_from_stack_config(config_json, stack)["environment"] == environment


def test_catalogue_has_what_the_readme_needs() -> None:
    entries = packs.catalogue()
    assert [e["name"] for e in entries] == [r.name for r in packs.rules()]
    for entry in entries:
        assert entry["name"].startswith(f"mlops-{entry['area']}-")
        assert entry["description"] and entry["remediation"]
        assert entry["levels"] == {"dev": "advisory", "staging": "mandatory", "prod": "mandatory"}
    budget = next(e for e in entries if e["name"] == "mlops-gpu-budget")
    assert budget["config"]["nodeTypePrices"]["type"] == "object"
    storage = next(e for e in entries if e["name"] == "mlops-storage-encrypted-cmk")
    assert "CKV_AWS_145" in storage["checkov"]


def test_catalogue_markdown_lists_every_rule() -> None:
    table = packs.catalogue_markdown()
    assert table.count("\n") == len(packs.rules()) + 2
    assert "| `mlops-approval-gate` |" in table
    assert "advisory / mandatory / mandatory" in table


def test_gpu_spend_for_plan() -> None:
    spend = packs.gpu_spend(baseline.aws_platform(), baseline.PRICES)
    assert round(spend.usd_per_hour, 3) == 4.024
    (pool,) = spend.pools
    assert (pool.name, pool.node_type, pool.max_nodes) == ("training-gpu", "g5.xlarge", 4)
    unpriced = packs.gpu_spend(baseline.aws_platform(), {})
    assert [p.node_type for p in unpriced.unpriced] == ["g5.xlarge"]
    assert unpriced.usd_per_hour == 0


def test_policy_pack_project_file() -> None:
    project = yaml.safe_load((POLICIES_DIR / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    assert project["runtime"]["options"]["virtualenv"] == "../.venv"
    assert project["version"]


def test_only_the_entry_point_constructs_the_pack() -> None:
    constructors = {}
    for path in POLICIES_DIR.rglob("*.py"):
        tree = ast.parse(path.read_text())
        calls = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "PolicyPack"
        ]
        if calls:
            constructors[path.name] = len(calls)
    assert constructors == {"__main__.py": 1}
