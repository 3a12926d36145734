"""``mlops-iac train-smoke``: the generated GPU job requests GPUs, tolerates the GPU taint, runs
as the workload identity and targets the artifact store — checked offline against the plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mlops_iac.cli import stackfile
from mlops_iac.cli.train_smoke import build_job
from mlops_iac.components.kubernetes.smoke import (
    azureml_command_job,
    manifests,
    worker_pod_specs,
)
from tests.conftest import reference_recording
from tests.ops.conftest import Cli, write_outputs

REPO = Path(__file__).resolve().parents[2]
AWS_OUTPUTS = {
    "artifact_bucket_uri": "s3://fraud-artifacts-1a2b3c",
    "dvc_remote_url": "s3://fraud-artifacts-1a2b3c/dvc",
    "kms_key_id": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "training_namespace": "mlops-training",
    "training_service_account": "trainer",
    "training_operator": "kubeflow-trainer",
}


@pytest.fixture
def cli(capsys):
    return Cli(capsys)


@pytest.fixture(scope="module", params=["aws-prod", "gcp-prod"])
def planned(request):
    """A stack's offline recording and the smoke job generated from its exports."""
    recording = reference_recording(request.param)
    sf = stackfile.load(REPO, request.param)
    docs = manifests(build_job(sf, recording.exports, "mlops-smoke-ddp", None))
    return request.param, recording, docs


def _gpu_pool(recording):
    pools = recording.of_type("aws:eks/nodeGroup:NodeGroup") or recording.of_type(
        "gcp:container/nodePool:NodePool"
    )
    [gpu] = [p for p in pools if p.name.endswith("-gpu")]
    return gpu


def _pool_taints_and_labels(gpu):
    if gpu.type.startswith("aws:"):
        return gpu.inputs["taints"], gpu.inputs["labels"]
    return gpu.inputs["nodeConfig"]["taints"], gpu.inputs["nodeConfig"]["labels"]


def test_job_has_two_workers_with_one_gpu_each(planned):
    _, _, docs = planned
    config_map, job = docs
    assert config_map["kind"] == "ConfigMap" and "smoke.py" in config_map["data"]
    assert job["kind"] == "TrainJob"
    assert job["spec"]["runtimeRef"] == {"name": "torch-distributed"}
    trainer = job["spec"]["trainer"]
    assert trainer["numNodes"] == 2
    assert trainer["resourcesPerNode"]["limits"] == {"nvidia.com/gpu": "1"}
    assert "torchrun" in trainer["command"][-1]


def test_workers_tolerate_the_planned_gpu_taint_and_select_the_gpu_pool(planned):
    _, recording, docs = planned
    taints, labels = _pool_taints_and_labels(_gpu_pool(recording))
    [spec] = worker_pod_specs(docs[1])
    for taint in taints:
        assert any(
            t["key"] == taint["key"] and t["operator"] == "Exists" and t["effect"] == "NoSchedule"
            for t in spec["tolerations"]
        )
    assert spec["nodeSelector"].items() <= labels.items()


def test_workers_run_as_the_workload_identity(planned):
    stack, recording, docs = planned
    [spec] = worker_pod_specs(docs[1])
    account = recording.named("mlops-training-trainer-sa").inputs["metadata"]
    assert (
        spec["serviceAccountName"]
        == account["name"]
        == recording.exports["training_service_account"]
    )
    assert docs[1]["metadata"]["namespace"] == account["namespace"]
    if stack.startswith("aws"):
        link = recording.named("mlops-training-trainer").inputs
        assert (link["namespace"], link["serviceAccount"]) == (account["namespace"], "trainer")
        role = recording.named("mlops-training-trainer-role")
        assert link["roleArn"] == role.outputs["arn"]
    else:
        email = recording.exports["dvc_service_account"]
        assert account["annotations"] == {"iam.gke.io/gcp-service-account": email}


