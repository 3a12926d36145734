"""End to end: the seed's DVC workflow against a bucket configured like ArtifactStore's.

moto's server runs in a thread on 127.0.0.1 (free port); real ``dvc`` runs in subprocesses with fake
credentials, no analytics and its config dirs inside tmp_path, so nothing leaves the machine.

The TLS-only bucket policy: the test applies it exactly as ArtifactStore does and proves it is
there (verify's bucket checks pass against the server). It is then removed before DVC runs,
because moto 5.2.5 does not evaluate policy conditions: it applies the conditional Deny
(``aws:SecureTransport=false``) to every object request, HTTPS included, so no DVC push could
succeed with it. Real S3 evaluates the condition and DVC talks HTTPS there. The encryption side is
fully exercised: DVC writes with ``sse=aws:kms`` and the stack's key, and the test checks the
stored object.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from components.ops import verify
from tests.ops.conftest import REGION, create_artifact_store, write_outputs

pytest.importorskip("dvc", reason="the dvc extra is not installed (pip install '.[dvc]')")
pytest.importorskip("dvc_s3", reason="the dvc extra is not installed (pip install '.[dvc]')")

BUCKET = "dvc-roundtrip-artifacts"
DATA = b"transaction_id,amount,is_fraud\n1,12.50,0\n2,9999.99,1\n3,0.99,0\n"


@pytest.fixture
def moto_server(aws_env):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _dvc(repo: Path, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "dvc", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"dvc {' '.join(args)} failed:\n{result.stdout}{result.stderr}"
    return result.stdout


def _dvc_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(
        DVC_NO_ANALYTICS="1",
        DVC_GLOBAL_CONFIG_DIR=str(tmp_path / "dvc-global"),
        DVC_SYSTEM_CONFIG_DIR=str(tmp_path / "dvc-system"),
        DVC_SITE_CACHE_DIR=str(tmp_path / "dvc-site-cache"),
        HOME=str(tmp_path / "home"),
        NO_PROXY="127.0.0.1,localhost",
        PYTHONWARNINGS="ignore",  # dvc's own dependencies warn; not this project's concern
    )
    return env


def test_dvc_push_pull_round_trip(moto_server, project, tmp_path, cli):
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_server, region_name=REGION)
    kms = boto3.client("kms", endpoint_url=moto_server, region_name=REGION)
    key_arn = create_artifact_store(s3, kms, BUCKET)

    checks = verify.bucket_checks(s3, kms, BUCKET, key_arn)
    assert [(c.check, c.passed) for c in checks] == [
        ("bucket-versioning", True),
        ("bucket-encryption", True),
        ("bucket-public-access", True),
        ("bucket-tls-only", True),
    ], checks
    s3.delete_bucket_policy(Bucket=BUCKET)  # moto limitation, see the module docstring

    outputs = write_outputs(
        tmp_path / "outputs.json",
        {"dvc_remote_url": f"s3://{BUCKET}/dvc", "kms_key_id": key_arn},
    )
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    env = _dvc_env(tmp_path)
    _dvc(repo, env, "init", "--no-scm", "--quiet")

    code = cli("dvc-remote", "--stack", "aws-dev", "--project", project,
               "--outputs", outputs, "--repo", repo)  # fmt: skip
    assert code == 0, cli.err
    # The test endpoint, as a user would add it: local config, not committed.
    _dvc(repo, env, "remote", "modify", "--local", "aws-dev", "endpointurl", moto_server)
    assert _dvc(repo, env, "config", "core.remote").strip() == "aws-dev"

    raw = repo / "data" / "raw_data.csv"
    raw.write_bytes(DATA)
    _dvc(repo, env, "add", "data/raw_data.csv", "--quiet")
    _dvc(repo, env, "push", "--quiet")

    objects = s3.list_objects_v2(Bucket=BUCKET, Prefix="dvc/")["Contents"]
    assert len(objects) == 1
    head = s3.head_object(Bucket=BUCKET, Key=objects[0]["Key"])
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == key_arn
    assert head.get("VersionId")  # versioned bucket

    raw.unlink()
    shutil.rmtree(repo / ".dvc" / "cache")
    _dvc(repo, env, "pull", "--quiet")
    assert raw.read_bytes() == DATA
