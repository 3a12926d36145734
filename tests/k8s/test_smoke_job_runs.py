"""The training smoke job's storage steps, run from the manifest generated for a reference plan.

The script is the one the ConfigMap ships (``smoke.py``), its environment exactly the trainer
container's ``env`` of the generated TrainJob (built from the plan's exports) plus the credentials
EKS Pod Identity gives the pod (fake ones here), and the AWS calls go to moto. The DDP steps need
GPUs and torch and are not run; what the job does with the artifact store is: list the DVC
remote, write ``model.pt`` under the checkpoint URI, encrypted with the stack's key and tagged
with the lineage.
"""

from __future__ import annotations

import importlib.util
import json
import urllib.parse
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mlops_iac.cli import stackfile
from mlops_iac.cli.train_smoke import build_job
from mlops_iac.components.kubernetes.smoke import manifests
from mlops_iac.drift.runtime import split_uri
from tests.conftest import reference_recording
from tests.drift._clouds import only_settings

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
    # Every setting the script reads (its docstring names them) is one the manifest sets.
    script_settings = {"DATA_URI", "CHECKPOINT_URI", "LINEAGE", "KMS_KEY_ID", "LOCAL_RANK"}
    read = environ.read & script_settings
    assert read == {"DATA_URI", "CHECKPOINT_URI", "LINEAGE", "KMS_KEY_ID"} and read <= set(env)
