"""Automatic rollback and promotion of a Cloud Run rollout: alert policies on the new revision,
a Pub/Sub topic and a Cloud Function that moves the traffic.

Why a function and not Cloud Deploy: Cloud Deploy's canary for Cloud Run advances phases only when
someone (or an automation rule) calls ``advance``, and rolls back only on a ``rollback`` call; it
has no alert-driven rollback of its own, and it takes over the service's traffic from the stack
(https://cloud.google.com/deploy/docs/deployment-strategies/canary,
https://cloud.google.com/deploy/docs/automation). The traffic split is already declared by
``ServingEndpoint``; a small function with a role that can only update that one service is the
least moving part.

The loop: the alert policies ``{name}-errors``, ``{name}-latency`` (and, with a model metric,
``{name}-model-metric``) watch the revision tagged ``current`` and notify the alert channels and
``{name}-channel``, a ``pubsub`` notification channel on ``{name}-topic``
(https://cloud.google.com/monitoring/support/notification-options#pubsub). The topic triggers
``{name}-function`` (``mlops_iac.drift.rollout_gcp``), which sends 100% back to the revision
tagged ``previous`` and records it in the service's ``mlops-rollout`` annotation. Every five
minutes ``{name}-schedule`` publishes ``{"action": "promote"}`` on the same topic: after the bake
with no alarm, a canary goes to 100% and a linear rollout one step further.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, cast

import pulumi
from pulumi_gcp import (
    cloudfunctionsv2,
    cloudrunv2,
    cloudscheduler,
    monitoring,
    projects,
    pubsub,
    serviceaccount,
)

from mlops_iac.components._component import Component, child_opts, component_opts
from mlops_iac.components.gcp import _defaults as defaults
from mlops_iac.components.gcp._common import (
    monitoring_may_publish,
    project_info,
    pubsub_topic_key,
    region_or_default,
    resource_id,
)
from mlops_iac.components.gcp.drift_job import SOURCE_PREFIX, DriftJob

TYPE = "mlops:gcp:RolloutGuard"
ENTRY_POINT = "handler"
UPDATE_PERMISSIONS = ("run.services.get", "run.services.update")
"""The custom role's permissions, granted on the one service only."""
PROMOTE_CRON = "*/5 * * * *"
"""How often the promotion check runs: a bake ends at most five minutes late."""
MAIN_PY = (
    "try:\n    import functions_framework\nexcept ImportError:  # outside the function's runtime\n"
    "    functions_framework = None\n\n"
    "from mlops_iac.drift.rollout_gcp import gcp_rollout_handler\n\n\n"
    "def handler(cloud_event, context=None):\n    print(gcp_rollout_handler(cloud_event))\n\n\n"
    "if functions_framework is not None:\n"
    "    handler = functions_framework.cloud_event(handler)\n"
)
"""The function's entry module: ``handler`` registered as a CloudEvent function, so the Functions
Framework never serves it as HTTP or in the legacy ``(data, context)`` form
(https://cloud.google.com/functions/docs/writing/write-event-driven-functions)."""
REQUIREMENTS_TXT = "functions-framework>=3,<4\n"
"""The build's dependencies: the Functions Framework, which Cloud Run functions installs anyway,
declared so the build always has it
(https://cloud.google.com/functions/docs/writing/specifying-dependencies-python)."""
SIGNATURE_TYPE = "cloudevent"
"""``GOOGLE_FUNCTION_SIGNATURE_TYPE`` of the build: the entry point's signature, stated as well
(https://cloud.google.com/docs/buildpacks/service-specific-configs)."""
MODEL_METRIC_REVISION_LABEL = "revision"
"""Label of the model metric naming the revision that wrote it (the container's ``K_REVISION``:
https://cloud.google.com/run/docs/container-contract#env-vars)."""
_COMPARISON = {"above": "COMPARISON_GT", "below": "COMPARISON_LT"}


def _titles(args: RolloutGuardArgs) -> dict[str, str]:
    """The rollback alerts' titles by child suffix."""
    titles = {
        "errors": f"5xx share of the new revision above {args.error_rate_percent}%",
        "latency": f"p99 latency of the new revision above {args.latency_p99_ms} ms",
    }
    metric = args.model_metric
    if metric is not None:
        titles["model-metric"] = f"{metric.metric_type} {metric.comparison} {metric.threshold}"
    return titles


