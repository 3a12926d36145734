"""``mlops-iac rollback``: make the previous model version the active one.

Semantics: the stack file's manual rollback switch. ``serving.rollback: true`` makes the endpoint
serve ``serving.previousModel``; ``serving.model`` stays as it is, deployed as the standby, so the
file still says which version is newest and which one is being served. ``--undo`` sets it back to
``false``. The switch is one line in the diff, obvious in review and trivially reversible; swapping
the ``model`` and ``previousModel`` blocks would lose which version was the newest and make the
roll forward a second, different edit. Apply the change with ``pulumi up``.

``--now`` is the emergency path: before the stack is applied, the live endpoint serves the previous
version. Run ``pulumi up`` afterwards so the IaC catches up. Only the endpoint's traffic changes,
and a second run sends nothing when the previous version already takes all traffic.

- AWS: the SageMaker endpoint is pointed back at the previous version's endpoint configuration
  (``UpdateEndpoint`` with the deployment configuration retained).
- Azure: the online endpoint's traffic goes 100% to the deployment whose model is the previous
  version (a PUT of the endpoint as read, with only ``traffic`` changed). Needs ``--outputs``.
- GCP: the Cloud Run service's traffic goes 100% to the previous version's revision
  (``services.patch`` with ``updateMask=traffic``; other revisions stay listed at 0%). Needs
  ``--outputs``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mlops_iac.cli import (
    EXIT_OK,
    OpsError,
    add_stack_arguments,
    aws,
    cloudrest,
    command,
    describe,
    stackfile,
)
from mlops_iac.cli.outputs import load_outputs
from mlops_iac.spec.keys import ROOT
from mlops_iac.spec.models import ModelRef

NAME = "rollback"
VERSION_TAG = "mlops:model-version"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``rollback`` subcommand."""
    parser = subparsers.add_parser(
        NAME,
        help="serve the previous model version (stack file; --now also the live endpoint)",
        description=describe(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_stack_arguments(parser)
    parser.add_argument(
        "--undo", action="store_true", help="roll forward again: set serving.rollback to false"
    )
    parser.add_argument(
        "--now",
        action="store_true",
        help="emergency path: also make the live endpoint serve the previous version now",
    )
    parser.add_argument(
        "--endpoint",
        metavar="NAME",
        help="SageMaker endpoint, Azure online endpoint or Cloud Run service (with --now)",
    )
    parser.add_argument(
        "--endpoint-config",
        metavar="NAME",
        help="AWS: endpoint configuration of the previous version (with --now)",
    )
    parser.add_argument(
        "--outputs",
        metavar="F",
        help="`pulumi stack output --json` file: supplies the endpoint's names and location",
    )
    cloudrest.add_region_arguments(parser)
    parser.set_defaults(func=run)


def pulumi_up_command(stack: str, project: str) -> str:
    """The exact command that applies the edited stack file."""
    cwd = "" if Path(project) == Path(".") else f" --cwd {project}"
    return f"pulumi up --stack {stack}{cwd}"


def _target_config(args: argparse.Namespace, target: ModelRef) -> tuple[str, str]:
    """(endpoint name, endpoint config name) for ``--now``, from flags or the outputs file."""
    outputs = load_outputs(args.outputs) if args.outputs else None
    endpoint = args.endpoint or (outputs.string("endpoint_name") if outputs else None)
    if not endpoint:
        raise OpsError("--now needs --endpoint NAME (or --outputs F with endpoint_name)")
    if args.endpoint_config:
        return endpoint, args.endpoint_config
    if outputs is None:
        raise OpsError("--now needs --endpoint-config NAME or --outputs F")
    # Match by version rather than trusting the key name: after an applied rollback the
    # "active" config is the one that serves the previous version.
    for prefix in ("previous", "active"):
        version_key = f"{prefix}_model_version"
        if outputs.has(version_key) and str(outputs.values[version_key]) == target.version:
            return endpoint, outputs.string(f"{prefix}_endpoint_config_name")
    if not outputs.has("previous_model_version"):
        return endpoint, outputs.string("previous_endpoint_config_name")
    raise OpsError(
        f"outputs file {args.outputs} has no endpoint config for {target.name} v{target.version} "
        f"(previous_model_version is {outputs.values['previous_model_version']}); "
        "pass --endpoint-config NAME"
    )


def _rollback_endpoint(
    args: argparse.Namespace, region: str | None, target: ModelRef
) -> tuple[Any, str, str] | None:
    """Check the endpoint and the target config; None when the endpoint already serves it."""
    from botocore.exceptions import ClientError

    endpoint, config = _target_config(args, target)
    sagemaker = aws.client("sagemaker", region=region, profile=args.profile)
    try:
        current = sagemaker.describe_endpoint(EndpointName=endpoint)
    except ClientError as exc:
        raise OpsError(
            f"endpoint {endpoint} not found in {region or 'the default region'}: "
            f"{exc.response.get('Error', {}).get('Message', exc)}"
        ) from None
    if current.get("EndpointConfigName") == config:
        print(f"endpoint {endpoint} already uses {config}; no endpoint update needed")
        return None
    try:
        described = sagemaker.describe_endpoint_config(EndpointConfigName=config)
    except ClientError as exc:
        raise OpsError(
            f"endpoint config {config} not found: "
            f"{exc.response.get('Error', {}).get('Message', exc)}"
        ) from None
    tags = sagemaker.list_tags(ResourceArn=described["EndpointConfigArn"]).get("Tags", [])
    tagged = {t["Key"]: t["Value"] for t in tags}.get(VERSION_TAG)
    if tagged is not None and tagged != target.version:
        raise OpsError(
            f"endpoint config {config} is tagged {VERSION_TAG}={tagged}, not {target.version}; "
            "refusing to point the endpoint at the wrong version"
        )
    return sagemaker, endpoint, config


def _rollback_cloud(args: argparse.Namespace, sf: stackfile.StackFile, target: ModelRef) -> str:
    """``--now`` on Azure or GCP through the cloud's REST API; the line saying what it did."""
    cloud = sf.spec.cloud
    if args.endpoint_config:
        raise OpsError(f"--endpoint-config is an AWS option (the stack's cloud is {cloud})")
    if args.profile:
        raise OpsError(f"--profile is an AWS option (the stack's cloud is {cloud})")
    if not args.outputs:
        raise OpsError(f"--now on {cloud} needs --outputs F (`pulumi stack output --json`)")
    outputs = load_outputs(args.outputs)
    if cloud == "azure":
        from mlops_iac.cli import azure_ops

        if args.region:
            raise OpsError("--region is not used on Azure: the endpoint is found by its id")
        azure_ops.estate(outputs, args.endpoint)  # bad outputs fail before credentials load
        return azure_ops.rollback_now(
            outputs, target, cloudrest.transport_for("azure"), args.endpoint
        )
    from mlops_iac.cli import gcp_ops

    project, region = gcp_ops.location(sf.config, args.region)
    gcp_ops.estate(outputs, project, region, args.endpoint)
    return gcp_ops.rollback_now(
        outputs, target, cloudrest.transport_for("gcp"), project, region, args.endpoint
    )


@command(NAME)
def run(args: argparse.Namespace) -> int:
    """Flip ``serving.rollback`` (and with ``--now`` the live endpoint), then say how to apply."""
    if args.now and args.undo:
        raise OpsError("--now only rolls back; to roll forward, use --undo and run pulumi up")
    sf = stackfile.load(args.project, args.stack)
    serving = sf.spec.serving
    previous = serving.previous_model
    if previous is None:
        raise OpsError(
            f"no previous model version to roll back to: serving.previousModel is not set in "
            f"{sf.display}"
        )
    rolled_back = not args.undo
    active, standby = (previous, serving.model) if rolled_back else (serving.model, previous)
    new: bytes | None = None
    if serving.rollback != rolled_back:
        keys = ["config", ROOT, "serving"]
        value = stackfile.scalar(rolled_back)

        def splice(text: str, root: Any) -> str:
            return stackfile.set_scalar(text, root, keys, "rollback", value, after="previousModel")

        def change(platform: dict[str, Any]) -> None:
            platform["serving"]["rollback"] = rolled_back

        new = stackfile.edit(sf, splice, change)  # validates before anything is touched

    if args.now and sf.spec.cloud != "aws":
        print(_rollback_cloud(args, sf, previous))
    elif args.now:
        region = args.region or sf.aws_region
        plan = _rollback_endpoint(args, region, previous)
        if plan is not None:
            sagemaker, endpoint, config = plan
            sagemaker.update_endpoint(
                EndpointName=endpoint,
                EndpointConfigName=config,
                # Keep the blue/green policy and its alarm-based auto-rollback in force.
                RetainDeploymentConfig=True,
            )
            print(
                f"endpoint {endpoint} is updating to {config} ({previous.name} v{previous.version})"
            )

    if new is None:
        print(
            f"{sf.display} already has serving.rollback: {str(rolled_back).lower()}; "
            "nothing to change in the file"
        )
    else:
        stackfile.write_atomic(sf.path, new, expected=sf.raw)
        print(f"{sf.display}: serving.rollback: {str(rolled_back).lower()}")
    print(f"active: {active.name} v{active.version}; standby: {standby.name} v{standby.version}")
    gov = sf.spec.governance
    if sf.spec.enforcement == "mandatory" and gov.approval_for(active) is None:
        print(
            f"warning: {active.name} v{active.version} has no recorded approval; the approval "
            f"gate will block the update (mlops-iac approve --stack {args.stack} …)",
            file=sys.stderr,
        )
    applied = "so the IaC catches up" if args.now else "to apply it"
    print(
        f"next: commit {sf.display} and run `{pulumi_up_command(args.stack, args.project)}` "
        f"{applied}"
    )
    return EXIT_OK
