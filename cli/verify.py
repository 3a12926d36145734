"""``mlops-iac verify``: check live resources against the governance rules and the stack.

Read-only (only Get/Describe/List calls, and GET requests on Azure and GCP). Prints pass/fail per
check; exit 1 when anything drifted.

AWS: the artifact bucket (versioning, SSE-KMS with the stack's key, public access block, TLS-only
policy), KMS key rotation, the endpoint (InService, serving an approved version, on the
configuration and model version the stack deployed, so a rollout SageMaker rolled back fails;
each live model's image digest and artifact checksum against what its approval signed),
the alarms (present, with actions) and the approval/alert topics (KMS-encrypted).

Azure: the storage account (blob versioning, encryption with the stack's Key Vault key), the key's
rotation policy, the alert rules (one on the endpoint, the drift alarm, each enabled and routed to
an action group with receivers), what the endpoint serves (traffic and the deployments' model ids
against the stack's exports), the served versions' approvals and the deployments' lineage tags.

GCP: the artifact bucket (versioning, the stack's CMEK default key), the model bucket (retention
policy, CMEK), the key's rotation period, the alert policies (enabled, with notification
channels), what the Cloud Run service serves (trafficStatuses and the revisions' image and
MODEL_URI against the stack's exports), the served versions' approvals and the lineage labels.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict
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
    nofollow,
    stackfile,
)
from mlops_iac.cli.checks import Check, approval_verdict
from mlops_iac.cli.outputs import Outputs, load_outputs
from mlops_iac.spec import evaluation
from mlops_iac.spec.models import PlatformSpec

NAME = "verify"
MODEL_TAG = "mlops:model"
VERSION_TAG = "mlops:model-version"


__all__ = ["Check", "run", "run_checks"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``verify`` subcommand."""
    parser = subparsers.add_parser(
        NAME,
        help="check live resources against the governance rules and the stack (read-only)",
        description=describe(__doc__),
    )
    add_stack_arguments(parser)
    parser.add_argument(
        "--outputs", required=True, metavar="F", help="file from `pulumi stack output --json`"
    )
    parser.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="F",
        help="write the result as JSON to F; without F (or F is -) to stdout, instead of the table",
    )
    cloudrest.add_region_arguments(parser)
    parser.set_defaults(func=run)


def _error(exc: Exception) -> str:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', '?')}: {err.get('Message', '')}".rstrip(": ")
    return str(exc)


def _guard(name: str, resource: str, probe: Callable[[], tuple[bool, str]]) -> Check:
    """Run one probe; an AWS error (missing config, access denied) fails that check only."""
    from botocore.exceptions import ClientError

    try:
        passed, detail = probe()
    except ClientError as exc:
        return Check(name, resource, False, _error(exc))
    return Check(name, resource, passed, detail)


