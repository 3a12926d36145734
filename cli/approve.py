"""``mlops-iac approve``: record a human approval of one model version, signed.

The approval is appended to ``governance.approvals`` in the stack file (the audit trail lives in
git, next to the change it approves); the approval gate policy reads it there. The approver must be
listed in ``governance.approvers`` and must not be the stack owner. With ``--key`` the record is
signed with the approver's SSH key (``ssh-keygen -Y sign``) over model, version, ticket, date and
approver, and checked against ``governance/allowed_signers`` before anything is written; prod
requires it. Running the same approval twice changes nothing. With ``--enforcement advisory`` it
records the signed four-eyes approval of lowering a staging/prod stack's enforcement instead. With
``--model-package-arn`` the SageMaker model package is also set to ``Approved``, with a
description naming approver and ticket.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from mlops_iac.cli import (
    EXIT_FAILED,
    EXIT_OK,
    OpsError,
    add_stack_arguments,
    aws,
    command,
    describe,
    stackfile,
)
from mlops_iac.policies import packs, signatures, trust
from mlops_iac.spec import identities
from mlops_iac.spec.keys import ROOT
from mlops_iac.spec.rules import same_identity

NAME = "approve"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``approve`` subcommand."""
    parser = subparsers.add_parser(
        NAME,
        help="record a human approval of a model version (stack file + SageMaker)",
        description=describe(__doc__),
    )
    add_stack_arguments(parser)
    parser.add_argument("--model", help="model name, e.g. fraud-detector")
    parser.add_argument("--version", help="model version, e.g. 7")
    parser.add_argument(
        "--enforcement",
        choices=["advisory"],
        help="approve lowering governance.enforcement instead of a model version",
    )
    parser.add_argument(
        "--key",
        type=Path,
        metavar="FILE",
        help="the approver's private SSH key: signs the record (required in prod)",
    )
    parser.add_argument(
        "--approver", required=True, help="approver's email (must be in governance.approvers)"
    )
    parser.add_argument("--ticket", required=True, help="change ticket, e.g. CHG-1234")
    parser.add_argument(
        "--model-package-arn",
        metavar="ARN",
        help="also set this SageMaker model package to Approved (AWS stacks)",
    )
    aws.add_aws_arguments(parser)
    parser.set_defaults(func=run)


def _owner_like(approver: str, owner: str | None) -> str | None:
    """`` (x looks like y but is not y)`` when ``approver`` looks like the owner without being
    them, ``""`` when it is the owner, ``None`` when it is someone else (four eyes)."""
    if not owner or not identities.looks_alike(approver, owner):
        return None
    if identities.same(approver, owner):
        return ""
    return f" ({identities.looks_like_message(approver, owner)})"


def _refuse_lookalike(approver: str, approvers: list[str], display: str) -> None:
    """An approver that looks like a listed one without being it is refused by name."""
    lookalike = identities.impostor(approver, approvers)
    if lookalike is None:
        return
    like = identities.looks_like_message(approver, lookalike)
    if not any(identities.same(approver, a) for a in approvers):
        raise OpsError(f"{approver} is not in governance.approvers of {display} ({like})")
    raise OpsError(f"{like}, who is in governance.approvers of {display}")


def _canonical_approver(approver: str, approvers: list[str]) -> str | None:
    # The gate's comparison (only the domain's case folds); record the spelling the file lists.
    for listed in approvers:
        if same_identity(listed, approver):
            return listed
    return None


def _already_recorded(approvals: list[Any], entry: dict[str, str]) -> bool:
    return any(
        (a.model, a.version, a.ticket) == (entry["model"], entry["version"], entry["ticket"])
        and same_identity(a.approved_by, entry["approvedBy"])
        for a in approvals
    )


