"""``mlops-iac train-smoke``: the two-worker GPU smoke job of a stack.

EKS/GKE: prints (or with ``--apply`` pipes to ``kubectl apply -f -``) a PyTorch DDP job for the
stack's training operator: a Kubeflow Trainer TrainJob or a KubeRay RayJob with two workers of
one GPU each, tolerating the GPU pool's taint, running as the training service account (the
workload identity that reads the artifact store) and writing ``checkpoints/smoke/<job>/model.pt``
with the stack's lineage as object tags. Azure: prints an AzureML command job (no Kubernetes) on
the GPU cluster with its managed identity, reading and writing the ``artifacts`` datastore; save
it and run ``az ml job create -f job.yml`` beside the script (``--script smoke.py``).

Values come from ``--outputs F`` (``pulumi stack output --json > F``) after ``pulumi up``; without
it they come from an offline run of the program, whose bucket names are the mock engine's, which
is enough to review the job, not to run it.

``--apply`` targets the stack's own cluster: kubectl runs with the ``kubeconfig`` stack output
(written to a private temporary file; its exec credentials need ``aws``/``gke-gcloud-auth-plugin``
on PATH), never with the current kube context. ``--context NAME`` picks a context of your own
kubeconfig instead, explicitly.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from mlops_iac.cli import (
    EXIT_OK,
    OpsError,
    add_stack_arguments,
    command,
    describe,
    nofollow,
    stackfile,
)
from mlops_iac.cli.outputs import load_outputs
from mlops_iac.cli.progress import Progress

NAME = "train-smoke"
_KEYS = ("artifact_bucket_uri", "dvc_remote_url", "training_namespace", "training_service_account")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train-smoke`` subcommand."""
    parser = subparsers.add_parser(
        NAME,
        help="print (or apply) a two-worker GPU DDP smoke job for a stack",
        description=describe(__doc__),
    )
    add_stack_arguments(parser)
    parser.add_argument(
        "--outputs", metavar="F", help="file from `pulumi stack output --json` (default: offline)"
    )
    parser.add_argument(
        "--name", default="mlops-smoke-ddp", metavar="NAME", help="job name (a DNS-1123 label)"
    )
    parser.add_argument("--image", metavar="IMAGE", help="training image (default: per operator)")
    parser.add_argument(
        "--apply", action="store_true", help="apply with `kubectl apply -f -` instead of printing"
    )
    parser.add_argument(
        "--context",
        metavar="NAME",
        help="with --apply: use this context of your kubeconfig (default: the stack's kubeconfig "
        "output)",
    )
    parser.add_argument(
        "--script", metavar="PATH", help="also write the training script (smoke.py) to PATH"
    )
    parser.set_defaults(func=run)


def _offline_outputs(project: str, stack: str) -> dict[str, Any]:
    from mlops_iac.plan.testing import ProgramError, run_project

    try:
        return run_project(project, stack).exports
    except ProgramError as exc:
        raise OpsError(f"offline run of {stack} failed: {exc}") from None


def build_job(sf: stackfile.StackFile, values: dict[str, Any], name: str, image: str | None):  # noqa: ANN201
    """The ``SmokeJob`` of a stack file and its outputs (``OpsError`` on anything missing)."""
    from mlops_iac.components.kubernetes.labels import DNS1123_LABEL, kubernetes_labels
    from mlops_iac.components.kubernetes.smoke import AzureSmokeJob, SmokeJob
    from mlops_iac.components.lineage import base_tags

    spec = sf.spec
    if spec.training.operator == "none" and spec.cloud != "azure":
        raise OpsError(f"{sf.display}: training.operator is none; set kubeflow-trainer or kuberay")
    if not DNS1123_LABEL.match(name) or len(name) > 40:
        raise OpsError(f"--name {name!r}: a DNS-1123 label of at most 40 characters")
    labels = kubernetes_labels(base_tags(spec))
    if spec.cloud == "azure":
        _require(values, ("gpu_pool_name", "datastore_name"))
        return AzureSmokeJob(
            compute=values["gpu_pool_name"],
            datastore=values["datastore_name"],
            labels=labels,
            name=name,
            image=image,
        )
    _require(values, _KEYS)
    bucket = values["artifact_bucket_uri"].rstrip("/")
    return SmokeJob(
        cloud=spec.cloud,
        operator=spec.training.operator,
        namespace=values["training_namespace"],
        service_account=values["training_service_account"],
        data_uri=values["dvc_remote_url"],
        checkpoint_uri=f"{bucket}/checkpoints/smoke/{name}/model.pt",
        labels=labels,
        kms_key_id=values.get("kms_key_id") if spec.cloud == "aws" else None,
        region=sf.aws_region if spec.cloud == "aws" else None,
        name=name,
        image=image,
    )


