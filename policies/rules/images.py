"""Image repositories: tags are immutable and images are scanned on push; served images are
referenced by digest."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs

from mlops_iac.spec.evaluation import image_digest

from ._base import Report, Rule, get, items, lineage_tag, tags_of


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


def _sagemaker_images(props: Mapping[str, Any]) -> list[tuple[str, Any]]:
    containers = [("primaryContainer", props.get("primaryContainer"))] + [
        (f"containers[{i}]", c) for i, c in enumerate(items(props.get("containers")))
    ]
    return [(f"{where}.image", get(c, "image")) for where, c in containers if c is not None]


def _cloud_run_images(props: Mapping[str, Any]) -> list[tuple[str, Any]]:
    containers = items(get(props, "template", "containers"))
    serves_model = lineage_tag(tags_of(props), "model") is not None or any(
        get(e, "name") == "MODEL_NAME"
        for c in containers
        for e in items(get(c, "envs") or get(c, "env"))
    )
    if not serves_model:
        return []  # a service that serves no model is not the gate's business
    return [(f"template.containers[{i}].image", get(c, "image")) for i, c in enumerate(containers)]


#: Serving types whose container image a deployment pulls by reference. AzureML deployments serve
#: a registered model with an environment asset, not an image reference of the program's.
SERVED_IMAGES: Mapping[str, Callable[[Mapping[str, Any]], list[tuple[str, Any]]]] = {
    "aws:sagemaker/model:Model": _sagemaker_images,
    "gcp:cloudrunv2/service:Service": _cloud_run_images,
}


def _validate_digest(args: ResourceValidationArgs, report: Report) -> None:
    images = SERVED_IMAGES.get(args.resource_type)
    for where, image in images(args.props) if images else ():
        # Unknown at preview (an output of another resource): nothing to judge yet.
        if isinstance(image, str) and image_digest(image) is None:
            report(
                f"{where} is {image!r}, a tag: reference the served image by digest "
                "(…@sha256:<64 hex>); a tag can be re-pushed under the same approval"
            )


SERVED_BY_DIGEST = Rule(
    name="mlops-serving-image-digest",
    description="A serving resource pulls its image by digest, not by a tag.",
    remediation=(
        "Write serving.model.image as <repository>@sha256:<64 hex> (GCP from the stack's own "
        "repository: serving.model.imageDigest), the digest the approval signed "
        "(`mlops-iac approve` records it)."
    ),
    kind="resource",
    validate=_validate_digest,
)

RULES: tuple[Rule, ...] = (IMMUTABLE_SCANNED, SERVED_BY_DIGEST)
