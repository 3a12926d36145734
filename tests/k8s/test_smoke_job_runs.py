"""The training smoke job's storage steps, run from the job generated for a reference plan.

The script is the one the ConfigMap ships (``smoke.py``; on Azure the file ``train-smoke
--script`` writes beside the job). EKS/GKE: its environment is exactly the trainer container's
``env`` of the generated TrainJob (built from the plan's exports); on AWS plus the credentials EKS
Pod Identity gives the pod (fake ones here) with the calls going to moto; on GCP plus
``STORAGE_EMULATOR_HOST`` pointing google-cloud-storage at ``FakeCloud``'s Cloud Storage on a
loopback port. Azure: the AzureML command job's ``environment_variables`` and its command's
arguments resolved to the folders AzureML mounts (the mount is what is emulated). The DDP steps
need GPUs and torch and are not run; what the job does with the artifact store is: list the DVC
remote (the mounted input), write ``model.pt`` under the checkpoint URI (the mounted output) with
the lineage as S3 tags / GCS metadata / ``lineage.json``, on S3 encrypted with the stack's key.
"""

from __future__ import annotations

import importlib.util
import json
import shlex
import urllib.parse
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mlops_iac.cli import stackfile
from mlops_iac.cli.train_smoke import build_job
from mlops_iac.components.kubernetes.smoke import SCRIPT, azureml_command_job, manifests
from mlops_iac.drift import calls as runtime_calls
from mlops_iac.drift.calls import Call, Manifest
from mlops_iac.drift.runtime import split_uri
from mlops_iac.plan.deploy.permissions import rules
from tests.conftest import reference_recording
from tests.drift._clouds import FakeCloud, only_settings, serve_gcs

REPO = Path(__file__).resolve().parents[2]
# What EKS Pod Identity puts in the pod for the SDK (the credentials endpoint; fake keys here):
# https://docs.aws.amazon.com/eks/latest/userguide/pod-id-how-it-works.html
POD_IDENTITY = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def _generated(stack: str) -> tuple[dict[str, str], str, Any]:
    """The trainer container's env and the shipped script of the stack's smoke job."""
    recording = reference_recording(stack)
    sf = stackfile.load(REPO, stack)
    docs = manifests(build_job(sf, recording.exports, "mlops-smoke-ddp", None))
    [config_map] = [d for d in docs if d["kind"] == "ConfigMap"]
    [train] = [d for d in docs if d["kind"] == "TrainJob"]
    env = {e["name"]: e["value"] for e in train["spec"]["trainer"]["env"]}
    return env, config_map["data"]["smoke.py"], recording


def _planned(recording: Any) -> Manifest:
    """The smoke job's manifest as ``plan`` checks it against the trainer's grants."""
    [handler] = [h for h in rules.handlers(recording.resources)
                 if h.manifest.handler == runtime_calls.SMOKE_JOB]  # fmt: skip
    return handler.manifest


