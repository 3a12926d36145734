"""GCP's cross-field and lifecycle rules (registered in ``lifecycle.base.RULES``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from mlops_iac.plan.deploy.base import DeployError, error, physical_name_of
from mlops_iac.plan.deploy.lifecycle.base import get, of, rolled_back, rolled_back_message, rule
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


@rule("gcp-rollout-rolled-back", RUN_TRAFFIC)
def run_rolled_back(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    """The rollout function sent all traffic back to the previous revision (its record in the
    service's ``mlops-rollout`` annotation, in the state after a refresh): an update whose
    traffic gives the rolled-back revision a share again would silently undo it."""
    records = {
        old.urn: record
        for old in state
        if old.type == "gcp:cloudrunv2/service:Service"
        and (
            record := rolled_back((old.outputs, old.inputs), "annotations", "effectiveAnnotations")
        )
    }
    for service in of(resources, "gcp:cloudrunv2/service:Service"):
        record = records.get(service.urn)
        if record is None:
            continue
        for i, target in enumerate(service.inputs.get("traffics") or []):
            if not isinstance(target, Mapping) or target.get("revision") != record.get("new"):
                continue
            if (target.get("percent") or 0) > 0:
                yield error(
                    service,
                    "gcp-rollout-rolled-back",
                    f"traffics[{i}].percent",
                    target.get("percent"),
                    rolled_back_message(record, target.get("percent")),
                    RUN_TRAFFIC,
                )


RUN_REVISIONS = "https://cloud.google.com/run/docs/managing/revisions"


def _images(template: Any) -> list[str]:
    containers = template.get("containers") if isinstance(template, Mapping) else None
    return [str(c["image"]) for c in containers or [] if isinstance(c, Mapping) and c.get("image")]


@rule("gcp-run-revision-name-reused", RUN_REVISIONS)
def run_revision_reused(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    """Revisions are immutable and the service names its revision explicitly
    (``<service>-v<version>``): an update whose image differs from the one the state recorded
    under the same revision name asks Cloud Run to create a revision that already exists, which
    it refuses. Typically a new ``imageDigest`` under the same ``version``."""
    recorded: dict[str, tuple[str, list[str]]] = {}
    for old in state:
        if old.type != "gcp:cloudrunv2/service:Service":
            continue
        for source in (old.inputs, old.outputs):
            template = source.get("template")
            revision = get(source, "template.revision")
            images = _images(template)
            if revision and images:
                recorded[old.urn] = (str(revision), images)
                break
    for service in of(resources, "gcp:cloudrunv2/service:Service"):
        if service.urn not in recorded:
            continue
        revision, images = recorded[service.urn]
        new_images = _images(service.inputs.get("template"))
        if get(service.inputs, "template.revision") != revision or not new_images:
            continue
        if new_images != images:
            yield error(
                service,
                "gcp-run-revision-name-reused",
                "template.containers[0].image",
                new_images[0],
                f"revision {revision!r} already exists with image {images[0]}: Cloud Run "
                "revisions are immutable, so a new image needs a new revision name; bump "
                "serving.model.version (and move the old one to serving.previousModel) "
                "instead of changing imageDigest under the same version",
                RUN_REVISIONS,
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


CUSTOM_METRICS = "https://cloud.google.com/monitoring/custom-metrics/creating-metrics"
_CUSTOM_METRIC = re.compile(r'metric\.type\s*=\s*"(custom\.googleapis\.com/[^"]+)"')
_CONDITION_FILTERS = ("filter", "denominatorFilter")


def _alert_filters(policy: Any) -> Iterator[tuple[str, str]]:
    """(input path, filter) of every condition filter of an alert policy."""
    for i, condition in enumerate(policy.inputs.get("conditions") or []):
        if not isinstance(condition, Mapping):
            continue
        for kind, body in condition.items():
            if not isinstance(body, Mapping):
                continue
            for key in _CONDITION_FILTERS:
                if isinstance(body.get(key), str):
                    yield f"conditions[{i}].{kind}.{key}", body[key]


@rule("gcp-alert-custom-metric-without-descriptor", CUSTOM_METRICS)
def alert_custom_metric_descriptor(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    descriptor = "gcp:monitoring/metricDescriptor:MetricDescriptor"
    declared = {
        str(r.inputs.get("type"))
        for r in list(of(resources, descriptor)) + [s for s in state if s.type == descriptor]
    }
    existing = {s.urn for s in state}
    for policy in of(resources, "gcp:monitoring/alertPolicy:AlertPolicy"):
        if policy.urn in existing:
            continue  # it was created, so its metric existed then
        for path, text in _alert_filters(policy):
            for metric in _CUSTOM_METRIC.findall(text):
                if metric not in declared:
                    yield error(
                        policy,
                        "gcp-alert-custom-metric-without-descriptor",
                        path,
                        metric,
                        f"the alert watches custom metric {metric}, which exists only once "
                        "something writes a point or declares it: on a new project Cloud "
                        "Monitoring refuses the policy ('Cannot find metric(s) that match "
                        "type'); declare a gcp.monitoring.MetricDescriptor and depend on it",
                        CUSTOM_METRICS,
                    )


SERVICE_AGENT_ISSUE = "https://github.com/hashicorp/terraform-provider-google/issues/15572"
_GCP_SA_AGENT = re.compile(r"service-\d+@gcp-sa-([a-z0-9-]+)\.iam\.gserviceaccount\.com")


def _members(inputs: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(input path, member) of an IAM member or binding resource."""
    if isinstance(inputs.get("member"), str):
        yield "member", inputs["member"]
    for i, member in enumerate(inputs.get("members") or []):
        if isinstance(member, str):
            yield f"members[{i}]", member


@rule("gcp-service-agent-before-identity", SERVICE_AGENT_ISSUE)
def service_agent_identity(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    identity = "gcp:projects/serviceIdentity:ServiceIdentity"
    services = {
        str(r.inputs.get("service") or "").split(".")[0]
        for r in list(of(resources, identity)) + [s for s in state if s.type == identity]
    }
    existing = {s.urn for s in state}
    for grant in resources:
        if not grant.type.startswith("gcp:") or "IAM" not in grant.type:
            continue
        if grant.urn in existing:
            continue
        for path, member in _members(grant.inputs):
            match = _GCP_SA_AGENT.search(member)
            # gcp-sa-monitoring-notification is monitoring.googleapis.com's agent, and so on.
            if match and not any(match[1].startswith(s) for s in services if s):
                yield error(
                    grant,
                    "gcp-service-agent-before-identity",
                    path,
                    member,
                    f"the grant names the {match[1]} service agent, which a new project does "
                    "not have until something creates it ('Service account … does not "
                    "exist'); create it with gcp.projects.ServiceIdentity and grant its member",
                    SERVICE_AGENT_ISSUE,
                )


FUNCTION_BUILD_SA = "https://cloud.google.com/functions/docs/securing/build-custom-sa"


@rule("gcp-function-default-build-account", FUNCTION_BUILD_SA)
def function_build_account(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    existing = {s.urn for s in state}
    for function in of(resources, "gcp:cloudfunctionsv2/function:Function"):
        if function.urn in existing:
            continue  # its builds already ran with the account it has
        if not get(function.inputs, "buildConfig.serviceAccount"):
            yield error(
                function,
                "gcp-function-default-build-account",
                "buildConfig.serviceAccount",
                None,
                "the function builds as the project's default Cloud Build account, which "
                "projects created since July 2024 do not give the permissions a build needs; "
                "set build_config.service_account to an account with logging.logWriter, "
                "artifactregistry.writer and read on the source object and on Cloud "
                "Functions' copy of it (bucket gcf-v2-sources-<project number>-<region>)",
                FUNCTION_BUILD_SA,
            )


GKE_FIREWALL = (
    "https://cloud.google.com/kubernetes-engine/docs/how-to/latest/network-isolation"
    "#add_firewall_rules"
)
WEBHOOK_CHARTS = ("kubeflow-trainer", "jobset", "training-operator")
"""Operator charts whose admission webhooks listen on pod port 9443 (``failurePolicy: Fail``)."""
WEBHOOK_PORT = 9443


def _opens_port(allows: Any, port: int) -> bool:
    for allow in allows or []:
        if not isinstance(allow, Mapping) or allow.get("protocol") not in ("tcp", "all"):
            continue
        ports = allow.get("ports") or []
        if not ports:
            return True
        for spec in ports:
            low, _, high = str(spec).partition("-")
            if low.isdigit() and int(low) <= port <= int(high or low):
                return True
    return False


@rule("gcp-private-cluster-webhook-firewall", GKE_FIREWALL)
def private_cluster_webhook_firewall(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    masters = {
        str(get(c.inputs, "privateClusterConfig.masterIpv4CidrBlock"))
        for c in of(resources, "gcp:container/cluster:Cluster")
        if get(c.inputs, "privateClusterConfig.enablePrivateNodes") is True
        and get(c.inputs, "privateClusterConfig.masterIpv4CidrBlock")
    }
    if not masters:
        return
    firewall = "gcp:compute/firewall:Firewall"
    open_from: set[str] = set()
    for rule_ in list(of(resources, firewall)) + [s for s in state if s.type == firewall]:
        inputs = rule_.inputs
        if str(inputs.get("direction") or "INGRESS") != "INGRESS":
            continue
        if _opens_port(inputs.get("allows"), WEBHOOK_PORT):
            open_from.update(str(r) for r in inputs.get("sourceRanges") or [])
    closed = sorted(masters - open_from)
    if not closed:
        return
    for release in of(resources, "kubernetes:helm.sh/v3:Release"):
        chart = str(release.inputs.get("chart") or "")
        if any(name in chart.rsplit("/", 1)[-1] for name in WEBHOOK_CHARTS):
            yield error(
                release,
                "gcp-private-cluster-webhook-firewall",
                "chart",
                chart,
                f"the operator's admission webhooks listen on tcp {WEBHOOK_PORT}, but no "
                f"firewall rule lets the private cluster's control plane ({', '.join(closed)}) "
                "reach the nodes on it (GKE opens 443 and 10250 only): the install succeeds and "
                "every job it validates is refused on a webhook timeout; add an INGRESS "
                f"compute.Firewall from the control plane's CIDR on tcp {WEBHOOK_PORT}",
                GKE_FIREWALL,
            )


SQL_CMEK = "https://cloud.google.com/sql/docs/postgres/configure-cmek"
_KEY_LOCATION = re.compile(r"/locations/(?P<loc>[^/]+)/keyRings/")


@rule("gcp-sql-key-outside-region", SQL_CMEK)
def sql_key_location(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    region = str(config.get("gcp:region") or "")
    for instance in of(resources, "gcp:sql/databaseInstance:DatabaseInstance"):
        key = instance.inputs.get("encryptionKeyName")
        found = _KEY_LOCATION.search(key) if isinstance(key, str) else None
        where = str(instance.inputs.get("region") or region)
        if found and where and found["loc"].lower() != where.lower():
            yield error(
                instance,
                "gcp-sql-key-outside-region",
                "encryptionKeyName",
                key,
                f"Cloud SQL takes a customer-managed key in the instance's region only: the key "
                f"is in {found['loc']}, the instance in {where}; use a key ring in {where}",
                SQL_CMEK,
            )
