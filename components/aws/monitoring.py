"""Monitoring on AWS: alerts, alarms, dashboard, drift monitoring, retraining trigger, budget.

Dependency order in a stack: ``AlertChannel`` first (the registry and the serving rollback alarms
notify it), then ``ModelRegistry`` and ``ServingEndpoint``, then ``Monitoring`` (it watches the
endpoint and the GPU pool and reuses the channel through ``alert_topic_arn``). Used on its own,
``Monitoring`` creates its channel as a child.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import pulumi
import pulumi_aws as aws

from mlops_iac.components._component import Component, child_opts, component_opts
from mlops_iac.components.aws import _defaults as defaults
from mlops_iac.components.aws._common import (
    Tags,
    account_id,
    assume_role_policy,
    customer_key,
    document,
    encrypted_topic,
    error_rate_queries,
    region,
    sagemaker_sum,
    stable_name,
    statement,
)
from mlops_iac.components.contract_types import MonitoringArgsBase

TYPE = "mlops:aws:Monitoring"
CHANNEL_TYPE = "mlops:aws:AlertChannel"
# Services that publish to the alert channel: EventBridge rules, CloudWatch alarms, Budgets.
CHANNEL_SERVICES = ("events.amazonaws.com", "cloudwatch.amazonaws.com", "budgets.amazonaws.com")
VIOLATIONS_DETAIL_TYPE = "SageMaker Processing Job State Change"
VIOLATIONS_EXIT_PREFIX = "CompletedWithViolations"
MONITOR_LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")


@dataclass(frozen=True, kw_only=True)
class AlertChannelArgs:
    """Inputs of ``AlertChannel``."""

    environment: str = defaults.ENVIRONMENT
    """``dev``, ``staging`` or ``prod``. Default ``dev``. In prod the key is protected."""
    emails: Sequence[str] = ()
    """Email subscribers. Default: none."""
    webhook_url: pulumi.Input[str] | None = None
    """HTTPS endpoint subscribed to the topic (chat webhook); kept a secret. Default: none."""
    tags: Tags = None
    """Extra tags on every child. Default: none."""


class AlertChannel(Component):
    """KMS-encrypted SNS topic that alarms, EventBridge rules and budgets notify.

    Children: ``{name}-key`` (+ alias; CloudWatch, EventBridge and Budgets may use it),
    ``{name}-topic``, ``{name}-topic-policy`` (those services may publish, nothing else),
    ``{name}-email-{i}`` per email and ``{name}-webhook`` (HTTPS, secret endpoint).

    Outputs: ``topic_arn``, ``kms_key_id``.
    """

    topic_arn: pulumi.Output[str]
    kms_key_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: AlertChannelArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(CHANNEL_TYPE, name, None, component_opts(opts))
        prod = args.environment == "prod"
        key = customer_key(
            self,
            f"{name}-key",
            "alert channel",
            prod=prod,
            tags=args.tags,
            services=list(CHANNEL_SERVICES),
        )
        topic = encrypted_topic(
            self, f"{name}-topic", f"mlops alerts ({name})", key.arn, CHANNEL_SERVICES, args.tags
        )
        for i, email in enumerate(args.emails):
            aws.sns.TopicSubscription(
                f"{name}-email-{i}",
                topic=topic.arn,
                protocol="email",
                endpoint=email,
                opts=child_opts(self),
            )
        if args.webhook_url is not None:
            aws.sns.TopicSubscription(
                f"{name}-webhook",
                topic=topic.arn,
                protocol="https",
                endpoint=pulumi.Output.secret(args.webhook_url),
                endpoint_auto_confirms=False,
                opts=child_opts(self, additional_secret_outputs=["endpoint"]),
            )
        self.register(topic_arn=topic.arn, kms_key_id=key.arn)


@dataclass(frozen=True, kw_only=True)
class MonitoringArgs(MonitoringArgsBase):
    """Inputs of ``Monitoring``. Every field is optional; what is not given is not watched."""

    FIELD_NOTES: ClassVar[Mapping[str, str]] = {
        "environment": (
            "``dev``, ``staging`` or ``prod``. Default ``dev``. Prod adds a zero-invocations alarm."
        ),
        "alert_emails": ("Subscribers of a new channel and of the budget. Default: none."),
        "webhook_url": ("HTTPS subscriber of a new channel, kept secret. Default: none."),
        "endpoint_name": (
            "SageMaker endpoint to watch. Default: none (no endpoint alarms, no drift monitoring)."
        ),
        "latency_p99_ms": ("p99 latency threshold of the endpoint. Default 500 ms."),
        "error_rate_percent": ("5XX share threshold of the endpoint. Default 1 %."),
        "drift": (
            "``hourly``, ``daily`` or ``weekly`` data-quality checks (with "
            "``model_monitor``). Default daily."
        ),
        "monthly_budget_usd": (
            "Monthly GPU spend budget; notifications at 80 % and 100 %. Default: no budget."
        ),
        "tags": ("Extra tags on every child. Default: none."),
    }

    project: str | None = None
    """Value of the ``mlops:project`` cost allocation tag the budget filters on. Default: none
    (then no budget)."""
    alert_topic_arn: pulumi.Input[str] | None = None
    """Existing alert topic (``AlertChannel``). Default: a new channel ``{name}-alerts``."""
    kms_key_arn: pulumi.Input[str] | None = None
    """Key for the retraining topic. Default: the new channel's key, else a new key."""
    serving_alarm_names: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None
    """Latency/5XX alarms that already watch the endpoint (``ServingEndpoint.alarm_names``): they
    go on the dashboard instead of being duplicated. Default: Monitoring creates its own."""
    artifact_bucket_name: pulumi.Input[str] | None = None
    """Bucket with ``capture/`` data; drift reports go to ``monitoring/``. Default: none (no
    drift monitoring)."""
    artifact_kms_key_arn: pulumi.Input[str] | None = None
    """Key of the artifact bucket, for the monitoring job. Default: none."""
    baseline_uri: pulumi.Input[str] | None = None
    """Prefix with ``constraints.json`` and ``statistics.json`` of the training data. Default:
    ``s3://<bucket>/monitoring/baseline/`` (written by the training pipeline)."""
    model_monitor: bool = defaults.MODEL_MONITOR
    """Run SageMaker Model Monitor data-quality checks on the captured requests. Model Monitor
    is closed to new customers, so only accounts that already have it may turn this on.
    Default: false (no job definition, no schedule)."""
    gpu_asg_name: pulumi.Input[str] | None = None
    """Auto Scaling group of the GPU pool. Default: none (no GPU capacity alarm)."""
    gpu_max_nodes: int = 0
    """Upper bound of the GPU pool; running at it for an hour alarms. Default 0."""
    gpu_instance_types: Sequence[str] = ()
    """EC2 types of the GPU pool; the budget counts only their spend. Default: none, so the
    budget counts every cost tagged with the project."""


