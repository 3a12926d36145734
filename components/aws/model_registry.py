"""ModelRegistry on AWS: SageMaker model package group, ECR repository, approval notifications."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import pulumi
import pulumi_aws as aws

from mlops_iac.components._component import (
    Component,
    child_opts,
    component_opts,
    secure_default,
    unset,
)
from mlops_iac.components.aws import _defaults as defaults
from mlops_iac.components.aws._common import Tags, customer_key, encrypted_topic, stable_name
from mlops_iac.components.contract_types import ModelRegistryArgsBase

TYPE = "mlops:aws:ModelRegistry"
STATE_CHANGE = "SageMaker Model Package State Change"


@dataclass(frozen=True, kw_only=True)
class ModelRegistryArgs(ModelRegistryArgsBase):
    """Inputs of ``ModelRegistry``. Every field is optional; defaults are the secure choice."""

    FIELD_NOTES: ClassVar[Mapping[str, str]] = {
        "environment": (
            "``dev``, ``staging`` or ``prod``. Default ``dev``. In prod the model package "
            "group, the image repository and the key are protected and retained."
        ),
        "approvers": (
            "Emails subscribed to the approvers topic (new versions pending approval). "
            "Default: none."
        ),
        "tags": (
            "Extra tags on every child. Default: none (the stack's lineage transform adds lineage)."
        ),
    }

    description: str | None = None
    """Description of the model package group. Default: ``Models of <name>``."""
    alert_topic_arn: pulumi.Input[str] | None = None
    """Topic told when a version is approved. Default: no approved-notification rule."""
    kms_key_arn: pulumi.Input[str] | None = None
    """Existing key for the image repository and the approvers topic; its policy must let
    ``events.amazonaws.com`` use it. Default: a new rotating key that does."""
    untagged_images_kept: int = defaults.UNTAGGED_IMAGES_KEPT
    """Untagged images the repository keeps; older ones expire. Default 10."""
    immutable_tags: bool | None = unset(defaults.IMMUTABLE_TAGS)
    """Image tags cannot be overwritten. Default: true (false warns)."""
    scan_on_push: bool | None = unset(defaults.SCAN_ON_PUSH)
    """Scan each pushed image for vulnerabilities. Default: true (false warns)."""


class ModelRegistry(Component):
    """Where model versions are registered and their images kept, with approval notifications.

    Children (names derive from ``name``): ``{name}-key`` (+ alias, unless ``kms_key_arn``),
    ``{name}-group`` (SageMaker model package group, deterministic name), ``{name}-images`` (ECR,
    immutable tags, scan on push, KMS) and ``-images-lifecycle``, ``{name}-approvers`` (KMS SNS
    topic) with ``-approvers-policy`` (EventBridge may publish) and one ``-approver-{i}`` email
    subscription per approver, ``{name}-pending-rule`` + ``-pending-target`` (status
    ``PendingManualApproval`` → approvers) and, with ``alert_topic_arn``, ``{name}-approved-rule``
    + ``-approved-target`` (status ``Approved`` → alert topic).

    Outputs: ``registry_name``, ``registry_id`` (group ARN), ``image_repository_url``,
    ``image_repository_arn``, ``approvers_topic``, ``kms_key_id``.
    """

    registry_name: pulumi.Output[str]
    registry_id: pulumi.Output[str]
    image_repository_url: pulumi.Output[str]
    image_repository_arn: pulumi.Output[str]
    approvers_topic: pulumi.Output[str]
    kms_key_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: ModelRegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, component_opts(opts))
        label = f"ModelRegistry {name}"
        prod = args.environment == "prod"
        tags = args.tags
        immutable = secure_default(
            label, "immutable_tags", args.immutable_tags, defaults.IMMUTABLE_TAGS
        )
        scan = secure_default(label, "scan_on_push", args.scan_on_push, defaults.SCAN_ON_PUSH)

        key_arn = args.kms_key_arn
        if key_arn is None:
            key_arn = customer_key(
                self,
                f"{name}-key",
                "model registry",
                prod=prod,
                tags=tags,
                services=["events.amazonaws.com"],
            ).arn
        group = self._model_group(name, args, prod)
        repo = self._image_repository(name, args, key_arn, prod, (immutable, scan))
        topic = self._approvers_topic(name, args, key_arn)
        self._route(name, "pending", group, "PendingManualApproval", topic.arn, tags)
        if args.alert_topic_arn is not None:
            self._route(name, "approved", group, "Approved", args.alert_topic_arn, tags)
        self.register(
            registry_name=group.model_package_group_name,
            registry_id=group.arn,
            image_repository_url=repo.repository_url,
            image_repository_arn=repo.arn,
            approvers_topic=topic.arn,
            kms_key_id=pulumi.Output.from_input(key_arn),
        )

    def _model_group(
        self, name: str, args: ModelRegistryArgs, prod: bool
    ) -> aws.sagemaker.ModelPackageGroup:
        """The SageMaker model package group (deterministic name, protected in prod)."""
        return aws.sagemaker.ModelPackageGroup(
            f"{name}-group",
            model_package_group_name=stable_name(name),
            model_package_group_description=args.description or f"Models of {name}",
            tags=args.tags,
            opts=child_opts(self, protect=prod),
        )

    def _image_repository(
        self,
        name: str,
        args: ModelRegistryArgs,
        key_arn: pulumi.Input[str],
        prod: bool,
        settings: tuple[bool, bool],
    ) -> aws.ecr.Repository:
        """The ECR repository of model images and its untagged-image lifecycle.

        ``settings`` is the resolved (immutable tags, scan on push).
        """
        immutable, scan = settings
        repo = aws.ecr.Repository(
            f"{name}-images",
            image_tag_mutability="IMMUTABLE" if immutable else "MUTABLE",
            image_scanning_configuration={"scan_on_push": scan},
            encryption_configurations=[{"encryption_type": "KMS", "kms_key": key_arn}],
            force_delete=False,
            tags=args.tags,
            opts=child_opts(self, protect=prod),
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-images-lifecycle",
            repository=repo.name,
            policy=_lifecycle_policy(args.untagged_images_kept),
            opts=child_opts(self),
        )
        return repo

    def _approvers_topic(
        self, name: str, args: ModelRegistryArgs, key_arn: pulumi.Input[str]
    ) -> aws.sns.Topic:
        """The KMS-encrypted approvers topic and one email subscription per approver."""
        topic = encrypted_topic(
            self,
            f"{name}-approvers",
            f"Model versions of {name} awaiting approval",
            key_arn,
            ["events.amazonaws.com"],
            args.tags,
        )
        for i, email in enumerate(args.approvers):
            aws.sns.TopicSubscription(
                f"{name}-approver-{i}",
                topic=topic.arn,
                protocol="email",
                endpoint=email,
                opts=child_opts(self),
            )
        return topic

    def _route(
        self,
        name: str,
        role: str,
        group: aws.sagemaker.ModelPackageGroup,
        status: str,
        topic_arn: pulumi.Input[str],
        tags: Tags,
    ) -> None:
        """An EventBridge rule on this group's versions reaching ``status``, sent to a topic."""
        rule = aws.cloudwatch.EventRule(
            f"{name}-{role}-rule",
            description=f"Model versions of {name} that reach {status}",
            event_pattern=group.model_package_group_name.apply(
                lambda group_name: json.dumps(
                    {
                        "source": ["aws.sagemaker"],
                        "detail-type": [STATE_CHANGE],
                        "detail": {
                            "ModelPackageGroupName": [group_name],
                            "ModelApprovalStatus": [status],
                        },
                    }
                )
            ),
            tags=tags,
            opts=child_opts(self),
        )
        aws.cloudwatch.EventTarget(
            f"{name}-{role}-target",
            rule=rule.name,
            arn=topic_arn,
            opts=child_opts(self),
        )


def _lifecycle_policy(kept: int) -> str:
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"Keep the last {kept} untagged images",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "imageCountMoreThan",
                        "countNumber": kept,
                    },
                    "action": {"type": "expire"},
                }
            ]
        }
    )