def _display_name(name: str, title: str) -> str:
    """An alert policy's display name: the ``policy_name`` of its incidents."""
    return f"{name}: {title} (rolls back)"


def _package_folder() -> Path:
    import mlops_iac.drift as package

    return Path(package.__file__).resolve().parent


def _members() -> list[tuple[str, bytes]]:
    return [
        (f"mlops_iac/drift/{path.name}", path.read_bytes())
        for path in sorted(_package_folder().glob("*.py"))
    ]


@functools.cache
def rollout_source() -> pulumi.AssetArchive:
    """``main.py`` (the entry point), ``requirements.txt`` and every module of
    ``mlops_iac.drift``."""
    assets: dict[str, pulumi.Asset | pulumi.Archive] = {
        f"mlops_iac/drift/{path.name}": pulumi.FileAsset(str(path))
        for path in sorted(_package_folder().glob("*.py"))
    }
    assets["main.py"] = pulumi.StringAsset(MAIN_PY)
    assets["requirements.txt"] = pulumi.StringAsset(REQUIREMENTS_TXT)
    return pulumi.AssetArchive(assets)


def source_digest() -> str:
    """12 hex digits over the zip's members: a code change names a new object (a rebuild)."""
    digest = hashlib.sha256()
    for member, content in [
        *_members(),
        ("main.py", MAIN_PY.encode()),
        ("requirements.txt", REQUIREMENTS_TXT.encode()),
    ]:
        digest.update(member.encode() + b"\0" + hashlib.sha256(content).digest())
    return digest.hexdigest()[:12]


@dataclass(frozen=True, kw_only=True)
class ModelMetric:
    """A custom metric that rolls the rollout back (``serving.rollout.alarms.modelMetric``)."""

    metric_type: str
    """Full metric type (``custom.googleapis.com/...``)."""
    threshold: float
    comparison: str = "above"
    """``above`` or ``below``."""


@dataclass(frozen=True, kw_only=True)
class RolloutGuardArgs:
    """Inputs of ``RolloutGuard``."""

    FIELD_NOTES: ClassVar[Mapping[str, str]] = {}

    service_name: pulumi.Input[str]
    """Cloud Run service of the rollout (``ServingEndpoint.endpoint_name``). Required."""
    current_revision: str
    """The new revision (tagged ``current``), which the alerts watch. Required."""
    runtime_account: pulumi.Input[str]
    """Email of the service's runtime account: a traffic update acts as it. Required."""
    artifact_bucket_name: pulumi.Input[str]
    """Bucket holding the function's source zip (under ``drift/source/``). Required."""
    in_progress: bool
    """Whether a canary or linear rollout is in progress; the function acts only then."""
    strategy: str = "canary"
    step_percent: int = 20
    """Linear: the share added per promotion. Default 20."""
    bake_minutes: int = 10
    """Quiet minutes before a promotion. Default 10."""
    error_rate_percent: float = 1.0
    """5xx share of the new revision's requests that rolls back. Default 1."""
    latency_p99_ms: int = 500
    """p99 latency of the new revision that rolls back. Default 500."""
    model_metric: ModelMetric | None = None
    """A model metric that also rolls back. Default: none."""
    alert_channels: pulumi.Input[Sequence[pulumi.Input[str]]] = field(default_factory=list)
    """Notification channels told about every rollback alert. Default: none."""
    environment: str = "dev"
    region: str | None = None
    tags: Mapping[str, str] | None = None