class Monitoring(Component):
    """Alarms routed to the alert channel, a dashboard, drift monitoring and the retraining trigger.

    Children (names derive from ``name``): ``{name}-alerts`` (``AlertChannel``, unless
    ``alert_topic_arn``); with an endpoint, ``{name}-latency-alarm`` and ``{name}-5xx-alarm``
    (unless ``serving_alarm_names``) and, in prod, ``{name}-zero-invocations-alarm``; with a GPU
    pool, ``{name}-gpu-saturation-alarm``; ``{name}-dashboard``; with ``model_monitor``, an
    endpoint and a bucket, ``{name}-monitor-role`` (+ ``-monitor-role-policy``),
    ``{name}-data-quality`` and ``{name}-drift-schedule``; ``{name}-retraining-key`` (unless a
    key is available),
    ``{name}-retraining`` (SNS, KMS) + ``-retraining-policy``; with ``model_monitor``,
    ``{name}-violations-rule`` + ``-violations-target`` (monitoring jobs completed with violations
    → retraining topic); with a project and a budget, ``{name}-gpu-budget``.

    The budget filters on the ``mlops:project`` tag, which must be activated as a cost allocation
    tag in the billing console (once per payer account).

    Outputs: ``alert_topic``, ``dashboard_url``, ``retraining_trigger``, ``alarm_names``.
    """

    alert_topic: pulumi.Output[str]
    dashboard_url: pulumi.Output[str]
    retraining_trigger: pulumi.Output[str]
    alarm_names: pulumi.Output[list[str]]

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, component_opts(opts))
        if args.drift not in defaults.DRIFT_SCHEDULES:
            raise ValueError(
                f"Monitoring {name}: drift must be one of {', '.join(defaults.DRIFT_SCHEDULES)}"
            )
        prod = args.environment == "prod"
        here = region(self)
        topic_arn, key_arn = self._alert_channel(name, args, prod)
        actions = [topic_arn]

        alarms: list[aws.cloudwatch.MetricAlarm] = []
        if args.endpoint_name is not None:
            alarms += self._endpoint_alarms(name, args, actions, prod)
        if args.gpu_asg_name is not None and args.gpu_max_nodes > 0:
            alarms.append(self._gpu_saturation_alarm(name, args, actions))
        alarm_names = pulumi.Output.all(
            args.serving_alarm_names or [], *(alarm.name for alarm in alarms)
        ).apply(lambda names: [*names[0], *names[1:]])
        dashboard_name = self._dashboard(name, args, here)

        # SageMaker Model Monitor is no longer open to new customers: the job definition and
        # schedule fail on a new account, so they exist only when the stack opts in.
        # https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-availability-change.html
        if (
            args.model_monitor
            and args.endpoint_name is not None
            and args.artifact_bucket_name is not None
        ):
            self._drift(name, args, args.artifact_bucket_name, here)
        retraining = self._retraining_trigger(name, args, key_arn, args.model_monitor)
        if args.monthly_budget_usd and args.project:
            self._gpu_budget(name, args, actions)
        self.register(
            alert_topic=pulumi.Output.from_input(topic_arn),
            dashboard_url=pulumi.Output.concat(
                "https://",
                here,
                ".console.aws.amazon.com/cloudwatch/home?region=",
                here,
                f"#dashboards:name={dashboard_name}",
            ),
            retraining_trigger=retraining.arn,
            alarm_names=alarm_names,
        )

    def _alert_channel(
        self, name: str, args: MonitoringArgs, prod: bool
    ) -> tuple[pulumi.Input[str], pulumi.Input[str]]:
        """The alert topic and the retraining topic's key: given, the channel's, or new."""
        tags = args.tags
        topic_arn = args.alert_topic_arn
        key_arn = args.kms_key_arn
        if topic_arn is None:
            channel = AlertChannel(
                f"{name}-alerts",
                AlertChannelArgs(
                    environment=args.environment,
                    emails=args.alert_emails,
                    webhook_url=args.webhook_url,
                    tags=tags,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            topic_arn = channel.topic_arn
            key_arn = key_arn or channel.kms_key_id
        if key_arn is None:
            key_arn = customer_key(
                self,
                f"{name}-retraining-key",
                "retraining trigger",
                prod=prod,
                tags=tags,
                services=["events.amazonaws.com"],
            ).arn
        return topic_arn, key_arn

    def _gpu_saturation_alarm(
        self, name: str, args: MonitoringArgs, actions: list[Any]
    ) -> aws.cloudwatch.MetricAlarm:
        """The GPU pool ran at its maximum node count for the saturation window."""
        # AWS/AutoScaling group metrics exist only after EnableMetricsCollection, which
        # nothing can call for an EKS managed node group's ASG (pulumi-aws has no resource
        # for it). EC2 publishes instance metrics aggregated by AutoScalingGroupName; with basic
        # monitoring each instance contributes five samples per 5-minute period ("a SampleCount
        # of 5"), so SampleCount / 5 is the number of nodes running.
        # https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-metrics.html
        # https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/ec2-metricscollected.html
        period = defaults.GPU_NODES_PERIOD_SECONDS
        periods = defaults.GPU_SATURATION_MINUTES * 60 // period
        return aws.cloudwatch.MetricAlarm(
            f"{name}-gpu-saturation-alarm",
            alarm_description=(
                f"GPU pool at its maximum of {args.gpu_max_nodes} node(s) for "
                f"{defaults.GPU_SATURATION_MINUTES} minutes: jobs queue and spend is "
                "at its cap"
            ),
            metric_queries=_gpu_nodes_queries(args.gpu_asg_name),
            # The newest period is still filling (its SampleCount grows as samples arrive):
            # all but one period must breach, so it neither delays the alarm nor flaps it OK.
            evaluation_periods=periods,
            datapoints_to_alarm=periods - 1,
            threshold=args.gpu_max_nodes,
            comparison_operator="GreaterThanOrEqualToThreshold",
            # No datapoints: no nodes are running, so the pool is not saturated.
            treat_missing_data="notBreaching",
            alarm_actions=actions,
            ok_actions=actions,
            tags=args.tags,
            opts=child_opts(self),
        )

    def _dashboard(self, name: str, args: MonitoringArgs, here: pulumi.Output[str]) -> str:
        """The CloudWatch dashboard of the endpoint and GPU pool; returns its name."""
        dashboard_name = stable_name(name, 255)
        aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=dashboard_name,
            dashboard_body=_dashboard_body(here, args.endpoint_name, args.gpu_asg_name),
            opts=child_opts(self),
        )
        return dashboard_name

    def _retraining_trigger(
        self, name: str, args: MonitoringArgs, key_arn: pulumi.Input[str], model_monitor: bool
    ) -> aws.sns.Topic:
        """The retraining topic and, with Model Monitor, the rule feeding it monitoring jobs
        with violations (without it no such job exists; the drift job feeds the topic)."""
        tags = args.tags
        retraining = encrypted_topic(
            self,
            f"{name}-retraining",
            f"Retrain: data drift detected ({name})",
            key_arn,
            ["events.amazonaws.com"],
            tags,
        )
        if not model_monitor:
            return retraining
        violations = aws.cloudwatch.EventRule(
            f"{name}-violations-rule",
            description="Model monitor jobs that found data-quality violations: retrain",
            event_pattern=json.dumps(
                {
                    "source": ["aws.sagemaker"],
                    "detail-type": [VIOLATIONS_DETAIL_TYPE],
                    "detail": {
                        "ProcessingJobStatus": ["Completed"],
                        "ExitMessage": [{"prefix": VIOLATIONS_EXIT_PREFIX}],
                    },
                }
            ),
            tags=tags,
            opts=child_opts(self),
        )
        aws.cloudwatch.EventTarget(
            f"{name}-violations-target",
            rule=violations.name,
            arn=retraining.arn,
            opts=child_opts(self),
        )
        return retraining

    def _gpu_budget(self, name: str, args: MonitoringArgs, actions: list[Any]) -> None:
        """The project's monthly GPU budget, notifying the alert topic and emails."""
        aws.budgets.Budget(
            f"{name}-gpu-budget",
            budget_type="COST",
            time_unit="MONTHLY",
            limit_amount=f"{args.monthly_budget_usd:.2f}",
            limit_unit="USD",
            cost_filters=[
                {"name": "TagKeyValue", "values": [f"user:mlops:project${args.project}"]},
                # GPU spend: the pool's instance types, not the whole project's bill.
                *(
                    [{"name": "InstanceType", "values": list(args.gpu_instance_types)}]
                    if args.gpu_instance_types
                    else []
                ),
            ],
            notifications=[
                {
                    "comparison_operator": "GREATER_THAN",
                    "notification_type": "ACTUAL",
                    "threshold": percent,
                    "threshold_type": "PERCENTAGE",
                    "subscriber_email_addresses": list(args.alert_emails) or None,
                    "subscriber_sns_topic_arns": actions,
                }
                for percent in defaults.BUDGET_THRESHOLDS_PERCENT
            ],
            tags=args.tags,
            opts=child_opts(self),
        )

    def _endpoint_alarms(
        self, name: str, args: MonitoringArgs, actions: list[Any], prod: bool
    ) -> list[aws.cloudwatch.MetricAlarm]:
        endpoint = args.endpoint_name
        dimensions = {"EndpointName": endpoint, "VariantName": defaults.VARIANT_NAME}
        common: dict[str, Any] = {
            "alarm_actions": actions,
            "ok_actions": actions,
            "tags": args.tags,
            "opts": child_opts(self),
        }
        alarms = []
        if args.serving_alarm_names is None:
            alarms.append(
                aws.cloudwatch.MetricAlarm(
                    f"{name}-latency-alarm",
                    alarm_description=f"p99 model latency above {args.latency_p99_ms} ms",
                    namespace="AWS/SageMaker",
                    metric_name="ModelLatency",
                    dimensions=dimensions,
                    extended_statistic="p99",
                    period=defaults.ALARM_PERIOD_SECONDS,
                    threshold=args.latency_p99_ms * 1000,
                    comparison_operator="GreaterThanThreshold",
                    evaluation_periods=defaults.ALARM_EVALUATION_PERIODS,
                    treat_missing_data="notBreaching",
                    **common,
                )
            )
            alarms.append(
                aws.cloudwatch.MetricAlarm(
                    f"{name}-5xx-alarm",
                    alarm_description=f"5XX share of invocations above {args.error_rate_percent}%",
                    comparison_operator="GreaterThanThreshold",
                    threshold=args.error_rate_percent,
                    evaluation_periods=defaults.ALARM_EVALUATION_PERIODS,
                    treat_missing_data="notBreaching",
                    metric_queries=error_rate_queries(dimensions),
                    **common,
                )
            )
        if prod:
            alarms.append(
                aws.cloudwatch.MetricAlarm(
                    f"{name}-zero-invocations-alarm",
                    alarm_description=(
                        f"No invocations for {defaults.ZERO_INVOCATIONS_HOURS} hours: clients "
                        "cannot reach the prod endpoint"
                    ),
                    # Hourly invocations, the empty hours filled with 0, over two days; it
                    # alarms when a whole day of them had none. FILL fills the gaps of a series
                    # that has data in the range the alarm queries, so the alarm needs at least
                    # one invocation in the last two days: a new endpoint whose clients have not
                    # switched over yet has no data (missing, not breaching) and stays quiet,
                    # and one that loses its clients pages a day later. A quiet night does not.
                    # (Were an empty range filled too, a new endpoint would page after a day.)
                    # https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html
                    # https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
                    metric_queries=[
                        sagemaker_sum("invocations", "Invocations", dimensions, period=3600),
                        {
                            "id": "hourly",
                            "expression": "FILL(invocations, 0)",
                            "label": "Invocations per hour (0 when none)",
                            "return_data": True,
                        },
                    ],
                    evaluation_periods=2 * defaults.ZERO_INVOCATIONS_HOURS,
                    datapoints_to_alarm=defaults.ZERO_INVOCATIONS_HOURS,
                    threshold=1,
                    comparison_operator="LessThanThreshold",
                    treat_missing_data="notBreaching",
                    **common,
                )
            )
        return alarms

    def _drift(
        self,
        name: str,
        args: MonitoringArgs,
        bucket: pulumi.Input[str],
        here: pulumi.Output[str],
    ) -> None:
        """Data-quality monitoring of the captured requests against the training baseline."""
        bucket_arn = pulumi.Output.concat("arn:aws:s3:::", bucket)
        baseline = args.baseline_uri or pulumi.Output.concat(
            "s3://", bucket, "/monitoring/baseline/"
        )
        account = account_id(self)
        statements = [
            statement(
                Sid="ListMonitoringPrefixes",
                Effect="Allow",
                Action=["s3:ListBucket"],
                Resource=bucket_arn,
                Condition={
                    "StringLike": {"s3:prefix": [f"{defaults.CAPTURE_PREFIX}/*", "monitoring/*"]}
                },
            ),
            statement(
                Sid="ReadCaptureAndBaseline",
                Effect="Allow",
                Action=["s3:GetObject"],
                Resource=[
                    pulumi.Output.concat(bucket_arn, f"/{defaults.CAPTURE_PREFIX}/*"),
                    pulumi.Output.concat(bucket_arn, "/monitoring/*"),
                ],
            ),
            statement(
                Sid="WriteReports",
                Effect="Allow",
                Action=["s3:PutObject"],
                Resource=pulumi.Output.concat(bucket_arn, "/monitoring/*"),
            ),
            statement(
                Sid="WriteLogs",
                Effect="Allow",
                Action=list(MONITOR_LOG_ACTIONS),
                Resource=pulumi.Output.concat(
                    "arn:aws:logs:", here, ":", account, ":log-group:/aws/sagemaker/*"
                ),
            ),
            statement(
                Sid="PutMetrics",
                Effect="Allow",
                Action=["cloudwatch:PutMetricData"],
                # PutMetricData has no resource type; the namespace condition scopes it.
                Resource="*",
                # SageMaker's namespaces start with "/aws/sagemaker/".
                # https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-interpreting-cloudwatch.html
                Condition={"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*"]}},
            ),
        ]
        if args.artifact_kms_key_arn is not None:
            statements.append(
                statement(
                    Sid="UseKey",
                    Effect="Allow",
                    Action=["kms:Decrypt", "kms:GenerateDataKey"],
                    Resource=args.artifact_kms_key_arn,
                )
            )
        role = aws.iam.Role(
            f"{name}-monitor-role",
            description=f"SageMaker model monitor of {name}",
            assume_role_policy=assume_role_policy("sagemaker.amazonaws.com"),
            tags=args.tags,
            opts=child_opts(self),
        )
        policy = aws.iam.RolePolicy(
            f"{name}-monitor-role-policy",
            role=role.id,
            policy=document(statements),
            opts=child_opts(self),
        )
        image = here.apply(_analyzer_image)
        # The explicit opt-in, visible on the resources: the offline engine refuses Model Monitor
        # resources without it (closed to new customers, docs/aws.md).
        opt_in = {"mlops:model-monitor": "opt-in"}
        extra = args.tags or {}
        monitor_tags: pulumi.Input[Mapping[str, pulumi.Input[str]]]
        if isinstance(extra, Mapping):
            monitor_tags = {**extra, **opt_in}
        else:  # tags given as an Output: merged once resolved
            resolved: pulumi.Output[Mapping[str, pulumi.Input[str]]] = pulumi.Output.from_input(
                extra
            )
            monitor_tags = resolved.apply(lambda tags: {**tags, **opt_in})
        job = aws.sagemaker.DataQualityJobDefinition(
            f"{name}-data-quality",
            role_arn=role.arn,
            data_quality_app_specification={"image_uri": image},
            data_quality_baseline_config={
                "constraints_resource": {
                    "s3_uri": pulumi.Output.concat(baseline, "constraints.json")
                },
                "statistics_resource": {
                    "s3_uri": pulumi.Output.concat(baseline, "statistics.json")
                },
            },
            data_quality_job_input={
                "endpoint_input": {
                    "endpoint_name": args.endpoint_name,
                    "local_path": "/opt/ml/processing/input/endpoint",
                    "s3_data_distribution_type": "FullyReplicated",
                    "s3_input_mode": "File",
                }
            },
            data_quality_job_output_config={
                "kms_key_id": args.artifact_kms_key_arn,
                "monitoring_outputs": {
                    "s3_output": {
                        "s3_uri": pulumi.Output.concat("s3://", bucket, "/monitoring/reports/"),
                        "local_path": "/opt/ml/processing/output",
                        "s3_upload_mode": "EndOfJob",
                    }
                },
            },
            job_resources={
                "cluster_config": {
                    "instance_count": 1,
                    "instance_type": defaults.MONITORING_INSTANCE_TYPE,
                    "volume_size_in_gb": 20,
                    "volume_kms_key_id": args.artifact_kms_key_arn,
                }
            },
            network_config={
                "enable_network_isolation": True,
                "enable_inter_container_traffic_encryption": True,
            },
            stopping_condition={"max_runtime_in_seconds": defaults.MONITORING_MAX_RUNTIME_SECONDS},
            tags=monitor_tags,
            opts=child_opts(self, depends_on=[policy]),
        )
        aws.sagemaker.MonitoringSchedule(
            f"{name}-drift-schedule",
            monitoring_schedule_config={
                "monitoring_job_definition_name": job.name,
                "monitoring_type": "DataQuality",
                "schedule_config": {"schedule_expression": defaults.DRIFT_SCHEDULES[args.drift]},
            },
            tags=monitor_tags,
            opts=child_opts(self),
        )


