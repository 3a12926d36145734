"""ServingEndpoint on AWS: a SageMaker endpoint with two deployable versions and guarded rollout."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pulumi
import pulumi_aws as aws

from mlops_iac.components._component import (
    Component,
    child_opts,
    component_opts,
    require_not_prod,
    secure_default,
    unset,
)
from mlops_iac.components.aws import _defaults as defaults
from mlops_iac.components.aws._common import (
    Tags,
    account_id,
    assume_role_policy,
    customer_key,
    document,
    error_rate_queries,
    region,
    stable_name,
    statement,
)
from mlops_iac.components.contract_types import ServingEndpointArgsBase
from mlops_iac.spec import limits

TYPE = "mlops:aws:ServingEndpoint"

IMAGE_PULL_ACTIONS = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
)
LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")
VPC_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
)
_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/"
    r"(?P<repo>[^:@]+)(?:[:@].*)?$"
)
STRATEGIES = ("canary", "linear", "all-at-once")


@dataclass(frozen=True, kw_only=True)
class ModelVersion:
    """One deployable model version."""

    name: str
    """Model name."""
    version: str
    """Registry version; child names are keyed by it, so switching versions touches only the
    endpoint."""
    artifact_uri: str
    """``s3://bucket/key`` of the model artifact (``model.tar.gz``), or a prefix ending in ``/``."""
    image: str | None = None
    """Inference image. Default: ``<image_repository_url>:<version>``."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of the resources serving this version (``lineage.serving_tags``). Default: none."""


@dataclass(frozen=True, kw_only=True)
class ModelMetricAlarm:
    """A CloudWatch metric whose ``Endpoint`` dimension names the endpoint (as the drift job
    publishes ``mlops/drift`` ``DriftedFeatures``), compared with ``threshold``."""

    namespace: str
    name: str
    threshold: float
    comparison: str = "above"
    """``above`` or ``below``."""


