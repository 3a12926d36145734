"""The DVC example: its program exports what ``run.sh`` reads, and ``run.sh`` pushes to a store.

The workflow runs for real (bash, git, dvc, ``mlops-iac`` in subprocesses) against moto's S3 server
on 127.0.0.1, with a bucket configured like ArtifactStore's (see
``mlops_iac.components.testing.moto_s3`` for
why the TLS-only policy is left off there).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_iac.cli.dvc_remote import DvcConfig
from mlops_iac.components.testing import moto_s3

HERE = Path(__file__).resolve().parent
SAMPLE_OUTPUTS = json.loads((HERE / "outputs.json").read_text())
BUCKET = "fraud-data-bucket-5c3e1a0"


def test_program_creates_one_artifact_store_and_exports_what_run_sh_reads(offline):
    recording = offline.run_project(HERE, "dev")
    [store] = recording.of_type("mlops:aws:ArtifactStore")
    assert store.name == "fraud-data"
    assert len(recording.descendants(store)) == 10
    [versioning] = recording.of_type("aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    [bucket] = recording.of_type("aws:s3/bucket:Bucket")
    assert bucket.inputs["tags"]["mlops:project"] == "fraud-data"
    # The sample outputs.json has exactly the keys `pulumi stack output --json` prints.
    assert set(recording.exports) == set(SAMPLE_OUTPUTS)
    assert recording.exports["dvc_remote_url"] == f"s3://{bucket.outputs['bucket']}/dvc"
    assert recording.exports["kms_key_id"].startswith("arn:aws:kms:us-east-1:")


def test_plan_passes(capsys):
    from mlops_iac.cli.main import main

    code = main(["plan", "--stack", "dev", "--project", str(HERE), "--quiet", "--no-color"])
    assert code == 0
    assert "PASS: no mandatory violation, 0 advisory, 11 resources" in capsys.readouterr().out


@pytest.fixture
def moto_endpoint(monkeypatch, tmp_path):
    values, unset = moto_s3.fake_aws_environment(tmp_path)
    for var in unset:
        monkeypatch.delenv(var, raising=False)
    for var, value in values.items():
        monkeypatch.setenv(var, value)
    with moto_s3.moto_server() as endpoint:
        yield endpoint


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_run_sh_versions_data_in_the_artifact_store(moto_endpoint, tmp_path):
    pytest.importorskip("dvc", reason="the dvc extra is not installed (pip install '.[dvc]')")
    pytest.importorskip("dvc_s3", reason="the dvc extra is not installed (pip install '.[dvc]')")
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name=moto_s3.REGION)
    kms = boto3.client("kms", endpoint_url=moto_endpoint, region_name=moto_s3.REGION)
    key_arn = moto_s3.create_artifact_store(s3, kms, BUCKET, tls_policy=False)
    # The stack outputs as `pulumi stack output --json` prints them, with moto's key.
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({**SAMPLE_OUTPUTS, "kms_key_id": key_arn}))

    env = moto_s3.dvc_environment(tmp_path)
    env.update(
        # run.sh calls `dvc` and `mlops-iac`: the ones installed next to this interpreter.
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        STACK="dev",
        OUTPUTS=str(outputs),
        DVC_ENDPOINT_URL=moto_endpoint,
        GIT_AUTHOR_NAME="Data Scientist",
        GIT_AUTHOR_EMAIL="ds@example.com",
        GIT_COMMITTER_NAME="Data Scientist",
        GIT_COMMITTER_EMAIL="ds@example.com",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
    )
    repo = tmp_path / "repo"
    result = subprocess.run(
        ["bash", str(HERE / "run.sh"), str(repo)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "default DVC remote dev -> s3://fraud-data-bucket-5c3e1a0/dvc" in result.stdout

    # The pushed object: under the DVC prefix, named by the data's md5, SSE-KMS with the key.
    pointer = (repo / "data" / "transactions.csv.dvc").read_text()
    md5 = next(line.split(":")[1].strip() for line in pointer.splitlines() if "md5:" in line)
    [stored] = s3.list_objects_v2(Bucket=BUCKET, Prefix="dvc/")["Contents"]
    assert stored["Key"] == f"dvc/files/md5/{md5[:2]}/{md5[2:]}"
    head = s3.head_object(Bucket=BUCKET, Key=stored["Key"])
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == key_arn
    assert head["VersionId"]

    # The committed remote; the moto endpoint only in the local config DVC never commits.
    config = DvcConfig((repo / ".dvc" / "config").read_text())
    assert config.get('remote "dev"', "url") == "s3://fraud-data-bucket-5c3e1a0/dvc"
    assert config.get('remote "dev"', "sse") == "aws:kms"
    assert config.get('remote "dev"', "sse_kms_key_id") == key_arn
    assert config.get("core", "remote") == "dev"
    assert moto_endpoint in (repo / ".dvc" / "config.local").read_text()
    committed = subprocess.run(
        ["git", "show", "--name-only", "--format=", "HEAD"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert "data/transactions.csv.dvc" in committed
    assert ".dvc/config" in committed
    assert ".dvc/config.local" not in committed
    assert "data/transactions.csv" not in committed  # the data is in the store, not in git