def _gpu_nodes_queries(asg: pulumi.Input[str] | None) -> list[dict[str, Any]]:
    """Metric math for the GPU pool's running nodes: EC2 ``CPUUtilization`` samples of the
    group per period, divided by the samples one instance gives per period."""
    return [
        {
            "id": "samples",
            "return_data": False,
            "metric": {
                "namespace": "AWS/EC2",
                "metric_name": "CPUUtilization",
                "dimensions": {"AutoScalingGroupName": asg},
                "period": defaults.GPU_NODES_PERIOD_SECONDS,
                "stat": "SampleCount",
            },
        },
        {
            "id": "nodes",
            "expression": f"samples / {defaults.EC2_SAMPLES_PER_PERIOD}",
            "label": "GPU nodes running",
            "return_data": True,
        },
    ]


def _analyzer_image(region_name: str) -> str:
    account = defaults.MODEL_MONITOR_IMAGE_ACCOUNTS.get(region_name)
    if account is None:
        raise ValueError(
            f"no SageMaker model monitor image known for region {region_name}; "
            f"known: {', '.join(defaults.MODEL_MONITOR_IMAGE_ACCOUNTS)}"
        )
    return f"{account}.dkr.ecr.{region_name}.amazonaws.com/sagemaker-model-monitor-analyzer"


