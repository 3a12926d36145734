"""The toolkit's drift job on GCP: a Cloud Functions (2nd gen) function, Cloud Scheduler, a custom
metric alert and the retraining topic.

The function's source is this package's ``mlops_iac/drift`` folder plus a two-line ``main.py``,
zipped by Pulumi and uploaded to the artifact bucket; Cloud Functions builds it (buildpacks, no
Dockerfile, nothing built here) and installs the Functions Framework itself
(https://cloud.google.com/functions/1stgendocs/writing/specifying-dependencies-python). The job
talks to Cloud Storage and Cloud Monitoring over their REST APIs with the function's own token,
so it needs no client library.

The loop: Cloud Scheduler calls the function's ``run.app`` URL (OIDC token of an invoker account
holding ``roles/run.invoker`` on the function's service,
https://cloud.google.com/functions/docs/securing/authenticating) on the ``monitoring.drift``
schedule → it reads ``capture/<service>/…`` (JSON Lines the model container writes to its
``CAPTURE_URI``) and the baseline of the dataset version, writes ``drift/reports/<endpoint>/…``
and the custom metric ``custom.googleapis.com/mlops/drift/drifted_features`` → an alert policy
(``> 0``) notifies the alert channels and a ``pubsub`` channel on the retraining topic.

The metric descriptors are declared here, before the alert: Cloud Monitoring refuses an alert
policy on a custom metric it does not know yet ("Cannot find metric(s) that match type"), and
without a descriptor the metric only exists once the job first writes a point
(https://cloud.google.com/monitoring/custom-metrics/creating-metrics). The function is built
with a build account of its own rather than the project's default Cloud Build account, which new
projects no longer give the permissions a build needs
(https://cloud.google.com/functions/docs/securing/build-custom-sa).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pulumi
from pulumi_gcp import (
    cloudfunctionsv2,
    cloudrunv2,
    cloudscheduler,
    monitoring,
    organizations,
    projects,
    serviceaccount,
    storage,
)

from mlops_iac.components._component import Component, child_opts, component_opts
from mlops_iac.components.contract_types import DriftJobArgsBase
from mlops_iac.components.gcp import _defaults as defaults
from mlops_iac.components.gcp._common import (
    objects_under,
    project_info,
    region_or_default,
    resource_id,
)
from mlops_iac.drift import wire

TYPE = "mlops:gcp:DriftJob"
METRIC_PREFIX = wire.GCP_METRIC_PREFIX
METRIC = wire.GCP_METRIC
ENTRY_POINT = "handler"
CAPTURE_PREFIX = defaults.CAPTURE_PREFIX
DRIFT_PREFIX = "drift"
SOURCE_PREFIX = f"{DRIFT_PREFIX}/source"
REPORTS_ROLE = "roles/storage.objectUser"
BUILD_ROLES = {
    "logs": "roles/logging.logWriter",
    "images": "roles/artifactregistry.writer",
}
"""Project roles of the function's build account (plus object read on its source zip and on
Cloud Functions' copy of it)."""
GCF_SOURCES_BUCKET = "gcf-v2-sources-{number}-{region}"
"""The bucket Cloud Functions (2nd gen) copies a function's source into, and builds from
(https://github.com/hashicorp/terraform-provider-google/issues/20571)."""
_PERIOD = {"hourly": "3600s", "daily": "86400s", "weekly": "86400s"}


MAIN_PY = (
    "from mlops_iac.drift.handlers import gcp_handler\n\n\n"
    "def handler(request):\n    return gcp_handler(request)\n"
)
"""The function's entry module."""


def _package_folder() -> Path:
    import mlops_iac.drift as package

    return Path(package.__file__).resolve().parent


@functools.cache
def drift_source() -> pulumi.AssetArchive:
    """``main.py`` (the entry point) and every module of ``mlops_iac.drift``."""
    assets: dict[str, pulumi.Asset | pulumi.Archive] = {
        f"mlops_iac/drift/{path.name}": pulumi.FileAsset(str(path))
        for path in sorted(_package_folder().glob("*.py"))
    }
    assets["main.py"] = pulumi.StringAsset(MAIN_PY)
    return pulumi.AssetArchive(assets)