@dataclass(frozen=True, kw_only=True)
class ServingEndpointArgs(ServingEndpointArgsBase):
    """Inputs of ``ServingEndpoint``. ``active_model`` and ``artifact_bucket_name`` are required."""

    FIELD_NOTES: ClassVar[Mapping[str, str]] = {
        "environment": ("``dev``, ``staging`` or ``prod``. Default ``dev``."),
        "max_replicas": (
            "Autoscaling upper bound, and the instance count every endpoint config starts "
            "with (a rollout or rollback must not start the new fleet below the current "
            "load). Default 2."
        ),
        "rollout_strategy": (
            "``canary``, ``linear`` or ``all-at-once`` blue/green traffic shifting. Default canary."
        ),
        "canary_percent": (
            "Capacity share of the new fleet during the canary bake; the canary (rounded up "
            "to whole instances) must be at most half of ``max_replicas``. Default 10."
        ),
        "linear_step_percent": (
            "Capacity share per linear step (10–50, rounded up to whole instances, at most "
            "half of ``max_replicas``). Default 20."
        ),
        "public_endpoint": (
            "Accepted for the cross-cloud contract; SageMaker endpoints are IAM-authenticated"
            " and have no public/private switch. Refused in prod."
        ),
        "tags": ("Extra tags on children that serve no particular version. Default: none."),
    }

    active_model: ModelVersion
    """The version this apply deploys; it takes traffic unless ``rollback``. Required."""
    previous_model: ModelVersion | None = None
    """The version it replaces, kept deployable for a rollback. Default: none."""
    artifact_bucket_name: pulumi.Input[str]
    """Bucket that receives request/response capture under ``capture/``."""
    kms_key_arn: pulumi.Input[str] | None = None
    """Key for capture, endpoint storage and model artifacts. Default: a new rotating key."""
    image_repository_arn: pulumi.Input[str] | None = None
    """ECR repository the execution role may pull from (besides the models' image repos).
    Default: only the repositories named by the models' images."""
    image_repository_url: pulumi.Input[str] | None = None
    """Repository for models without ``image``. Default: none (then every model needs one)."""
    alert_topic_arn: pulumi.Input[str] | None = None
    """Topic the rollback alarms notify. Default: none (alarms still roll back; a warning)."""
    instance_type: str | None = unset(defaults.SERVING_INSTANCE_TYPE)
    """Instance type. Default ``ml.m5.large``."""
    autoscaling: bool = defaults.SERVING_AUTOSCALING
    """Register the variant with Application Auto Scaling. Turn it off for one deployment
    before changing ``instance_type`` (AWS refuses an instance-type change on an autoscaled
    variant), back on with the new type in the next. Default: true."""
    deployed_instance_type: pulumi.Input[str | None] | None = None
    """Instance type of the current deployment (e.g. a stack reference to the stack's own
    outputs). With it, a change of ``instance_type`` while the deployment is autoscaled is
    refused before anything is deployed. Default: none (not checked)."""
    deployed_autoscaling: pulumi.Input[bool | None] | None = None
    """Whether the current deployment is autoscaled. Default: none, read as autoscaled."""
    invocations_per_instance: float = defaults.INVOCATIONS_PER_INSTANCE_TARGET
    """Target-tracking value of ``SageMakerVariantInvocationsPerInstance``. Default 100."""
    bake_minutes: int = defaults.BAKE_MINUTES
    """Wait between traffic shifts, watching the alarms (0–60). Default 10."""
    latency_p99_ms: int = defaults.LATENCY_P99_MS
    """p99 ``ModelLatency`` above which the rollout rolls back. Default 500 ms."""
    error_rate_percent: float = defaults.ERROR_RATE_PERCENT
    """5XX share of invocations above which the rollout rolls back. Default 1 %."""
    model_metric: ModelMetricAlarm | None = None
    """A metric the model (or the drift job) publishes that also rolls a deployment back:
    ``{name}-model-metric-alarm``. Default: none."""
    extra_rollback_alarms: Sequence[str] = ()
    """Names of further CloudWatch alarms (a business metric, say) that also roll a deployment
    back. They must be created in the same stack. Default: none, only this component's two."""
    capture_sampling_percent: int | None = unset(defaults.CAPTURE_SAMPLING_PERCENT)
    """Share of requests captured. Default 100."""
    network_isolation: bool | None = unset(defaults.NETWORK_ISOLATION)
    """Containers get no network access. Default: true (false warns; refused in prod)."""
    vpc_id: pulumi.Input[str] | None = None
    """VPC of ``subnet_ids``. Default: none."""
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None
    """Private subnets for the model containers (``vpc_config``). Default: none; the stack passes
    the training VPC's private subnets in prod."""


def endpoint_name_for(name: str) -> str:
    """The deterministic endpoint name of ``ServingEndpoint(name, …)``.

    The endpoint's ``auto_rollback_configuration`` names alarms whose dimensions name the
    endpoint: with an auto-generated name that is a cycle. A name derived from ``name`` (plus a
    stable stack hash) breaks it, and lets other components watch the endpoint before it exists.
    """
    return stable_name(name, 63)