def test_job_reads_from_and_writes_to_the_artifact_store_with_lineage(planned):
    stack, recording, docs = planned
    env = {e["name"]: e["value"] for e in docs[1]["spec"]["trainer"]["env"]}
    assert env["DATA_URI"] == recording.exports["dvc_remote_url"]
    bucket = recording.exports["artifact_bucket_uri"]
    assert env["CHECKPOINT_URI"] == f"{bucket}/checkpoints/smoke/mlops-smoke-ddp/model.pt"
    lineage = json.loads(env["LINEAGE"])
    assert lineage["mlops/git-sha"] and lineage["mlops/dataset-version"]
    assert docs[1]["metadata"]["labels"].items() >= lineage.items()
    if stack.startswith("aws"):
        assert env["KMS_KEY_ID"] == recording.exports["kms_key_id"]


def test_kuberay_job_has_two_gpu_workers_and_the_same_guarantees():
    sf = stackfile.load(REPO, "aws-prod")
    job = build_job(sf, AWS_OUTPUTS, "ray-smoke", None)
    job = type(job)(**{**job.__dict__, "operator": "kuberay"})
    _, ray = manifests(job)
    assert ray["apiVersion"] == "ray.io/v1" and ray["kind"] == "RayJob"
    [group] = ray["spec"]["rayClusterSpec"]["workerGroupSpecs"]
    assert group["replicas"] == group["minReplicas"] == group["maxReplicas"] == 2
    [worker] = group["template"]["spec"]["containers"]
    assert worker["resources"]["limits"] == {"nvidia.com/gpu": "1"}
    spec = group["template"]["spec"]
    assert spec["serviceAccountName"] == "trainer"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec[
        "tolerations"
    ]
    assert ray["spec"]["entrypoint"].endswith("--ray 2")
    assert ray["spec"]["shutdownAfterJobFinishes"] is True


def test_cli_prints_the_manifests_from_an_outputs_file(cli, tmp_path):
    outputs = write_outputs(tmp_path / "out.json", AWS_OUTPUTS)
    code = cli("train-smoke", "--stack", "aws-prod", "--project", REPO, "--outputs", outputs)
    assert code == 0, cli.err
    docs = list(yaml.safe_load_all(cli.out))
    assert [d["kind"] for d in docs] == ["ConfigMap", "TrainJob"]
    env = {e["name"]: e["value"] for e in docs[1]["spec"]["trainer"]["env"]}
    assert env["DATA_URI"] == AWS_OUTPUTS["dvc_remote_url"]
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"


@pytest.mark.parametrize(
    "stack, outputs, message",
    [
        ("azure-prod", AWS_OUTPUTS, "no 'gpu_pool_name'"),
        ("aws-prod", {"artifact_bucket_uri": "s3://b"}, "no 'dvc_remote_url'"),
    ],
)
def test_cli_refuses_clearly(cli, tmp_path, stack, outputs, message):
    path = write_outputs(tmp_path / "out.json", outputs)
    code = cli("train-smoke", "--stack", stack, "--project", REPO, "--outputs", path)
    assert code == 2
    assert message in cli.one_error_line()


def test_cli_refuses_a_bad_job_name(cli, tmp_path):
    path = write_outputs(tmp_path / "out.json", AWS_OUTPUTS)
    code = cli("train-smoke", "-s", "aws-prod", "--project", REPO, "--outputs", path,
               "--name", "Smoke_Job")  # fmt: skip
    assert code == 2
    assert "DNS-1123" in cli.one_error_line()