def _load(script: str, tmp_path: Path) -> Any:
    path = tmp_path / "smoke.py"
    path.write_text(script, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("smoke_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("stack", ["aws-dev", "aws-prod"])
def test_the_smoke_job_lists_the_remote_and_writes_the_tagged_encrypted_checkpoint(
    stack: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env, script, recording = _generated(stack)
    smoke = _load(script, tmp_path)
    environ = only_settings(monkeypatch, {**env, **POD_IDENTITY})
    _, bucket, remote = split_uri(env["DATA_URI"])
    calls: list[tuple[str, dict[str, Any]]] = []
    with mock_aws():
        s3 = boto3.session.Session(region_name=env["AWS_DEFAULT_REGION"]).client("s3")
        s3.create_bucket(Bucket=bucket)
        for n in range(3):
            s3.put_object(Bucket=bucket, Key=f"{remote}/files/md5/0{n}/abc", Body=b"x")
        s3.put_object(Bucket=bucket, Key="elsewhere/not-training-data", Body=b"x")
        boto3.setup_default_session()
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register(
            "before-parameter-build",
            lambda params, model, **_: calls.append((model.name, dict(params))),
        )
        try:
            # What torchrun_main does before training: count the remote's objects.
            assert smoke.count_objects(smoke.os.environ["DATA_URI"]) == 3
            smoke.to_store(b"weights")
        finally:
            boto3.DEFAULT_SESSION = None
        _, out_bucket, key = split_uri(env["CHECKPOINT_URI"])
        head = s3.head_object(Bucket=out_bucket, Key=key)
        tags = s3.get_object_tagging(Bucket=out_bucket, Key=key)["TagSet"]
    assert key == "checkpoints/smoke/mlops-smoke-ddp/model.pt"
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == recording.exports["kms_key_id"] == env["KMS_KEY_ID"]
    assert {t["Key"]: t["Value"] for t in tags} == json.loads(env["LINEAGE"])
    [(listed, listing), (put, upload)] = calls
    assert (listed, listing["Prefix"]) == ("ListObjectsV2", remote)
    assert put == "PutObject"
    assert dict(urllib.parse.parse_qsl(upload["Tagging"])) == json.loads(env["LINEAGE"])
    # What each recorded request is authorised as (a put with Tagging also needs
    # s3:PutObjectTagging, with SSE-KMS kms:GenerateDataKey on the key):
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html
    object_arn = f"arn:aws:s3:::{upload['Bucket']}/{upload['Key']}"
    recorded = [
        Call("s3:ListBucket", f"arn:aws:s3:::{listing['Bucket']}", "", "",
             (("s3:prefix", listing["Prefix"]),)),
        Call("s3:PutObject", object_arn, "", ""),
        Call("s3:PutObjectTagging", object_arn, "", ""),
        Call("kms:GenerateDataKey", upload["SSEKMSKeyId"], "", ""),
    ]  # fmt: skip
    manifest = _planned(recording)
    assert [c for c in recorded if not manifest.covers(c)] == []
    # Every setting the script reads (its docstring names them) is one the manifest sets.
    script_settings = {"DATA_URI", "CHECKPOINT_URI", "LINEAGE", "KMS_KEY_ID", "LOCAL_RANK"}
    read = environ.read & script_settings
    assert read == {"DATA_URI", "CHECKPOINT_URI", "LINEAGE", "KMS_KEY_ID"} and read <= set(env)


# google-api-core warns on import that it will drop Python 3.11 after its end of life.
@pytest.mark.filterwarnings("ignore:You are using a Python version:FutureWarning")
@pytest.mark.parametrize("stack", ["gcp-dev", "gcp-prod"])
def test_the_gke_smoke_job_lists_the_remote_and_writes_the_labelled_checkpoint(
    stack: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # google-cloud-storage talks to FakeCloud's Cloud Storage over loopback HTTP through
    # STORAGE_EMULATOR_HOST, the SDK's emulator hook; with it set the SDK sends anonymous
    # credentials, so the Workload Identity token the GKE metadata server hands the pod is not
    # exercised here (the drift handler's tests fetch theirs from the metadata server).
    env, script, recording = _generated(stack)
    smoke = _load(script, tmp_path)
    _, bucket, remote = split_uri(env["DATA_URI"])
    cloud = FakeCloud(token=None)
    for n in range(3):
        cloud.put(bucket, f"{remote}/files/md5/0{n}/abc", b"x")
    cloud.put(bucket, "elsewhere/not-training-data", b"x")
    with serve_gcs(cloud) as emulator:
        environ = only_settings(monkeypatch, {**env, "STORAGE_EMULATOR_HOST": emulator})
        # What torchrun_main does before training: count the remote's objects.
        assert smoke.count_objects(smoke.os.environ["DATA_URI"]) == 3
        smoke.to_store(b"weights")
    _, out_bucket, key = split_uri(env["CHECKPOINT_URI"])
    assert (out_bucket, key) == (bucket, "checkpoints/smoke/mlops-smoke-ddp/model.pt")
    assert cloud.get(bucket, key) == b"weights"
    assert cloud.metadata[(bucket, key)] == json.loads(env["LINEAGE"])
    # Besides its two calls, each client of the SDK may look up the bucket's metadata in the
    # background (best effort, for trace attributes; a 403 is cached and ignored).
    lookup = Call("storage.buckets.get", f"projects/_/buckets/{bucket}", "", "")
    assert [c for c in cloud.calls if c != lookup] == [
        Call("storage.objects.list", f"projects/_/buckets/{bucket}", "", "", (("prefix", remote),)),
        Call("storage.objects.create", f"projects/_/buckets/{bucket}/objects/{key}", "", ""),
    ]
    manifest = _planned(recording)
    assert [c for c in cloud.calls if c != lookup and not manifest.covers(c)] == []
    script_settings = {"DATA_URI", "CHECKPOINT_URI", "LINEAGE", "KMS_KEY_ID", "LOCAL_RANK"}
    read = environ.read & script_settings
    assert read == {"DATA_URI", "CHECKPOINT_URI", "LINEAGE"} and read <= set(env)


def _resolve(command: str, job: dict[str, Any], mounts: dict[str, Path]) -> list[str]:
    """The command's argv with each ``${{inputs.X}}``/``${{outputs.X}}`` replaced by the path
    AzureML mounts it at (``mounts`` by the same ``inputs.X`` key; every binding must be one the
    job declares)."""
    argv = []
    for word in shlex.split(command):
        if word.startswith("${{") and word.endswith("}}"):
            binding = word[3:-2]
            section, name = binding.split(".")
            assert name in job[section], binding
            word = str(mounts[binding])
        argv.append(word)
    return argv


@pytest.mark.parametrize("stack", ["azure-dev", "azure-prod"])
def test_the_azureml_smoke_job_reads_its_input_and_writes_the_checkpoint_with_its_lineage(
    stack: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # AzureML mounts the job's uri_folder input (ro_mount) and output (rw_mount) from the
    # datastore with the compute's managed identity and passes their paths as arguments
    # (https://learn.microsoft.com/azure/machine-learning/how-to-read-write-data-v2). What is
    # emulated is that mount: two local folders, the input read-only.
    recording = reference_recording(stack)
    sf = stackfile.load(REPO, stack)
    job = azureml_command_job(build_job(sf, recording.exports, "mlops-smoke-ddp", None))
    root = f"azureml://datastores/{recording.exports['datastore_name']}/paths"
    assert job["inputs"]["data"] == {"type": "uri_folder", "path": f"{root}/", "mode": "ro_mount"}
    assert job["outputs"]["checkpoint"] == {
        "type": "uri_folder",
        "path": f"{root}/checkpoints/smoke/mlops-smoke-ddp/",
        "mode": "rw_mount",
    }
    assert job["compute"] == f"azureml:{recording.exports['gpu_pool_name']}"
    data, out = tmp_path / "data", tmp_path / "checkpoint"
    # The job's datastore is the artifact store's container, whose root is the DVC remote.
    datastore = recording.named(
        "mlops-training-artifacts-datastore", "azure-native:machinelearningservices:Datastore"
    )
    assert datastore.inputs["name"] == recording.exports["datastore_name"]
    container = datastore.inputs["properties"]["containerName"]
    assert recording.exports["dvc_remote_url"] == f"azure://{container}/"
    for n in range(3):
        (data / "files" / "md5" / f"0{n}").mkdir(parents=True)
        (data / "files" / "md5" / f"0{n}" / "abc").write_bytes(b"x")
    for folder in [data, *data.rglob("*")]:
        if folder.is_dir():
            folder.chmod(0o555)
    out.mkdir()
    mounts = {"inputs.data": data, "outputs.checkpoint": out}
    python, name, *args = _resolve(job["command"], job, mounts)
    assert (python, name, args) == ("python", "smoke.py", ["--azureml", str(data), str(out)])
    # The code folder holds the script `train-smoke --script smoke.py` writes.
    smoke = _load(SCRIPT, tmp_path)
    environ = only_settings(monkeypatch, job["environment_variables"])
    # What azureml_main does around the DDP steps (torch is not installed here).
    assert smoke.count_files(args[1]) == 3
    smoke.to_folder(args[2], b"weights")
    assert sorted(p.name for p in out.iterdir()) == ["lineage.json", "model.pt"]
    assert (out / "model.pt").read_bytes() == b"weights"
    lineage = json.loads((out / "lineage.json").read_text(encoding="utf-8"))
    assert lineage == job["tags"] == json.loads(job["environment_variables"]["LINEAGE"])
    assert lineage["mlops/environment"] == stack.removeprefix("azure-")
    # The mount's requests, as the compute's identity makes them on the datastore's container:
    # list and read the input, write each file of the output folder.
    path = runtime_calls.azure_storage_path(
        f"https://{datastore.inputs['properties']['accountName']}.blob.core.windows.net/{container}"
    )
    blob = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
    output = job["outputs"]["checkpoint"]["path"].removeprefix(f"{root}/")
    recorded = [
        Call(f"{blob}/read", path, "", "", ((f"{blob}:prefix", ""),), runtime_calls.LIST_BLOBS),
        *(Call(f"{blob}/read", f"{path}/blobs/{f.relative_to(data).as_posix()}", "", "")
          for f in data.rglob("*") if f.is_file()),
        *(Call(f"{blob}/write", f"{path}/blobs/{output}{f.name}", "", "")
          for f in out.iterdir()),
    ]  # fmt: skip
    manifest = _planned(recording)
    assert [c for c in recorded if not manifest.covers(c)] == []
    script_settings = {"DATA_URI", "CHECKPOINT_URI", "LINEAGE", "KMS_KEY_ID", "LOCAL_RANK"}
    read = environ.read & script_settings
    assert read == {"LINEAGE"} and read <= set(job["environment_variables"])
