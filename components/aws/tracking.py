"""Tracking on AWS: a SageMaker managed MLflow tracking server on the artifact store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import pulumi
import pulumi_aws as aws

from mlops_iac.components._component import Component, child_opts, component_opts
from mlops_iac.components.aws import _defaults as defaults
from mlops_iac.components.aws._common import (
    assume_role_policy,
    document,
    stable_name,
    statement,
)
from mlops_iac.components.contract_types import TrackingArgsBase

TYPE = "mlops:aws:Tracking"


@dataclass(frozen=True, kw_only=True)
class TrackingArgs(TrackingArgsBase):
    """Inputs of ``Tracking``. Only ``artifact_bucket_name`` is required."""

    FIELD_NOTES: ClassVar[Mapping[str, str]] = {
        "size": "SageMaker's ``TrackingServerSize``: ``Small``, ``Medium`` or ``Large``.",
        "ci_principals": (
            "IAM role ARNs of CI; the component attaches the access policy to each role. "
            "Default: none (attach the ``access_policy_arn`` output yourself)."
        ),
    }

    kms_key_arn: pulumi.Input[str] | None = None
    """The artifact store's key: the server and the clients encrypt and read ``mlflow/`` with it.
    Default: none (the bucket's default encryption)."""
    training_role_name: pulumi.Input[str] | None = None
    """Role of the training pods; the access policy is attached to it. Default: none."""
    mlflow_version: str | None = defaults.TRACKING_MLFLOW_VERSION
    """MLflow version of the server as ``major.minor`` (``3.0``): the provider reads the version
    back as ``major.minor``, so a patch digit would replace the server on every deploy. Default:
    SageMaker's current default."""
    maintenance_window: str = defaults.TRACKING_MAINTENANCE_WINDOW
    """Weekly maintenance start (UTC), ``Tue:03:30``. Default ``Tue:03:30``."""


class Tracking(Component):
    """An MLflow tracking server the training role and CI reach through IAM, no public URL.

    Children (names derive from ``name``): ``{name}-role`` (assumed by SageMaker) with
    ``{name}-role-store`` (read/write ``s3://<bucket>/mlflow/`` and the store's key, nothing
    else), ``{name}-server`` (``aws.sagemaker.MlflowTrackingServer``, deterministic name, artifact
    store ``s3://<bucket>/mlflow/``), ``{name}-access`` (managed policy: the MLflow API calls of
    a training run on this server, its presigned UI URL, the ``mlflow/`` prefix and the key) and
    one ``{name}-access-{i}`` attachment per role (the training role first, then CI's).

    The tracking URI is the server's ARN: clients install ``sagemaker-mlflow`` and set
    ``MLFLOW_TRACKING_URI`` to it; the plugin signs each call with the caller's AWS credentials
    (https://docs.aws.amazon.com/sagemaker/latest/dg/mlflow-track-experiments.html).

    Outputs: ``tracking_uri`` (server ARN), ``artifact_uri``, ``server_name``,
    ``access_policy_arn``.
    """

    tracking_uri: pulumi.Output[str]
    artifact_uri: pulumi.Output[str]
    server_name: pulumi.Output[str]
    access_policy_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: TrackingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, component_opts(opts))
        _check_version(args.mlflow_version)
        prod = args.environment == "prod"
        bucket = pulumi.Output.from_input(args.artifact_bucket_name)
        artifact_uri = bucket.apply(lambda b: f"s3://{b}/{defaults.TRACKING_PREFIX}/")
        role = aws.iam.Role(
            f"{name}-role",
            description=f"MLflow tracking server {name}: the artifact store's mlflow/ prefix",
            assume_role_policy=assume_role_policy("sagemaker.amazonaws.com"),
            tags=args.tags,
            opts=child_opts(self),
        )
        store_access = aws.iam.RolePolicy(
            f"{name}-role-store",
            role=role.id,
            policy=_store_policy(bucket, args.kms_key_arn),
            opts=child_opts(self),
        )
        server = aws.sagemaker.MlflowTrackingServer(
            f"{name}-server",
            tracking_server_name=stable_name(name),
            artifact_store_uri=artifact_uri,
            role_arn=role.arn,
            tracking_server_size=args.size,
            mlflow_version=args.mlflow_version,
            weekly_maintenance_window_start=args.maintenance_window,
            # Models register through the toolkit's approval gate, not automatically.
            automatic_model_registration=False,
            tags=args.tags,
            # SageMaker uses the role at create and the provider does not retry on IAM
            # propagation: the role's rights exist first.
            # https://docs.aws.amazon.com/sagemaker/latest/dg/mlflow-create-tracking-server-iam.html
            opts=child_opts(self, protect=prod, depends_on=[store_access]),
        )
        access = aws.iam.Policy(
            f"{name}-access",
            description=f"Log runs to MLflow tracking server {name} and its artifacts",
            policy=_access_policy(server.arn, bucket, args.kms_key_arn),
            tags=args.tags,
            opts=child_opts(self),
        )
        roles: list[pulumi.Input[str]] = []
        if args.training_role_name is not None:
            roles.append(args.training_role_name)
        roles.extend(_role_name(arn) for arn in args.ci_principals)
        for i, role_name in enumerate(roles):
            aws.iam.RolePolicyAttachment(
                f"{name}-access-{i}",
                role=role_name,
                policy_arn=access.arn,
                opts=child_opts(self),
            )
        self.register(
            tracking_uri=server.arn,
            artifact_uri=artifact_uri,
            server_name=server.tracking_server_name,
            access_policy_arn=access.arn,
        )