class ServingEndpoint(Component):
    """SageMaker endpoint serving the active version, the standby kept deployable.

    Children (names derive from ``name``; per version ``v``): ``{name}-key`` (+ alias, unless
    ``kms_key_arn``), ``{name}-role`` + ``-role-policy`` (execution role scoped to the artifacts,
    image repositories, capture prefix, key, logs and metrics), ``{name}-sg`` (with subnets),
    ``{name}-model-v{v}`` (network isolation) and ``{name}-config-v{v}`` (KMS, data capture to
    ``s3://<bucket>/capture/``) for the active and standby versions, ``{name}-5xx-alarm`` and
    ``{name}-latency-alarm`` (the rollback alarms, deterministic names), ``{name}-endpoint``
    (blue/green, canary/linear/all-at-once, auto rollback on both alarms),
    ``{name}-scaling-target`` and ``{name}-scaling-policy`` (with ``autoscaling``).

    In prod the endpoint is protected: changing its rollback alarms (``extra_rollback_alarms``)
    forces a replacement in the provider, and a replaced endpoint with a fixed name is deleted
    first, an outage. Pulumi refuses to replace a protected resource, so the change stops at
    preview; see ``docs/aws.md`` for the deliberate procedure.

    Rolling back (serving the standby) changes only the endpoint's config name and tags: models
    and configs are keyed by version, not by role.

    Outputs: ``endpoint_name``, ``endpoint_url``, ``active_model_version``,
    ``previous_model_version``, ``active_endpoint_config_name``,
    ``previous_endpoint_config_name``, ``alarm_names``, ``execution_role_arn``, ``instance_type``
    (the serving instance type; the next deployment reads it back).
    """

    endpoint_name: pulumi.Output[str]
    endpoint_url: pulumi.Output[str]
    active_model_version: pulumi.Output[str]
    previous_model_version: pulumi.Output[str | None]
    active_endpoint_config_name: pulumi.Output[str]
    previous_endpoint_config_name: pulumi.Output[str | None]
    alarm_names: pulumi.Output[list[str]]
    execution_role_arn: pulumi.Output[str]
    instance_type: pulumi.Output[str]

    def __init__(
        self, name: str, args: ServingEndpointArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, component_opts(opts))
        label = f"ServingEndpoint {name}"
        _validate(label, args)
        isolation, sampling = _resolved_settings(label, args)
        if args.alert_topic_arn is None:
            pulumi.log.warn(f"{label}: no alert_topic_arn; rollback alarms notify nobody")
        served, standby = served_and_standby(args)
        versions = [served] + ([standby] if standby else [])
        prod = args.environment == "prod"
        key_arn = args.kms_key_arn
        if key_arn is None:
            key_arn = customer_key(self, f"{name}-key", "serving", prod=prod, tags=args.tags).arn
        endpoint_name = endpoint_name_for(name)
        in_vpc = args.subnet_ids is not None
        role, role_policy = self._execution_role(
            name, args, versions, key_arn, endpoint_name, in_vpc
        )
        vpc_config = self._vpc_config(name, args) if in_vpc else None
        instance_type = _checked_instance_type(label, args)
        configs = {
            model.version: self._deployable_version(
                name,
                args,
                model,
                role,
                role_policy,
                key_arn,
                isolation,
                sampling,
                vpc_config,
                instance_type,
            )
            for model in versions
        }
        alarms = self._rollback_alarms(name, args, endpoint_name)
        endpoint = self._endpoint(name, args, served, configs[served.version], alarms, prod)
        if args.autoscaling:
            self._autoscaling(name, args, endpoint, args.tags)
        standby_config = configs[standby.version] if standby else None
        self.register(
            endpoint_name=endpoint.name,
            endpoint_url=pulumi.Output.concat(
                "https://runtime.sagemaker.",
                region(self),
                ".amazonaws.com/endpoints/",
                endpoint.name,
                "/invocations",
            ),
            active_model_version=pulumi.Output.from_input(served.version),
            previous_model_version=pulumi.Output.from_input(standby.version if standby else None),
            active_endpoint_config_name=configs[served.version].name,
            previous_endpoint_config_name=(
                standby_config.name if standby_config else pulumi.Output.from_input(None)
            ),
            alarm_names=pulumi.Output.all(*(alarm.name for alarm in alarms)),
            execution_role_arn=role.arn,
            instance_type=pulumi.Output.from_input(instance_type),
        )

    def _execution_role(
        self,
        name: str,
        args: ServingEndpointArgs,
        versions: list[ModelVersion],
        key_arn: pulumi.Input[str],
        endpoint_name: str,
        in_vpc: bool,
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        """The SageMaker execution role and its least-privilege inline policy."""
        role = aws.iam.Role(
            f"{name}-role",
            description=f"SageMaker execution role of {name}",
            assume_role_policy=assume_role_policy("sagemaker.amazonaws.com"),
            tags=args.tags,
            opts=child_opts(self),
        )
        bucket_arn = pulumi.Output.concat("arn:aws:s3:::", args.artifact_bucket_name)
        role_policy = aws.iam.RolePolicy(
            f"{name}-role-policy",
            role=role.id,
            policy=self._execution_policy(
                args, versions, bucket_arn, key_arn, endpoint_name, in_vpc
            ),
            opts=child_opts(self),
        )
        return role, role_policy

    def _vpc_config(self, name: str, args: ServingEndpointArgs) -> dict[str, Any]:
        """The model containers' subnets and a security group that allows HTTPS out only."""
        sg = aws.ec2.SecurityGroup(
            f"{name}-sg",
            description=f"Model containers of {name}: HTTPS out only",
            vpc_id=args.vpc_id,
            egress=[
                {
                    "protocol": "tcp",
                    "from_port": 443,
                    "to_port": 443,
                    "cidr_blocks": ["0.0.0.0/0"],
                    "description": "HTTPS to AWS APIs via VPC endpoints or NAT",
                }
            ],
            tags=args.tags,
            opts=child_opts(self),
        )
        return {"subnets": args.subnet_ids, "security_group_ids": [sg.id]}

    def _deployable_version(
        self,
        name: str,
        args: ServingEndpointArgs,
        model: ModelVersion,
        role: aws.iam.Role,
        role_policy: aws.iam.RolePolicy,
        key_arn: pulumi.Input[str],
        isolation: bool,
        sampling: int,
        vpc_config: dict[str, Any] | None,
        instance_type: pulumi.Input[str],
    ) -> aws.sagemaker.EndpointConfiguration:
        """One deployable version: its SageMaker model and endpoint config (keyed by version)."""
        image: pulumi.Input[str] | None = model.image
        if image is None:
            if args.image_repository_url is None:
                raise ValueError(
                    f"ServingEndpoint {name}: model version {model.version} has no image"
                )
            image = pulumi.Output.concat(args.image_repository_url, f":{model.version}")
        sm_model = aws.sagemaker.Model(
            f"{name}-model-v{model.version}",
            execution_role_arn=role.arn,
            primary_container={"image": image, "model_data_url": model.artifact_uri},
            enable_network_isolation=isolation,
            vpc_config=vpc_config,
            tags=dict(model.tags),
            # The role must hold its permissions before SageMaker validates the model.
            opts=child_opts(self, depends_on=[role_policy]),
        )
        return aws.sagemaker.EndpointConfiguration(
            f"{name}-config-v{model.version}",
            kms_key_arn=key_arn,
            production_variants=[
                {
                    "variant_name": defaults.VARIANT_NAME,
                    "model_name": sm_model.name,
                    "instance_type": instance_type,
                    # Every rollout and rollback provisions a new (green) fleet from this
                    # count, and the endpoint resource cannot ask UpdateEndpoint to retain
                    # the current one: start at the autoscaling maximum, so the new fleet
                    # serves peak load; autoscaling scales it in after the cooldown.
                    # https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html
                    "initial_instance_count": args.max_replicas,
                    "initial_variant_weight": 1.0,
                }
            ],
            data_capture_config={
                "enable_capture": True,
                "initial_sampling_percentage": sampling,
                "destination_s3_uri": pulumi.Output.concat(
                    "s3://", args.artifact_bucket_name, f"/{defaults.CAPTURE_PREFIX}/"
                ),
                "kms_key_id": key_arn,
                "capture_options": [{"capture_mode": "Input"}, {"capture_mode": "Output"}],
            },
            tags=dict(model.tags),
            opts=child_opts(self),
        )

    def _rollback_alarms(
        self, name: str, args: ServingEndpointArgs, endpoint_name: str
    ) -> list[aws.cloudwatch.MetricAlarm]:
        """The 5XX-rate and p99-latency alarms a deployment rolls back on (deterministic names)."""
        actions = [args.alert_topic_arn] if args.alert_topic_arn is not None else []
        own_alarms = rollback_alarm_names(endpoint_name, (), model_metric=args.model_metric)
        error_alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-5xx-alarm",
            name=own_alarms[0],
            alarm_description=f"5XX share of invocations of {endpoint_name} above "
            f"{args.error_rate_percent}% (rolls a deployment back)",
            comparison_operator="GreaterThanThreshold",
            threshold=args.error_rate_percent,
            evaluation_periods=defaults.ALARM_EVALUATION_PERIODS,
            datapoints_to_alarm=defaults.ALARM_EVALUATION_PERIODS,
            treat_missing_data="notBreaching",
            metric_queries=error_rate_queries(_dimensions(endpoint_name)),
            alarm_actions=actions,
            ok_actions=actions,
            tags=args.tags,
            opts=child_opts(self),
        )
        latency_alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-latency-alarm",
            name=own_alarms[1],
            alarm_description=f"p99 model latency of {endpoint_name} above "
            f"{args.latency_p99_ms} ms (rolls a deployment back)",
            namespace="AWS/SageMaker",
            metric_name="ModelLatency",
            dimensions=_dimensions(endpoint_name),
            extended_statistic="p99",
            period=defaults.ALARM_PERIOD_SECONDS,
            # ModelLatency is reported in microseconds.
            threshold=args.latency_p99_ms * 1000,
            comparison_operator="GreaterThanThreshold",
            evaluation_periods=defaults.ALARM_EVALUATION_PERIODS,
            datapoints_to_alarm=defaults.ALARM_EVALUATION_PERIODS,
            treat_missing_data="notBreaching",
            alarm_actions=actions,
            ok_actions=actions,
            tags=args.tags,
            opts=child_opts(self),
        )
        alarms = [error_alarm, latency_alarm]
        metric = args.model_metric
        if metric is not None:
            comparison = {"above": "GreaterThanThreshold", "below": "LessThanThreshold"}
            alarms.append(
                aws.cloudwatch.MetricAlarm(
                    f"{name}-model-metric-alarm",
                    name=own_alarms[2],
                    alarm_description=f"{metric.namespace} {metric.name} of {endpoint_name} "
                    f"{metric.comparison} {metric.threshold} (rolls a deployment back)",
                    namespace=metric.namespace,
                    metric_name=metric.name,
                    dimensions={"Endpoint": endpoint_name},
                    statistic="Maximum",
                    period=defaults.ALARM_PERIOD_SECONDS,
                    threshold=metric.threshold,
                    comparison_operator=comparison[metric.comparison],
                    evaluation_periods=1,
                    treat_missing_data="notBreaching",
                    alarm_actions=actions,
                    ok_actions=actions,
                    tags=args.tags,
                    opts=child_opts(self),
                )
            )
        return alarms

    def _endpoint(
        self,
        name: str,
        args: ServingEndpointArgs,
        served: ModelVersion,
        config: aws.sagemaker.EndpointConfiguration,
        alarms: list[aws.cloudwatch.MetricAlarm],
        prod: bool,
    ) -> aws.sagemaker.Endpoint:
        """The endpoint on ``served``'s config: blue/green shifting, auto rollback on alarms."""
        return aws.sagemaker.Endpoint(
            f"{name}-endpoint",
            name=endpoint_name_for(name),
            endpoint_config_name=config.name,
            deployment_config={
                "blue_green_update_policy": {
                    "traffic_routing_configuration": _traffic_routing(args),
                    "termination_wait_in_seconds": defaults.TERMINATION_WAIT_SECONDS,
                    # Provisioning margin + every shift's wait + termination wait: AWS wants the
                    # timeout "larger than the total waiting time" (the spec refuses a rollout
                    # whose waits exceed the 28800 s maximum).
                    # https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_BlueGreenUpdatePolicy.html
                    "maximum_execution_timeout_in_seconds": execution_timeout(args),
                },
                "auto_rollback_configuration": {
                    "alarms": [{"alarm_name": alarm.name} for alarm in alarms]
                    + [{"alarm_name": extra} for extra in args.extra_rollback_alarms]
                },
            },
            tags=dict(served.tags),
            # The name is explicit, so a replacement must delete the old endpoint first. The
            # provider replaces the endpoint when autoRollbackConfiguration changes (ForceNew in
            # the bridged terraform-provider-aws schema of aws_sagemaker_endpoint), so in prod
            # the endpoint is protected and Pulumi refuses that replacement at preview.
            # https://www.pulumi.com/registry/packages/aws/api-docs/sagemaker/endpoint/
            opts=child_opts(self, protect=prod, delete_before_replace=True),
        )

    def _autoscaling(
        self,
        name: str,
        args: ServingEndpointArgs,
        endpoint: aws.sagemaker.Endpoint,
        tags: Tags,
    ) -> None:
        """Target tracking on invocations per instance, between the replica bounds."""
        target = aws.appautoscaling.Target(
            f"{name}-scaling-target",
            service_namespace="sagemaker",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            resource_id=pulumi.Output.concat(
                "endpoint/", endpoint.name, f"/variant/{defaults.VARIANT_NAME}"
            ),
            min_capacity=args.min_replicas,
            max_capacity=args.max_replicas,
            tags=tags,
            opts=child_opts(self),
        )
        aws.appautoscaling.Policy(
            f"{name}-scaling-policy",
            policy_type="TargetTrackingScaling",
            service_namespace=target.service_namespace,
            scalable_dimension=target.scalable_dimension,
            resource_id=target.resource_id,
            target_tracking_scaling_policy_configuration={
                "target_value": args.invocations_per_instance,
                "predefined_metric_specification": {
                    "predefined_metric_type": "SageMakerVariantInvocationsPerInstance"
                },
                "scale_in_cooldown": 300,
                "scale_out_cooldown": 60,
            },
            opts=child_opts(self),
        )

    def _execution_policy(
        self,
        args: ServingEndpointArgs,
        versions: list[ModelVersion],
        bucket_arn: pulumi.Output[str],
        key_arn: pulumi.Input[str],
        endpoint_name: str,
        in_vpc: bool,
    ) -> pulumi.Output[str]:
        """Exactly what the models need: their artifacts and images, capture, key, logs, metrics."""
        account = account_id(self)
        here = region(self)
        repos: list[pulumi.Input[str]] = [
            *sorted(
                {repo for model in versions if (repo := _repository_arn(model.image)) is not None}
            )
        ]
        if args.image_repository_arn is not None:
            repos.append(args.image_repository_arn)
        statements: list[dict[str, Any]] = [
            statement(
                Sid="ReadModelArtifacts",
                Effect="Allow",
                Action=["s3:GetObject"],
                Resource=sorted({_object_arn(model.artifact_uri) for model in versions}),
            ),
            statement(
                Sid="WriteCapture",
                Effect="Allow",
                Action=["s3:PutObject"],
                Resource=pulumi.Output.concat(bucket_arn, f"/{defaults.CAPTURE_PREFIX}/*"),
            ),
            statement(
                Sid="UseKey",
                Effect="Allow",
                Action=["kms:Decrypt", "kms:GenerateDataKey"],
                Resource=key_arn,
            ),
            statement(
                Sid="WriteLogs",
                Effect="Allow",
                Action=list(LOG_ACTIONS),
                Resource=pulumi.Output.concat(
                    "arn:aws:logs:",
                    here,
                    ":",
                    account,
                    f":log-group:/aws/sagemaker/Endpoints/{endpoint_name}:*",
                ),
            ),
            statement(
                Sid="PutMetrics",
                Effect="Allow",
                Action=["cloudwatch:PutMetricData"],
                # PutMetricData has no resource type; the namespace condition scopes it.
                Resource="*",
                Condition={"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*"]}},
            ),
            statement(
                Sid="DescribeRollbackAlarms",
                Effect="Allow",
                # Deployment guardrails read the auto-rollback alarms with the execution role.
                # https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html
                Action=["cloudwatch:DescribeAlarms"],
                Resource=[
                    pulumi.Output.concat(
                        "arn:aws:cloudwatch:", here, ":", account, f":alarm:{alarm}"
                    )
                    for alarm in rollback_alarm_names(
                        endpoint_name, args.extra_rollback_alarms, model_metric=args.model_metric
                    )
                ],
            ),
            statement(
                Sid="EcrLogin",
                Effect="Allow",
                Action=["ecr:GetAuthorizationToken"],
                # GetAuthorizationToken supports no resource other than "*".
                Resource="*",
            ),
        ]
        if repos:
            statements.append(
                statement(
                    Sid="PullImages",
                    Effect="Allow",
                    Action=list(IMAGE_PULL_ACTIONS),
                    Resource=repos,
                )
            )
        if in_vpc:
            statements.append(
                statement(
                    Sid="VpcNetworkInterfaces",
                    Effect="Allow",
                    Action=list(VPC_ACTIONS),
                    # ENI management for vpc_config has no narrower resource at creation time.
                    Resource="*",
                )
            )
        return document(statements)


