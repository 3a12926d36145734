"""The train-smoke example: its job files are exactly what ``mlops-iac train-smoke`` generates
from the sample outputs, and those outputs carry the keys the reference stacks export."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlops_iac.cli.main import main
from mlops_iac.components.kubernetes.smoke import SCRIPT

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
STACKS = ("aws-prod", "gcp-prod", "azure-prod")


@pytest.mark.parametrize("stack", STACKS)
def test_committed_job_is_what_the_command_generates(stack, capsys, tmp_path):
    script = tmp_path / "smoke.py"
    argv = ["train-smoke", "--stack", stack, "--project", str(REPO),
            "--outputs", str(HERE / f"outputs.{stack}.json"), "--script", str(script)]  # fmt: skip
    assert main(argv) == 0
    assert capsys.readouterr().out == (HERE / f"job.{stack}.yaml").read_text()
    assert script.read_text() == (HERE / "smoke.py").read_text() == SCRIPT


@pytest.mark.parametrize("stack", ["aws-prod", "gcp-prod"])
def test_kubernetes_jobs_request_gpus_and_tolerate_the_taint(stack):
    docs = list(yaml.safe_load_all((HERE / f"job.{stack}.yaml").read_text()))
    job = docs[-1]
    assert job["spec"]["trainer"]["numNodes"] == 2
    assert job["spec"]["trainer"]["resourcesPerNode"]["limits"] == {"nvidia.com/gpu": "1"}
    patch = job["spec"]["runtimePatches"][0]["trainingRuntimeSpec"]["template"]["spec"]
    pod = patch["replicatedJobs"][0]["template"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "trainer"
    assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"
