"""Image repositories: tags are immutable and images are scanned on push."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs

from ._base import Report, Rule, get


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
    # A remote repository caches an upstream registry: its tags are the upstream's, nothing is
    # pushed to it, and it takes no dockerConfig.
    # https://cloud.google.com/artifact-registry/docs/repositories/remote-repo
    if props.get("mode") == "REMOTE_REPOSITORY":
        return []
    if get(props, "dockerConfig", "immutableTags") is not True:
        return ["dockerConfig.immutableTags is not true"]
    return []


def _acr(props: Mapping[str, Any]) -> list[str]:
    # ACR has no per-registry tag immutability or scan switch (Defender for Containers scans
    # per subscription): the registry itself must not hand out images without identity.
    problems = []
    if props.get("adminUserEnabled") is not False:
        problems.append("adminUserEnabled is not false")
    if props.get("anonymousPullEnabled") is True:
        problems.append("anonymousPullEnabled is true")
    return problems


def _ecr_public(_props: Mapping[str, Any]) -> list[str]:
    return ["an ECR Public repository serves its images to anyone; use aws.ecr.Repository"]


REPOSITORY_TYPES: Mapping[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "aws:ecr/repository:Repository": _ecr,
    "aws:ecrpublic/repository:Repository": _ecr_public,
    "gcp:artifactregistry/repository:Repository": _artifact_registry,
    "azure-native:containerregistry:Registry": _acr,
}


def _validate(args: ResourceValidationArgs, report: Report) -> None:
    check = REPOSITORY_TYPES.get(args.resource_type)
    for problem in check(args.props) if check else ():
        report(problem)


IMMUTABLE_SCANNED = Rule(
    name="mlops-images-immutable-scanned",
    description="Image repositories have immutable tags and scan images on push.",
    remediation=(
        "Set imageTagMutability 'IMMUTABLE' and imageScanningConfiguration.scanOnPush true on the "
        "ECR repository (GCP: dockerConfig.immutableTags; Azure: admin user and anonymous pull "
        "off). ModelRegistry does this by default."
    ),
    kind="resource",
    validate=_validate,
    checkov=("CKV_AWS_51", "CKV_AWS_163", "CKV_AZURE_137"),
    awsguard=("ecr-private-tag-immutability-enabled", "ecr-private-image-scanning-enabled"),
)

RULES: tuple[Rule, ...] = (IMMUTABLE_SCANNED,)