def served_and_standby(args: ServingEndpointArgs) -> tuple[ModelVersion, ModelVersion | None]:
    """(the version that takes traffic after this apply, the other deployable one).

    ``rollback`` serves ``previous_model`` and keeps ``active_model`` deployable (the contract's
    one meaning, ``ServingEndpointArgsBase``); models and configs are keyed by version, so a
    rollback changes only the endpoint's config name and tags.
    """
    if args.rollback and args.previous_model is not None:
        return args.previous_model, args.active_model
    return args.active_model, args.previous_model


def _resolved_settings(label: str, args: ServingEndpointArgs) -> tuple[bool, int]:
    """(network isolation, capture sampling): secure defaults resolved, prod refusals applied."""
    public = secure_default(
        label, "public_endpoint", args.public_endpoint, defaults.PUBLIC_ENDPOINT
    )
    require_not_prod(label, args.environment, "public_endpoint", public)
    isolation = secure_default(
        label, "network_isolation", args.network_isolation, defaults.NETWORK_ISOLATION
    )
    require_not_prod(label, args.environment, "network_isolation off", not isolation)
    sampling = secure_default(
        label,
        "capture_sampling_percent",
        args.capture_sampling_percent,
        defaults.CAPTURE_SAMPLING_PERCENT,
    )
    return isolation, sampling


