"""``mlops-iac approve``: the stack file record and the SageMaker model package."""

from __future__ import annotations

import datetime as dt
import hashlib

import boto3
import pytest
from moto import mock_aws

from mlops_iac.cli import stackfile
from tests.ops.conftest import REGION
from tests.ops.keys import key_for


def _approve(cli, project, *extra, approver="raj@example.com", stack="aws-prod", version="8"):
    # Prod approvals are signed: with the listed approver's throwaway key unless a test says.
    key = () if "--key" in extra else ("--key", key_for(approver.split("@")[0] + "@example.com"))
    # The reference stacks have criteria and bind prod approvals to the artifact: a candidate
    # that meets them and an artifact digest, unless a test says (tests/ops/test_gate.py).
    metrics = project.parent / "metrics.json"
    metrics.write_text('{"auc": 0.95, "p95_latency_ms": 61}')
    gate = () if "--metrics" in extra else ("--metrics", metrics)
    gate += () if "--artifact" in extra else ("--artifact-sha256", "ab" * 32)
    return cli(
        "approve", "--stack", stack, "--project", project, "--model", "fraud-detector",
        "--version", version, "--approver", approver, "--ticket", "CHG-2001", *key, *gate,
        *extra,
    )  # fmt: skip


def test_records_approval_that_validates(cli, project):
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    assert _approve(cli, project) == 0, cli.err
    assert "recorded approval of fraud-detector v8 by raj@example.com" in cli.out
    spec = stackfile.load(project, "aws-prod").spec
    approval = spec.governance.approvals[-1]
    assert (approval.model, approval.version, approval.approved_by, approval.ticket) == (
        "fraud-detector",
        "8",
        "raj@example.com",
        "CHG-2001",
    )
    assert isinstance(approval.approved_at, dt.datetime)
    assert approval.approved_at.utcoffset() == dt.timedelta(0)
    assert before <= approval.approved_at <= dt.datetime.now(dt.UTC)


def test_approver_spelling_is_taken_from_the_stack_file(cli, project):
    # Only the domain's case folds (the gate's comparison).
    assert _approve(cli, project, approver="raj@Example.COM") == 0, cli.err
    assert "approvedBy: raj@example.com" in (project / "stacks/Pulumi.aws-prod.yaml").read_text()


@pytest.mark.parametrize(
    ("lookalike", "shown"),
    [
        ("Raj@example.com", "'Raj@example.com'"),
        ("r.aj@example.com", "'r.aj@example.com'"),
        ("raj@ex-ample.com", "'raj@ex-ample.com'"),
        ("r\u0430j@example.com", "'r<U+0430>j@example.com'"),  # Cyrillic a
        ("r\u03b1j@example.com", "'r<U+03B1>j@example.com'"),  # Greek alpha
        ("\uff52aj@example.com", "'<U+FF52>aj@example.com'"),  # fullwidth r
        ("ra\u200bj@example.com", "'ra<U+200B>j@example.com'"),  # zero-width space
    ],
)
def test_lookalike_approver_is_refused_by_name(cli, project, lookalike, shown):
    # Each looks like the listed raj@example.com without being it: refused before anything is
    # signed or written, and the message says whom it imitates.
    path = project / "stacks/Pulumi.aws-prod.yaml"
    before = path.read_bytes()
    assert _approve(cli, project, "--key", key_for("raj@example.com"), approver=lookalike) == 2
    assert (
        f"is not in governance.approvers of {project}/stacks/Pulumi.aws-prod.yaml ({shown} "
        "looks like 'raj@example.com' but is not 'raj@example.com')"
    ) in cli.err
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    "owner_lookalike",
    ["ml-platform@Example.com", "ml-p\u0142atform@example.com", "ml\u2011platform@example.com"],
)
def test_an_approver_who_looks_like_the_owner_is_refused(cli, project, owner_lookalike):
    path = project / "stacks/Pulumi.aws-prod.yaml"
    before = path.read_bytes()
    assert (
        _approve(cli, project, "--key", key_for("raj@example.com"), approver=owner_lookalike) == 2
    )
    assert "owns the stack and cannot approve its models (four eyes)" in cli.err
    assert path.read_bytes() == before


def test_reference_file_changes_only_by_the_new_item(cli, project):
    path = project / "stacks/Pulumi.aws-prod.yaml"
    original = path.read_text()
    assert _approve(cli, project) == 0
    new = path.read_text()
    # The last approval ends with its signature line; the new item follows it.
    anchor = [line for line in original.splitlines() if "signature:" in line][-1] + "\n"
    head, tail = new.split(anchor)
    added, rest = tail.split("\n", 11)[:11], tail.split("\n", 11)[11]
    assert original == head + anchor + rest
    # Five keys, the metrics and criteria it judged, the artifact digest, the model card and
    # its digest, and the signature.
    assert [line.split(":")[0].strip(" -") for line in added] == [
        "model", "version", "approvedBy", "ticket", "approvedAt", "metrics", "criteria",
        "artifactSha256", "modelCard", "modelCardSha256", "signature",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("approver", "message"),
    [
        ("bob@example.com", "bob@example.com is not in governance.approvers"),
        ("ml-platform@example.com", "owns the stack and cannot approve"),
        ("ML-Platform@example.com", "owns the stack and cannot approve"),
    ],
)
def test_refuses_unlisted_approver_and_owner(cli, project, approver, message):
    path = project / "stacks/Pulumi.aws-prod.yaml"
    original = path.read_bytes()
    assert _approve(cli, project, approver=approver) == 2
    line = cli.one_error_line()
    assert line.startswith("mlops-iac approve: error: ")
    assert message in line
    assert path.read_bytes() == original


