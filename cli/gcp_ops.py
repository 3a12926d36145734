"""``verify`` and ``rollback --now`` on GCP, through the Cloud Storage, Cloud KMS, Cloud Monitoring
and Cloud Run Admin REST APIs.

Every call is one documented operation (the URL of its reference is next to it). ``verify`` only
reads (GET); ``rollback --now`` reads the service and the previous revision and, unless the previous
revision already takes all traffic, patches the service's ``traffic`` field alone
(``updateMask=traffic``: no new revision, nothing else changes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mlops_iac.cli import OpsError
from mlops_iac.cli.checks import (
    Check,
    expected_split,
    guard,
    need,
    served_versions_approved,
    serving_verdict,
)
from mlops_iac.cli.cloudrest import ApiError, Transport, refused
from mlops_iac.cli.outputs import Outputs
from mlops_iac.drift.rollout_gcp import retarget
from mlops_iac.spec.models import ModelRef, PlatformSpec

# https://cloud.google.com/storage/docs/json_api/v1/buckets/get
STORAGE = "https://storage.googleapis.com/storage/v1"
# https://cloud.google.com/kms/docs/reference/rest/v1/projects.locations.keyRings.cryptoKeys/get
KMS = "https://cloudkms.googleapis.com/v1"
# https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.alertPolicies/get
# https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.notificationChannels/get
MONITORING = "https://monitoring.googleapis.com/v3"
# https://cloud.google.com/run/docs/reference/rest/v2/projects.locations.services/get (and patch),
# https://cloud.google.com/run/docs/reference/rest/v2/projects.locations.services.revisions/get
RUN = "https://run.googleapis.com/v2"
REVISION_TYPE = "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION"
LATEST_TYPE = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
_PROJECT = re.compile(r"^projects/([^/]+)/")


@dataclass(frozen=True)
class Estate:
    """Where the stack's Cloud Run service is."""

    project: str
    region: str
    service: str

    @property
    def service_url(self) -> str:
        return f"{RUN}/projects/{self.project}/locations/{self.region}/services/{self.service}"


def estate(
    outputs: Outputs, project: str | None, region: str | None, service: str | None = None
) -> Estate:
    """The ``Estate`` from the stack config (``gcp:project``, ``gcp:region``) and outputs."""
    if project is None:
        for key in ("kms_key_id", "registry_id", "approvers_topic"):
            value = outputs.values.get(key)
            match = _PROJECT.match(value) if isinstance(value, str) else None
            if match:
                project = match.group(1)
                break
    if project is None:
        raise OpsError("the stack config has no gcp:project and no output names a project")
    if region is None:
        raise OpsError(
            "the stack config has no gcp:region: the Cloud Run service's region (or pass --region)"
        )
    service = service or need(outputs, "endpoint_name", "as the Cloud Run service")
    return Estate(project=project, region=region, service=service)


def location(config: dict[str, Any], region: str | None) -> tuple[str | None, str | None]:
    """(``gcp:project``, ``region`` or ``gcp:region``) from a GCP stack file's config."""
    project, configured = config.get("gcp:project"), config.get("gcp:region")
    return (
        project if isinstance(project, str) else None,
        region or (configured if isinstance(configured, str) else None),
    )


def revision_name(service: str, version: str) -> str:
    """``<service>-v<version>`` as ``ServingEndpoint`` names revisions (``1.2`` → ``1-2``)."""
    return f"{service}-v{re.sub(r'[^a-z0-9-]', '-', version.lower())}"