def source_digest(folder: Path | None = None) -> str:
    """The first 12 hex digits of a SHA-256 over the zip's members (path and content), from
    ``folder`` (default: the installed ``mlops_iac.drift``) plus ``main.py``.

    The source object is named by it: Cloud Functions does not rebuild when an object is
    rewritten under the same name, so a code change must change ``buildConfig.source``
    (https://github.com/hashicorp/terraform-provider-google/issues/1938).
    """
    digest = hashlib.sha256()
    members = [
        (f"mlops_iac/drift/{path.name}", path.read_bytes())
        for path in sorted((folder or _package_folder()).glob("*.py"))
    ]
    for member, content in [*members, ("main.py", MAIN_PY.encode())]:
        digest.update(member.encode() + b"\0" + hashlib.sha256(content).digest())
    return digest.hexdigest()[:12]


@dataclass(frozen=True, kw_only=True)
class DriftJobArgs(DriftJobArgsBase):
    """Inputs of the GCP ``DriftJob``."""

    FIELD_NOTES: ClassVar[Mapping[str, str]] = {
        "endpoint_name": (
            "Cloud Run service whose capture is checked (metric label, report folder)."
        ),
        "artifact_bucket_name": (
            "Artifact bucket: capture, ``drift/baselines/``, ``drift/reports/`` and the source zip."
        ),
        "dataset_version": (
            "Lineage ``datasetVersion`` (DVC hash) of the deployed model's training data."
        ),
        "environment": ("``dev``, ``staging`` or ``prod``. Default ``dev``."),
        "window_hours": ("Hours of capture per run. Default 0: the schedule's period."),
        "ks": ("KS threshold. Default 0.1."),
        "jensen_shannon": ("Jensen-Shannon distance threshold. Default 0.1."),
        "tags": ("Extra tags, as GCP labels (GCP-valid keys and values). Default: none."),
    }

    capture_prefix: pulumi.Input[str]
    """Object prefix the model container writes capture under (``capture/<component>/``)."""
    alert_channels: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Notification channels (ids) the drift alert notifies."""
    retraining_topic: pulumi.Input[str] | None = None
    """Pub/Sub retraining topic (id) fed through a ``pubsub`` channel. Default: none."""
    region: str | None = None
    """Region of the function and the schedule. Default: the provider's ``gcp:region``."""


