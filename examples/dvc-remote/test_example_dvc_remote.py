"""The DVC example on three clouds: its program exports what ``run.sh`` reads, and the workflow
(``run.sh``: init, add, ``mlops-iac dvc-remote``, push, ``train.py``; ``pull.sh`` on a second
machine) runs for real against a local store.

bash, git, dvc, ``mlops-iac`` and ``train.py`` run in subprocesses. AWS: moto's S3 server with a
bucket configured like ArtifactStore's (see ``mlops_iac.plan.testing.moto_s3`` for why the
TLS-only policy is removed before DVC runs). Azure: Azurite; GCP: gcp-storage-emulator
(``mlops_iac.plan.testing.emulators``). Every emulator is on 127.0.0.1.

These three workflows are also the suite's only real DVC round trips (a push from one clone, a pull
into a fresh ``git clone``): each DVC start-up costs seconds, so the day-2 tests of
``mlops-iac dvc-remote`` (``tests/ops/test_dvc_remote*.py``) check the config it writes without
DVC, and the checks of the pushed objects (name, encryption, versioning) and of what stays out of
the committed config live here.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from mlops_iac.cli import stackfile, verify
from mlops_iac.cli.dvc_remote import DvcConfig
from mlops_iac.plan.testing import emulators, moto_s3

HERE = Path(__file__).resolve().parent
DATA = b"transaction_id,amount,is_fraud\n1,12.50,0\n2,9999.99,1\n3,0.99,0\n"
BUCKET = "fraud-data-bucket-5c3e1a0"
# stack -> (component type, sample outputs file, resources in its plan)
STACKS = {
    "dev": ("mlops:aws:ArtifactStore", "outputs.json", 11),
    "azure-dev": ("mlops:azure:ArtifactStore", "outputs.azure-dev.json", 12),
    "gcp-dev": ("mlops:gcp:ArtifactStore", "outputs.gcp-dev.json", 9),
}
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def sample_outputs(stack: str) -> dict[str, str]:
    return json.loads((HERE / STACKS[stack][1]).read_text())


@pytest.mark.parametrize("stack", list(STACKS))
def test_program_exports_exactly_what_the_sample_outputs_hold(offline, stack):
    component, _, _ = STACKS[stack]
    recording = offline.run_project(HERE, stack)
    [store] = recording.of_type(component)
    assert store.name == "fraud-data"
    # The sample file has exactly the keys `pulumi stack output --json` prints.
    assert set(recording.exports) == set(sample_outputs(stack))
    scheme = {"dev": "s3://", "azure-dev": "azure://dvc/", "gcp-dev": "gs://"}[stack]
    assert recording.exports["dvc_remote_url"].startswith(scheme)


@pytest.mark.parametrize("stack", list(STACKS))
def test_plan_passes(capsys, stack):
    from mlops_iac.cli.main import main

    code = main(["plan", "--stack", stack, "--project", str(HERE), "--quiet", "--no-color"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"PASS: no mandatory violation, 0 advisory, {STACKS[stack][2]} resources" in out


def _workflow(tmp_path: Path, stack: str, outputs: dict[str, str], local: str, env: dict) -> Path:
    """run.sh then pull.sh on a second machine; returns the first repo. Asserts the lineage."""
    project = tmp_path / "project"  # train.py edits the stack file: work on a copy
    shutil.copytree(HERE / "stacks", project / "stacks")
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))
    (tmp_path / "local-config").write_text(local)
    env = {
        **env,
        # run.sh calls `dvc`, `mlops-iac` and python: the ones installed next to this interpreter.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "PYTHON": sys.executable,
        "STACK": stack,
        "PROJECT": str(project),
        "OUTPUTS": str(tmp_path / "outputs.json"),
        "DVC_LOCAL_CONFIG": str(tmp_path / "local-config"),
        "GIT_AUTHOR_NAME": "Data Scientist",
        "GIT_AUTHOR_EMAIL": "ds@example.com",
        "GIT_COMMITTER_NAME": "Data Scientist",
        "GIT_COMMITTER_EMAIL": "ds@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    repo = tmp_path / "repo"
    run = subprocess.run(
        ["bash", str(HERE / "run.sh"), str(repo)], env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"default DVC remote {stack} -> {outputs['dvc_remote_url']}" in run.stdout

    md5 = hashlib.md5(DATA).hexdigest()
    assert f"data md5:{md5}" in run.stdout
    # The training step recorded the dataset's hash in the stack's lineage (stack file).
    assert stackfile.load(project, stack).spec.lineage.dataset_version == f"md5:{md5}"

    second = tmp_path / "second-machine"
    pulled = subprocess.run(
        ["bash", str(HERE / "pull.sh"), str(repo), str(second)], env=env, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert (second / "data" / "transactions.csv").read_bytes() == DATA

    committed = _git(repo, env, "show", "--name-only", "--format=", "HEAD").splitlines()
    assert {"data/transactions.csv.dvc", ".dvc/config"} <= set(committed)
    assert ".dvc/config.local" not in committed
    assert "data/transactions.csv" not in committed  # the data is in the store, not in git
    return repo


def _git(repo: Path, env: dict, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    ).stdout


def _object_key(md5: str) -> str:
    return f"files/md5/{md5[:2]}/{md5[2:]}"


@pytest.fixture
def moto_endpoint(monkeypatch, tmp_path):
    values, unset = moto_s3.fake_aws_environment(tmp_path)
    for var in unset:
        monkeypatch.delenv(var, raising=False)
    for var, value in values.items():
        monkeypatch.setenv(var, value)
    with moto_s3.moto_server() as endpoint:
        yield endpoint


@needs_git
def test_workflow_on_aws(moto_endpoint, tmp_path):
    pytest.importorskip("dvc_s3", reason="the dvc extra is not installed (pip install '.[dvc]')")
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name=moto_s3.REGION)
    kms = boto3.client("kms", endpoint_url=moto_endpoint, region_name=moto_s3.REGION)
    key_arn = moto_s3.create_artifact_store(s3, kms, BUCKET)
    # The store is configured exactly like ArtifactStore's, TLS-only policy included (verify's
    # bucket checks pass against the server); the policy then goes, because moto 5.2.5 applies
    # its conditional Deny (aws:SecureTransport=false) to every request, HTTPS included.
    checks = verify.bucket_checks(s3, kms, BUCKET, key_arn)
    assert [(c.check, c.passed) for c in checks] == [
        ("bucket-versioning", True),
        ("bucket-encryption", True),
        ("bucket-public-access", True),
        ("bucket-tls-only", True),
    ], checks
    s3.delete_bucket_policy(Bucket=BUCKET)
    outputs = {**sample_outputs("dev"), "kms_key_id": key_arn}
    local = f"['remote \"dev\"']\n    endpointurl = {moto_endpoint}\n"
    repo = _workflow(tmp_path, "dev", outputs, local, moto_s3.dvc_environment(tmp_path))

    # The pushed object: under the DVC prefix, named by the data's md5, SSE-KMS with the key.
    [stored] = s3.list_objects_v2(Bucket=BUCKET, Prefix="dvc/")["Contents"]
    assert stored["Key"] == "dvc/" + _object_key(hashlib.md5(DATA).hexdigest())
    head = s3.head_object(Bucket=BUCKET, Key=stored["Key"])
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == key_arn
    assert head.get("VersionId")  # versioned bucket
    config = DvcConfig((repo / ".dvc" / "config").read_text())
    assert config.get("core", "remote") == "dev"
    assert config.get('remote "dev"', "url") == f"s3://{BUCKET}/dvc"
    assert config.get('remote "dev"', "sse_kms_key_id") == key_arn
    assert moto_endpoint not in (repo / ".dvc" / "config").read_text()


@pytest.fixture
def azurite_endpoint(tmp_path):
    try:
        with emulators.azurite(tmp_path / "azurite") as endpoint:
            yield endpoint
    except emulators.EmulatorError as exc:  # no npm / no registry: say so, do not fake it
        pytest.skip(str(exc))


@needs_git
def test_workflow_on_azure(azurite_endpoint, tmp_path):
    pytest.importorskip("dvc_azure", reason="the dvc extra is not installed (pip install '.[dvc]')")
    from azure.storage.blob import BlobServiceClient

    connection = emulators.azurite_connection_string(azurite_endpoint)
    container = BlobServiceClient.from_connection_string(connection).create_container("dvc")
    local = f'[\'remote "azure-dev"\']\n    connection_string = "{connection}"\n'
    outputs = sample_outputs("azure-dev")
    repo = _workflow(tmp_path, "azure-dev", outputs, local, moto_s3.dvc_environment(tmp_path))
    assert [blob.name for blob in container.list_blobs()] == [
        _object_key(hashlib.md5(DATA).hexdigest())
    ]
    config = (repo / ".dvc" / "config").read_text()
    assert DvcConfig(config).get('remote "azure-dev"', "url") == "azure://dvc/"
    assert f"account_name = {outputs['storage_account_name']}" in config
    assert "connection_string" not in config and "AccountKey" not in config


@needs_git
def test_workflow_on_gcp(tmp_path):
    pytest.importorskip("dvc_gs", reason="the dvc extra is not installed (pip install '.[dvc]')")
    pytest.importorskip("gcp_storage_emulator", reason="pip install gcp-storage-emulator")
    outputs = sample_outputs("gcp-dev")
    bucket = outputs["artifact_bucket_name"]
    with emulators.gcs_emulator(bucket) as endpoint:
        local = (
            f"['remote \"gcp-dev\"']\n    endpointurl = {endpoint}\n"
            "    allow_anonymous_login = true\n"
        )
        env = {**moto_s3.dvc_environment(tmp_path), **emulators.gcs_dvc_environment()}
        repo = _workflow(tmp_path, "gcp-dev", outputs, local, env)
        # The pushed object, as the emulator's JSON API lists it (loopback only, no proxy).
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with direct.open(f"{endpoint}/storage/v1/b/{bucket}/o") as response:
            names = [item["name"] for item in json.load(response).get("items", [])]
    assert names == ["dvc/" + _object_key(hashlib.md5(DATA).hexdigest())]
    config = (repo / ".dvc" / "config").read_text()
    assert f"url = gs://{bucket}/dvc" in config
    assert "endpointurl" not in config and "anonymous" not in config