def test_apply_needs_kubectl(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    path = write_outputs(tmp_path / "out.json", {**AWS_OUTPUTS, "kubeconfig": "{}"})
    code = cli("train-smoke", "-s", "aws-prod", "--project", REPO, "--outputs", path, "--apply")
    assert code == 2
    assert "needs kubectl" in cli.one_error_line()


def test_azure_gets_an_azureml_command_job_on_the_gpu_cluster_and_datastore():
    recording = reference_recording("azure-prod")
    sf = stackfile.load(REPO, "azure-prod")
    [job] = [azureml_command_job(build_job(sf, recording.exports, "mlops-smoke-ddp", None))]
    # The GPU cluster (prod also has the CPU cluster that builds images).
    compute = recording.named("mlops-training-gpu", "azure-native:machinelearningservices:Compute")
    [datastore] = recording.of_type("azure-native:machinelearningservices:Datastore")
    assert job["compute"] == f"azureml:{compute.outputs['name']}"
    assert job["resources"] == {"instance_count": 2}
    assert job["distribution"] == {"type": "pytorch", "process_count_per_instance": 1}
    # The compute's managed identity (the artifact store's DVC identity) reaches the data.
    assert job["identity"] == {"type": "managed"}
    assert compute.inputs["identity"]["type"] == "UserAssigned"
    name = datastore.inputs["name"]
    assert job["inputs"]["data"]["path"] == f"azureml://datastores/{name}/paths/"
    assert job["outputs"]["checkpoint"]["path"].startswith(
        f"azureml://datastores/{name}/paths/checkpoints/"
    )
    assert job["tags"]["mlops/git-sha"] == "4f2c1e9"


def test_cli_writes_the_script_and_refuses_apply_on_azure(cli, tmp_path):
    path = write_outputs(tmp_path / "out.json", AWS_OUTPUTS)
    script = tmp_path / "smoke.py"
    code = cli("train-smoke", "-s", "aws-prod", "--project", REPO, "--outputs", path,
               "--script", script)  # fmt: skip
    assert code == 0, cli.err
    compile(script.read_text(), "smoke.py", "exec")
    assert "def azureml_main" in script.read_text()
    assert cli("train-smoke", "-s", "azure-prod", "--project", REPO, "--apply") == 2
    assert "az ml job create" in cli.one_error_line()


def _fake_kubectl(tmp_path, monkeypatch):
    """A kubectl on PATH that records its arguments, the kubeconfig it was given and stdin."""
    kubectl = tmp_path / "bin" / "kubectl"
    kubectl.parent.mkdir()
    kubectl.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > {tmp_path}/argv\n'
        f'[ "$1" = --kubeconfig ] && cp "$2" {tmp_path}/kubeconfig.seen\n'
        f"cat > {tmp_path}/applied.yaml\n"
    )
    kubectl.chmod(0o755)
    monkeypatch.setenv("PATH", f"{kubectl.parent}:/usr/bin:/bin")
    return tmp_path


def test_apply_targets_the_stack_cluster_with_its_kubeconfig_output(cli, tmp_path, monkeypatch):
    seen = _fake_kubectl(tmp_path, monkeypatch)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "someone-elses-config"))
    # The kubeconfig the reference plan exports (its provider's, not a hand-made one).
    exported = reference_recording("aws-prod").exports["kubeconfig"]
    path = write_outputs(tmp_path / "out.json", {**AWS_OUTPUTS, "kubeconfig": exported})
    code = cli("train-smoke", "-s", "aws-prod", "--project", REPO, "--outputs", path, "--apply")
    assert code == 0, cli.err
    argv = (seen / "argv").read_text().split()
    assert argv[0] == "--kubeconfig" and argv[2:] == ["apply", "-f", "-"]
    assert json.loads((seen / "kubeconfig.seen").read_text()) == json.loads(exported)
    assert not Path(argv[1]).exists()  # removed after the apply
    kinds = [d["kind"] for d in yaml.safe_load_all((seen / "applied.yaml").read_text())]
    assert kinds == ["ConfigMap", "TrainJob"]


def test_apply_with_an_explicit_context_uses_it(cli, tmp_path, monkeypatch):
    seen = _fake_kubectl(tmp_path, monkeypatch)
    path = write_outputs(tmp_path / "out.json", AWS_OUTPUTS)
    code = cli("train-smoke", "-s", "aws-prod", "--project", REPO, "--outputs", path,
               "--apply", "--context", "prod-training")  # fmt: skip
    assert code == 0, cli.err
    assert (seen / "argv").read_text().split() == [
        "--context", "prod-training", "apply", "-f", "-"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        (True, "stack outputs have no 'kubeconfig'"),
        (False, "--apply needs --outputs"),
    ],
)
def test_apply_never_uses_the_ambient_kube_context(cli, tmp_path, monkeypatch, outputs, message):
    seen = _fake_kubectl(tmp_path, monkeypatch)
    extra = ["--outputs", write_outputs(tmp_path / "out.json", AWS_OUTPUTS)] if outputs else []
    code = cli("train-smoke", "-s", "aws-prod", "--project", REPO, *extra, "--apply")
    assert code == 2
    assert message in cli.one_error_line()
    assert not (seen / "argv").exists()