def _checked_instance_type(label: str, args: ServingEndpointArgs) -> pulumi.Input[str]:
    """``instance_type``, refused when it changes the type of an autoscaled deployment.

    "If the update would change the instance type for any model that is a target for auto
    scaling, the update fails": the variant must be deregistered first, which one Pulumi
    deployment cannot order before the endpoint update (the scaling target depends on it).
    https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html
    """
    wanted = args.instance_type or defaults.SERVING_INSTANCE_TYPE
    if args.deployed_instance_type is None:
        return wanted

    def check(values: list[Any]) -> str:
        deployed, autoscaled = values
        if deployed and deployed != wanted and autoscaled is not False:
            raise ValueError(
                f"{label}: instance_type {deployed} -> {wanted} on an autoscaled "
                "endpoint fails in AWS; deploy once with autoscaling off "
                "(aws.servingAutoscaling: false), then change the instance type"
            )
        return wanted

    return pulumi.Output.all(args.deployed_instance_type, args.deployed_autoscaling).apply(check)


def rollback_alarm_names(
    endpoint_name: str, extra: Sequence[str], *, model_metric: object | None = None
) -> list[str]:
    """The alarms a deployment of ``endpoint_name`` rolls back on: its own two (three with a
    ``model_metric``), then ``extra``."""
    own = [f"{endpoint_name}-5xx-rate", f"{endpoint_name}-p99-latency"]
    if model_metric is not None:
        own.append(f"{endpoint_name}-model-metric")
    return [*own, *extra]


