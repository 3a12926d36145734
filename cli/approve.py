"""``mlops-iac approve``: record a human approval of one model version, signed.

The approval is appended to ``governance.approvals`` in the stack file (the audit trail lives in
git, next to the change it approves); the approval gate policy reads it there. The approver must be
listed in ``governance.approvers`` and must not be the stack owner. With ``--key`` the record is
signed with the approver's SSH key (``ssh-keygen -Y sign``) over model, version, ticket, date and
approver, and checked against ``governance/allowed_signers`` before anything is written; prod
requires it. Running the same approval twice changes nothing. With ``--enforcement advisory`` it
records the signed four-eyes approval of lowering a staging/prod stack's enforcement instead. With
``--model-package-arn`` the SageMaker model package is also set to ``Approved``, with a
description naming approver and ticket; with ``--registry-entry --outputs F`` the model card goes
onto the Azure registry model version's tags or the GCP model objects' metadata.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import re
from pathlib import Path
from typing import Any

from mlops_iac.cli import (
    EXIT_FAILED,
    EXIT_OK,
    OpsError,
    add_stack_arguments,
    aws,
    cloudrest,
    command,
    describe,
    metrics,
    nofollow,
    registry_card,
    stackfile,
)
from mlops_iac.cli.outputs import load_outputs
from mlops_iac.policies import packs, signatures, trust
from mlops_iac.spec import evaluation, identities
from mlops_iac.spec.keys import ROOT
from mlops_iac.spec.models import ModelRef
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
        "--metrics",
        type=Path,
        metavar="FILE",
        help="the candidate's recorded metrics: a JSON file committed with the training run",
    )
    parser.add_argument(
        "--run-id", metavar="ID", help="read the metrics of this run from the tracking server"
    )
    parser.add_argument(
        "--tracking-uri",
        metavar="URL",
        default=os.environ.get("MLFLOW_TRACKING_URI"),
        help="MLflow-compatible tracking server for --run-id (default: $MLFLOW_TRACKING_URI)",
    )
    parser.add_argument(
        "--artifact",
        type=Path,
        metavar="FILE",
        help="the model artifact (model.tar.gz or package file): its sha256 is signed",
    )
    parser.add_argument(
        "--artifact-sha256", metavar="HEX", help="the artifact's sha256, instead of --artifact"
    )
    parser.add_argument(
        "--image-digest",
        metavar="sha256:HEX",
        help="the inference image's digest (default: the digest serving.model.image pins)",
    )
    parser.add_argument(
        "--intended-use",
        metavar="TEXT",
        help="the model card's intended use (default: serving the model in the stack)",
    )
    parser.add_argument(
        "--model-package-arn",
        metavar="ARN",
        help="also set this SageMaker model package to Approved (AWS stacks)",
    )
    parser.add_argument(
        "--registry-entry",
        action="store_true",
        help="also put the model card on the Azure registry model version or the GCP model "
        "bucket's objects (needs --outputs)",
    )
    parser.add_argument(
        "--outputs", metavar="F", help="file from `pulumi stack output --json` (--registry-entry)"
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


def _already_recorded(approvals: list[Any], entry: dict[str, Any]) -> bool:
    return any(
        (a.model, a.version, a.ticket) == (entry["model"], entry["version"], entry["ticket"])
        and same_identity(a.approved_by, entry["approvedBy"])
        # An approval of other bytes (or one made before approvals were bound) is not this one.
        and (a.artifact_sha256, a.image_digest, a.metrics)
        == (entry.get("artifactSha256"), entry.get("imageDigest"), entry.get("metrics"))
        for a in approvals
    )


def _served_ref(spec: Any, model: str, version: str) -> ModelRef | None:
    """The stack file's ``serving.model`` or ``previousModel`` of exactly this version (``None``
    for a team stack file, which serves nothing)."""
    serving = getattr(spec, "serving", None)
    if serving is None:
        return None
    for ref in (serving.model, serving.previous_model):
        if ref is not None and (ref.name, ref.version) == (model, version):
            return ref
    return None


def _criteria(spec: Any, model: str, served: ModelRef | None) -> list[evaluation.Criterion]:
    """The criteria the candidate is judged against: the served ref's, else (a version the stack
    file does not serve yet) the criteria of ``serving.model`` when it is the same model."""
    serving = getattr(spec, "serving", None)
    ref = served or (serving.model if serving is not None and serving.model.name == model else None)
    return [c.parsed() for c in ref.criteria] if ref is not None else []


def _show_lowered(spec: Any, model: str, criteria: list[evaluation.Criterion]) -> None:
    """Say so when the criteria are looser than the latest approval of the model signed: this
    approval then signs the lowered criteria (the four-eyes record of the lowering)."""
    earlier = [a for a in spec.governance.approvals if a.model == model and a.criteria]
    if not earlier:
        return
    signed = evaluation.parse_criteria(earlier[-1].criteria or [])
    if found := evaluation.lowered(signed, criteria):
        print(
            f"criteria lowered since the approval of {model} v{earlier[-1].version} "
            f"({'; '.join(found)}): this approval signs the lowered criteria"
        )


def _metrics(args: argparse.Namespace) -> dict[str, Any] | None:
    if args.metrics is not None and args.run_id:
        raise OpsError("give --metrics FILE or --run-id ID, not both")
    if args.metrics is not None:
        return metrics.from_file(args.metrics)
    if args.run_id:
        if not args.tracking_uri:
            raise OpsError("--run-id needs --tracking-uri URL (or $MLFLOW_TRACKING_URI)")
        return metrics.from_tracking_server(args.tracking_uri, args.run_id)
    return None


def _artifact_sha256(args: argparse.Namespace) -> str | None:
    if args.artifact is not None and args.artifact_sha256:
        raise OpsError("give --artifact FILE or --artifact-sha256 HEX, not both")
    if args.artifact_sha256:
        if not re.match(evaluation.SHA256, args.artifact_sha256):
            raise OpsError(f"--artifact-sha256 {args.artifact_sha256!r} is not 64 lowercase hex")
        return str(args.artifact_sha256)
    if args.artifact is None:
        return None
    digest = hashlib.sha256()
    try:
        with args.artifact.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise OpsError(f"cannot read --artifact {args.artifact}: {exc.strerror or exc}") from None
    return digest.hexdigest()


def _image_digest(args: argparse.Namespace, served: ModelRef | None) -> str | None:
    pinned = None
    if served is not None:
        pinned = evaluation.image_digest(served.image) if served.image else served.image_digest
    if args.image_digest:
        if not re.match(r"^sha256:[0-9a-f]{64}$", args.image_digest):
            raise OpsError(f"--image-digest {args.image_digest!r} is not sha256:<64 hex>")
        if pinned is not None and pinned != args.image_digest:
            raise OpsError(
                f"--image-digest {args.image_digest} is not the {pinned} the stack file serves"
            )
        return str(args.image_digest)
    return pinned


def _float_text(value: float) -> str:
    """A YAML float that loads back as ``value`` under YAML 1.1 and 1.2 alike (``1.0e-05``)."""
    text = repr(float(value))
    mantissa, _, exponent = text.partition("e")
    if exponent and "." not in mantissa:
        text = f"{mantissa}.0e{exponent}"
    return text


def model_card(
    spec: Any,
    entry: dict[str, Any],
    *,
    stack: str,
    intended_use: str,
) -> str:
    """The model card of one approval, from the same records the approval signs."""
    lines = [
        f"# Model card: {entry['model']} version {entry['version']}",
        "",
        "Written by `mlops-iac approve`; its sha256 is in the signed approval "
        f"(stack `{stack}`). Do not edit: `plan` refuses a card whose digest differs.",
        "",
        f"- Project: {spec.project}",
        f"- Owner: {spec.owner or '(none)'}",
        f"- Intended use: {intended_use}",
        f"- Training data version: {spec.lineage.dataset_version}",
        f"- Training code: {spec.lineage.git_sha}",
        f"- Artifact sha256: {entry.get('artifactSha256') or '(not recorded)'}",
        f"- Image digest: {entry.get('imageDigest') or '(not recorded)'}",
        f"- Approved by: {entry['approvedBy']} ({entry['ticket']}, {entry['approvedAt']})",
        "",
        "## Evaluation",
        "",
    ]
    criteria = entry.get("criteria") or []
    lines.append("Criteria: " + ("; ".join(f"`{c}`" for c in criteria) or "none"))
    lines += ["", "| metric | value |", "|---|---|"]
    lines += [f"| {name} | {value!r} |" for name, value in (entry.get("metrics") or {}).items()]
    return "\n".join(lines) + "\n"


def card_path(stack: str, model: str, version: str) -> str:
    """``governance/model-cards/<stack>/<model>-<version>.md`` (a stack's ``/`` becomes ``-``):
    one card per stack, since each stack's approval binds its own artifact."""
    name = f"{model}-{version}".lower()
    folder = stack.replace("/", "-")
    if not re.match(r"^[a-z0-9][a-z0-9._-]{0,127}$", name) or not re.match(
        r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$", folder
    ):
        raise OpsError(f"cannot name a model card after {model!r} version {version!r}")
    return f"governance/model-cards/{folder}/{name}.md"


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

    registry = _read_registry_entry(args, sf)
    environment, _ = trusted_environment(args)
    # Before reading metrics or artifacts: what would refuse the write refuses first.
    _require_key(args, sf, approver, "approval")
    nofollow.refuse_symlink(sf.path.parent, "directory")
    nofollow.refuse_symlink(sf.path)
    served = _served_ref(spec, args.model, args.version)
    criteria = _criteria(spec, args.model, served)
    seen = _metrics(args)
    if criteria and seen is None:
        shown = "; ".join(c.text for c in criteria)
        raise OpsError(
            f"{args.model} v{args.version} has criteria ({shown}): give --metrics FILE or "
            "--run-id ID with the candidate's recorded metrics"
        )
    judged: dict[str, float] | None = None
    if seen is not None:
        try:
            judged = metrics.judged(seen, criteria)
        except OpsError as exc:
            raise OpsError(
                f"{args.model} v{args.version} misses its evaluation criteria: {exc}; "
                "nothing signed"
            ) from None
    _show_lowered(spec, args.model, criteria)
    artifact = _artifact_sha256(args)
    # The gate binds the versions a platform file serves; a team file serves none, so its
    # approval records the artifact only when given.
    if artifact is None and environment != "dev" and sf.kind == "platform":
        raise OpsError(
            f"a {environment} approval is bound to the artifact: pass --artifact FILE "
            "(model.tar.gz or package file) or --artifact-sha256 HEX"
        )
    if served is not None and artifact and served.artifact_sha256 not in (None, artifact):
        raise OpsError(
            f"--artifact has sha256 {artifact} but the stack file serves {args.model} "
            f"v{args.version} with artifactSha256 {served.artifact_sha256}"
        )
    image = _image_digest(args, served)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    entry: dict[str, Any] = {
        "model": args.model,
        "version": args.version,
        "approvedBy": approver,
        "ticket": args.ticket,
        "approvedAt": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if judged is not None:
        entry["metrics"] = judged
        entry["criteria"] = [c.text for c in criteria]
    if artifact:
        entry["artifactSha256"] = artifact
    if image:
        entry["imageDigest"] = image
    intended_use = args.intended_use or f"serving {args.model} in {spec.project}"
    card_text = model_card(spec, entry, stack=args.stack, intended_use=intended_use)
    card = card_path(args.stack, args.model, args.version)
    entry["modelCard"] = card
    entry["modelCardSha256"] = hashlib.sha256(card_text.encode()).hexdigest()
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
        if "metrics" in entry:
            rendered.append(
                (
                    "metrics",
                    stackfile.flow_mapping(
                        [(stackfile.scalar(k), _float_text(v)) for k, v in entry["metrics"].items()]
                    ),
                )
            )
            rendered.append(
                ("criteria", "[" + ", ".join(stackfile.quoted(c) for c in entry["criteria"]) + "]")
            )
        for key in ("artifactSha256", "imageDigest", "modelCard", "modelCardSha256"):
            if key in entry:
                rendered.append((key, stackfile.quoted(entry[key])))
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
        card_file = Path(args.project) / card
        card_file.parent.mkdir(parents=True, exist_ok=True)
        stackfile.write_atomic(card_file, card_text.encode())
        stackfile.write_atomic(sf.path, new, expected=sf.raw)
        print(
            f"recorded approval of {args.model} v{args.version} by {approver} "
            f"({args.ticket}) in {sf.display}, model card {card}"
        )

    if sagemaker is not None:
        update: dict[str, Any] = {
            "ModelPackageArn": args.model_package_arn,
            "ModelApprovalStatus": "Approved",
            "ApprovalDescription": f"Approved by {approver} (ticket {args.ticket}); "
            f"model card {card} sha256:{entry['modelCardSha256']}",
        }
        # The registry entry carries the card's records (keys and values within SageMaker's
        # 128/256-character limits); the existing metadata is passed again on purpose: an
        # update without it can drop it.
        metadata = {**metadata, **_card_metadata(spec, entry)}
        update["CustomerMetadataProperties"] = metadata
        sagemaker.update_model_package(**update)
        print(f"model package {args.model_package_arn} set to Approved")
    if registry is not None:
        entry_of, transport = registry
        try:
            registry_card.write_card(
                entry_of, transport, registry_card.card_records(spec, entry, intended_use)
            )
        except (cloudrest.ApiError, OpsError) as exc:
            # The approval stays written (and signed): only the registry write is re-run.
            raise OpsError(
                f"approval recorded, but the model card did not reach {entry_of.name} ({exc}); "
                "re-run the same approve command to retry",
                EXIT_FAILED,
            ) from None
        print(f"model card {card} put on {entry_of.name}")
    print("commit the stack file so the approval is part of the audit trail")
    return EXIT_OK


def _read_registry_entry(
    args: argparse.Namespace, sf: stackfile.StackFile
) -> tuple[registry_card.Entry, cloudrest.Transport] | None:
    """With ``--registry-entry``: the Azure/GCP registry entry of the version, read before
    anything is signed (a missing entry or another version refuses)."""
    if not args.registry_entry:
        if args.outputs:
            raise OpsError("--outputs is only read with --registry-entry")
        return None
    if sf.cloud not in ("azure", "gcp"):
        raise OpsError(
            f"--registry-entry is for Azure and GCP stacks (the stack's cloud is {sf.cloud}; "
            "use --model-package-arn)"
        )
    if not args.outputs:
        raise OpsError("--registry-entry needs --outputs F (from `pulumi stack output --json`)")
    found = load_outputs(args.outputs)
    transport = cloudrest.transport_for(sf.cloud)
    served = _served_ref(sf.governed, args.model, args.version)
    entry = registry_card.read_entry(sf.cloud, transport, found, served, args.model, args.version)
    return entry, transport


def _card_metadata(spec: Any, entry: dict[str, Any]) -> dict[str, str]:
    """The model card as SageMaker model package metadata (``mlops:`` keys)."""
    found = {
        "mlops:model-card": str(entry["modelCard"]),
        "mlops:model-card-sha256": str(entry["modelCardSha256"]),
        "mlops:dataset-version": spec.lineage.dataset_version,
        "mlops:owner": spec.owner or "",
    }
    if entry.get("artifactSha256"):
        found["mlops:artifact-sha256"] = entry["artifactSha256"]
    if entry.get("imageDigest"):
        found["mlops:image-digest"] = entry["imageDigest"]
    for name, value in (entry.get("metrics") or {}).items():
        found[f"mlops:metric:{name}"[:128]] = repr(value)
    return {k: v[:256] for k, v in found.items() if v}


def trusted_environment(args: argparse.Namespace) -> tuple[str, str]:
    """``(environment, why)`` of ``args.stack`` from the trusted ``governance/settings.yaml``
    (never the stack file's own claim), as ``plan`` judges it."""
    try:
        return trust.load(args.project).environment(args.stack)
    except trust.TrustError as exc:
        raise OpsError(str(exc)) from None


def _require_key(
    args: argparse.Namespace, sf: stackfile.StackFile, approver: str, what: str
) -> None:
    """Refuse an unsigned record in prod (the stack file's claim or the trusted environment)."""
    if args.key is None and (sf.governed.is_prod or trusted_environment(args)[0] == "prod"):
        allowed = packs.allowed_signers_path(args.project)
        raise OpsError(
            f"a prod {what} must be signed: pass --key with {approver}'s private SSH key "
            f"(public key in {allowed})"
        )


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
        _require_key(args, sf, approver, what)
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
