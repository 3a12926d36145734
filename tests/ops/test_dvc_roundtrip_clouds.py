"""End to end on Azure and GCP: ``dvc push`` from one clone, ``dvc pull`` into a fresh one.

The remote is exactly what ``mlops-iac dvc-remote --stack azure-dev|gcp-dev`` writes into the
committed ``.dvc/config``; each machine adds only the emulator endpoint to its Git-ignored
``.dvc/config.local`` (Azurite: ``connection_string`` of its public development account; GCS:
``endpointurl`` and ``allow_anonymous_login``, since the emulator has no credentials to check).
Each test starts its emulator itself (``mlops_iac.components.testing.emulators``): Azurite from
npm in a subprocess, gcp-storage-emulator in a thread; both on 127.0.0.1 with a free port.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from mlops_iac.cli.dvc_remote import DvcConfig
from mlops_iac.components.testing import emulators, moto_s3
from mlops_iac.components.testing.moto_s3 import run_dvc
from tests.conftest import STACKS
from tests.ops.conftest import write_outputs

pytest.importorskip("dvc", reason="the dvc extra is not installed (pip install '.[dvc]')")
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

DATA = b"transaction_id,amount,is_fraud\n1,12.50,0\n2,9999.99,1\n3,0.99,0\n"
ACCOUNT = "fraudart1a2b3c4d"  # the stack's account name; Azurite serves devstoreaccount1
BUCKET = "fraud-detection-art-1a2b3c"


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "project"
    shutil.copytree(STACKS, root / "stacks")
    return root


def _git(repo: Path, env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    ).stdout


def _environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = moto_s3.dvc_environment(tmp_path)
    env.update(
        GIT_AUTHOR_NAME="Data Scientist",
        GIT_AUTHOR_EMAIL="ds@example.com",
        GIT_COMMITTER_NAME="Data Scientist",
        GIT_COMMITTER_EMAIL="ds@example.com",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        **extra,
    )
    return env


def _set_local(repo: Path, remote: str, options: dict[str, str]) -> None:
    """What ``dvc remote modify --local REMOTE KEY VALUE`` writes, without a DVC start-up."""
    path = repo / ".dvc" / "config.local"
    config = DvcConfig(path.read_text() if path.exists() else "")
    for key, value in options.items():
        config.set(f'remote "{remote}"', key, value)
    path.write_text(config.text())


def _round_trip(tmp_path, cli, project, stack, outputs, local, env) -> tuple[str, str]:
    """Push from a first clone, pull into a fresh clone; returns (config text, md5)."""
    seed = tmp_path / "seed"
    (seed / "data").mkdir(parents=True)
    _git(seed, env, "init", "--quiet")
    run_dvc(seed, env, "init", "--quiet")
    code = cli("dvc-remote", "--stack", stack, "--project", project,
               "--outputs", outputs, "--repo", seed)  # fmt: skip
    assert code == 0, cli.err
    _set_local(seed, stack, local)
    (seed / "data" / "transactions.csv").write_bytes(DATA)
    run_dvc(seed, env, "add", "--quiet", "data/transactions.csv")
    _git(seed, env, "add", ".")
    _git(seed, env, "commit", "--quiet", "-m", "data v1")
    assert ".dvc/config.local" not in _git(seed, env, "ls-files")
    run_dvc(seed, env, "push", "--quiet")

    second = tmp_path / "second-machine"
    _git(tmp_path, env, "clone", "--quiet", str(seed), str(second))
    assert not (second / "data" / "transactions.csv").exists()
    _set_local(second, stack, local)
    run_dvc(second, env, "pull", "--quiet")
    pulled = (second / "data" / "transactions.csv").read_bytes()
    assert hashlib.sha256(pulled).hexdigest() == hashlib.sha256(DATA).hexdigest()
    pointer = (second / "data" / "transactions.csv.dvc").read_text()
    md5 = next(line.split(":")[1].strip() for line in pointer.splitlines() if "md5:" in line)
    assert md5 == hashlib.md5(DATA).hexdigest()
    return (second / ".dvc" / "config").read_text(), md5


@pytest.fixture
def azurite_endpoint(tmp_path):
    try:
        with emulators.azurite(tmp_path / "azurite") as endpoint:
            yield endpoint
    except emulators.EmulatorError as exc:  # no npm / no registry: say so, do not fake it
        pytest.skip(str(exc))


def test_azure_push_pull_round_trip(azurite_endpoint, project, tmp_path, cli):
    pytest.importorskip("dvc_azure", reason="the dvc extra is not installed (pip install '.[dvc]')")
    from azure.storage.blob import BlobServiceClient

    connection = emulators.azurite_connection_string(azurite_endpoint)
    # The stack creates the private `dvc` container; so does the emulator's set-up.
    container = BlobServiceClient.from_connection_string(connection).create_container("dvc")
    outputs = write_outputs(
        tmp_path / "outputs.json",
        {"dvc_remote_url": "azure://dvc/", "storage_account_name": ACCOUNT},
    )
    env = _environment(tmp_path)
    config, md5 = _round_trip(
        tmp_path, cli, project, "azure-dev", outputs, {"connection_string": connection}, env
    )
    committed = DvcConfig(config)
    assert committed.get('remote "azure-dev"', "url") == "azure://dvc/"
    assert committed.get('remote "azure-dev"', "account_name") == ACCOUNT
    assert "connection_string" not in config and "AccountKey" not in config
    assert [blob.name for blob in container.list_blobs()] == [f"files/md5/{md5[:2]}/{md5[2:]}"]


@pytest.fixture
def gcs_endpoint():
    pytest.importorskip("gcp_storage_emulator", reason="pip install gcp-storage-emulator")
    with emulators.gcs_emulator(BUCKET) as endpoint:
        yield endpoint


def test_gcp_push_pull_round_trip(gcs_endpoint, project, tmp_path, cli):
    pytest.importorskip("dvc_gs", reason="the dvc extra is not installed (pip install '.[dvc]')")
    outputs = write_outputs(tmp_path / "outputs.json", {"dvc_remote_url": f"gs://{BUCKET}/dvc"})
    env = _environment(tmp_path, **emulators.gcs_dvc_environment())
    local = {"endpointurl": gcs_endpoint, "allow_anonymous_login": "true"}
    config, md5 = _round_trip(tmp_path, cli, project, "gcp-dev", outputs, local, env)
    committed = DvcConfig(config)
    assert committed.get('remote "gcp-dev"', "url") == f"gs://{BUCKET}/dvc"
    assert "endpointurl" not in config and "anonymous" not in config
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
    with direct.open(f"{gcs_endpoint}/storage/v1/b/{BUCKET}/o") as response:
        names = [item["name"] for item in json.load(response).get("items", [])]
    assert names == [f"dvc/files/md5/{md5[:2]}/{md5[2:]}"]