class RolloutGuard(Component):
    """Alerts on the new revision → Pub/Sub → a function that rolls back or promotes.

    Children: ``{name}-sa`` (the function's account) with ``{name}-role`` (a custom role holding
    ``run.services.get`` and ``run.services.update`` only), bound by ``{name}-run-update`` on the
    one service, and ``{name}-act-as`` (``roles/iam.serviceAccountUser`` on the service's runtime
    account only: a traffic update acts as it); the build account of ``DriftJob``
    (``{name}-builder`` and its grants); ``{name}-key`` (CMEK of the topic) and
    ``{name}-topic``, ``{name}-monitoring-agent`` + ``{name}-topic-publisher``, ``{name}-channel``;
    ``{name}-source`` and ``{name}-function`` (Pub/Sub trigger as ``{name}-trigger``, which may
    only invoke it: ``{name}-trigger-run``, made after the function, whose Cloud Run service it
    is on); ``{name}-schedule``; ``{name}-errors``, ``{name}-latency`` and, with a model metric,
    ``{name}-model-metric-descriptor`` + ``{name}-model-metric``.

    Outputs: ``function_name``, ``topic_name``, ``alarm_names``.
    """

    function_name: pulumi.Output[str]
    topic_name: pulumi.Output[str]
    alarm_names: pulumi.Output[list[str]]

    def __init__(
        self, name: str, args: RolloutGuardArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, component_opts(opts))
        location = region_or_default(args.region)
        project = project_info(self)
        prod = args.environment == "prod"
        account = serviceaccount.Account(
            f"{name}-sa",
            account_id=resource_id(name, "roll", limit=30),
            display_name=f"Rollout function {name}",
            description="May only read and update the traffic of one Cloud Run service",
            opts=child_opts(self),
        )
        grants = self._update_grants(name, args, location, project, account)
        # The same build account and grants as the drift job's function (one recipe).
        builder, build_grants = DriftJob._build_account(
            cast(Any, self), name, args.artifact_bucket_name, project, location
        )
        topic = self._topic(name, args, location, prod, project)
        function = self._function(
            name, args, location, project, account, builder, topic, [*grants, *build_grants]
        )
        channel = monitoring.NotificationChannel(
            f"{name}-channel",
            display_name=f"{name}: automatic rollback",
            type="pubsub",
            labels={"topic": topic},
            opts=child_opts(self),
        )
        cloudscheduler.Job(
            f"{name}-schedule",
            region=location,
            description=f"Promote the rollout of {name} after a quiet bake",
            schedule=PROMOTE_CRON,
            time_zone="Etc/UTC",
            pubsub_target={
                "topic_name": topic,
                "data": base64.b64encode(json.dumps({"action": "promote"}).encode()).decode(),
            },
            opts=child_opts(self, depends_on=[function]),
        )
        channels = pulumi.Output.all(
            pulumi.Output.from_input(args.alert_channels), channel.name
        ).apply(lambda both: [*both[0], both[1]])
        alerts = self._alerts(name, args, channels, [function])
        self.register(
            function_name=function.name,
            topic_name=topic,
            alarm_names=pulumi.Output.all(*(a.name for a in alerts)),
        )

    def _update_grants(
        self,
        name: str,
        args: RolloutGuardArgs,
        location: str,
        project: Any,
        account: serviceaccount.Account,
    ) -> list[pulumi.Resource]:
        """A custom role with the two Cloud Run permissions, bound on the one service only, and
        act-as on its runtime account only.
        https://cloud.google.com/iam/docs/creating-custom-roles
        https://cloud.google.com/run/docs/rollouts-rollbacks-traffic-migration"""
        role = projects.IAMCustomRole(
            f"{name}-role",
            project=project.project_id,
            role_id="mlopsRollout_" + resource_id(name, "r", limit=40).replace("-", "_"),
            title=f"Rollout function {name}",
            description="Read and update one Cloud Run service's traffic",
            permissions=list(UPDATE_PERMISSIONS),
            opts=child_opts(self),
        )
        run_update = cloudrunv2.ServiceIamMember(
            f"{name}-run-update",
            project=project.project_id,
            name=args.service_name,
            location=location,
            role=role.name,
            member=account.member,
            opts=child_opts(self),
        )
        act_as = serviceaccount.IAMMember(
            f"{name}-act-as",
            service_account_id=pulumi.Output.concat(
                "projects/", project.project_id, "/serviceAccounts/", args.runtime_account
            ),
            role="roles/iam.serviceAccountUser",
            member=account.member,
            opts=child_opts(self),
        )
        return [run_update, act_as]

    def _topic(
        self, name: str, args: RolloutGuardArgs, location: str, prod: bool, project: Any
    ) -> pulumi.Output[str]:
        """``{name}-topic`` (CMEK), once the Monitoring agent may publish on it."""
        key, key_grants = pubsub_topic_key(
            self, name, location=location, prod=prod, project=project, labels=args.tags
        )
        topic = pubsub.Topic(
            f"{name}-topic",
            kms_key_name=key.id,
            message_retention_duration=defaults.TOPIC_MESSAGE_RETENTION,
            labels=args.tags,
            opts=child_opts(self, depends_on=list(key_grants)),
        )
        return monitoring_may_publish(self, name, topic, f"{name}-topic-publisher", project)

    def _function(
        self,
        name: str,
        args: RolloutGuardArgs,
        location: str,
        project: Any,
        account: serviceaccount.Account,
        builder: serviceaccount.Account,
        topic: pulumi.Output[str],
        grants: list[pulumi.Resource],
    ) -> cloudfunctionsv2.Function:
        """``{name}-source`` and ``{name}-function``, internal only, triggered by the topic."""
        from pulumi_gcp import storage

        source = storage.BucketObject(
            f"{name}-source",
            bucket=args.artifact_bucket_name,
            name=f"{SOURCE_PREFIX}/{name}-{source_digest()}.zip",
            source=rollout_source(),
            opts=child_opts(self),
        )
        trigger = serviceaccount.Account(
            f"{name}-trigger",
            account_id=resource_id(name, "trig", limit=30),
            display_name=f"Trigger of rollout function {name}",
            description="May only invoke the rollout function",
            opts=child_opts(self),
        )
        service = pulumi.Output.concat(
            "projects/", project.project_id, "/locations/", location, "/services/",
            args.service_name,
        )  # fmt: skip
        function = cloudfunctionsv2.Function(
            f"{name}-function",
            name=resource_id(name, "fn", limit=63),
            location=location,
            description="mlops-iac automatic rollback and promotion",
            build_config={
                "runtime": defaults.DRIFT_RUNTIME,
                "entry_point": ENTRY_POINT,
                "source": {
                    "storage_source": {"bucket": args.artifact_bucket_name, "object": source.name}
                },
                "service_account": builder.name,
                "environment_variables": {"GOOGLE_FUNCTION_SIGNATURE_TYPE": SIGNATURE_TYPE},
            },
            service_config={
                "service_account_email": account.email,
                "max_instance_count": 1,
                "available_memory": "256Mi",
                "timeout_seconds": 60,
                "ingress_settings": "ALLOW_INTERNAL_ONLY",
                "all_traffic_on_latest_revision": True,
                "environment_variables": {
                    "ROLLOUT_SERVICE": service,
                    "ROLLOUT_RUNTIME_ACCOUNT": args.runtime_account,
                    "ROLLOUT_IN_PROGRESS": "true" if args.in_progress else "false",
                    "ROLLOUT_STRATEGY": args.strategy,
                    "ROLLOUT_STEP_PERCENT": str(args.step_percent),
                    "ROLLOUT_BAKE_MINUTES": str(args.bake_minutes),
                    # An open incident of these policies only rolls back.
                    "ROLLOUT_POLICIES": json.dumps(
                        [_display_name(name, title) for title in _titles(args).values()]
                    ),
                },
            },
            event_trigger={
                "trigger_region": location,
                "event_type": "google.cloud.pubsub.topic.v1.messagePublished",
                "pubsub_topic": topic,
                # A failed move is not retried blindly: the next alert or tick decides again.
                "retry_policy": "RETRY_POLICY_DO_NOT_RETRY",
                "service_account_email": trigger.email,
            },
            labels=args.tags,
            opts=child_opts(self, depends_on=grants),
        )
        # On the function's own Cloud Run service, so only once the function (and with it the
        # service) exists: an IAM grant on a service not created yet fails. Eventarc needs the
        # role when it delivers, not when the trigger is created.
        cloudrunv2.ServiceIamMember(
            f"{name}-trigger-run",
            project=project.project_id,
            name=function.name,
            location=location,
            role="roles/run.invoker",
            member=trigger.member,
            opts=child_opts(self),
        )
        return function

    def _model_metric_descriptor(
        self, name: str, metric: ModelMetric
    ) -> monitoring.MetricDescriptor:
        """``{name}-model-metric-descriptor``: Monitoring rejects an alert on a custom metric no
        one has written yet ("Cannot find metric(s) that match type"), so the descriptor is
        declared (a gauge of doubles with the two labels the alert filters on), and kept on
        delete: its time series outlive the stack.
        https://cloud.google.com/monitoring/custom-metrics/creating-metrics"""
        return monitoring.MetricDescriptor(
            f"{name}-model-metric-descriptor",
            type=metric.metric_type,
            metric_kind="GAUGE",
            value_type="DOUBLE",
            display_name=metric.metric_type.rsplit("/", 1)[-1],
            description="Model metric of the serving rollout; a breach on the new revision "
            "rolls it back",
            labels=[
                {
                    "key": "endpoint",
                    "value_type": "STRING",
                    "description": "Cloud Run service (the container's K_SERVICE)",
                },
                {
                    "key": MODEL_METRIC_REVISION_LABEL,
                    "value_type": "STRING",
                    "description": "Cloud Run revision (the container's K_REVISION)",
                },
            ],
            deletion_policy="ABANDON",
            opts=child_opts(self),
        )

    def _alerts(
        self,
        name: str,
        args: RolloutGuardArgs,
        channels: pulumi.Output[list[str]],
        after: list[pulumi.Resource],
    ) -> list[monitoring.AlertPolicy]:
        """The rollback alerts on the revision tagged ``current`` only: the previous revision's
        errors must not roll back the new one."""
        revision = pulumi.Output.concat(
            'resource.type = "cloud_run_revision" AND resource.labels.service_name = "',
            args.service_name,
            f'" AND resource.labels.revision_name = "{args.current_revision}"',
        )
        requests = pulumi.Output.concat(
            revision, ' AND metric.type = "run.googleapis.com/request_count"'
        )
        rate = {"alignment_period": "60s", "per_series_aligner": "ALIGN_RATE",
                "cross_series_reducer": "REDUCE_SUM"}  # fmt: skip
        titles = _titles(args)
        conditions: dict[str, tuple[str, dict[str, Any]]] = {
            "errors": (
                titles["errors"],
                {
                    "filter": pulumi.Output.concat(
                        requests, ' AND metric.labels.response_code_class = "5xx"'
                    ),
                    "denominator_filter": requests,
                    "comparison": "COMPARISON_GT",
                    "threshold_value": args.error_rate_percent / 100,
                    "duration": defaults.ALERT_WINDOW,
                    "aggregations": [rate],
                    "denominator_aggregations": [rate],
                    "trigger": {"count": 1},
                },
            ),
            "latency": (
                titles["latency"],
                {
                    "filter": pulumi.Output.concat(
                        revision, ' AND metric.type = "run.googleapis.com/request_latencies"'
                    ),
                    "comparison": "COMPARISON_GT",
                    "threshold_value": args.latency_p99_ms,
                    "duration": defaults.ALERT_WINDOW,
                    "aggregations": [
                        {
                            "alignment_period": "60s",
                            "per_series_aligner": "ALIGN_PERCENTILE_99",
                            "cross_series_reducer": "REDUCE_MAX",
                        }
                    ],  # fmt: skip
                    "trigger": {"count": 1},
                },
            ),
        }
        metric = args.model_metric
        if metric is not None:
            conditions["model-metric"] = (
                titles["model-metric"],
                {
                    # The container publishes K_SERVICE and K_REVISION (Cloud Run sets both) as
                    # these labels: the previous revision's values must not roll back.
                    "filter": pulumi.Output.concat(
                        f'metric.type = "{metric.metric_type}" AND metric.labels.endpoint = "',
                        args.service_name,
                        f'" AND metric.labels.{MODEL_METRIC_REVISION_LABEL} = '
                        f'"{args.current_revision}"',
                    ),
                    "comparison": _COMPARISON[metric.comparison],
                    "threshold_value": metric.threshold,
                    "duration": defaults.ALERT_WINDOW,
                    "aggregations": [
                        {"alignment_period": "60s", "per_series_aligner": "ALIGN_MAX"}
                    ],
                    "trigger": {"count": 1},
                },
            )
        if metric is not None:
            after = [*after, self._model_metric_descriptor(name, metric)]
        return [
            monitoring.AlertPolicy(
                f"{name}-{suffix}",
                display_name=_display_name(name, title),
                combiner="OR",
                severity="ERROR",
                conditions=[{"display_name": title, "condition_threshold": threshold}],
                notification_channels=channels,
                documentation={
                    "content": "The rollout function moves all traffic back to the previous "
                    "revision and records it in the service's mlops-rollout annotation. Fix "
                    "the new version and roll it out again, or set serving.rollback: true.",
                    "mime_type": "text/markdown",
                },
                user_labels=args.tags,
                opts=child_opts(self, depends_on=after),
            )
            for suffix, (title, threshold) in conditions.items()
        ]
