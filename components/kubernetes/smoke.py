"""The GPU smoke job: two workers, one GPU each, PyTorch DDP, data in and checkpoint out.

``manifests(job)`` returns the Kubernetes objects for ``kubectl apply``: a ConfigMap with the
training script and either a Kubeflow Trainer ``TrainJob`` (``torch-distributed`` runtime, which
runs the script through ``torchrun`` on each node) or a KubeRay ``RayJob`` (Ray Train's
``TorchTrainer`` with two GPU workers). Both:

- request ``nvidia.com/gpu: 1`` per worker, tolerate the GPU pool's taint and select its nodes;
- run as the training service account, whose cloud identity (EKS Pod Identity / GKE Workload
  Identity) may read the artifact store's DVC data and write its ``checkpoints/`` prefix;
- list the DVC remote (``DATA_URI``) and write ``model.pt`` to ``CHECKPOINT_URI`` with the lineage
  labels as object tags (S3) or metadata (GCS), and carry the same labels on every object.

TrainJob schema: ``trainer.kubeflow.org/v1alpha1`` at v2.3.0 (``runtimePatches`` replaced
``podTemplateOverrides`` in v2.2; pkg/apis/trainer/v1alpha1/trainjob_types.go). RayJob:
``ray.io/v1`` (https://docs.ray.io/en/latest/cluster/kubernetes/getting-started/rayjob-quick-start.html).
This module is plain Python: no Pulumi, no SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_iac.components.kubernetes import charts

TRAINJOB_API = "trainer.kubeflow.org/v1alpha1"
RAYJOB_API = "ray.io/v1"
TORCH_RUNTIME = "torch-distributed"
# CUDA 12.4 runs on the 550+ drivers of the EKS AL2023 NVIDIA AMI and GKE's default driver.
TORCH_IMAGE = "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime"
RAY_VERSION = "2.40.0"
RAY_IMAGE = f"rayproject/ray:{RAY_VERSION}-py310-gpu"
SCRIPT_PATH = "/opt/mlops-smoke"
GPU_TOLERATION = {"key": charts.GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}
GPU_POOL_SELECTOR = {"aws": {"mlops/pool": "gpu"}, "gcp": {"mlops-pool": "gpu"}}
STORAGE_PACKAGES = {"aws": "boto3", "gcp": "google-cloud-storage"}

# The training script the job runs (a plain module, linted like the rest; shipped as a ConfigMap).
SCRIPT = (Path(__file__).parent / "smoke_job.py").read_text(encoding="utf-8")


@dataclass(frozen=True)
class SmokeJob:
    """Everything the smoke job needs, from the stack file and the stack's outputs."""

    cloud: str
    operator: str
    namespace: str
    service_account: str
    data_uri: str
    """The DVC remote (``s3://bucket/dvc`` / ``gs://bucket/dvc``): read with the workload
    identity."""
    checkpoint_uri: str
    """Where rank 0 writes ``model.pt`` (under the store's ``checkpoints/`` prefix)."""
    labels: Mapping[str, str] = field(default_factory=dict)
    kms_key_id: str | None = None
    region: str | None = None
    name: str = "mlops-smoke-ddp"
    workers: int = 2
    gpus_per_worker: int = 1
    image: str | None = None


def _env(job: SmokeJob) -> list[dict[str, str]]:
    import json

    env = [
        {"name": "DATA_URI", "value": job.data_uri},
        {"name": "CHECKPOINT_URI", "value": job.checkpoint_uri},
        {"name": "LINEAGE", "value": json.dumps(dict(job.labels), sort_keys=True)},
        {"name": "NCCL_DEBUG", "value": "WARN"},
    ]
    if job.kms_key_id:
        env.append({"name": "KMS_KEY_ID", "value": job.kms_key_id})
    if job.region:
        env.append({"name": "AWS_DEFAULT_REGION", "value": job.region})
    return env


def _metadata(job: SmokeJob, name: str) -> dict[str, Any]:
    labels = {**job.labels, "app.kubernetes.io/name": job.name, "mlops/job": "smoke"}
    return {"name": name, "namespace": job.namespace, "labels": labels}


def _script_config_map(job: SmokeJob) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(job, f"{job.name}-script"),
        "data": {"smoke.py": SCRIPT},
    }


def _volume(job: SmokeJob) -> tuple[dict[str, Any], dict[str, Any]]:
    volume = {"name": "smoke-script", "configMap": {"name": f"{job.name}-script"}}
    mount = {"name": "smoke-script", "mountPath": SCRIPT_PATH, "readOnly": True}
    return volume, mount


def _gpu_resources(job: SmokeJob) -> dict[str, Any]:
    gpus = str(job.gpus_per_worker)
    return {
        "requests": {charts.GPU_RESOURCE: gpus},
        "limits": {charts.GPU_RESOURCE: gpus},
    }


def _train_job(job: SmokeJob) -> dict[str, Any]:
    volume, mount = _volume(job)
    package = STORAGE_PACKAGES[job.cloud]
    pod_spec = {
        "serviceAccountName": job.service_account,
        "tolerations": [GPU_TOLERATION],
        "nodeSelector": GPU_POOL_SELECTOR[job.cloud],
        "volumes": [volume],
        # The runtime's trainer container is called "node".
        "containers": [{"name": "node", "volumeMounts": [mount]}],
    }
    return {
        "apiVersion": TRAINJOB_API,
        "kind": "TrainJob",
        "metadata": _metadata(job, job.name),
        "spec": {
            "runtimeRef": {"name": TORCH_RUNTIME},
            "trainer": {
                "image": job.image or TORCH_IMAGE,
                "numNodes": job.workers,
                "resourcesPerNode": _gpu_resources(job),
                "command": [
                    "bash",
                    "-c",
                    f"pip install --quiet {package} && torchrun {SCRIPT_PATH}/smoke.py",
                ],
                "env": _env(job),
            },
            "runtimePatches": [
                {
                    "manager": "mlops-iac/train-smoke",
                    "trainingRuntimeSpec": {
                        "template": {
                            "spec": {
                                "replicatedJobs": [
                                    {
                                        "name": "node",
                                        "template": {
                                            "spec": {
                                                "template": {
                                                    "metadata": {"labels": dict(job.labels)},
                                                    "spec": pod_spec,
                                                }
                                            }
                                        },
                                    }
                                ]
                            }
                        }
                    },
                }
            ],
        },
    }


def _ray_job(job: SmokeJob) -> dict[str, Any]:
    volume, mount = _volume(job)
    image = job.image or RAY_IMAGE
    package = STORAGE_PACKAGES[job.cloud]
    env = _env(job)
    head = {
        "metadata": {"labels": dict(job.labels)},
        "spec": {
            "serviceAccountName": job.service_account,
            "volumes": [volume],
            "containers": [
                {
                    "name": "ray-head",
                    "image": image,
                    "env": env,
                    "volumeMounts": [mount],
                    "resources": {"requests": {"cpu": "1", "memory": "4Gi"}},
                }
            ],
        },
    }
    worker = {
        "metadata": {"labels": dict(job.labels)},
        "spec": {
            "serviceAccountName": job.service_account,
            "tolerations": [GPU_TOLERATION],
            "nodeSelector": GPU_POOL_SELECTOR[job.cloud],
            "containers": [
                {
                    "name": "ray-worker",
                    "image": image,
                    "env": env,
                    "resources": _gpu_resources(job),
                }
            ],
        },
    }
    return {
        "apiVersion": RAYJOB_API,
        "kind": "RayJob",
        "metadata": _metadata(job, job.name),
        "spec": {
            "entrypoint": f"python {SCRIPT_PATH}/smoke.py --ray {job.workers}",
            # The Ray GPU image has CUDA but not PyTorch; the job installs both on its workers.
            "runtimeEnvYAML": f"pip: [torch, {package}]\n",
            "shutdownAfterJobFinishes": True,
            "ttlSecondsAfterFinished": 600,
            "rayClusterSpec": {
                "rayVersion": RAY_VERSION,
                "headGroupSpec": {"rayStartParams": {}, "template": head},
                "workerGroupSpecs": [
                    {
                        "groupName": "gpu",
                        "replicas": job.workers,
                        "minReplicas": job.workers,
                        "maxReplicas": job.workers,
                        "rayStartParams": {},
                        "template": worker,
                    }
                ],
            },
        },
    }


AZUREML_SCHEMA = "https://azuremlschemas.azureedge.net/latest/commandJob.schema.json"


@dataclass(frozen=True)
class AzureSmokeJob:
    """The AzureML variant: no Kubernetes, a command job on the workspace's GPU cluster."""

    compute: str
    """The AmlCompute cluster (the stack's ``gpu_pool_name``)."""
    datastore: str
    """The identity-based datastore on the artifact store (``artifacts``)."""
    labels: Mapping[str, str] = field(default_factory=dict)
    name: str = "mlops-smoke-ddp"
    workers: int = 2
    image: str | None = None


def azureml_command_job(job: AzureSmokeJob) -> dict[str, Any]:
    """An AzureML CLI v2 command job (``az ml job create -f``): two GPU nodes, PyTorch
    distribution, the compute's managed identity, data in and checkpoint out on the datastore
    (https://learn.microsoft.com/azure/machine-learning/reference-yaml-job-command)."""
    import json

    root = f"azureml://datastores/{job.datastore}/paths"
    return {
        "$schema": AZUREML_SCHEMA,
        "type": "command",
        "display_name": job.name,
        "experiment_name": "mlops-smoke",
        "tags": dict(job.labels),
        "code": ".",
        "command": "python smoke.py --azureml ${{inputs.data}} ${{outputs.checkpoint}}",
        "environment": {"image": job.image or TORCH_IMAGE},
        "environment_variables": {"LINEAGE": json.dumps(dict(job.labels), sort_keys=True)},
        "compute": f"azureml:{job.compute}",
        "resources": {"instance_count": job.workers},
        "distribution": {"type": "pytorch", "process_count_per_instance": 1},
        "identity": {"type": "managed"},
        "inputs": {"data": {"type": "uri_folder", "path": f"{root}/", "mode": "ro_mount"}},
        "outputs": {
            "checkpoint": {
                "type": "uri_folder",
                "path": f"{root}/checkpoints/smoke/{job.name}/",
                "mode": "rw_mount",
            }
        },
    }


def manifests(job: SmokeJob) -> list[dict[str, Any]]:
    """The objects to apply, in order: the script's ConfigMap, then the job."""
    if job.cloud not in GPU_POOL_SELECTOR:
        raise ValueError(f"the smoke job runs on EKS or GKE, not {job.cloud}")
    if job.operator == "kubeflow-trainer":
        return [_script_config_map(job), _train_job(job)]
    if job.operator == "kuberay":
        return [_script_config_map(job), _ray_job(job)]
    raise ValueError(
        f"training.operator is {job.operator!r}: the smoke job needs kubeflow-trainer or kuberay"
    )


def worker_pod_specs(manifest: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The pod specs of a job's GPU workers (for tests and policy checks)."""
    if manifest["kind"] == "TrainJob":
        specs = []
        for patch in manifest["spec"].get("runtimePatches", []):
            for replicated in patch["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"]:
                specs.append(replicated["template"]["spec"]["template"]["spec"])
        return specs
    if manifest["kind"] == "RayJob":
        groups = manifest["spec"]["rayClusterSpec"]["workerGroupSpecs"]
        return [group["template"]["spec"] for group in groups]
    return []