def _tail(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _env(revision: dict[str, Any]) -> dict[str, str]:
    containers = revision.get("containers") or [{}]
    return {str(e.get("name")): str(e.get("value", "")) for e in containers[0].get("env") or []}


def _image(revision: dict[str, Any]) -> str:
    containers = revision.get("containers") or [{}]
    return str(containers[0].get("image", ""))


def _crypto_key(name: str) -> str:
    """A CryptoKey name without a ``/cryptoKeyVersions/…`` suffix."""
    return name.split("/cryptoKeyVersions/")[0]


# --- verify -----------------------------------------------------------------------------------


def bucket_checks(
    transport: Transport, bucket: str, key: str, model_bucket: str | None
) -> list[Check]:
    """Artifact bucket: versioning and the stack's CMEK default key; model bucket: a retention
    policy (GCS refuses versioning beside one) and a CMEK default key."""

    def get(name: str) -> dict[str, Any]:
        return dict(transport("GET", f"{STORAGE}/b/{name}"))

    def versioning() -> tuple[bool, str]:
        on = bool((get(bucket).get("versioning") or {}).get("enabled"))
        return on, "object versioning on" if on else "object versioning off"

    def encryption() -> tuple[bool, str]:
        default = (get(bucket).get("encryption") or {}).get("defaultKmsKeyName")
        if not default:
            return False, "no default KMS key (Google-managed encryption)"
        if _crypto_key(str(default)) != _crypto_key(key):
            return False, f"default key {default}, not the stack's key {key}"
        return True, f"default key {_tail(key)}"

    checks = [
        guard("bucket-versioning", bucket, versioning),
        guard("bucket-encryption", bucket, encryption),
    ]
    if model_bucket is not None:

        def retention() -> tuple[bool, str]:
            described = get(model_bucket)
            seconds = int((described.get("retentionPolicy") or {}).get("retentionPeriod") or 0)
            default = (described.get("encryption") or {}).get("defaultKmsKeyName")
            if not seconds:
                return False, "no retention policy: registered versions can be overwritten"
            if not default:
                return False, "no default KMS key (Google-managed encryption)"
            return True, f"retention {seconds // 86400} days, default key {_tail(str(default))}"

        checks.append(guard("model-bucket-retention", model_bucket, retention))
    return checks


def key_checks(transport: Transport, key: str) -> list[Check]:
    def rotation() -> tuple[bool, str]:
        described = transport("GET", f"{KMS}/{_crypto_key(key)}")
        period = described.get("rotationPeriod")
        if not period:
            return False, "no rotationPeriod: the key never rotates"
        return True, f"rotates every {period} (next {described.get('nextRotationTime', '?')})"

    return [guard("kms-rotation", key, rotation)]


def alert_checks(transport: Transport, names: list[str]) -> list[Check]:
    """Every exported alert policy exists, is enabled and notifies at least one enabled channel."""
    if not names:
        return [Check("alert-policy", "-", False, "the stack exports no alarm_names")]
    channels: dict[str, bool] = {}

    def channel_on(name: str) -> bool:
        if name not in channels:
            try:
                channels[name] = transport("GET", f"{MONITORING}/{name}").get("enabled", True)
            except ApiError:
                channels[name] = False
        return channels[name]

    checks = []
    for name in names:

        def probe(name: str = name) -> tuple[bool, str]:
            policy = transport("GET", f"{MONITORING}/{name}")
            label = policy.get("displayName") or _tail(name)
            if not policy.get("enabled", False):
                return False, f"{label}: disabled"
            targets = policy.get("notificationChannels") or []
            if not targets:
                return False, f"{label}: no notification channel: nobody is told"
            live = [c for c in targets if channel_on(c)]
            if not live:
                return False, f"{label}: every notification channel is disabled or missing"
            return True, f"{label}: notifies {len(live)} channel(s)"

        checks.append(guard("alert-policy", name, probe))
    return checks


def _expected_revision(spec: PlatformSpec, outputs: Outputs, model: ModelRef) -> tuple[str, str]:
    """(image, MODEL_URI) the platform gives a revision of ``model``
    (``components/platform/gcp.py``)."""
    # By digest when the spec pins one, as components/platform/gcp.py serves it.
    reference = f"@{model.image_digest}" if model.image_digest else f":{model.version}"
    image = model.image or (
        f"{need(outputs, 'image_repository_url', 'to know which image must serve')}"
        f"/{model.name}{reference}"
    )
    uri = model.artifact_uri
    if not uri.startswith("gs://"):
        bucket = need(outputs, "model_bucket_name", "to know which MODEL_URI must serve")
        uri = f"gs://{bucket}/{uri.lstrip('/')}"
    return image, uri


def serving_checks(
    transport: Transport, where: Estate, spec: PlatformSpec, outputs: Outputs
) -> list[Check]:
    """What the service serves (trafficStatuses × revisions' image and MODEL_URI) against the
    stack's exports, the served versions' approvals and the lineage labels."""
    from mlops_iac.components import lineage

    serving = spec.serving
    models = {serving.model.version: serving.model}
    if serving.previous_model is not None:
        models[serving.previous_model.version] = serving.previous_model
    revisions_out = outputs.values.get("serving_revisions") or []
    previous = outputs.optional_string("previous_model_version")
    declared = bool(previous) and revision_name(where.service, previous or "") in revisions_out
    expected = expected_split(spec, outputs, rollout_declared=declared)
    active = outputs.string("active_model_version")
    names = [
        "endpoint-in-service",
        "endpoint-serving",
        "endpoint-approved-version",
        "service-lineage",
    ]
    try:
        service = transport("GET", where.service_url)
    except ApiError as exc:
        return [Check(name, where.service, False, str(exc)) for name in names]
    condition = service.get("terminalCondition") or {}
    state = condition.get("state", "?")
    detail = f"{condition.get('type', 'Ready')} {state}"
    if condition.get("message"):
        detail += f": {condition['message']}"
    checks = [Check("endpoint-in-service", where.service, state == "CONDITION_SUCCEEDED", detail)]
    statuses = service.get("trafficStatuses") or service.get("traffic") or []
    live: dict[str, int] = {}
    place: dict[str, str] = {}
    problems: list[str] = []
    for status in statuses:
        percent = int(status.get("percent") or 0)
        if not percent:
            continue
        revision = status.get("revision") or ""
        if status.get("type") == LATEST_TYPE or not revision:
            revision = str(service.get("latestReadyRevision", ""))
        revision = _tail(revision)
        try:
            described = transport("GET", f"{where.service_url}/revisions/{revision}")
        except ApiError as exc:
            problems.append(f"{revision} ({percent}%): {exc}")
            continue
        env = _env(described)
        version = env.get("MODEL_VERSION") or revision.rsplit("-v", 1)[-1]
        model = models.get(version)
        if model is None:
            problems.append(
                f"{revision} serves version {version} with {percent}%, not in the stack"
            )
            continue
        image, uri = _expected_revision(spec, outputs, model)
        if _image(described) != image or env.get("MODEL_URI") != uri:
            problems.append(
                f"{revision} ({percent}%) runs {_image(described)} with MODEL_URI "
                f"{env.get('MODEL_URI', '(none)')}, the stack's v{version} is {image} with {uri}"
            )
            continue
        live[version] = live.get(version, 0) + percent
        place[version] = revision
    if problems:
        checks.append(Check("endpoint-serving", where.service, False, "; ".join(problems)))
    else:
        passed, detail = serving_verdict(live, expected, place, active)
        checks.append(Check("endpoint-serving", where.service, passed, detail))
    model_names = {v: m.name for v, m in models.items()}
    checks.append(served_versions_approved(spec, model_names, live, active, where.service))
    wanted = lineage.sanitise(
        {**lineage.base_tags(spec), **lineage.serving_tags(spec, serving.active_model)}, "gcp"
    )
    labels = service.get("labels") or {}
    wrong = sorted(k for k, v in wanted.items() if labels.get(k) != v)
    detail = (
        "; ".join(f"{k}={labels.get(k, '(none)')} (want {wanted[k]})" for k in wrong)
        or f"{len(wanted)} lineage labels"
    )
    checks.append(Check("service-lineage", where.service, not wrong, detail))
    return checks


def run_checks(
    outputs: Outputs,
    spec: PlatformSpec,
    transport: Transport,
    project: str | None,
    region: str | None,
) -> list[Check]:
    """Every GCP check, in table order (outputs are read before the first request)."""
    where = estate(outputs, project, region)
    bucket = need(outputs, "artifact_bucket_name", "as the artifact bucket")
    key = need(outputs, "kms_key_id", "to compare the bucket's default key with the stack's")
    alarms = outputs.strings("alarm_names") if outputs.has("alarm_names") else None
    if alarms is None:
        raise OpsError(
            f"outputs file {outputs.path} has no 'alarm_names': verify needs the alert policy "
            "names to check them (the platform program exports them; a team program exports "
            "Monitoring.alarm_names)"
        )
    need(outputs, "active_model_version", "to know which version must serve")
    checks = bucket_checks(transport, bucket, key, outputs.optional_string("model_bucket_name"))
    checks += key_checks(transport, key)
    checks += alert_checks(transport, alarms)
    checks += serving_checks(transport, where, spec, outputs)
    return checks


# --- rollback --now ---------------------------------------------------------------------------


def rollback_now(
    outputs: Outputs,
    target: ModelRef,
    transport: Transport,
    project: str | None,
    region: str | None,
    service: str | None = None,
) -> str:
    """Send all of the service's traffic to ``target``'s revision; what it did.

    Reads the revision (it must exist and serve ``target``'s version) and the service; then, only
    when its traffic is not already 100% on that revision, one ``services.patch`` with
    ``updateMask=traffic`` whose body names every revision the service lists, the target at 100%
    and the others at 0% with their tags kept.
    https://cloud.google.com/run/docs/reference/rest/v2/projects.locations.services/patch
    https://cloud.google.com/run/docs/rollouts-rollbacks-traffic-migration
    """
    where = estate(outputs, project, region, service)
    revision = revision_name(where.service, target.version)
    try:
        described = transport("GET", f"{where.service_url}/revisions/{revision}")
    except ApiError as exc:
        raise refused(f"revision {revision} of {where.service}", exc) from None
    served = _env(described).get("MODEL_VERSION")
    if served is not None and served != target.version:
        raise OpsError(
            f"revision {revision} serves MODEL_VERSION={served}, not {target.version}; "
            "refusing to send traffic to the wrong version"
        )
    try:
        current = transport("GET", where.service_url)
    except ApiError as exc:
        raise refused(f"Cloud Run service {where.service}", exc) from None
    entries = list(current.get("traffic") or [])
    on_target = [e for e in entries if _tail(str(e.get("revision", ""))) == revision]
    others = [e for e in entries if e not in on_target and int(e.get("percent") or 0)]
    if sum(int(e.get("percent") or 0) for e in on_target) == 100 and not others:
        return (
            f"service {where.service} already sends 100% to {revision} "
            f"({target.name} v{target.version}); no traffic update needed"
        )
    traffic = retarget(entries, {revision: 100})
    if not on_target:
        traffic.append({"type": REVISION_TYPE, "revision": revision, "percent": 100})
    try:
        transport("PATCH", f"{where.service_url}?updateMask=traffic", {"traffic": traffic})
    except ApiError as exc:
        raise refused(f"Cloud Run service {where.service}: update refused", exc) from None
    return (
        f"service {where.service} is moving 100% of traffic to {revision} "
        f"({target.name} v{target.version}); the other revisions stay at 0%"
    )
