"""Image repositories: tags are immutable and images are scanned on push."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs

from ._base import Rule, get


def _ecr(props: Mapping[str, Any]) -> list[str]:
    problems = []
    if props.get("imageTagMutability") != "IMMUTABLE":
        problems.append(
            f"imageTagMutability is {props.get('imageTagMutability')!r}, not 'IMMUTABLE'"
        )
    if get(props, "imageScanningConfiguration", "scanOnPush") is not True:
        problems.append("imageScanningConfiguration.scanOnPush is not true")
    return problems


def _artifact_registry(props: Mapping[str, Any]) -> list[str]:
    # Artifact Registry scanning is a project-level service, so only immutability is per repo.
    if props.get("format", "DOCKER") != "DOCKER":
        return []
    if get(props, "dockerConfig", "immutableTags") is not True:
        return ["dockerConfig.immutableTags is not true"]
    return []


REPOSITORY_TYPES: Mapping[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "aws:ecr/repository:Repository": _ecr,
    "gcp:artifactregistry/repository:Repository": _artifact_registry,
}


def _validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    check = REPOSITORY_TYPES.get(args.resource_type)
    for problem in check(args.props) if check else ():
        report(problem)


IMMUTABLE_SCANNED = Rule(
    name="mlops-images-immutable-scanned",
    description="Image repositories have immutable tags and scan images on push.",
    remediation=(
        "Set imageTagMutability 'IMMUTABLE' and imageScanningConfiguration.scanOnPush true on the "
        "ECR repository (GCP: dockerConfig.immutableTags). ModelRegistry does this by default."
    ),
    kind="resource",
    validate=_validate,
    checkov=("CKV_AWS_51", "CKV_AWS_163"),
    awsguard=("ecr-private-tag-immutability-enabled", "ecr-private-image-scanning-enabled"),
)

RULES: tuple[Rule, ...] = (IMMUTABLE_SCANNED,)