def _check_model_package(sagemaker: Any, arn: str, version: str) -> dict[str, str]:
    """The package's customer metadata; refuses a package of another version."""
    from botocore.exceptions import ClientError

    try:
        package = sagemaker.describe_model_package(ModelPackageName=arn)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in (
            "ValidationException",
            "ResourceNotFound",
        ):
            raise
        raise OpsError(
            f"model package {arn} not found: {exc.response['Error'].get('Message', '')}"
        ) from None
    package_version = package.get("ModelPackageVersion")
    if version.isdigit() and package_version is not None and int(version) != package_version:
        group = package.get("ModelPackageGroupName", "?")
        raise OpsError(
            f"model package {arn} is version {package_version} of {group}, not version {version}"
        )
    return dict(package.get("CustomerMetadataProperties") or {})


@command(NAME)
def run(args: argparse.Namespace) -> int:
    """Validate, append the approval atomically, then approve the model package if asked."""
    sf = stackfile.load(args.project, args.stack)
    spec = sf.governed
    if (like := _owner_like(args.approver, spec.owner)) is not None:
        raise OpsError(
            f"{args.approver} owns the stack and cannot approve its models (four eyes){like}"
        )
    _refuse_lookalike(args.approver, spec.governance.approvers, sf.display)
    approver = _canonical_approver(args.approver, spec.governance.approvers)
    if approver is None:
        listed = ", ".join(spec.governance.approvers) or "nobody"
        raise OpsError(
            f"{args.approver} is not in governance.approvers of {sf.display} (listed: {listed})"
        )

    if args.enforcement:
        if args.model or args.version or args.model_package_arn:
            raise OpsError("--enforcement approves a level, not a model: drop --model/--version")
        return _approve_enforcement(args, sf, approver)
    if not (args.model and args.version):
        raise OpsError("give --model and --version (or --enforcement advisory)")

    sagemaker = None
    metadata: dict[str, str] = {}
    if args.model_package_arn:
        if sf.cloud != "aws":
            raise OpsError(f"--model-package-arn is AWS-only (the stack's cloud is {sf.cloud})")
        arn = aws.require_arn(args.model_package_arn, "sagemaker", "--model-package-arn")
        region = aws.arn_region(arn) or args.region or sf.aws_region
        sagemaker = aws.client("sagemaker", region=region, profile=args.profile)
        # Read first: a wrong ARN fails before the stack file changes.
        metadata = _check_model_package(sagemaker, arn, args.version)

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    entry = {
        "model": args.model,
        "version": args.version,
        "approvedBy": approver,
        "ticket": args.ticket,
        "approvedAt": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    signature = _sign(
        args, sf, signatures.approval_payload(spec.project, entry), approver, "approval"
    )
    if _already_recorded(spec.governance.approvals, entry):
        print(
            f"{args.model} v{args.version}: approval by {approver} ({args.ticket}) already in "
            f"{sf.display}; nothing to change"
        )
    else:
        rendered = [
            ("model", stackfile.scalar(entry["model"])),
            # Quoted so that "7" stays a string and the timestamp is not retyped by YAML.
            ("version", stackfile.quoted(entry["version"])),
            ("approvedBy", stackfile.scalar(entry["approvedBy"])),
            ("ticket", stackfile.scalar(entry["ticket"])),
            ("approvedAt", stackfile.quoted(entry["approvedAt"])),
        ]
        if signature:
            entry["signature"] = signature
            rendered.append(("signature", stackfile.scalar(signature)))
        keys = ["config", ROOT, "governance"]

        def splice(text: str, root: Any) -> str:
            return stackfile.append_to_sequence(
                text, root, keys, "approvals", rendered, after="approvers"
            )

        def change(platform: dict[str, Any]) -> None:
            platform.setdefault("governance", {}).setdefault("approvals", []).append(entry)

        new = stackfile.edit(sf, splice, change)
        stackfile.write_atomic(sf.path, new, expected=sf.raw)
        print(
            f"recorded approval of {args.model} v{args.version} by {approver} "
            f"({args.ticket}) in {sf.display}"
        )

    if sagemaker is not None:
        update: dict[str, Any] = {
            "ModelPackageArn": args.model_package_arn,
            "ModelApprovalStatus": "Approved",
            "ApprovalDescription": f"Approved by {approver} (ticket {args.ticket})",
        }
        if metadata:
            # Passed again on purpose: an update without it can drop the existing metadata.
            update["CustomerMetadataProperties"] = metadata
        sagemaker.update_model_package(**update)
        print(f"model package {args.model_package_arn} set to Approved")
    print("commit the stack file so the approval is part of the audit trail")
    return EXIT_OK


def trusted_environment(args: argparse.Namespace) -> tuple[str, str]:
    """``(environment, why)`` of ``args.stack`` from the trusted ``governance/settings.yaml``
    (never the stack file's own claim), as ``plan`` judges it."""
    try:
        return trust.load(args.project).environment(args.stack)
    except trust.TrustError as exc:
        raise OpsError(str(exc)) from None


def _sign(
    args: argparse.Namespace, sf: stackfile.StackFile, data: bytes, approver: str, what: str
) -> str | None:
    """Sign ``data`` with ``--key`` and check it against the allowed-signers file.

    Prod needs a signed record; a signature that would not verify is refused before anything is
    written (wrong key for this approver, or the approver's key not in the file).
    """
    # The file plan trusts: $MLOPS_IAC_ALLOWED_SIGNERS, else the project's governance/.
    allowed = packs.allowed_signers_path(args.project)
    if args.key is None:
        if sf.governed.is_prod or trusted_environment(args)[0] == "prod":
            raise OpsError(
                f"a prod {what} must be signed: pass --key with {approver}'s private SSH key "
                f"(public key in {allowed})"
            )
        return None
    try:
        signature = signatures.sign(data, args.key)
    except signatures.SigningError as exc:
        raise OpsError(str(exc)) from None
    status = signatures.verify(data, signature, approver, allowed)
    if status != signatures.VERIFIED:
        raise OpsError(f"the {what} signed with {args.key} {status}", EXIT_FAILED)
    return signature


def _approve_enforcement(args: argparse.Namespace, sf: stackfile.StackFile, approver: str) -> int:
    """Record ``governance.enforcement: advisory`` with its signed four-eyes approval."""
    spec = sf.governed
    # Signed for the environment plan judges the stack as (the trusted one), so it verifies there.
    environment, _ = trusted_environment(args)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    record = {"approvedBy": approver, "ticket": args.ticket, "approvedAt": now.date().isoformat()}
    signature = _sign(
        args,
        sf,
        signatures.enforcement_payload(spec.project, environment, args.enforcement, record),
        approver,
        "enforcement change",
    )
    if environment != "dev" and signature is None:
        raise OpsError(f"lowering enforcement in {environment} must be signed: pass --key")
    if signature:
        record["signature"] = signature
    flow = stackfile.flow_mapping(
        [
            ("approvedBy", stackfile.scalar(approver)),
            ("ticket", stackfile.scalar(args.ticket)),
            ("approvedAt", stackfile.quoted(record["approvedAt"])),
            *([("signature", stackfile.scalar(signature))] if signature else []),
        ]
    )
    keys = ["config", ROOT, "governance"]

    def splice(text: str, root: Any) -> str:
        text = stackfile.set_scalar(
            text, root, keys, "enforcementApproval", flow, after="approvers"
        )
        root = stackfile.compose(text)
        return stackfile.set_scalar(
            text, root, keys, "enforcement", args.enforcement, after="approvers"
        )

    def change(platform: dict[str, Any]) -> None:
        governance = platform.setdefault("governance", {})
        governance["enforcementApproval"] = record
        governance["enforcement"] = args.enforcement

    new = stackfile.edit(sf, splice, change)
    stackfile.write_atomic(sf.path, new, expected=sf.raw)
    print(
        f"recorded enforcement {args.enforcement} in {sf.display}, approved by {approver} "
        f"({args.ticket}); commit the stack file"
    )
    return EXIT_OK
