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

import shutil

import pytest

from mlops_iac.cli import verify
from mlops_iac.cli.dvc_remote import DvcConfig
from mlops_iac.components.testing import moto_s3
from mlops_iac.components.testing.moto_s3 import REGION, create_artifact_store, run_dvc
from tests.ops.conftest import write_outputs

pytest.importorskip("dvc", reason="the dvc extra is not installed (pip install '.[dvc]')")
pytest.importorskip("dvc_s3", reason="the dvc extra is not installed (pip install '.[dvc]')")

BUCKET = "dvc-roundtrip-artifacts"
DATA = b"transaction_id,amount,is_fraud\n1,12.50,0\n2,9999.99,1\n3,0.99,0\n"


@pytest.fixture
def moto_server(aws_env):
    with moto_s3.moto_server() as endpoint:
        yield endpoint


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
    env = moto_s3.dvc_environment(tmp_path)
    run_dvc(repo, env, "init", "--no-scm", "--quiet")

    code = cli("dvc-remote", "--stack", "aws-dev", "--project", project,
               "--outputs", outputs, "--repo", repo)  # fmt: skip
    assert code == 0, cli.err
    # The test endpoint, as `dvc remote modify --local aws-dev endpointurl URL` writes it: local
    # config, not committed (written directly: each DVC start-up costs seconds).
    (repo / ".dvc" / "config.local").write_text(
        f"['remote \"aws-dev\"']\n    endpointurl = {moto_server}\n"
    )
    assert DvcConfig((repo / ".dvc" / "config").read_text()).get("core", "remote") == "aws-dev"

    raw = repo / "data" / "raw_data.csv"
    raw.write_bytes(DATA)
    run_dvc(repo, env, "add", "data/raw_data.csv", "--quiet")
    run_dvc(repo, env, "push", "--quiet")

    objects = s3.list_objects_v2(Bucket=BUCKET, Prefix="dvc/")["Contents"]
    assert len(objects) == 1
    head = s3.head_object(Bucket=BUCKET, Key=objects[0]["Key"])
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == key_arn
    assert head.get("VersionId")  # versioned bucket

    raw.unlink()
    shutil.rmtree(repo / ".dvc" / "cache")
    run_dvc(repo, env, "pull", "--quiet")
    assert raw.read_bytes() == DATA