def _check_version(version: str | None) -> None:
    """Refuse a version the provider would diff forever (it normalises to ``major.minor``).
    https://www.pulumi.com/registry/packages/aws/api-docs/sagemaker/mlflowtrackingserver"""
    parts = (version or "").split(".")
    if version is not None and (len(parts) != 2 or not all(p.isdigit() for p in parts)):
        raise ValueError(
            f"Tracking mlflow_version takes major.minor (e.g. '3.0'), got {version!r}: the "
            "provider reads the version back as major.minor and would replace the server on "
            "every deploy"
        )


def _role_name(arn: str) -> str:
    """The role name of a role ARN (``arn:aws:iam::<account>:role/<path>/<name>``)."""
    if ":role/" not in arn:
        raise ValueError(f"tracking.ciPrincipals on AWS takes IAM role ARNs, got {arn!r}")
    return arn.rsplit("/", 1)[-1]


def _prefix_statements(
    bucket: pulumi.Output[str], key_arn: pulumi.Input[str] | None, write: bool
) -> list[dict[str, object]]:
    """S3 on ``<bucket>/mlflow/*`` (list limited to the prefix) and the store's key."""
    prefix = defaults.TRACKING_PREFIX
    objects = bucket.apply(lambda b: f"arn:aws:s3:::{b}/{prefix}/*")
    actions = ["s3:GetObject", "s3:PutObject"] + (["s3:DeleteObject"] if write else [])
    statements: list[dict[str, object]] = [
        statement(Sid="TrackedArtifacts", Effect="Allow", Action=actions, Resource=objects),
        statement(
            Sid="ListTrackedArtifacts",
            Effect="Allow",
            Action=["s3:ListBucket"],
            Resource=bucket.apply(lambda b: f"arn:aws:s3:::{b}"),
            Condition={"StringLike": {"s3:prefix": [f"{prefix}/*", prefix]}},
        ),
    ]
    if key_arn is not None:
        statements.append(
            statement(
                Sid="StoreKey",
                Effect="Allow",
                Action=["kms:Decrypt", "kms:GenerateDataKey"],
                Resource=key_arn,
            )
        )
    return statements


def _store_policy(
    bucket: pulumi.Output[str], key_arn: pulumi.Input[str] | None
) -> pulumi.Output[str]:
    """What the server itself may do: the ``mlflow/`` prefix and the key, nothing else."""
    return document(_prefix_statements(bucket, key_arn, write=True))


def _access_policy(
    server_arn: pulumi.Output[str],
    bucket: pulumi.Output[str],
    key_arn: pulumi.Input[str] | None,
) -> pulumi.Output[str]:
    """What a training run or CI may do: log to this server, open its UI, and read/write the
    run artifacts the MLflow client uploads to S3 itself."""
    return document(
        [
            statement(
                Sid="TrackRuns",
                Effect="Allow",
                Action=[f"sagemaker-mlflow:{a}" for a in defaults.TRACKING_CLIENT_ACTIONS],
                Resource=server_arn,
            ),
            statement(
                Sid="OpenUi",
                Effect="Allow",
                Action=["sagemaker:CreatePresignedMlflowTrackingServerUrl"],
                Resource=server_arn,
            ),
            statement(
                Sid="UseUi",
                Effect="Allow",
                Action=[f"sagemaker-mlflow:{defaults.TRACKING_UI_ACTION}"],
                Resource="*",
            ),
            *_prefix_statements(bucket, key_arn, write=False),
        ]
    )