def rollout_problems(strategy: str, canary: int, linear: int, bake: int, fleet: int) -> list[str]:
    """What SageMaker's TrafficRoutingConfig refuses (``mlops_iac.spec.limits``), as messages."""
    problems = []
    if not limits.bake_minutes_allowed(bake):
        problems.append(f"bake_minutes must be within 0..{limits.SAGEMAKER_BAKE_MINUTES_MAX}")
    field, percent = {
        "canary": ("canary_percent", canary),
        "linear": ("linear_step_percent", linear),
    }.get(strategy, ("", 0))
    problem = limits.step_problem(strategy, percent, fleet)
    if problem == "range":
        low, top = limits.step_percent_range(strategy) or (0, 0)
        problems.append(f"{field} must be within {low}..{top}")
    elif problem == "half":
        problems.append(
            f"{field} {percent}% of {fleet} instance(s) is "
            f"{limits.step_instances(percent, fleet)} instance(s), more than half the fleet; "
            "raise max_replicas or use all-at-once"
        )
    if not problems and fleet > 0:
        timeout = limits.blue_green_timeout_problem(strategy, percent, fleet, bake * 60)
        if timeout is not None:
            problems.append(f"rollout {timeout}; lower bake_minutes or use larger steps")
    return problems


def _validate(label: str, args: ServingEndpointArgs) -> None:
    problems = []
    if not 1 <= args.min_replicas <= args.max_replicas:
        problems.append("need 1 <= min_replicas <= max_replicas")
    if args.rollout_strategy not in STRATEGIES:
        problems.append(f"rollout_strategy must be one of {', '.join(STRATEGIES)}")
    else:
        problems += rollout_problems(
            args.rollout_strategy,
            args.canary_percent,
            args.linear_step_percent,
            args.bake_minutes,
            args.max_replicas,
        )
    if args.rollback and args.previous_model is None:
        problems.append("rollback needs previous_model")
    if args.previous_model is not None and args.previous_model.version == args.active_model.version:
        problems.append("previous_model must be a different version from active_model")
    if problems:
        raise ValueError(f"{label}: " + "; ".join(problems))