def _dashboard_body(
    here: pulumi.Output[str],
    endpoint: pulumi.Input[str] | None,
    asg: pulumi.Input[str] | None,
) -> pulumi.Output[str]:
    def render(values: list[Any]) -> str:
        region_name, endpoint_name, asg_name = values
        widgets: list[dict[str, Any]] = []

        def widget(
            title: str, metrics: list[list[Any]], stat: str, x: int, y: int, period: int = 60
        ) -> None:
            widgets.append(
                {
                    "type": "metric",
                    "x": x,
                    "y": y,
                    "width": 12,
                    "height": 6,
                    "properties": {
                        "title": title,
                        "region": region_name,
                        "stat": stat,
                        "period": period,
                        "metrics": metrics,
                    },
                }
            )

        if endpoint_name:
            dims = ["EndpointName", endpoint_name, "VariantName", defaults.VARIANT_NAME]
            widget("Invocations", [["AWS/SageMaker", "Invocations", *dims]], "Sum", 0, 0)
            widget(
                "p99 model latency (µs)", [["AWS/SageMaker", "ModelLatency", *dims]], "p99", 12, 0
            )
            widget(
                "Errors",
                [
                    ["AWS/SageMaker", "Invocation5XXErrors", *dims],
                    ["AWS/SageMaker", "Invocation4XXErrors", *dims],
                ],
                "Sum",
                0,
                6,
            )
        if asg_name:
            # The alarm's metric math: samples of the group / samples per instance = nodes.
            widget(
                "GPU nodes running",
                [
                    [
                        "AWS/EC2",
                        "CPUUtilization",
                        "AutoScalingGroupName",
                        asg_name,
                        {"id": "samples", "stat": "SampleCount", "visible": False},
                    ],
                    [
                        {
                            "expression": f"samples / {defaults.EC2_SAMPLES_PER_PERIOD}",
                            "label": "GPU nodes running",
                            "id": "nodes",
                        }
                    ],
                ],
                "SampleCount",
                12,
                6,
                defaults.GPU_NODES_PERIOD_SECONDS,
            )
        return json.dumps({"widgets": widgets})

    return pulumi.Output.all(here, endpoint, asg).apply(render)
