"""A team's training run logs to a local MLflow tracking server with the same code for every cloud.

The server is MLflow's own (`mlflow server` on 127.0.0.1, SQLite metadata and artifacts proxied
to a temporary folder): the REST API the SageMaker, AzureML and Cloud Run servers speak. Each
cloud's run takes its lineage from the reference stack file and checks that the stack's recorded
``tracking_uri`` has the form that cloud's MLflow client expects; only the URI (and the plugin
that signs the calls, not needed on loopback) differs.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import platform_raw, reference_recording

mlflow = pytest.importorskip("mlflow")

HERE = Path(__file__).parent
TRAIN = HERE / "train.py"
# What each cloud's stack exports as tracking_uri (docs/tracking.md).
URI_FORMS = {
    "aws": r"^arn:aws:sagemaker:[a-z0-9-]+:\d{12}:mlflow-tracking-server/[A-Za-z0-9-]+$",
    "azure": r"^azureml://[a-z0-9]+\.api\.azureml\.ms/mlflow/v1\.0/subscriptions/[^/]+/"
    r"resourceGroups/[^/]+/providers/Microsoft\.MachineLearningServices/workspaces/[^/]+$",
    "gcp": r"^https://[a-z0-9-]+\.a\.run\.app$",
}
STARTUP_SECONDS = 180


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``mlflow server`` on loopback; its URL. Stopped (its own process group) afterwards."""
    root = tmp_path_factory.mktemp("mlflow")
    port = _free_port()
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    # Without the server's background job executor (a job runner and a huey consumer, two more
    # interpreters to start and stop): the tracking API does not use it.
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    log = (root / "server.log").open("w")
    proc = subprocess.Popen(
        [
            str(mlflow_cli),
            "server",
            "--host=127.0.0.1",
            f"--port={port}",
            "--workers=1",
            f"--backend-store-uri=sqlite:///{root / 'mlflow.db'}",
            "--serve-artifacts",
            f"--artifacts-destination={(root / 'artifacts').as_uri()}",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not start: {(root / 'server.log').read_text()}")
            time.sleep(0.25)
        yield url, root / "artifacts"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


def test_the_training_code_names_no_cloud():
    source = TRAIN.read_text().split('"""', 2)[2]  # the code, without the module docstring
    assert not re.search(r"sagemaker|azureml|boto3|google|arn:|run\.app", source)


@pytest.mark.parametrize("cloud", ["aws", "azure", "gcp"])
def test_a_training_run_logs_to_the_tracking_server(server, cloud):
    url, artifacts = server
    stack = f"{cloud}-dev"
    recorded = reference_recording(stack).exports["tracking_uri"]
    assert re.match(URI_FORMS[cloud], recorded), recorded
    lineage = platform_raw(stack)["lineage"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env |= {
        # The only thing a cloud changes: the URI the stack exported (here the local server's).
        "MLFLOW_TRACKING_URI": url,
        "MLOPS_GIT_SHA": lineage["gitSha"],
        "MLOPS_DATASET_VERSION": lineage["datasetVersion"],
    }
    done = subprocess.run(
        [sys.executable, str(TRAIN), "--experiment", f"fraud-{cloud}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip().splitlines()[-1]

    client = mlflow.tracking.MlflowClient(tracking_uri=url)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"learning_rate": "0.05", "epochs": "3", "max_depth": "6"}
    assert run.data.metrics == {"auc": 0.92}
    assert [m.value for m in client.get_metric_history(run_id, "auc")] == [0.84, 0.88, 0.92]
    assert run.data.tags["mlops.git_sha"] == lineage["gitSha"]
    assert run.data.tags["mlops.dataset_version"] == lineage["datasetVersion"]
    assert [f.path for f in client.list_artifacts(run_id)] == ["metrics.json"]
    # The server stored the artifact itself (proxied, as the GCP server does to gs://…/mlflow/).
    stored = list(artifacts.rglob("metrics.json"))
    assert any(run_id in str(p) for p in stored), stored
