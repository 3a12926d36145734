"""Tried as a new user would: a small team program directory, ``mlops-iac plan`` on it.

Each program makes one mistake the real deploy refuses; the plan exits 1 and prints the rule and
the page it comes from. One runs the installed ``mlops-iac`` script in a subprocess (what a user
types), the others go through the same ``main()``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlops_iac.cli.main import main

PROGRAMS = {
    "azure-storage": (
        """
        import pulumi_azure_native as azure

        azure.storage.StorageAccount(
            "team-artifacts",
            resource_group_name="team-rg",
            kind="StorageV2",
            sku={"name": "Standard_LRS"},
        )
        """,
        {"azure-native:location": "eastus"},
        "azure-rule:azure-native:storage:StorageAccount.accountName",
        "https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/"
        "resource-name-rules#microsoftstorage",
    ),
    "sagemaker-config": (
        """
        import pulumi_aws as aws

        model = aws.sagemaker.Model(
            "model",
            execution_role_arn="arn:aws:iam::123456789012:role/serving",
            primary_container={"image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/x:1"},
        )
        aws.sagemaker.EndpointConfiguration(
            "config",
            name="fraud-detector-serving-endpoint-configuration-version-0007-green",
            production_variants=[{
                "variant_name": "AllTraffic",
                "model_name": model.name,
                "instance_type": "ml.m5.large",
                "initial_instance_count": 2,
            }],
        )
        """,
        {"aws:region": "us-east-1"},
        "aws-api:sagemaker:CreateEndpointConfig.EndpointConfigName",
        "https://github.com/boto/botocore/tree/develop/botocore/data/sagemaker",
    ),
    "gcs-bucket": (
        """
        import pulumi_gcp as gcp

        gcp.storage.Bucket(
            "models",
            location="US-CENTRAL1",
            versioning={"enabled": True},
            retention_policy={"retention_period": 2592000},
        )
        """,
        {"gcp:project": "team-dev", "gcp:region": "us-central1"},
        "gcp-gcs-versioning-with-retention",
        "https://cloud.google.com/storage/docs/bucket-lock",
    ),
}


def _project(tmp_path: Path, case: str) -> Path:
    source, config, _, _ = PROGRAMS[case]
    directory = tmp_path / case
    directory.mkdir()
    (directory / "Pulumi.yaml").write_text(f"name: {case}\nruntime: python\n")
    (directory / "__main__.py").write_text(textwrap.dedent(source))
    lines = "".join(f"  {key}: {json.dumps(value)}\n" for key, value in config.items())
    (directory / "Pulumi.dev.yaml").write_text(f"config:\n{lines}")
    return directory


@pytest.mark.parametrize("case", ["azure-storage", "gcs-bucket"])
def test_plan_of_a_team_program_exits_1_with_rule_and_source(case, tmp_path, capsys):
    directory = _project(tmp_path, case)
    report = tmp_path / "plan.json"
    code = main(
        [
            "plan",
            "--project",
            str(directory),
            "--stack",
            "dev",
            "--quiet",
            "--no-color",
            "--json",
            str(report),
        ]
    )
    out = capsys.readouterr().out
    _, _, rule, source = PROGRAMS[case]
    assert code == 1
    assert "Deploy errors: 1" in out
    assert rule in out and source in out
    document = json.loads(report.read_text())
    assert document["passed"] is False
    assert [e["rule"] for e in document["deployErrors"]] == [rule]
    assert document["summary"]["deployErrors"] == 1
    assert isinstance(document["deployChecksSkipped"], list)  # what could not be checked, and why


def test_the_installed_command_refuses_an_endpoint_config_name_over_the_api_length(tmp_path):
    directory = _project(tmp_path, "sagemaker-config")
    script = shutil.which("mlops-iac", path=str(Path(sys.executable).parent))
    assert script, "the mlops-iac script is installed next to the interpreter"
    result = subprocess.run(
        [script, "plan", "--project", str(directory), "--stack", "dev", "--no-color", "--quiet"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    _, _, rule, source = PROGRAMS["sagemaker-config"]
    assert result.returncode == 1, result.stderr
    assert rule in result.stdout and source in result.stdout
    assert "is 64 characters, the maximum is 63" in result.stdout