def _require(values: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        if not isinstance(values.get(key), str) or not values[key]:
            raise OpsError(f"stack outputs have no {key!r} (run pulumi up with this version)")


def render(documents: list[dict[str, Any]]) -> str:
    """Multi-document YAML, in apply order."""
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, _text)
    return "".join(
        "---\n" + yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False)
        for doc in documents
    )


@command(NAME)
def run(args: argparse.Namespace) -> int:
    """Print or apply the smoke job."""
    from mlops_iac.components.kubernetes.smoke import (
        SCRIPT,
        AzureSmokeJob,
        azureml_command_job,
        manifests,
    )

    sf = stackfile.load(args.project, args.stack)
    azure = sf.spec.cloud == "azure"
    if args.apply and azure:
        raise OpsError("--apply is for Kubernetes; on Azure save the job and run az ml job create")
    if args.apply and not args.outputs and not args.context:
        raise OpsError(
            "--apply needs --outputs (the deployed stack's kubeconfig) or --context NAME: "
            "an offline run has no real cluster"
        )
    if args.outputs:
        values = load_outputs(args.outputs).values
    else:
        quiet = getattr(args, "quiet", False)
        if not quiet:
            print(
                f"mlops-iac {NAME}: no --outputs; using an offline run of {args.stack} "
                "(placeholder bucket names)",
                file=sys.stderr,
            )
        with Progress(f"Running {args.stack} offline", quiet=quiet):
            values = _offline_outputs(args.project, args.stack)
    job = build_job(sf, values, args.name, args.image)
    documents = [azureml_command_job(job)] if isinstance(job, AzureSmokeJob) else manifests(job)
    if args.script:
        nofollow.write_atomic(Path(args.script), SCRIPT.encode("utf-8"))
    text = render(documents)
    if not args.apply:
        sys.stdout.write(text)
        return EXIT_OK
    kubeconfig = _target(args, values)
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise OpsError("--apply needs kubectl on PATH (or run without --apply and pipe the output)")
    with tempfile.TemporaryDirectory(prefix="mlops-train-smoke-") as private:
        if kubeconfig is None:
            target = ["--context", args.context]
        else:
            path = Path(private) / "kubeconfig"
            nofollow.write_atomic(path, kubeconfig.encode("utf-8"), mode=0o600)
            target = ["--kubeconfig", str(path)]
        result = subprocess.run(  # noqa: S603 - fixed argv, manifest on stdin
            [kubectl, *target, "apply", "-f", "-"], input=text, text=True, check=False
        )
    if result.returncode != 0:
        raise OpsError(f"kubectl apply failed with exit {result.returncode}", code=1)
    return EXIT_OK


def _target(args: argparse.Namespace, values: dict[str, Any]) -> str | None:
    """The stack's kubeconfig for ``--apply``, or None with an explicit ``--context``."""
    if args.context:
        return None
    kubeconfig = values.get("kubeconfig")
    if not isinstance(kubeconfig, str) or not kubeconfig:
        raise OpsError(
            "stack outputs have no 'kubeconfig' (run pulumi up with this version), or pass "
            "--context NAME to choose the cluster explicitly"
        )
    return kubeconfig