def test_unknown_stack(cli, project):
    assert _approve(cli, project, stack="aws-staging") == 2
    assert cli.one_error_line() == (
        "mlops-iac approve: error: no stack file "
        f"{project}/stacks/Pulumi.aws-staging.yaml (known stacks: aws-dev, aws-prod)"
    )


def test_invalid_stack_file_is_one_line(cli, project):
    path = project / "stacks/Pulumi.aws-prod.yaml"
    path.write_text(path.read_text().replace("maxNodes: 4", "maxNodes: -1\n      colour: red"))
    assert _approve(cli, project) == 2
    line = cli.one_error_line()
    assert "mlops:platform.training.maxNodes" in line
    assert "mlops:platform.training.colour: unknown key" in line


def test_broken_yaml_is_one_line(cli, project):
    (project / "stacks/Pulumi.aws-prod.yaml").write_text("config:\n  a: [1, 2\n")
    assert _approve(cli, project) == 2
    assert "not valid YAML" in cli.one_error_line()


@pytest.fixture
def model_package(aws_env):
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        sagemaker.create_model_package_group(ModelPackageGroupName="fraud-detector")
        arns = []
        for version in ("1", "2"):
            arns.append(
                sagemaker.create_model_package(
                    ModelPackageGroupName="fraud-detector",
                    ModelApprovalStatus="PendingManualApproval",
                    CustomerMetadataProperties={"mlops:git-sha": "4f2c1e9", "mlops:v": version},
                )["ModelPackageArn"]
            )
        yield sagemaker, arns[-1]


def test_model_package_is_approved_and_keeps_its_metadata(cli, project, model_package):
    sagemaker, arn = model_package
    assert _approve(cli, project, "--model-package-arn", arn, version="2") == 0, cli.err
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    assert package["ModelApprovalStatus"] == "Approved"
    card = "governance/model-cards/aws-prod/fraud-detector-2.md"
    card_sha = hashlib.sha256((project / card).read_bytes()).hexdigest()
    assert package["ApprovalDescription"] == (
        f"Approved by raj@example.com (ticket CHG-2001); model card {card} sha256:{card_sha}"
    )
    # The registry entry keeps its metadata and carries the model card's records.
    assert package["CustomerMetadataProperties"] == {
        "mlops:git-sha": "4f2c1e9",
        "mlops:v": "2",
        "mlops:model-card": card,
        "mlops:model-card-sha256": card_sha,
        "mlops:dataset-version": "md5:3b1f0c2d9e8a7b6c5d4e3f2a1b0c9d8e",
        "mlops:owner": "ml-platform@example.com",
        "mlops:artifact-sha256": "ab" * 32,
        "mlops:metric:auc": "0.95",
        "mlops:metric:p95_latency_ms": "61.0",
    }
    assert f"model package {arn} set to Approved" in cli.out
    # Idempotent: a retry re-approves the package and leaves the file alone.
    text = (project / "stacks/Pulumi.aws-prod.yaml").read_text()
    assert _approve(cli, project, "--model-package-arn", arn, version="2") == 0
    assert (project / "stacks/Pulumi.aws-prod.yaml").read_text() == text


@pytest.mark.parametrize(
    ("arn", "message"),
    [
        ("fraud-detector/2", "--model-package-arn must be an sagemaker ARN"),
        (
            "arn:aws:sagemaker:us-east-1:123456789012:model-package/fraud-detector/9",
            "not found",
        ),
        (None, "is version 2 of fraud-detector, not version 8"),
    ],
)
def test_bad_model_package_refused_before_the_file_changes(
    cli, project, model_package, arn, message
):
    _, real_arn = model_package
    path = project / "stacks/Pulumi.aws-prod.yaml"
    original = path.read_bytes()
    assert _approve(cli, project, "--model-package-arn", arn or real_arn) == 2
    assert message in cli.one_error_line()
    assert path.read_bytes() == original


def _claims_dev(project, stack="team-x"):
    """``stack``'s file claims dev; the trusted settings bind it to prod."""
    text = (project / "stacks/Pulumi.aws-prod.yaml").read_text()
    (project / f"stacks/Pulumi.{stack}.yaml").write_text(
        text.replace("environment: prod", "environment: dev", 1)
    )
    (project / "governance" / "settings.yaml").write_text(f"environments:\n  {stack}: prod\n")


def test_a_stack_file_claiming_dev_cannot_skip_the_prod_signature(cli, project):
    _claims_dev(project)
    before = (project / "stacks/Pulumi.team-x.yaml").read_text()
    code = cli(
        "approve", "--stack", "team-x", "--project", project, "--model", "fraud-detector",
        "--version", "8", "--approver", "raj@example.com", "--ticket", "CHG-2001",
    )  # fmt: skip
    assert code == 2
    assert "a prod approval must be signed" in cli.err
    assert (project / "stacks/Pulumi.team-x.yaml").read_text() == before


def test_an_enforcement_change_is_signed_for_the_trusted_environment(cli, project):
    from mlops_iac.policies import signatures

    _claims_dev(project)
    code = cli(
        "approve", "--stack", "team-x", "--project", project, "--enforcement", "advisory",
        "--approver", "raj@example.com", "--ticket", "CHG-3001",
        "--key", key_for("raj@example.com"),
    )  # fmt: skip
    assert code == 0, cli.err
    spec = stackfile.load(project, "team-x").spec
    record = spec.governance.enforcement_approval.model_dump(by_alias=True, mode="json")
    payload = signatures.enforcement_payload(spec.project, "prod", "advisory", record)
    allowed = project / "governance" / "allowed_signers"
    assert signatures.verify(payload, record["signature"], "raj@example.com", allowed) == "verified"
