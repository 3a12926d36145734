"""The Azure team program under the offline engine: what it creates, its tags, and its plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_iac.cli.main import main
from mlops_iac.plan.testing import Recording

HERE = Path(__file__).resolve().parent
STACK_TYPE = "pulumi:pulumi:Stack"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
LINEAGE = {
    "mlops:project": "churn-model",
    "mlops:environment": "dev",
    "mlops:owner": "churn-team@example.com",
    "mlops:cost-center": "cc-3105",
    "mlops:git-sha": "1b2c3d4e",
    "mlops:dataset-version": "md5:c4ca4238a0b923820dcc509a6f75849b",
}


@pytest.fixture
def dev(offline) -> Recording:
    return offline.run_project(HERE, "dev")


def test_components_are_used_directly_plus_one_team_resource(dev):
    top = sorted(
        (r.type, r.name) for r in dev if r.parent and r.parent.split("::")[2] == STACK_TYPE
    )
    assert top == [
        (IDENTITY, "churn-training-jobs"),
        ("mlops:azure:ArtifactStore", "churn-artifacts"),
        ("mlops:azure:TrainingCluster", "churn-training"),
    ]
    assert len(dev) == 19
    assert dev.warnings == []  # no secure default turned off


def test_team_identity_gets_lineage_tags_from_the_transform(dev):
    identity = dev.named("churn-training-jobs", IDENTITY)
    assert identity.inputs["tags"] == LINEAGE
    [group] = dev.of_type("azure-native:resources:ResourceGroup")
    assert identity.inputs["resourceGroupName"] == group.outputs["name"]
    assert identity.inputs["location"] == "westeurope"
    assert dev.exports["jobs_identity_client_id"] == identity.outputs["clientId"]


def test_workspace_reuses_the_store_account_and_vault(dev):
    [workspace] = dev.of_type("azure-native:machinelearningservices:Workspace")
    [account] = dev.of_type("azure-native:storage:StorageAccount")
    [vault] = dev.of_type("azure-native:keyvault:Vault")
    assert workspace.inputs["storageAccount"] == account.id
    assert workspace.inputs["keyVault"] == vault.id
    assert workspace.inputs["tags"] == LINEAGE


def test_gpu_compute_scales_to_zero_on_low_priority_vms(dev):
    [compute] = dev.of_type("azure-native:machinelearningservices:Compute")
    settings = compute.inputs["properties"]["properties"]
    assert settings["scaleSettings"]["minNodeCount"] == 0
    assert settings["scaleSettings"]["maxNodeCount"] == 2
    assert settings["vmPriority"] == "LowPriority"
    assert settings["enableNodePublicIp"] is False
    assert dev.exports["max_usd_per_hour"] == pytest.approx(1.05)


def test_plan_passes(capsys):
    code = main(["plan", "--stack", "dev", "--project", str(HERE), "--quiet", "--no-color"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "PASS: no mandatory violation, 0 advisory, 19 resources" in out
