"""An artifact store and DVC against moto's S3 server on 127.0.0.1: the DVC workflow, offline.

Shared by the day-2 tests (``tests/ops``) and ``examples/dvc-remote``, and shipped so team repos
can test their own DVC workflow the same way. Needs the ``test`` extra (``moto[server]``, boto3)
and, to run DVC, the ``dvc`` extra; both are imported lazily.

    with moto_server() as endpoint:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
        key_arn = create_artifact_store(s3, kms, "bucket")
        run_dvc(repo, dvc_environment(tmp_path), "push")
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

REGION = "us-east-1"

# Variables that would point boto3 at real credentials, profiles or endpoints.
_AWS_UNSET = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL")


def fake_aws_environment(scratch: Path) -> tuple[dict[str, str], tuple[str, ...]]:
    """Variables to set and to unset so AWS clients use fake credentials and nothing real.

    ``scratch`` is a directory for the (non-existent) AWS config and credentials files, so no
    profile of the machine is read. Instance metadata is disabled: no network probe.
    """
    values = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(scratch / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "no-aws-credentials"),
    }
    return values, _AWS_UNSET


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto's server in a thread on 127.0.0.1 (a free port); yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def artifact_bucket_policy(bucket: str) -> str:
    """The bucket policy ArtifactStore applies (TLS only, no other encryption on upload)."""
    from mlops_iac.components.aws.artifact_store import bucket_policy

    return json.dumps(bucket_policy(f"arn:aws:s3:::{bucket}", require_sse_kms=True))


def create_artifact_store(s3: Any, kms: Any, bucket: str, *, tls_policy: bool = True) -> str:
    """A bucket configured like ArtifactStore's; returns the KMS key ARN.

    ``tls_policy=False`` leaves out the bucket policy: moto 5.2.5 does not evaluate policy
    conditions and turns its conditional denies into unconditional ones, so DVC pushes need it off.
    """
    key_arn = kms.create_key(Description="artifact store")["KeyMetadata"]["Arn"]
    kms.enable_key_rotation(KeyId=key_arn)
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key_arn,
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    if tls_policy:
        s3.put_bucket_policy(Bucket=bucket, Policy=artifact_bucket_policy(bucket))
    return key_arn


def dvc_environment(scratch: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment for DVC subprocesses that touches nothing outside ``scratch``.

    No analytics, no proxies (the server is on 127.0.0.1), DVC's global/system/site config and
    ``HOME`` inside ``scratch``. ``base`` defaults to ``os.environ`` (with fake AWS credentials
    already set by the caller).
    """
    env = {k: v for k, v in (base or os.environ).items() if "proxy" not in k.lower()}
    env.update(
        DVC_NO_ANALYTICS="1",
        DVC_GLOBAL_CONFIG_DIR=str(scratch / "dvc-global"),
        DVC_SYSTEM_CONFIG_DIR=str(scratch / "dvc-system"),
        DVC_SITE_CACHE_DIR=str(scratch / "dvc-site-cache"),
        HOME=str(scratch / "home"),
        NO_PROXY="127.0.0.1,localhost",
        PYTHONWARNINGS="ignore",  # dvc's own dependencies warn; not this project's concern
    )
    return env


def run_dvc(repo: Path, env: Mapping[str, str], *args: str, timeout: float = 120) -> str:
    """Run ``python -m dvc ARGS`` in ``repo``; its stdout, or AssertionError with its output."""
    result = subprocess.run(
        [sys.executable, "-m", "dvc", *args],
        cwd=repo,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise AssertionError(f"dvc {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout
