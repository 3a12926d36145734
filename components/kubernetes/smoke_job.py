"""mlops-iac GPU smoke job: DDP over every worker, data from and checkpoint to the artifact store.

Runs inside the training image (not imported by the library): ``torchrun smoke.py`` (Kubeflow
Trainer), ``smoke.py --ray N`` (KubeRay) or ``smoke.py --azureml DATA OUT`` (AzureML command job).
Environment: ``DATA_URI`` and ``CHECKPOINT_URI`` (s3:// or gs://), ``LINEAGE`` (JSON labels),
optional ``KMS_KEY_ID``.
"""

from __future__ import annotations

import io
import json
import os
import sys
import urllib.parse
from collections.abc import Callable


def _split(uri: str) -> tuple[str, str, str]:
    scheme, rest = uri.split("://", 1)
    bucket, _, key = rest.partition("/")
    return scheme, bucket, key


def count_objects(uri: str) -> int:
    """Objects under the data prefix (at most 100): proves the workload identity can read."""
    scheme, bucket, prefix = _split(uri)
    if scheme == "s3":
        import boto3

        page = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=100)
        return int(page.get("KeyCount", 0))
    from google.cloud import storage

    return sum(1 for _ in storage.Client().list_blobs(bucket, prefix=prefix, max_results=100))


def put(uri: str, body: bytes, labels: dict[str, str]) -> None:
    """Write the checkpoint with the lineage as S3 object tags / GCS metadata."""
    scheme, bucket, key = _split(uri)
    if scheme == "s3":
        import boto3

        extra = {"ServerSideEncryption": "aws:kms"}
        if os.environ.get("KMS_KEY_ID"):
            extra["SSEKMSKeyId"] = os.environ["KMS_KEY_ID"]
        tagging = urllib.parse.urlencode(labels)
        boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body, Tagging=tagging, **extra)
        return
    from google.cloud import storage

    blob = storage.Client().bucket(bucket).blob(key)
    blob.metadata = labels
    blob.upload_from_string(body)


def train(rank: int, local_rank: int, world: int, seen: int, save: Callable[[bytes], None]) -> None:
    """A few DDP steps on one GPU per process; rank 0 saves the weights."""
    import torch
    from torch.nn.parallel import DistributedDataParallel

    print(f"rank {rank}/{world}: {seen} objects of training data", flush=True)
    torch.cuda.set_device(local_rank)
    model = torch.nn.Linear(16, 1).cuda()
    ddp = DistributedDataParallel(model, device_ids=[local_rank])
    optimiser = torch.optim.SGD(ddp.parameters(), lr=0.01)
    for _ in range(20):
        loss = ddp(torch.randn(64, 16, device="cuda")).pow(2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    if rank == 0:
        buffer = io.BytesIO()
        torch.save(model.state_dict(), buffer)
        save(buffer.getvalue())


def to_store(body: bytes) -> None:
    put(os.environ["CHECKPOINT_URI"], body, json.loads(os.environ["LINEAGE"]))
    print(f"checkpoint written to {os.environ['CHECKPOINT_URI']}", flush=True)


def count_files(data_dir: str) -> int:
    """Files under the mounted input folder: proves the compute identity reads the datastore."""
    return sum(len(files) for _, _, files in os.walk(data_dir))


def to_folder(out_dir: str, body: bytes) -> None:
    """Write ``model.pt`` and the lineage (``lineage.json``) into the mounted output folder."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "model.pt"), "wb") as handle:
        handle.write(body)
    with open(os.path.join(out_dir, "lineage.json"), "w") as handle:
        handle.write(os.environ["LINEAGE"])
    print(f"checkpoint written to {out_dir}", flush=True)


def torchrun_main() -> None:
    import torch.distributed as dist

    dist.init_process_group("nccl")
    seen = count_objects(os.environ["DATA_URI"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    train(dist.get_rank(), local, dist.get_world_size(), seen, to_store)
    dist.barrier()
    dist.destroy_process_group()


def ray_main(workers: int) -> None:
    import ray.train
    from ray.train.torch import TorchTrainer

    def loop(_config: dict) -> None:
        context = ray.train.get_context()
        seen = count_objects(os.environ["DATA_URI"])
        rank, world = context.get_world_rank(), context.get_world_size()
        train(rank, context.get_local_rank(), world, seen, to_store)

    scaling = ray.train.ScalingConfig(num_workers=workers, use_gpu=True)
    TorchTrainer(loop, scaling_config=scaling).fit()


def azureml_main(data_dir: str, out_dir: str) -> None:
    # AzureML's pytorch distribution sets MASTER_ADDR, RANK, WORLD_SIZE and LOCAL_RANK; the
    # datastore paths are mounted with the compute's managed identity.
    import torch.distributed as dist

    dist.init_process_group("nccl")
    seen = count_files(data_dir)
    local = int(os.environ.get("LOCAL_RANK", "0"))
    rank, world = dist.get_rank(), dist.get_world_size()
    train(rank, local, world, seen, lambda body: to_folder(out_dir, body))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--ray":
        ray_main(int(sys.argv[2]))
    elif len(sys.argv) > 3 and sys.argv[1] == "--azureml":
        azureml_main(sys.argv[2], sys.argv[3])
    else:
        torchrun_main()