def _step_percent(args: ServingEndpointArgs) -> int:
    """The share one traffic shift moves (0 for all-at-once)."""
    return {"canary": args.canary_percent, "linear": args.linear_step_percent}.get(
        args.rollout_strategy, 0
    )


def execution_timeout(args: ServingEndpointArgs) -> int:
    """MaximumExecutionTimeoutInSeconds of the rollout ``args`` describe
    (``mlops_iac.spec.limits.blue_green_timeout``)."""
    return limits.blue_green_timeout(
        args.rollout_strategy, _step_percent(args), args.max_replicas, args.bake_minutes * 60
    )


def _traffic_routing(args: ServingEndpointArgs) -> dict[str, Any]:
    wait = args.bake_minutes * 60
    if args.rollout_strategy == "canary":
        return {
            "type": "CANARY",
            "wait_interval_in_seconds": wait,
            "canary_size": {"type": "CAPACITY_PERCENT", "value": args.canary_percent},
        }
    if args.rollout_strategy == "linear":
        return {
            "type": "LINEAR",
            "wait_interval_in_seconds": wait,
            "linear_step_size": {"type": "CAPACITY_PERCENT", "value": args.linear_step_percent},
        }
    return {"type": "ALL_AT_ONCE", "wait_interval_in_seconds": wait}


def _dimensions(endpoint_name: str) -> dict[str, str]:
    return {"EndpointName": endpoint_name, "VariantName": defaults.VARIANT_NAME}


def _object_arn(uri: str) -> str:
    """``s3://bucket/key`` → the object's ARN; a prefix ending in ``/`` covers objects under it."""
    if not uri.startswith("s3://"):
        raise ValueError(f"model artifact {uri!r} is not an s3:// URI")
    path = uri[len("s3://") :]
    return f"arn:aws:s3:::{path}*" if path.endswith("/") else f"arn:aws:s3:::{path}"


def _repository_arn(image: str | None) -> str | None:
    """ECR repository ARN of an image URI (``acct.dkr.ecr.region.amazonaws.com/repo:tag``)."""
    match = _ECR_IMAGE.match(image or "")
    if match is None:
        return None
    return f"arn:aws:ecr:{match['region']}:{match['account']}:repository/{match['repo']}"
