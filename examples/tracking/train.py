"""A training run that logs to the platform's MLflow tracking server: the same code on every cloud.

Only the environment differs (docs/tracking.md):

- ``MLFLOW_TRACKING_URI``: the stack output ``tracking_uri``;
- the cloud's MLflow plugin, installed beside ``mlflow``: ``sagemaker-mlflow`` (AWS, the URI is
  the server's ARN), ``azureml-mlflow`` (Azure, the ``azureml://`` URI); none on GCP, where
  ``MLFLOW_TRACKING_TOKEN`` holds an identity token for the Cloud Run URL;
- the lineage of the deployment: ``MLOPS_GIT_SHA`` and ``MLOPS_DATASET_VERSION``.

Run: ``python train.py`` (``--experiment NAME``, default ``fraud-detector``).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import mlflow


def train(experiment: str) -> str:
    """Log one run (params, metrics per epoch, lineage tags, a model card artifact); its id."""
    mlflow.set_experiment(experiment)
    params = {"learning_rate": 0.05, "epochs": 3, "max_depth": 6}
    with mlflow.start_run() as run:
        mlflow.set_tags(
            {
                "mlops.git_sha": os.environ.get("MLOPS_GIT_SHA", "unknown"),
                "mlops.dataset_version": os.environ.get("MLOPS_DATASET_VERSION", "unknown"),
            }
        )
        mlflow.log_params(params)
        auc = 0.80
        for epoch in range(params["epochs"]):
            auc += 0.04  # stands in for a real training step
            mlflow.log_metric("auc", round(auc, 4), step=epoch)
        with tempfile.TemporaryDirectory() as tmp:
            card = Path(tmp) / "metrics.json"
            card.write_text(json.dumps({"auc": round(auc, 4)}))
            mlflow.log_artifact(str(card))
        return run.info.run_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="fraud-detector")
    print(train(parser.parse_args().experiment))


if __name__ == "__main__":
    main()
