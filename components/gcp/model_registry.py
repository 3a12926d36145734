"""ModelRegistry on GCP: an Artifact Registry docker repository and a retention-locked model bucket.

The registry of model versions is a dedicated bucket (not a prefix of the artifact store) so that
it can carry a bucket retention policy: a registered version cannot be deleted or overwritten for
``retention_days``, while the DVC remote keeps its own lifecycle. Objects land under
``<model>/<version>/``.

Approvers are notified two ways: every object finalised in the model bucket is published to the
CMEK-encrypted approvals topic (a GCS notification), and a log-match alert policy emails the
approvers' notification channels when an image is pushed to the repository.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import pulumi
from pulumi_gcp import artifactregistry, kms, monitoring, organizations, projects, pubsub, storage

from mlops_iac.components._component import (
    Component,
    child_opts,
    component_opts,
    require_not_prod,
    secure_default,
    unset,
)
from mlops_iac.components.contract_types import ModelRegistryArgsBase
from mlops_iac.components.gcp import _defaults as defaults
from mlops_iac.components.gcp._common import (
    crypto_key,
    project_info,
    region_or_default,
    resource_id,
    service_agent,
)
from mlops_iac.components.gcp.artifact_store import lifecycle_rules

TYPE = "mlops:gcp:ModelRegistry"


@dataclass(frozen=True, kw_only=True)
class ModelRegistryArgs(ModelRegistryArgsBase):
    """Inputs of ``ModelRegistry``. Every field is optional; defaults are the secure choice."""

    FIELD_NOTES: ClassVar[Mapping[str, str]] = {
        "environment": (
            "``dev``, ``staging`` or ``prod``. Default ``dev``. In prod the repository, "
            "bucket and key are protected and retained."
        ),
        "approvers": ("Who is emailed when a version is registered. Default: nobody (topic only)."),
        "tags": (
            "Extra tags on every labelled child, as GCP labels (GCP-valid keys and values). "
            "Default: none."
        ),
    }

    region: str | None = None
    """Region of the repository, bucket and key. Default: ``gcp:region``, else us-central1."""
    immutable_tags: bool | None = unset(defaults.IMMUTABLE_TAGS)
    """Refuse moving or deleting image tags. Default: true."""
    scan_on_push: bool | None = unset(defaults.SCAN_ON_PUSH)
    """Scan pushed images (inherits the project's Container Scanning API). Default: true."""
    retention_days: int = defaults.MODEL_RETENTION_DAYS
    """Days a registered model object is locked against deletion. Default: 30."""
    untagged_image_days: int = defaults.UNTAGGED_IMAGE_DAYS
    """Untagged images older than this are cleaned up. Default: 30."""
    keep_image_versions: int = defaults.KEEP_IMAGE_VERSIONS
    """Most recent image versions always kept by cleanup. Default: 20."""
    force_destroy: bool | None = unset(defaults.FORCE_DESTROY)
    """Let ``pulumi destroy`` delete a non-empty model bucket. Default: false; refused in prod."""


class ModelRegistry(Component):
    """Artifact Registry repository + retention-locked model bucket, with approver notifications.

    Children: ``{name}-registry-agent`` and ``{name}-pubsub-agent`` (the Artifact Registry and
    Pub/Sub service agents, created explicitly), ``{name}-key-ring``, ``{name}-key`` and its
    grants ``{name}-key-registry-agent``, ``{name}-key-gcs-agent``, ``{name}-key-pubsub-agent``;
    ``{name}-repository`` (docker, CMEK, immutable tags, scanning, cleanup policies);
    ``{name}-models`` (bucket with a retention policy, hence without object versioning);
    ``{name}-approvals`` (topic), ``{name}-approvals-gcs-publisher`` and
    ``{name}-model-notification``; per approver ``{name}-approver-<i>`` (email channel) and, with
    approvers, ``{name}-registry-audit-logs`` (Data Access DATA_WRITE audit logs of Artifact
    Registry, which the alert matches) and ``{name}-image-pushed`` (log-match alert policy).

    Outputs: ``registry_name``, ``registry_id``, ``image_repository_url``
    (``<region>-docker.pkg.dev/<project>/<repo>``), ``approvers_topic``, ``model_bucket_name``,
    ``approver_channels``.
    """

    registry_name: pulumi.Output[str]
    registry_id: pulumi.Output[str]
    image_repository_url: pulumi.Output[str]
    approvers_topic: pulumi.Output[str]
    model_bucket_name: pulumi.Output[str]
    approver_channels: pulumi.Output[list[str]]

    def __init__(
        self, name: str, args: ModelRegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, component_opts(opts))
        label = f"ModelRegistry {name}"
        require_not_prod(label, args.environment, "force_destroy", bool(args.force_destroy))
        prod = args.environment == "prod"
        region = region_or_default(args.region)
        immutable = secure_default(
            label, "immutable_tags", args.immutable_tags, defaults.IMMUTABLE_TAGS
        )
        scanning = secure_default(label, "scan_on_push", args.scan_on_push, defaults.SCAN_ON_PUSH)
        force_destroy = secure_default(
            label, "force_destroy", args.force_destroy, defaults.FORCE_DESTROY
        )
        project = project_info(self)
        gcs_agent = storage.get_project_service_account_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        )
        key, grants = crypto_key(
            self,
            f"{name}-key",
            location=region,
            prod=prod,
            grants={
                "registry-agent": service_agent(
                    self, f"{name}-registry-agent", "artifactregistry.googleapis.com", project
                ).member,
                "gcs-agent": gcs_agent.member,
                "pubsub-agent": service_agent(
                    self, f"{name}-pubsub-agent", "pubsub.googleapis.com", project
                ).member,
            },
            labels=args.tags,
        )
        repository = self._repository(
            name, args, region, key.id, grants, immutable=immutable, scanning=scanning, prod=prod
        )
        bucket = self._model_bucket(name, args, region, key.id, grants, force_destroy, prod)
        topic = self._approvals_topic(name, args, key.id, grants, bucket, gcs_agent.member)
        channels = self._approver_alerts(name, args, project, repository)

        self.register(
            registry_name=repository.repository_id,
            registry_id=repository.id,
            image_repository_url=pulumi.Output.concat(
                region, "-docker.pkg.dev/", project.project_id, "/", repository.repository_id
            ),
            approvers_topic=topic.id,
            model_bucket_name=bucket.name,
            approver_channels=pulumi.Output.all(*channels),
        )

    def _repository(
        self,
        name: str,
        args: ModelRegistryArgs,
        region: str,
        key_id: pulumi.Output[str],
        grants: list[kms.CryptoKeyIAMMember],
        *,
        immutable: bool,
        scanning: bool,
        prod: bool,
    ) -> artifactregistry.Repository:
        """``{name}-repository``: docker, CMEK, immutable tags, scanning, cleanup policies."""
        return artifactregistry.Repository(
            f"{name}-repository",
            repository_id=resource_id(name, "images", limit=63),
            format="DOCKER",
            location=region,
            description=f"Inference images of {name}",
            kms_key_name=key_id,
            docker_config={"immutable_tags": immutable},
            vulnerability_scanning_config={
                "enablement_config": "INHERITED" if scanning else "DISABLED"
            },
            cleanup_policy_dry_run=False,
            cleanup_policies=[
                {
                    "id": "keep-recent-versions",
                    "action": "KEEP",
                    "most_recent_versions": {"keep_count": args.keep_image_versions},
                },
                {
                    "id": "delete-old-untagged",
                    "action": "DELETE",
                    "condition": {
                        "tag_state": "UNTAGGED",
                        "older_than": f"{args.untagged_image_days * 86400}s",
                    },
                },
            ],
            labels=args.tags,
            opts=child_opts(self, protect=prod, depends_on=grants),
        )

    def _model_bucket(
        self,
        name: str,
        args: ModelRegistryArgs,
        region: str,
        key_id: pulumi.Output[str],
        grants: list[kms.CryptoKeyIAMMember],
        force_destroy: bool,
        prod: bool,
    ) -> storage.Bucket:
        """``{name}-models``: a CMEK bucket whose retention policy locks registered versions."""
        return storage.Bucket(
            f"{name}-models",
            location=region.upper(),
            storage_class="STANDARD",
            # No object versioning: GCS refuses it on a bucket with a retention policy, and the
            # retention policy is what locks a registered version against delete/overwrite.
            # https://cloud.google.com/storage/docs/bucket-lock
            uniform_bucket_level_access=defaults.UNIFORM_BUCKET_LEVEL_ACCESS,
            public_access_prevention=defaults.PUBLIC_ACCESS_PREVENTION,
            encryption={"default_kms_key_name": key_id},
            retention_policy={"retention_period": args.retention_days * 86400, "is_locked": False},
            soft_delete_policy={"retention_duration_seconds": defaults.SOFT_DELETE_SECONDS},
            lifecycle_rules=lifecycle_rules(None, None),
            force_destroy=force_destroy,
            labels=args.tags,
            opts=child_opts(self, protect=prod, depends_on=grants),
        )

    def _approvals_topic(
        self,
        name: str,
        args: ModelRegistryArgs,
        key_id: pulumi.Output[str],
        grants: list[kms.CryptoKeyIAMMember],
        bucket: storage.Bucket,
        gcs_agent: pulumi.Output[str],
    ) -> pubsub.Topic:
        """``{name}-approvals``: every object finalised in the model bucket is published there."""
        topic = pubsub.Topic(
            f"{name}-approvals",
            kms_key_name=key_id,
            message_retention_duration=defaults.TOPIC_MESSAGE_RETENTION,
            labels=args.tags,
            opts=child_opts(self, depends_on=grants),
        )
        publisher = pubsub.TopicIAMMember(
            f"{name}-approvals-gcs-publisher",
            topic=topic.id,
            role="roles/pubsub.publisher",
            member=gcs_agent,
            opts=child_opts(self),
        )
        storage.Notification(
            f"{name}-model-notification",
            bucket=bucket.name,
            topic=topic.id,
            payload_format="JSON_API_V1",
            event_types=["OBJECT_FINALIZE"],
            opts=child_opts(self, depends_on=[publisher]),
        )
        return topic

    def _approver_alerts(
        self,
        name: str,
        args: ModelRegistryArgs,
        project: pulumi.Output[organizations.GetProjectResult],
        repository: artifactregistry.Repository,
    ) -> list[pulumi.Output[str]]:
        """Ids of the ``{name}-approver-<i>`` channels; with any, the image-pushed alert."""
        channels = [
            monitoring.NotificationChannel(
                f"{name}-approver-{i}",
                type="email",
                display_name=f"Model approver {email}",
                labels={"email_address": email},
                user_labels=args.tags,
                opts=child_opts(self),
            )
            for i, email in enumerate(args.approvers)
        ]
        if not channels:
            return []
        # Docker-PutManifest is a Data Access (DATA_WRITE) audit entry of Artifact Registry;
        # Data Access logs are off by default, so the log-match alert would never fire.
        # https://cloud.google.com/artifact-registry/docs/audit-logging
        # https://cloud.google.com/logging/docs/audit/configure-data-access
        audit = projects.IAMAuditConfig(
            f"{name}-registry-audit-logs",
            project=project.project_id,
            service="artifactregistry.googleapis.com",
            audit_log_configs=[{"log_type": "DATA_WRITE"}],
            opts=child_opts(self),
        )
        monitoring.AlertPolicy(
            f"{name}-image-pushed",
            display_name=f"{name}: new model image pushed, approval needed",
            combiner="OR",
            conditions=[
                {
                    "display_name": "Image pushed to the model repository",
                    "condition_matched_log": {
                        "filter": pulumi.Output.concat(
                            'protoPayload.serviceName="artifactregistry.googleapis.com" '
                            'AND protoPayload.methodName="Docker-PutManifest" '
                            'AND protoPayload.resourceName:"repositories/',
                            repository.repository_id,
                            '/"',
                        )
                    },
                }
            ],
            alert_strategy={
                "notification_rate_limit": {"period": "300s"},
                "auto_close": "1800s",
            },
            documentation={
                "content": "A model image was registered. Review it and record the approval "
                "with `mlops-iac approve` before it is served in prod.",
                "mime_type": "text/markdown",
            },
            notification_channels=[c.name for c in channels],
            user_labels=args.tags,
            opts=child_opts(self, depends_on=[audit]),
        )
        return [c.name for c in channels]