class DriftJob(Component):
    """Scheduled drift check of one Cloud Run service's capture, alerted and wired to retraining.

    Children: ``{name}-sa`` (the job's account) with ``{name}-read`` (object viewer, IAM
    condition: objects under ``capture/`` and ``drift/`` only), ``{name}-list`` (object viewer
    conditioned on the bucket itself: listing, no reads), ``{name}-write-reports`` (object user,
    IAM condition: ``drift/reports/`` only; the job replaces ``latest.json`` on every run) and
    ``{name}-metric-writer``; ``{name}-builder`` (the function's build account) with
    ``{name}-builder-logs``, ``{name}-builder-images``, ``{name}-builder-source`` (object viewer
    on ``drift/source/`` only) and ``{name}-builder-gcf-sources`` (object viewer on the project,
    conditioned on Cloud Functions' ``gcf-v2-sources-<project number>-<region>`` bucket, which
    the build reads its copy of the source from); ``{name}-source`` (the zip in the bucket, named
    ``drift/source/{name}-<content hash>.zip`` so that a code change rebuilds the function),
    ``{name}-function`` (created after every build grant);
    ``{name}-invoker`` (account) + ``{name}-invoker-run`` (``roles/run.invoker`` on the
    function's service only); ``{name}-schedule`` (calls the function's ``run.app`` URL);
    ``{name}-metric-<metric>`` (one metric descriptor per custom metric the job writes, abandoned
    rather than deleted on destroy: deleting a descriptor deletes its data, and other stacks of
    the project may write it); ``{name}-alert`` and, with a retraining topic,
    ``{name}-retraining-channel``; ``{name}-failed-runs`` (alert policy on the function's 5xx
    responses: a run that raises, to the alert channels).

    Outputs: ``function_name``, ``schedule_name``, ``alarm_name`` (alert policy name),
    ``baseline_uri``, ``report_uri``.
    """

    function_name: pulumi.Output[str]
    schedule_name: pulumi.Output[str]
    alarm_name: pulumi.Output[str]
    baseline_uri: pulumi.Output[str]
    report_uri: pulumi.Output[str]

    def __init__(
        self, name: str, args: DriftJobArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, component_opts(opts))
        from mlops_iac.drift.store import REPORTS, baseline_key

        if args.schedule not in defaults.DRIFT_CRON:
            raise ValueError(
                f"DriftJob {name}: schedule must be one of {', '.join(defaults.DRIFT_CRON)}"
            )
        location = region_or_default(args.region)
        project = project_info(self)
        bucket = args.artifact_bucket_name
        baseline_uri = pulumi.Output.concat(
            "gs://", bucket, "/", baseline_key(args.dataset_version)
        )
        report_uri = pulumi.Output.concat("gs://", bucket, f"/{REPORTS}/", args.endpoint_name)

        account = self._job_account(name, bucket, project)
        builder, build_grants = self._build_account(name, bucket, project, location)
        function = self._function(
            name,
            args,
            location,
            account,
            project,
            builder=builder,
            build_grants=build_grants,
            baseline_uri=baseline_uri,
            report_uri=report_uri,
        )
        schedule = self._schedule(name, args, location, function)
        alert = self._alert(name, args, self._metric_descriptors(name, project))
        self._failed_runs_alert(name, args, function)

        self.register(
            function_name=function.name,
            schedule_name=schedule.name,
            alarm_name=alert.name,
            baseline_uri=baseline_uri,
            report_uri=report_uri,
        )

    def _job_account(
        self,
        name: str,
        bucket: pulumi.Input[str],
        project: pulumi.Output[organizations.GetProjectResult],
    ) -> serviceaccount.Account:
        """``{name}-sa``: reads the bucket, writes reports under ``drift/reports/`` and metrics."""
        from mlops_iac.drift.store import REPORTS

        account = serviceaccount.Account(
            f"{name}-sa",
            account_id=resource_id(name, "job", limit=30),
            display_name=f"Drift job {name}",
            description="Reads capture and baselines, writes drift reports and metrics",
            opts=child_opts(self),
        )
        # Object conditions confine reads to capture and the drift folders (baselines, reports);
        # listing is authorised on the bucket itself, which no object prefix matches, hence a
        # second binding conditioned on the bucket's own name (lists names, reads nothing).
        # https://cloud.google.com/iam/docs/conditions-resource-attributes
        storage.BucketIAMMember(
            f"{name}-read",
            bucket=bucket,
            role="roles/storage.objectViewer",
            member=account.member,
            condition={
                "title": "capture-and-drift-only",
                "description": f"Objects under {CAPTURE_PREFIX}/ and {DRIFT_PREFIX}/",
                "expression": objects_under(bucket, [f"{CAPTURE_PREFIX}/", f"{DRIFT_PREFIX}/"]),
            },
            opts=child_opts(self),
        )
        storage.BucketIAMMember(
            f"{name}-list",
            bucket=bucket,
            role="roles/storage.objectViewer",
            member=account.member,
            condition={
                "title": "list-only",
                "description": "Listing the bucket (object names), no object reads",
                "expression": pulumi.Output.concat(
                    'resource.name == "projects/_/buckets/', bucket, '"'
                ),
            },
            opts=child_opts(self),
        )
        # Object User, not Object Creator: each run replaces drift/reports/<endpoint>/latest.json,
        # and "Storage Object Creator ... does not give permission to view, delete, or replace
        # objects". https://cloud.google.com/storage/docs/access-control/iam-roles
        storage.BucketIAMMember(
            f"{name}-write-reports",
            bucket=bucket,
            role=REPORTS_ROLE,
            member=account.member,
            condition={
                "title": "drift-reports-only",
                "expression": objects_under(bucket, [f"{REPORTS}/"]),
            },
            opts=child_opts(self),
        )
        projects.IAMMember(
            f"{name}-metric-writer",
            project=project.project_id,
            role="roles/monitoring.metricWriter",
            member=account.member,
            opts=child_opts(self),
        )
        return account

    def _build_account(
        self,
        name: str,
        bucket: pulumi.Input[str],
        project: pulumi.Output[organizations.GetProjectResult],
        location: str,
    ) -> tuple[serviceaccount.Account, list[pulumi.Resource]]:
        """``{name}-builder``: writes build logs and the built image, reads the source zip and
        Cloud Functions' copy of it.

        The roles the build account needs: https://cloud.google.com/functions/docs/securing/build-custom-sa
        """
        builder = serviceaccount.Account(
            f"{name}-builder",
            account_id=resource_id(name, "build", limit=30),
            display_name=f"Build of drift job {name}",
            description="Builds the drift function: logs, function image, source read",
            opts=child_opts(self),
        )
        grants: list[pulumi.Resource] = [
            projects.IAMMember(
                f"{name}-builder-{suffix}",
                project=project.project_id,
                role=role,
                member=builder.member,
                opts=child_opts(self),
            )
            for suffix, role in BUILD_ROLES.items()
        ]
        grants.append(
            storage.BucketIAMMember(
                f"{name}-builder-source",
                bucket=bucket,
                role="roles/storage.objectViewer",
                member=builder.member,
                condition={
                    "title": "drift-source-only",
                    "expression": objects_under(bucket, [f"{SOURCE_PREFIX}/"]),
                },
                opts=child_opts(self),
            )
        )
        # Cloud Functions copies the zip into its own gcf-v2-sources-<number>-<region> bucket and
        # the build fetches it from there ("Access to bucket gcf-v2-sources-… denied. You must
        # grant Storage Object Viewer permission to <build account>" otherwise:
        # https://github.com/hashicorp/terraform-provider-google/issues/20571). The bucket is not
        # the stack's, so the grant is on the project, conditioned on that bucket and its
        # objects (https://cloud.google.com/storage/docs/access-control/iam#conditions).
        sources = project.number.apply(
            lambda number: GCF_SOURCES_BUCKET.format(number=number, region=location)
        )
        grants.append(
            projects.IAMMember(
                f"{name}-builder-gcf-sources",
                project=project.project_id,
                role="roles/storage.objectViewer",
                member=builder.member,
                condition={
                    "title": "gcf-v2-sources-only",
                    "description": "Cloud Functions' copy of the function source",
                    "expression": sources.apply(_bucket_condition),
                },
                opts=child_opts(self),
            )
        )
        return builder, grants

    def _function(
        self,
        name: str,
        args: DriftJobArgs,
        location: str,
        account: serviceaccount.Account,
        project: pulumi.Output[organizations.GetProjectResult],
        *,
        builder: serviceaccount.Account,
        build_grants: list[pulumi.Resource],
        baseline_uri: pulumi.Output[str],
        report_uri: pulumi.Output[str],
    ) -> cloudfunctionsv2.Function:
        """``{name}-source`` (the zip in the bucket) and ``{name}-function``, internal only."""
        from mlops_iac.drift.handlers import job_environment

        bucket = args.artifact_bucket_name
        source = storage.BucketObject(
            f"{name}-source",
            bucket=bucket,
            # Named by content: a changed package is a new object, hence a new
            # buildConfig.source and a rebuild (one rewritten in place is never rebuilt).
            name=f"{SOURCE_PREFIX}/{name}-{source_digest()}.zip",
            source=drift_source(),
            opts=child_opts(self),
        )
        return cloudfunctionsv2.Function(
            f"{name}-function",
            name=resource_id(name, "fn", limit=63),
            location=location,
            description=f"mlops-iac drift job ({args.schedule})",
            build_config={
                "runtime": defaults.DRIFT_RUNTIME,
                "entry_point": ENTRY_POINT,
                "source": {"storage_source": {"bucket": bucket, "object": source.name}},
                "service_account": builder.name,
            },
            service_config={
                "service_account_email": account.email,
                "max_instance_count": 1,
                "available_memory": "512Mi",
                "timeout_seconds": defaults.DRIFT_TIMEOUT_SECONDS,
                # Cloud Scheduler of the same project counts as internal only when it calls the
                # default run.app URL (the schedule does):
                # https://cloud.google.com/run/docs/securing/ingress#settings
                "ingress_settings": "ALLOW_INTERNAL_ONLY",
                "all_traffic_on_latest_revision": True,
                "environment_variables": {
                    **job_environment(
                        capture_uri=pulumi.Output.concat("gs://", bucket, "/", args.capture_prefix),
                        baseline_uri=baseline_uri,
                        report_uri=report_uri,
                        endpoint=args.endpoint_name,
                        fmt="jsonl",
                        window_hours=args.window_hours
                        or defaults.DRIFT_WINDOW_HOURS[args.schedule],
                        namespace=METRIC_PREFIX,
                        thresholds=args.drift_thresholds(),
                    ),
                    "DRIFT_PROJECT": project.project_id,
                },
            },
            labels=args.tags,
            opts=child_opts(self, depends_on=build_grants),
        )

    def _schedule(
        self,
        name: str,
        args: DriftJobArgs,
        location: str,
        function: cloudfunctionsv2.Function,
    ) -> cloudscheduler.Job:
        """``{name}-schedule``, calling as ``{name}-invoker`` (may invoke this function only).

        The target and the OIDC audience are the function's ``run.app`` URL
        (``service_config.uri``): Cloud Run counts Cloud Scheduler as internal traffic only on
        that URL, and the function is internal-only. The ``cloudfunctions.net`` URL is not it.
        """
        invoker = serviceaccount.Account(
            f"{name}-invoker",
            account_id=resource_id(name, "inv", limit=30),
            display_name=f"Scheduler of drift job {name}",
            description="May only invoke the drift job",
            opts=child_opts(self),
        )
        cloudrunv2.ServiceIamMember(
            f"{name}-invoker-run",
            name=function.name,
            location=location,
            role="roles/run.invoker",
            member=invoker.member,
            opts=child_opts(self),
        )
        run_url = function.service_config.apply(lambda config: config.uri if config else None)
        return cloudscheduler.Job(
            f"{name}-schedule",
            region=location,
            description=f"Run drift job {name} {args.schedule}",
            schedule=defaults.DRIFT_CRON[args.schedule],
            time_zone="Etc/UTC",
            attempt_deadline="1800s",
            http_target={
                "uri": run_url,
                "http_method": "POST",
                "oidc_token": {"service_account_email": invoker.email, "audience": run_url},
            },
            opts=child_opts(self),
        )

    def _metric_descriptors(
        self, name: str, project: pulumi.Output[organizations.GetProjectResult]
    ) -> list[monitoring.MetricDescriptor]:
        """``{name}-metric-<metric>``: a descriptor per custom metric the job writes."""
        return [
            monitoring.MetricDescriptor(
                f"{name}-metric-{metric.replace('_', '-')}",
                project=project.project_id,
                type=f"{METRIC_PREFIX}/{metric}",
                metric_kind="GAUGE",
                value_type=value_type,
                display_name=f"mlops drift {metric.replace('_', ' ')}",
                description="Written by the mlops-iac drift job once per run",
                labels=[
                    {
                        "key": wire.GCP_METRIC_LABEL,
                        "value_type": "STRING",
                        "description": "Serving endpoint whose capture was checked",
                    }
                ],
                deletion_policy="ABANDON",
                opts=child_opts(self),
            )
            for metric, value_type in wire.GCP_METRIC_KINDS.items()
        ]

    def _alert(
        self, name: str, args: DriftJobArgs, descriptors: list[monitoring.MetricDescriptor]
    ) -> monitoring.AlertPolicy:
        """``{name}-alert`` on the drifted-features metric, to the alert channels and (with a
        retraining topic) ``{name}-retraining-channel``; created after the descriptors."""
        channels = pulumi.Output.from_input(args.alert_channels)
        if args.retraining_topic is not None:
            retrain = monitoring.NotificationChannel(
                f"{name}-retraining-channel",
                display_name=f"{name}: retraining topic",
                type="pubsub",
                labels={"topic": args.retraining_topic},
                opts=child_opts(self),
            )
            channels = pulumi.Output.all(channels, retrain.name).apply(
                lambda both: [*both[0], both[1]]
            )
        return monitoring.AlertPolicy(
            f"{name}-alert",
            display_name=f"{name}: data drift detected, retraining",
            combiner="OR",
            conditions=[
                {
                    "display_name": "Drift job found drifted features",
                    "condition_threshold": {
                        "filter": pulumi.Output.concat(
                            f'metric.type="{METRIC}" AND resource.type="global"',
                            ' AND metric.labels.endpoint="',
                            args.endpoint_name,
                            '"',
                        ),
                        "comparison": "COMPARISON_GT",
                        "threshold_value": 0,
                        "duration": "0s",
                        "aggregations": [
                            {
                                "alignment_period": _PERIOD[args.schedule],
                                "per_series_aligner": "ALIGN_MAX",
                            }
                        ],
                    },
                }
            ],
            notification_channels=channels,
            severity="WARNING",
            documentation={
                "content": "The drift job's report is under drift/reports/ in the artifact bucket.",
                "mime_type": "text/markdown",
            },
            user_labels=args.tags,
            opts=child_opts(self, depends_on=list(descriptors)),
        )

    def _failed_runs_alert(
        self, name: str, args: DriftJobArgs, function: cloudfunctionsv2.Function
    ) -> monitoring.AlertPolicy:
        """``{name}-failed-runs``: a run that raises publishes no metric, so the drift alert
        cannot see it; the Functions Framework answers the scheduler's request with a 500, which
        Cloud Run counts in ``request_count`` (``response_code_class`` ``5xx``) of the function's
        service (named after the function).
        https://cloud.google.com/functions/docs/monitoring/error-reporting
        https://cloud.google.com/monitoring/api/metrics_gcp_p_z#gcp-run
        """
        return monitoring.AlertPolicy(
            f"{name}-failed-runs",
            display_name=f"{name}: a drift run failed",
            combiner="OR",
            conditions=[
                {
                    "display_name": "Drift function answered 5xx",
                    "condition_threshold": {
                        "filter": pulumi.Output.concat(
                            'metric.type="run.googleapis.com/request_count"'
                            ' AND resource.type="cloud_run_revision"'
                            ' AND resource.labels.service_name="',
                            function.name,
                            '" AND metric.labels.response_code_class="5xx"',
                        ),
                        "comparison": "COMPARISON_GT",
                        "threshold_value": 0,
                        "duration": "0s",
                        "aggregations": [
                            {"alignment_period": "3600s", "per_series_aligner": "ALIGN_SUM"}
                        ],
                    },
                }
            ],
            notification_channels=args.alert_channels,
            severity="ERROR",
            documentation={
                "content": "A drift run failed: see the function's logs (no verdict this run).",
                "mime_type": "text/markdown",
            },
            user_labels=args.tags,
            opts=child_opts(self),
        )


def _bucket_condition(bucket: str) -> str:
    """CEL: the bucket ``bucket`` itself or an object in it."""
    return (
        f'resource.name == "projects/_/buckets/{bucket}"'
        f' || resource.name.startsWith("projects/_/buckets/{bucket}/objects/")'
    )