def short(name: str) -> str:
    """The readable tail of an ARN (``key/1234…``, a topic name); other names as they are."""
    if not name.startswith("arn:"):
        return name
    tail = name.split(":", 5)[-1]
    return tail if tail.startswith("key/") else tail.rsplit(":", 1)[-1]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def denies_insecure_transport(policy: dict[str, Any], bucket: str) -> bool:
    """True when a statement denies every S3 action on the bucket's objects without TLS."""
    objects = re.compile(rf"^arn:aws[a-z-]*:s3:::{re.escape(bucket)}/\*$")
    for statement in _as_list(policy.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
            continue
        principal = statement.get("Principal")
        if principal != "*" and not (
            isinstance(principal, dict) and "*" in _as_list(principal.get("AWS"))
        ):
            continue
        if not {"*", "s3:*"} & set(_as_list(statement.get("Action"))):
            continue
        condition = (statement.get("Condition") or {}).get("Bool") or {}
        values = [str(v).lower() for v in _as_list(condition.get("aws:SecureTransport"))]
        resources = _as_list(statement.get("Resource"))
        if "false" in values and any(r == "*" or objects.match(str(r)) for r in resources):
            return True
    return False


def _same_key(configured: str, stack_key: str, kms: Any) -> bool:
    if configured == stack_key or stack_key.endswith(f":key/{configured}"):
        return True
    # An alias or another spelling of the key: let KMS resolve it (read-only).
    try:
        return kms.describe_key(KeyId=configured)["KeyMetadata"]["Arn"] == stack_key
    except Exception:  # an unresolvable key is simply not the stack's key
        return False


def bucket_checks(s3: Any, kms: Any, bucket: str, kms_key: str) -> list[Check]:
    """The four artifact-store checks for one bucket."""

    def versioning() -> tuple[bool, str]:
        status = s3.get_bucket_versioning(Bucket=bucket).get("Status", "never enabled")
        return status == "Enabled", f"versioning {status}"

    def encryption() -> tuple[bool, str]:
        config = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
        for rule in config.get("Rules", []):
            default = rule.get("ApplyServerSideEncryptionByDefault") or {}
            algorithm = default.get("SSEAlgorithm", "none")
            key = default.get("KMSMasterKeyID")
            if algorithm not in ("aws:kms", "aws:kms:dsse"):
                return False, f"default encryption is {algorithm}, not SSE-KMS"
            if not key:
                return False, "SSE-KMS with the AWS-managed key, not the stack's key"
            if not _same_key(key, kms_key, kms):
                return False, f"SSE-KMS with {short(key)}, not the stack's key {short(kms_key)}"
            return True, f"SSE-KMS with the stack's key ({short(kms_key)})"
        return False, "no default encryption rule"

    def public_access() -> tuple[bool, str]:
        config = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        flags = (
            "BlockPublicAcls",
            "IgnorePublicAcls",
            "BlockPublicPolicy",
            "RestrictPublicBuckets",
        )
        off = [flag for flag in flags if not config.get(flag)]
        return not off, f"not set: {', '.join(off)}" if off else "all four blocks on"

    def tls_only() -> tuple[bool, str]:
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        if denies_insecure_transport(policy, bucket):
            return True, "denies aws:SecureTransport=false"
        return False, "bucket policy does not deny requests without TLS"

    return [
        _guard("bucket-versioning", bucket, versioning),
        _guard("bucket-encryption", bucket, encryption),
        _guard("bucket-public-access", bucket, public_access),
        _guard("bucket-tls-only", bucket, tls_only),
    ]


def _tags(sagemaker: Any, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in sagemaker.list_tags(ResourceArn=arn).get("Tags", [])}


def endpoint_checks(
    sagemaker: Any,
    endpoint: str,
    spec: PlatformSpec,
    deployed_config: str | None,
    deployed_version: str | None = None,
    s3: Any = None,
) -> list[Check]:
    """InService, serving an approved version, on the config the stack deployed, and its
    variants serving the model version the stack deployed.

    The last two catch a rollout SageMaker rolled back: the endpoint returns to InService on
    the old config while the provider records the new one, so ``pulumi up`` succeeds
    (https://github.com/hashicorp/terraform-provider-aws/issues/46663). A missing export fails
    its check: without it nothing says what the stack deployed. With ``s3``, each variant's
    image digest and model artifact checksum are compared with what its approval signed.
    """
    from botocore.exceptions import ClientError

    try:
        described = sagemaker.describe_endpoint(EndpointName=endpoint)
    except ClientError as exc:
        detail = _error(exc)
        names = [
            "endpoint-in-service",
            "endpoint-approved-version",
            "endpoint-config",
            "endpoint-model-version",
        ]
        return [Check(name, endpoint, False, detail) for name in names]
    status = described.get("EndpointStatus", "?")
    checks = [Check("endpoint-in-service", endpoint, status == "InService", f"status {status}")]
    config = described.get("EndpointConfigName", "")

    def approved() -> tuple[bool, str]:
        # The live config says what is served (it changes on an emergency rollback, the
        # endpoint's own tags do not); the endpoint's tags are the fallback.
        config_arn = sagemaker.describe_endpoint_config(EndpointConfigName=config)[
            "EndpointConfigArn"
        ]
        tags = _tags(sagemaker, config_arn)
        if VERSION_TAG not in tags:
            tags = _tags(sagemaker, described["EndpointArn"])
        version = tags.get(VERSION_TAG)
        if version is None:
            return False, f"no {VERSION_TAG} tag on the endpoint or {config}"
        return approval_verdict(spec, tags.get(MODEL_TAG, spec.serving.active_model.name), version)

    checks.append(_guard("endpoint-approved-version", endpoint, approved))
    if deployed_config is None:
        detail = "the stack exports no active_endpoint_config_name to compare with"
        checks.append(Check("endpoint-config", endpoint, False, detail))
    else:
        same = config == deployed_config
        detail = f"uses {config}" + (
            ""
            if same
            else f", the stack deployed {deployed_config} (rolled back, or changed outside "
            "the stack)"
        )
        checks.append(Check("endpoint-config", endpoint, same, detail))

    def served_version() -> tuple[bool, str]:
        if deployed_version is None:
            return False, "the stack exports no active_model_version to compare with"
        variants = sagemaker.describe_endpoint_config(EndpointConfigName=config).get(
            "ProductionVariants", []
        )
        if not variants:
            return False, f"{config} has no production variants"
        served = []
        for variant in variants:
            model = variant.get("ModelName", "?")
            model_arn = sagemaker.describe_model(ModelName=model)["ModelArn"]
            version = _tags(sagemaker, model_arn).get(VERSION_TAG, "untagged")
            served.append((variant.get("VariantName", "?"), model, version))
        text = ", ".join(f"variant {name} serves {model} (v{v})" for name, model, v in served)
        if all(version == deployed_version for _, _, version in served):
            return True, text
        return False, f"{text}; the stack deployed v{deployed_version}"

    checks.append(_guard("endpoint-model-version", endpoint, served_version))
    if s3 is not None:

        def digests() -> tuple[bool, str]:
            return served_digests(sagemaker, s3, config, spec)

        checks.append(_guard("endpoint-artifact-digest", endpoint, digests))
    return checks


def _s3_sha256(s3: Any, url: str) -> str:
    """The hex SHA-256 of the S3 object at ``url``.

    S3 stores a whole object's SHA-256 (``ChecksumSHA256``) only for an object uploaded in one
    request with that algorithm: a multipart upload's is a checksum of part checksums (``…-N``)
    and most uploads carry CRC64NVME instead. Then the object is read and hashed here (it needs
    ``s3:GetObject`` and ``kms:Decrypt`` on the store's key), so a correct artifact never fails
    for the way it was uploaded.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
    """
    bucket, _, key = url.removeprefix("s3://").partition("/")
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    checksum = head.get("ChecksumSHA256")
    if checksum and "-" not in checksum:
        return base64.b64decode(checksum).hex()
    digest = hashlib.sha256()
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    for chunk in iter(lambda: body.read(_HASH_CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


_HASH_CHUNK = 8 * 1024 * 1024


def served_digests(sagemaker: Any, s3: Any, config: str, spec: PlatformSpec) -> tuple[bool, str]:
    """Each live variant's image digest and model artifact checksum against the digests its
    version's approval signed (an approval without them is reported, never passed)."""
    variants = sagemaker.describe_endpoint_config(EndpointConfigName=config).get(
        "ProductionVariants", []
    )
    problems, seen = [], []
    for variant in variants:
        described = sagemaker.describe_model(ModelName=variant.get("ModelName", "?"))
        tags = _tags(sagemaker, described["ModelArn"])
        name = tags.get(MODEL_TAG, spec.serving.active_model.name)
        version = tags.get(VERSION_TAG, "?")
        approval = next(
            (
                a
                for a in spec.governance.approvals
                if (a.model, a.version) == (name, version) and a.artifact_sha256
            ),
            None,
        )
        if approval is None:
            problems.append(f"{name} v{version} has no approval that records its digests")
            continue
        containers = [described.get("PrimaryContainer") or {}, *described.get("Containers", [])]
        for container in (c for c in containers if c):
            image = container.get("Image", "")
            digest = evaluation.image_digest(image)
            if approval.image_digest and digest != approval.image_digest:
                problems.append(
                    f"v{version} runs image {image}, not the approved {approval.image_digest}"
                )
            url = container.get("ModelDataUrl")
            if not url:
                continue
            actual = _s3_sha256(s3, url)
            if actual != approval.artifact_sha256:
                problems.append(
                    f"{url} has sha256 {actual}, not the approved {approval.artifact_sha256}"
                )
            else:
                seen.append(f"v{version} {url} sha256 {actual[:12]}…")
    if problems:
        return False, "; ".join(problems)
    return True, "serves the approved artifacts: " + ", ".join(seen)


def kms_checks(kms: Any, key: str) -> list[Check]:
    def rotation() -> tuple[bool, str]:
        enabled = kms.get_key_rotation_status(KeyId=key).get("KeyRotationEnabled", False)
        return bool(enabled), "rotation enabled" if enabled else "rotation disabled"

    return [_guard("kms-rotation", key, rotation)]


def alarm_checks(cloudwatch: Any, names: list[str]) -> list[Check]:
    """Every named alarm exists, has actions enabled and at least one alarm action."""
    if not names:
        return [Check("alarm-actions", "-", False, "the stack exports no alarms")]
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(names), 100):  # DescribeAlarms takes at most 100 names
        response = cloudwatch.describe_alarms(
            AlarmNames=names[start : start + 100], AlarmTypes=["MetricAlarm", "CompositeAlarm"]
        )
        for alarm in [*response.get("MetricAlarms", []), *response.get("CompositeAlarms", [])]:
            found[alarm["AlarmName"]] = alarm
    checks = []
    for name in names:
        alarm = found.get(name)
        if alarm is None:
            checks.append(Check("alarm-actions", name, False, "alarm not found"))
        elif not alarm.get("ActionsEnabled", False):
            checks.append(Check("alarm-actions", name, False, "actions disabled"))
        elif not alarm.get("AlarmActions"):
            checks.append(Check("alarm-actions", name, False, "no alarm actions"))
        else:
            targets = ", ".join(short(action) for action in alarm["AlarmActions"])
            checks.append(Check("alarm-actions", name, True, f"notifies {targets}"))
    return checks


def topic_check(sns: Any, name: str, arn: str) -> Check:
    def encrypted() -> tuple[bool, str]:
        key = sns.get_topic_attributes(TopicArn=arn)["Attributes"].get("KmsMasterKeyId")
        return bool(
            key
        ), f"encrypted with {short(key)}" if key else "not encrypted (no KmsMasterKeyId)"

    return _guard(name, arn, encrypted)


def run_checks(
    outputs: Outputs,
    spec: PlatformSpec,
    client: Callable[[str, str | None], Any],
    region: str | None,
) -> list[Check]:
    """All checks, in table order. ``client(service, region)`` returns a boto3 client."""
    # Read every required output first: a malformed file fails before any AWS call.
    bucket = outputs.string("artifact_bucket_name")
    kms_key = aws.require_arn(outputs.string("kms_key_id"), "kms", "output 'kms_key_id'")
    endpoint = outputs.string("endpoint_name")
    alarms = outputs.strings("alarm_names")
    approvers_topic = aws.require_arn(
        outputs.string("approvers_topic"), "sns", "output 'approvers_topic'"
    )
    alert_topic = outputs.optional_string("alert_topic")
    deployed_config = outputs.optional_string("active_endpoint_config_name")
    deployed_version = outputs.optional_string("active_model_version")

    kms = client("kms", aws.arn_region(kms_key) or region)
    s3 = client("s3", region)
    checks = bucket_checks(s3, kms, bucket, kms_key)
    checks += kms_checks(kms, kms_key)
    checks += endpoint_checks(
        client("sagemaker", region), endpoint, spec, deployed_config, deployed_version, s3
    )
    checks += alarm_checks(client("cloudwatch", region), alarms)
    topics: Iterable[tuple[str, str]] = [("approvers-topic-encrypted", approvers_topic)]
    if alert_topic:
        topics = [*topics, ("alert-topic-encrypted", alert_topic)]
    for name, arn in topics:
        checks.append(topic_check(client("sns", aws.arn_region(arn) or region), name, arn))
    return checks


def _print_table(checks: list[Check], stack: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"mlops-iac verify --stack {stack}")
    table.add_column("check", no_wrap=True)
    table.add_column("resource", overflow="fold")
    table.add_column("result", no_wrap=True)
    table.add_column("detail", overflow="fold")
    for c in checks:
        result = "[green]PASS[/green]" if c.passed else "[bold red]FAIL[/bold red]"
        table.add_row(c.check, short(c.resource), result, c.detail)
    console = Console(file=sys.stdout)
    if not console.is_terminal:
        console.width = max(console.width, 120)  # CI logs: no need to wrap at 80
    console.print(table)
    failed = [c for c in checks if not c.passed]
    summary = f"{len(checks)} checks, {len(failed)} failed"
    if failed:
        summary += ": " + ", ".join(sorted({c.check for c in failed}))
    console.print(summary, highlight=False, soft_wrap=True)


def _cloud_checks(
    args: argparse.Namespace, sf: stackfile.StackFile, outputs: Outputs
) -> list[Check]:
    """Azure or GCP: the checks through the cloud's REST API (``cloudrest.transport_for``)."""
    from rich.console import Console

    if args.profile:
        raise OpsError(f"--profile is an AWS option (the stack's cloud is {sf.spec.cloud})")
    if sf.spec.cloud == "azure":
        from mlops_iac.cli import azure_ops

        if args.region:
            raise OpsError("--region is not used on Azure: resources are found by their ids")
        azure_ops.estate(outputs)  # a malformed outputs file fails before credentials load
        transport = cloudrest.transport_for("azure")
        with Console(stderr=True, quiet=args.quiet).status("checking live resources…"):
            return azure_ops.run_checks(outputs, sf.spec, transport)
    from mlops_iac.cli import gcp_ops

    project, region = gcp_ops.location(sf.config, args.region)
    gcp_ops.estate(outputs, project, region)
    transport = cloudrest.transport_for("gcp")
    with Console(stderr=True, quiet=args.quiet).status("checking live resources…"):
        return gcp_ops.run_checks(outputs, sf.spec, transport, project, region)


@command(NAME)
def run(args: argparse.Namespace) -> int:
    """Run every check; exit 1 if any failed."""
    sf = stackfile.load(args.project, args.stack)
    outputs = load_outputs(args.outputs)
    from rich.console import Console

    if sf.spec.cloud == "aws":
        region = args.region or sf.aws_region
        shared = aws.session(args.profile)

        def client(service: str, client_region: str | None) -> Any:
            return aws.client(service, region=client_region, profile=args.profile, shared=shared)

        with Console(stderr=True, quiet=args.quiet).status("checking live resources…"):
            checks = run_checks(outputs, sf.spec, client, region)
    else:
        checks = _cloud_checks(args, sf, outputs)
    passed = all(c.passed for c in checks)
    if args.json:
        document = {
            "stack": args.stack,
            "passed": passed,
            "failed": [c.check for c in checks if not c.passed],
            "checks": [asdict(c) for c in checks],
        }
        text = json.dumps(document, indent=2) + "\n"
        if args.json == "-":
            sys.stdout.write(text)
        else:
            nofollow.write_atomic(Path(args.json), text.encode())
    if args.json != "-":
        _print_table(checks, args.stack)
    return EXIT_OK if passed else EXIT_FAILED
