"""The toolkit's drift job on AWS: a scheduled Lambda, its metric alarm and the retraining hook.

The function's code is this package's ``mlops_iac/drift`` folder, zipped by Pulumi from the
installed source (``pulumi.AssetArchive``): standard library plus boto3, which every Lambda Python
runtime includes (https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html). Nothing is
built: no container image, no layer, no pip install.

The loop: EventBridge Scheduler invokes the function on the ``monitoring.drift`` schedule → it
reads the endpoint's SageMaker capture (``s3://<bucket>/capture/<endpoint>/…``) of the last
window and the baseline of the deployed model's dataset version
(``drift/baselines/<datasetVersion>/baseline.json``), writes ``drift/reports/<endpoint>/…`` and
publishes ``DriftedFeatures`` → a CloudWatch alarm (``>= 1``) notifies the alert topic → an
EventBridge rule on that alarm entering ALARM publishes to the retraining topic, which the team's
retraining pipeline subscribes to.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pulumi
import pulumi_aws as aws

from mlops_iac.components._component import (
    Component,
    child_opts,
    component_opts,
    secure_default,
)
from mlops_iac.components.aws import _defaults as defaults
from mlops_iac.components.aws._common import (
    account_id,
    assume_role_policy,
    customer_key,
    document,
    encrypted_topic,
    log_group_arn,
    stable_name,
    statement,
)
from mlops_iac.components.contract_types import DriftJobArgsBase
from mlops_iac.drift import wire

TYPE = "mlops:aws:DriftJob"
HANDLER_MODULE = "drift_lambda"
HANDLER = f"{HANDLER_MODULE}.handler"
METRIC = wire.METRIC
ALARM_STATE_DETAIL_TYPE = "CloudWatch Alarm State Change"
# One run's period, as the alarm's period: a weekly job still fits CloudWatch's one-day limit on
# period x evaluation periods, with missing data (between weekly runs) not breaching.
_ALARM_PERIOD = {"hourly": 3600, "daily": 86400, "weekly": 86400}


@functools.cache
def drift_archive() -> pulumi.AssetArchive:
    """The function's code: every module of ``mlops_iac.drift`` plus a one-line entry module.

    Built once per process: every job of a program ships the same archive.
    """
    import mlops_iac.drift as package

    folder = Path(package.__file__).resolve().parent
    assets: dict[str, pulumi.Asset | pulumi.Archive] = {
        f"mlops_iac/drift/{path.name}": pulumi.FileAsset(str(path))
        for path in sorted(folder.glob("*.py"))
    }
    # A top-level module keeps the handler setting short and independent of namespace packages.
    assets[f"{HANDLER_MODULE}.py"] = pulumi.StringAsset(
        "from mlops_iac.drift.handlers import aws_handler as handler  # noqa: F401\n"
    )
    return pulumi.AssetArchive(assets)


@dataclass(frozen=True, kw_only=True)
class DriftJobArgs(DriftJobArgsBase):
    """Inputs of ``DriftJob``."""

    FIELD_NOTES: ClassVar[Mapping[str, str]] = {
        "endpoint_name": (
            "SageMaker endpoint whose capture is checked (metric dimension, report folder)."
        ),
        "artifact_bucket_name": (
            "Artifact bucket holding ``capture/``, ``drift/baselines/`` and ``drift/reports/``."
        ),
        "dataset_version": (
            "Lineage ``datasetVersion`` (DVC hash) of the deployed model's training data."
        ),
        "environment": (
            "``dev``, ``staging`` or ``prod``. Default ``dev``. In prod the log key is protected."
        ),
        "tags": ("Extra tags on every child. Default: none."),
    }

    alert_topic_arn: pulumi.Input[str]
    """Alert channel the drift alarm and the job-failure alarm notify."""
    retraining_topic_arn: pulumi.Input[str] | None = None
    """Retraining trigger (SNS) fed when the drift alarm fires. Default: a new KMS-encrypted
    topic of this job (``{name}-retraining``), so the loop always has a trigger."""
    artifact_kms_key_arn: pulumi.Input[str] | None = None
    """Key of the bucket; the function may decrypt and encrypt with it. Default: none."""
    capture_format: str = "sagemaker-capture"
    """Format of the capture files. Default ``sagemaker-capture``."""
    metric_namespace: str = defaults.DRIFT_METRIC_NAMESPACE
    """CloudWatch namespace of the drift metrics (the role may write only here). Default
    ``mlops/drift``."""
    log_retention_days: int | None = None
    """Function log retention. Default: 365 (the secure default)."""


class DriftJob(Component):
    """Scheduled drift check of one endpoint's capture, alarmed and wired to retraining.

    Children: ``{name}-key`` (+ alias; encrypts the function's logs), ``{name}-logs``,
    ``{name}-role`` + ``{name}-role-policy`` (list/read the endpoint's capture and the baseline
    prefix, write the report prefix, use the bucket key, put metrics only in the namespace, write
    its own logs), ``{name}-function`` (Python 3.12, code = this package's drift folder),
    ``{name}-scheduler-role`` + ``-scheduler-role-policy`` (invoke this function only),
    ``{name}-schedule`` (EventBridge Scheduler), ``{name}-alarm`` (``DriftedFeatures >= 1`` →
    alert topic), ``{name}-errors-alarm`` (the job itself failed → alert topic),
    ``{name}-retrain-rule`` + ``{name}-retrain-target`` (alarm enters ALARM → retraining topic)
    and, without ``retraining_topic_arn``, ``{name}-retraining`` (+ ``-policy``).

    Outputs: ``function_name``, ``function_arn``, ``schedule_name``, ``alarm_name``,
    ``alarm_arn``, ``alarm_names`` (drift and job-failure alarms), ``retraining_topic_arn``,
    ``baseline_uri``, ``report_uri``.
    """

    function_name: pulumi.Output[str]
    function_arn: pulumi.Output[str]
    schedule_name: pulumi.Output[str]
    alarm_name: pulumi.Output[str]
    alarm_arn: pulumi.Output[str]
    alarm_names: pulumi.Output[list[str]]
    retraining_topic_arn: pulumi.Output[str]
    baseline_uri: pulumi.Output[str]
    report_uri: pulumi.Output[str]

    def __init__(
        self, name: str, args: DriftJobArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, component_opts(opts))
        from mlops_iac.drift.store import REPORTS, baseline_key

        label = f"DriftJob {name}"
        if args.schedule not in defaults.DRIFT_SCHEDULES:
            raise ValueError(
                f"{label}: schedule must be one of {', '.join(defaults.DRIFT_SCHEDULES)}"
            )
        retention = secure_default(
            label, "log_retention_days", args.log_retention_days, defaults.LOG_RETENTION_DAYS
        )
        bucket = args.artifact_bucket_name
        capture_prefix = pulumi.Output.concat(defaults.CAPTURE_PREFIX, "/", args.endpoint_name, "/")
        report_prefix = pulumi.Output.concat(REPORTS, "/", args.endpoint_name)
        baseline_object = baseline_key(args.dataset_version)
        baseline_uri = pulumi.Output.concat("s3://", bucket, "/", baseline_object)
        report_uri = pulumi.Output.concat("s3://", bucket, "/", report_prefix)

        key, logs = self._key_and_logs(name, args, retention)
        role = self._function_role(name, args, capture_prefix, report_prefix, baseline_object, logs)
        function = self._function(name, args, role, logs, capture_prefix, baseline_uri, report_uri)
        schedule = self._schedule(name, args, function)
        alarm, errors = self._alarms(name, args, function)
        retraining_topic = self._retraining_trigger(name, args, key, alarm)
        self.register(
            function_name=function.name,
            function_arn=function.arn,
            schedule_name=schedule.name,
            alarm_name=alarm.name,
            alarm_arn=alarm.arn,
            alarm_names=pulumi.Output.all(alarm.name, errors.name),
            retraining_topic_arn=pulumi.Output.from_input(retraining_topic),
            baseline_uri=baseline_uri,
            report_uri=report_uri,
        )

    def _key_and_logs(
        self, name: str, args: DriftJobArgs, retention: int
    ) -> tuple[aws.kms.Key, aws.cloudwatch.LogGroup]:
        """The job's customer key and the function's log group it encrypts."""
        # The key's policy binds CloudWatch Logs to this log group by its ARN, which must be
        # known before the group exists: a deterministic name instead of an auto-name.
        log_group_name = f"/{wire.NAMESPACE}/{stable_name(name, 100)}"
        key = customer_key(
            self,
            f"{name}-key",
            "drift job logs and retraining topic",
            prod=args.environment == "prod",
            tags=args.tags,
            services=["events.amazonaws.com"],
            log_group_arns=[log_group_arn(self, log_group_name)],
        )
        logs = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=log_group_name,
            retention_in_days=retention,
            kms_key_id=key.arn,
            tags=args.tags,
            opts=child_opts(self),
        )
        return key, logs

    def _function_role(
        self,
        name: str,
        args: DriftJobArgs,
        capture_prefix: pulumi.Output[str],
        report_prefix: pulumi.Output[str],
        baseline_object: str,
        logs: aws.cloudwatch.LogGroup,
    ) -> aws.iam.Role:
        """The function's role: its capture, the baselines, its reports, metrics, own logs."""
        from mlops_iac.drift.store import BASELINES

        bucket_arn = pulumi.Output.concat("arn:aws:s3:::", args.artifact_bucket_name)
        role = aws.iam.Role(
            f"{name}-role",
            description=f"Drift job {name}: reads capture and baseline, writes reports",
            assume_role_policy=assume_role_policy("lambda.amazonaws.com"),
            tags=args.tags,
            opts=child_opts(self),
        )
        statements = [
            statement(
                Sid="ListCapture",
                Effect="Allow",
                Action="s3:ListBucket",
                Resource=bucket_arn,
                Condition={
                    "StringLike": {"s3:prefix": [pulumi.Output.concat(capture_prefix, "*")]}
                },
            ),
            # A missing baseline reads as 403 without ListBucket: the job lists its exact key
            # to say the baseline is missing (drift.aws.S3Storage.read_text).
            statement(
                Sid="FindBaseline",
                Effect="Allow",
                Action="s3:ListBucket",
                Resource=bucket_arn,
                Condition={"StringEquals": {"s3:prefix": baseline_object}},
            ),
            statement(
                Sid="ReadCaptureAndBaseline",
                Effect="Allow",
                Action="s3:GetObject",
                Resource=[
                    pulumi.Output.concat(bucket_arn, "/", capture_prefix, "*"),
                    pulumi.Output.concat(bucket_arn, "/", BASELINES, "/*"),
                ],
            ),
            statement(
                Sid="WriteReports",
                Effect="Allow",
                Action="s3:PutObject",
                Resource=pulumi.Output.concat(bucket_arn, "/", report_prefix, "/*"),
            ),
            statement(
                Sid="PublishDriftMetrics",
                Effect="Allow",
                Action="cloudwatch:PutMetricData",
                # PutMetricData has no resource ARNs; the namespace condition scopes it.
                Resource="*",
                Condition={"StringEquals": {"cloudwatch:namespace": args.metric_namespace}},
            ),
            statement(
                Sid="WriteOwnLogs",
                Effect="Allow",
                Action=["logs:CreateLogStream", "logs:PutLogEvents"],
                Resource=pulumi.Output.concat(logs.arn, ":*"),
            ),
        ]
        if args.artifact_kms_key_arn is not None:
            statements.append(
                statement(
                    Sid="UseBucketKey",
                    Effect="Allow",
                    Action=["kms:Decrypt", "kms:GenerateDataKey"],
                    Resource=args.artifact_kms_key_arn,
                )
            )
        aws.iam.RolePolicy(
            f"{name}-role-policy",
            role=role.id,
            policy=document(statements),
            opts=child_opts(self),
        )
        return role

    def _function(
        self,
        name: str,
        args: DriftJobArgs,
        role: aws.iam.Role,
        logs: aws.cloudwatch.LogGroup,
        capture_prefix: pulumi.Output[str],
        baseline_uri: pulumi.Output[str],
        report_uri: pulumi.Output[str],
    ) -> aws.lambda_.Function:
        """The drift check itself: a Lambda running this package's drift folder."""
        from mlops_iac.drift.handlers import job_environment

        bucket = args.artifact_bucket_name
        endpoint = args.endpoint_name
        return aws.lambda_.Function(
            f"{name}-function",
            description=f"mlops-iac drift job ({args.schedule})",
            runtime=defaults.DRIFT_RUNTIME,
            handler=HANDLER,
            code=drift_archive(),
            role=role.arn,
            timeout=defaults.DRIFT_TIMEOUT_SECONDS,
            memory_size=defaults.DRIFT_MEMORY_MB,
            # No reserved concurrency: reserving even 1 fails on a new account, whose
            # concurrency quota (10) is also the unreserved minimum Lambda keeps
            # (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html).
            # Runs cannot overlap anyway: the timeout (15 min) is shorter than the most
            # frequent schedule (hourly), and a run is idempotent (timestamped reports).
            logging_config={"log_format": "Text", "log_group": logs.name},
            environment={
                "variables": job_environment(
                    capture_uri=pulumi.Output.concat("s3://", bucket, "/", capture_prefix),
                    baseline_uri=baseline_uri,
                    report_uri=report_uri,
                    endpoint=endpoint,
                    fmt=args.capture_format,
                    window_hours=args.window_hours or defaults.DRIFT_WINDOW_HOURS[args.schedule],
                    namespace=args.metric_namespace,
                    thresholds=args.drift_thresholds(),
                )
            },
            tags=args.tags,
            opts=child_opts(self, depends_on=[logs]),
        )

    def _schedule(
        self, name: str, args: DriftJobArgs, function: aws.lambda_.Function
    ) -> aws.scheduler.Schedule:
        """The EventBridge schedule and the role it invokes this function (only) with."""
        account = account_id(self)
        scheduler_role = aws.iam.Role(
            f"{name}-scheduler-role",
            description=f"EventBridge Scheduler invokes drift job {name}",
            assume_role_policy=document(
                [
                    statement(
                        Effect="Allow",
                        Principal={"Service": "scheduler.amazonaws.com"},
                        Action="sts:AssumeRole",
                        Condition={"StringEquals": {"aws:SourceAccount": account}},
                    )
                ]
            ),
            tags=args.tags,
            opts=child_opts(self),
        )
        aws.iam.RolePolicy(
            f"{name}-scheduler-role-policy",
            role=scheduler_role.id,
            policy=document(
                [statement(Effect="Allow", Action="lambda:InvokeFunction", Resource=function.arn)]
            ),
            opts=child_opts(self),
        )
        return aws.scheduler.Schedule(
            f"{name}-schedule",
            description=f"Run drift job {name} {args.schedule}",
            schedule_expression=defaults.DRIFT_SCHEDULES[args.schedule],
            schedule_expression_timezone="UTC",
            flexible_time_window={"mode": "OFF"},
            target={
                "arn": function.arn,
                "role_arn": scheduler_role.arn,
                "retry_policy": {"maximum_retry_attempts": 2},
            },
            opts=child_opts(self),
        )

    def _alarms(
        self, name: str, args: DriftJobArgs, function: aws.lambda_.Function
    ) -> tuple[aws.cloudwatch.MetricAlarm, aws.cloudwatch.MetricAlarm]:
        """The drift alarm and the job-failure alarm, both notifying the alert topic."""
        endpoint = args.endpoint_name
        alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-alarm",
            alarm_description=(
                f"Data drift: the {args.schedule} drift job found drifted features "
                "(report under drift/reports/ in the artifact bucket); retraining is triggered"
            ),
            namespace=args.metric_namespace,
            metric_name=METRIC,
            dimensions={"Endpoint": endpoint},
            statistic="Maximum",
            period=_ALARM_PERIOD[args.schedule],
            evaluation_periods=1,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=[args.alert_topic_arn],
            tags=args.tags,
            opts=child_opts(self),
        )
        errors = aws.cloudwatch.MetricAlarm(
            f"{name}-errors-alarm",
            alarm_description=f"The drift job {name} failed: drift is not being checked",
            namespace="AWS/Lambda",
            metric_name="Errors",
            dimensions={"FunctionName": function.name},
            statistic="Sum",
            period=_ALARM_PERIOD[args.schedule],
            evaluation_periods=1,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=[args.alert_topic_arn],
            tags=args.tags,
            opts=child_opts(self),
        )
        return alarm, errors

    def _retraining_trigger(
        self,
        name: str,
        args: DriftJobArgs,
        key: aws.kms.Key,
        alarm: aws.cloudwatch.MetricAlarm,
    ) -> pulumi.Input[str]:
        """The retraining topic (given, or this job's own) and the rule feeding it the alarm."""
        retraining_topic = args.retraining_topic_arn
        if retraining_topic is None:
            retraining_topic = encrypted_topic(
                self,
                f"{name}-retraining",
                f"Retrain: data drift detected ({name})",
                key.arn,
                ["events.amazonaws.com"],
                args.tags,
            ).arn
        # The retraining rule: the drift alarm entering ALARM → the retraining topic.
        rule = aws.cloudwatch.EventRule(
            f"{name}-retrain-rule",
            description=f"Drift alarm of {name} fired: retrain",
            event_pattern=alarm.arn.apply(
                lambda arn: json.dumps(
                    {
                        "source": ["aws.cloudwatch"],
                        "detail-type": [ALARM_STATE_DETAIL_TYPE],
                        "resources": [arn],
                        "detail": {"state": {"value": ["ALARM"]}},
                    }
                )
            ),
            tags=args.tags,
            opts=child_opts(self),
        )
        aws.cloudwatch.EventTarget(
            f"{name}-retrain-target",
            rule=rule.name,
            arn=retraining_topic,
            opts=child_opts(self),
        )
        return retraining_topic
