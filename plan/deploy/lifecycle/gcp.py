"""GCP's cross-field and lifecycle rules (registered in ``lifecycle.base.RULES``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from mlops_iac.plan.deploy.base import DeployError, error, physical_name_of
from mlops_iac.plan.deploy.lifecycle.base import get, of, rule
from mlops_iac.plan.deploy.state import StateResource
from mlops_iac.spec.keys import ROOT

GCS_LOCK = "https://cloud.google.com/storage/docs/bucket-lock"


@rule("gcp-gcs-versioning-with-retention", GCS_LOCK)
def gcs_versioning_retention(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    for bucket in of(resources, "gcp:storage/bucket:Bucket"):
        versioned = get(bucket.inputs, "versioning.enabled") is True
        retention = bucket.inputs.get("retentionPolicy")
        if versioned and retention:
            yield error(
                bucket,
                "gcp-gcs-versioning-with-retention",
                "versioning.enabled",
                True,
                "Object Versioning cannot be enabled on a bucket with a retention policy: "
                "drop one of versioning and retentionPolicy",
                GCS_LOCK,
            )


RUN_TRAFFIC = "https://cloud.google.com/run/docs/rollouts-rollbacks-traffic-migration"


@rule("gcp-run-traffic-unknown-revision", RUN_TRAFFIC)
def run_traffic_revisions(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    previous: dict[str, set[str]] = {}
    for old in state:
        if old.type == "gcp:cloudrunv2/service:Service":
            names = previous.setdefault(old.urn, set())
            for source in (old.inputs, old.outputs):
                revision = get(source, "template.revision")
                if revision:
                    names.add(str(revision))
                for status in source.get("trafficStatuses") or []:
                    if isinstance(status, Mapping) and status.get("revision"):
                        names.add(str(status["revision"]))
                latest = source.get("latestReadyRevision")
                if latest:
                    names.add(str(latest).rsplit("/", 1)[-1])
    for service in of(resources, "gcp:cloudrunv2/service:Service"):
        created = get(service.inputs, "template.revision")
        known = previous.get(service.urn, set()) | ({str(created)} if created else set())
        for i, target in enumerate(service.inputs.get("traffics") or []):
            revision = target.get("revision") if isinstance(target, Mapping) else None
            if revision and str(revision) not in known:
                where = "a first deploy" if service.urn not in previous else "the given state"
                yield error(
                    service,
                    "gcp-run-traffic-unknown-revision",
                    f"traffics[{i}].revision",
                    revision,
                    f"traffic names revision {revision!r}, which does not exist in {where} "
                    "(Cloud Run: 'Revision … does not exist'); send traffic only to the revision "
                    "this update creates until the previous one exists",
                    RUN_TRAFFIC,
                )


GCS_LOCATIONS = "https://cloud.google.com/storage/docs/locations"
_MULTI_REGION_PREFIX = {"US": ("US-",), "EU": ("EUROPE-",), "ASIA": ("ASIA-",)}


@rule("gcp-gcs-location-outside-region", GCS_LOCATIONS)
def gcs_location(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    region = str(config.get("gcp:region") or "").upper()
    for bucket in of(resources, "gcp:storage/bucket:Bucket"):
        location = str(bucket.inputs.get("location") or "").upper()
        prefixes = _MULTI_REGION_PREFIX.get(location)
        if not prefixes:
            continue
        for i, data_location in enumerate(
            get(bucket.inputs, "customPlacementConfig.dataLocations") or []
        ):
            if not str(data_location).upper().startswith(prefixes):
                yield error(
                    bucket,
                    "gcp-gcs-location-outside-region",
                    f"customPlacementConfig.dataLocations[{i}]",
                    data_location,
                    f"a configurable dual-region pairs regions of its multi-region: "
                    f"{data_location} is not in {location}",
                    GCS_LOCATIONS + "#location-dr",
                )
        if (
            region
            and not region.startswith(prefixes)
            and not bucket.inputs.get("customPlacementConfig")
        ):
            yield error(
                bucket,
                "gcp-gcs-location-outside-region",
                "location",
                bucket.inputs.get("location"),
                f"the {location} multi-region does not contain the stack's region "
                f"{region.lower()}: data would live outside the requested region",
                GCS_LOCATIONS + "#location-mr",
            )


_AR_IMAGE = re.compile(r"^(?P<loc>[a-z0-9-]+)-docker\.pkg\.dev/(?P<project>[^/]+)/(?P<repo>[^/]+)/")
AR_SOURCE = "https://cloud.google.com/artifact-registry/docs/docker/names"


def _external_artifacts(config: Mapping[str, Any]) -> bool:
    """The stack file declares bring-your-own images (``mlops:platform.gcp.externalArtifacts``):
    the repository exists outside the stack by the user's explicit, spec-checked choice."""
    platform = config.get(ROOT)
    if isinstance(platform, str):
        try:
            platform = json.loads(platform)
        except ValueError:
            return False
    gcp = platform.get("gcp") if isinstance(platform, Mapping) else None
    return isinstance(gcp, Mapping) and gcp.get("externalArtifacts") is True


@rule("gcp-image-repository-not-created", AR_SOURCE)
def gcp_image_repository(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    if _external_artifacts(config):
        return
    project = config.get("gcp:project")
    repositories = {
        (str(r.inputs.get("location") or ""), physical_name_of(r))
        for r in list(of(resources, "gcp:artifactregistry/repository:Repository"))
        + [s for s in state if s.type == "gcp:artifactregistry/repository:Repository"]
    }
    for service in of(resources, "gcp:cloudrunv2/service:Service"):
        for i, container in enumerate(get(service.inputs, "template.containers") or []):
            image = str(container.get("image") or "") if isinstance(container, Mapping) else ""
            match = _AR_IMAGE.match(image)
            if not match or (project and match["project"] != project):
                continue  # another project's image: bring-your-own, nothing to check offline
            if (match["loc"], match["repo"]) not in repositories:
                yield error(
                    service,
                    "gcp-image-repository-not-created",
                    f"template.containers[{i}].image",
                    image,
                    f"the image is in repository {match['repo']!r} ({match['loc']}) of the stack's "
                    "project, which this stack does not create and the state does not hold; "
                    "use the registry's repository output",
                    AR_SOURCE,
                )
