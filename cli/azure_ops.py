"""``verify`` and ``rollback --now`` on Azure, through Azure Resource Manager's REST API.

Every call is one documented ARM operation (the URL of its reference is next to it). ``verify``
only reads (GET); ``rollback --now`` reads the endpoint and its deployments and, unless the
previous version already takes all traffic, PUTs the endpoint back with only its traffic changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from mlops_iac.cli import OpsError
from mlops_iac.cli.checks import (
    Check,
    expected_split,
    guard,
    need,
    served_versions_approved,
    serving_verdict,
)
from mlops_iac.cli.cloudrest import ARM, ApiError, Transport, refused
from mlops_iac.cli.outputs import Outputs
from mlops_iac.drift.rollout_azure import endpoint_body
from mlops_iac.spec import evaluation
from mlops_iac.spec.models import Approval, ModelRef, PlatformSpec

# https://learn.microsoft.com/rest/api/storagerp/storage-accounts/get-properties
# https://learn.microsoft.com/rest/api/storagerp/blob-services/get-service-properties
STORAGE_API = "2023-05-01"
# https://learn.microsoft.com/rest/api/keyvault/keyvault/keys/get
KEYVAULT_API = "2023-07-01"
# https://learn.microsoft.com/rest/api/azureml/online-endpoints/get (and create-or-update),
# https://learn.microsoft.com/rest/api/azureml/online-deployments/list
ML_API = "2024-04-01"
# https://learn.microsoft.com/rest/api/azureml/registry-model-versions/get,
# https://learn.microsoft.com/rest/api/azureml/model-versions/get,
# https://learn.microsoft.com/rest/api/azureml/registry-environment-versions/get,
# https://learn.microsoft.com/rest/api/azureml/environment-versions/get (same ML_API)
# The model version property the training pipeline (or whoever registers the version) sets to the
# sha256 of the model files the approval signs; see docs/governance.md.
ARTIFACT_PROPERTY = "mlops-artifact-sha256"
# https://learn.microsoft.com/rest/api/monitor/metric-alerts/list-by-resource-group
METRIC_ALERTS_API = "2018-03-01"
# https://learn.microsoft.com/rest/api/monitor/scheduled-query-rules/list-by-resource-group
QUERY_RULES_API = "2023-12-01"
# https://learn.microsoft.com/rest/api/monitor/action-groups/get
ACTION_GROUPS_API = "2023-01-01"

_SUBSCRIPTION = re.compile(r"^/subscriptions/([^/]+)/", re.IGNORECASE)
_KEY_URI = re.compile(r"^https://([a-z0-9-]+)\.vault\.azure\.net/keys/([^/]+)(?:/[^/]*)?/?$")
_RECEIVERS = (
    "emailReceivers",
    "smsReceivers",
    "webhookReceivers",
    "itsmReceivers",
    "azureAppPushReceivers",
    "automationRunbookReceivers",
    "voiceReceivers",
    "logicAppReceivers",
    "azureFunctionReceivers",
    "armRoleReceivers",
    "eventHubReceivers",
)


@dataclass(frozen=True)
class Estate:
    """Where the stack's resources are, from its outputs."""

    subscription: str
    resource_group: str
    workspace: str
    endpoint: str
    registry: str | None
    registry_id: str | None = None

    @property
    def group_url(self) -> str:
        return f"{ARM}/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"

    @property
    def endpoint_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/"
            f"Microsoft.MachineLearningServices/workspaces/{self.workspace}/onlineEndpoints/"
            f"{self.endpoint}"
        )

    @property
    def endpoint_url(self) -> str:
        return f"{ARM}{self.endpoint_id}"


def subscription_of(outputs: Outputs) -> str:
    """The subscription id, from the first ARM resource id among the stack's outputs."""
    for key in ("alert_topic", "approvers_topic", "registry_id", "retraining_trigger"):
        value = outputs.values.get(key)
        match = _SUBSCRIPTION.match(value) if isinstance(value, str) else None
        if match:
            return match.group(1)
    raise OpsError(
        f"outputs file {outputs.path} has no ARM resource id ('alert_topic', 'approvers_topic' "
        "or 'registry_id'): verify reads the subscription id from one"
    )


def estate(outputs: Outputs, endpoint: str | None = None) -> Estate:
    """The ``Estate`` of an outputs file; one line naming the missing output otherwise."""
    registry = outputs.optional_string("registry_name")
    return Estate(
        subscription=subscription_of(outputs),
        resource_group=need(outputs, "resource_group_name", "to address every resource"),
        workspace=need(outputs, "cluster_name", "as the AzureML workspace of the endpoint"),
        endpoint=endpoint or need(outputs, "endpoint_name", "to read the online endpoint"),
        registry=registry,
        registry_id=outputs.optional_string("registry_id"),
    )


def model_id(model: ModelRef, registry: str | None) -> str:
    """The model asset id a deployment of ``model`` names, as the platform deploys it
    (``components/platform/azure.py: serving_deployment`` and the endpoint's default)."""
    uri = model.artifact_uri
    if uri.startswith("azureml://registries/") and "/models/" in uri:
        return uri
    if uri.startswith("azureml:") and not uri.startswith("azureml://"):
        return uri
    if registry is not None:
        return f"azureml://registries/{registry}/models/{model.name}/versions/{model.version}"
    return f"azureml:{model.name}:{model.version}"


def version_of(asset: str) -> str | None:
    """The version an AzureML model asset id names (``…/versions/7``, ``azureml:name:7``)."""
    if "/versions/" in asset:
        return asset.rsplit("/versions/", 1)[1].strip("/") or None
    if asset.startswith("azureml:") and not asset.startswith("azureml://"):
        parts = asset.split(":")
        return parts[2] if len(parts) == 3 else None
    return None


_ASSET = re.compile(
    r"^azureml://registries/(?P<registry>[^/]+)/(?P<kind>models|environments)/(?P<name>[^/]+)"
    r"/versions/(?P<version>[^/]+)/?$|^azureml:(?P<short>[^:/]+):(?P<short_version>[^:/]+)$"
)


def asset_url(where: Estate, asset: str, kind: str) -> str | None:
    """The ARM URL of a model or environment version an asset id names (``kind`` is
    ``models`` or ``environments``), or ``None`` when it is not in the stack's workspace or
    registry (a curated environment of Microsoft's ``azureml`` registry, another subscription)."""
    if asset.lower().startswith("/subscriptions/") and f"/{kind}/" in asset:
        return f"{ARM}{asset.rstrip('/')}?api-version={ML_API}"
    match = _ASSET.match(asset)
    if match is None:
        return None
    if match.group("short"):
        return (
            f"{ARM}/subscriptions/{where.subscription}/resourceGroups/{where.resource_group}/"
            f"providers/Microsoft.MachineLearningServices/workspaces/{where.workspace}/{kind}/"
            f"{match.group('short')}/versions/{match.group('short_version')}?api-version={ML_API}"
        )
    if match.group("kind") != kind or match.group("registry") != where.registry:
        return None
    registry_id = where.registry_id or (
        f"/subscriptions/{where.subscription}/resourceGroups/{where.resource_group}/providers/"
        f"Microsoft.MachineLearningServices/registries/{where.registry}"
    )
    return (
        f"{ARM}{registry_id}/{kind}/{match.group('name')}/versions/{match.group('version')}"
        f"?api-version={ML_API}"
    )


def _models(spec: PlatformSpec) -> dict[str, ModelRef]:
    serving = spec.serving
    models = {serving.model.version: serving.model}
    if serving.previous_model is not None:
        models[serving.previous_model.version] = serving.previous_model
    return models


def _deployments(transport: Transport, where: Estate) -> list[dict[str, Any]]:
    url = f"{where.endpoint_url}/deployments?api-version={ML_API}"
    found: list[dict[str, Any]] = []
    while url:
        page = transport("GET", url)
        found += page.get("value", [])
        url = page.get("nextLink") or ""
    return found


def _traffic(endpoint: dict[str, Any]) -> dict[str, int]:
    traffic = (endpoint.get("properties") or {}).get("traffic") or {}
    return {str(name): int(pct) for name, pct in traffic.items()}


# --- verify -----------------------------------------------------------------------------------


def storage_checks(
    transport: Transport, where: Estate, account: str, key_uri: str | None
) -> list[Check]:
    """Blob versioning and CMK encryption of the artifact storage account."""
    account_url = f"{where.group_url}/providers/Microsoft.Storage/storageAccounts/{account}"

    def versioning() -> tuple[bool, str]:
        blob = transport("GET", f"{account_url}/blobServices/default?api-version={STORAGE_API}")
        on = bool((blob.get("properties") or {}).get("isVersioningEnabled"))
        return on, "blob versioning on" if on else "blob versioning off (isVersioningEnabled)"

    def encryption() -> tuple[bool, str]:
        props = transport("GET", f"{account_url}?api-version={STORAGE_API}").get("properties", {})
        encryption = props.get("encryption") or {}
        source = encryption.get("keySource", "none")
        if str(source).lower() != "microsoft.keyvault":
            return False, f"keySource {source}, not Microsoft.Keyvault (the stack's key)"
        vault_props = encryption.get("keyvaultproperties") or {}
        name = vault_props.get("keyname", "")
        vault = urlparse(str(vault_props.get("keyvaulturi", ""))).hostname or ""
        wanted = _KEY_URI.match(key_uri or "")
        if wanted is None:
            return False, f"keySource {source}, but the stack exports no kms_key_id to compare"
        if (vault.split(".")[0], name) != (wanted.group(1), wanted.group(2)):
            return False, (
                f"encrypted with key {name} in {vault or '?'}, not the stack's key "
                f"{wanted.group(2)} in {wanted.group(1)}"
            )
        return True, f"CMK {name} in {wanted.group(1)}"

    return [
        guard("storage-versioning", account, versioning),
        guard("storage-encryption", account, encryption),
    ]


def key_checks(transport: Transport, where: Estate, key_uri: str) -> list[Check]:
    """The vault key has a rotation policy that rotates it."""
    match = _KEY_URI.match(key_uri)
    assert match is not None
    vault, key = match.group(1), match.group(2)

    def rotation() -> tuple[bool, str]:
        url = (
            f"{where.group_url}/providers/Microsoft.KeyVault/vaults/{vault}/keys/{key}"
            f"?api-version={KEYVAULT_API}"
        )
        policy = (transport("GET", url).get("properties") or {}).get("rotationPolicy") or {}
        for action in policy.get("lifetimeActions") or []:
            if str((action.get("action") or {}).get("type", "")).lower() != "rotate":
                continue
            trigger = action.get("trigger") or {}
            when = trigger.get("timeAfterCreate") or trigger.get("timeBeforeExpiry")
            if when:
                return True, f"rotates ({', '.join(f'{k} {v}' for k, v in trigger.items())})"
        return False, "no rotation policy with a rotate action"

    return [guard("key-rotation", f"{vault}/{key}", rotation)]


def _rule_groups(rule: dict[str, Any]) -> list[str]:
    actions = (rule.get("properties") or {}).get("actions")
    if isinstance(actions, list):  # metric alerts: [{"actionGroupId": …}]
        return [str(a.get("actionGroupId")) for a in actions if a.get("actionGroupId")]
    if isinstance(actions, dict):  # scheduled query rules: {"actionGroups": […]}
        return [str(group) for group in actions.get("actionGroups") or []]
    return []


def alert_checks(transport: Transport, where: Estate, drift_alarm: str | None) -> list[Check]:
    """Alert rules present (one on the endpoint, the drift alarm) and each routed to an enabled
    action group with a receiver."""
    rules: list[dict[str, Any]] = []
    for kind, api in (
        ("metricAlerts", METRIC_ALERTS_API),
        ("scheduledQueryRules", QUERY_RULES_API),
    ):
        url = f"{where.group_url}/providers/Microsoft.Insights/{kind}?api-version={api}"
        try:
            rules += transport("GET", url).get("value", [])
        except ApiError as exc:
            return [Check("alerts-present", where.resource_group, False, f"{kind}: {exc}")]
    checks: list[Check] = []
    names = {str(rule.get("name")) for rule in rules}
    on_endpoint = [
        str(rule.get("name"))
        for rule in rules
        if any(
            str(scope).lower() == where.endpoint_id.lower()
            for scope in (rule.get("properties") or {}).get("scopes") or []
        )
    ]
    missing = []
    if not on_endpoint:
        missing.append(f"no alert rule on endpoint {where.endpoint}")
    if drift_alarm and drift_alarm not in names:
        missing.append(f"drift alarm {drift_alarm} not found")
    detail = "; ".join(missing) or (
        f"{len(rules)} rules; on the endpoint: {', '.join(sorted(on_endpoint))}"
    )
    checks.append(Check("alerts-present", where.resource_group, not missing, detail))
    groups: dict[str, tuple[bool, str]] = {}

    def routed(group_id: str) -> tuple[bool, str]:
        if group_id not in groups:
            try:
                group = transport("GET", f"{ARM}{group_id}?api-version={ACTION_GROUPS_API}")
            except ApiError as exc:  # an unreadable group routes nowhere
                groups[group_id] = (False, f"action group {group_id.rsplit('/', 1)[-1]}: {exc}")
                return groups[group_id]
            props = group.get("properties") or {}
            receivers = sum(len(props.get(kind) or []) for kind in _RECEIVERS)
            name = group_id.rsplit("/", 1)[-1]
            if not props.get("enabled", False):
                groups[group_id] = (False, f"action group {name} is disabled")
            elif not receivers:
                groups[group_id] = (False, f"action group {name} has no receivers")
            else:
                groups[group_id] = (True, f"{name} ({receivers} receivers)")
        return groups[group_id]

    for rule in sorted(rules, key=lambda r: str(r.get("name"))):
        name = str(rule.get("name"))
        props = rule.get("properties") or {}
        targets = _rule_groups(rule)
        if not props.get("enabled", False):
            checks.append(Check("alert-routed", name, False, "rule disabled"))
        elif not targets:
            checks.append(Check("alert-routed", name, False, "no action group: nobody is told"))
        else:
            verdicts = [routed(group) for group in targets]
            ok = [text for good, text in verdicts if good]
            bad = [text for good, text in verdicts if not good]
            detail = "; ".join(bad) if not ok else f"notifies {', '.join(ok)}"
            checks.append(Check("alert-routed", name, bool(ok), detail))
    return checks


def serving_checks(
    transport: Transport, where: Estate, spec: PlatformSpec, outputs: Outputs
) -> list[Check]:
    """What the endpoint serves (traffic × deployments' model ids) against the stack's exports,
    the served versions' approvals and the deployments' lineage tags."""
    from mlops_iac.components import lineage

    names = [
        "endpoint-in-service",
        "endpoint-serving",
        "endpoint-approved-version",
        "deployment-lineage",
        "deployment-artifact-digest",
    ]
    expected = expected_split(
        spec, outputs, rollout_declared=bool(spec.azure and spec.azure.canary_in_progress)
    )
    active = outputs.string("active_model_version")
    try:
        endpoint = transport("GET", f"{where.endpoint_url}?api-version={ML_API}")
        deployments = _deployments(transport, where)
    except ApiError as exc:
        return [Check(name, where.endpoint, False, str(exc)) for name in names]
    traffic = _traffic(endpoint)
    models = _models(spec)
    state = (endpoint.get("properties") or {}).get("provisioningState", "?")
    failed = [
        f"{d.get('name')} {(d.get('properties') or {}).get('provisioningState', '?')}"
        for d in deployments
        if (d.get("properties") or {}).get("provisioningState") != "Succeeded"
    ]
    detail = f"endpoint {state}" + (f"; deployments: {', '.join(failed)}" if failed else "")
    in_service = state == "Succeeded" and not failed
    checks = [Check("endpoint-in-service", where.endpoint, in_service, detail)]
    live: dict[str, int] = {}
    place: dict[str, str] = {}
    foreign: list[str] = []
    for deployment in deployments:
        slot = str(deployment.get("name"))
        asset = str((deployment.get("properties") or {}).get("model", ""))
        version = version_of(asset)
        percent = traffic.get(slot, 0)
        known = models.get(version or "")
        if known is None or model_id(known, where.registry) != asset:
            if percent:
                foreign.append(f"{slot} serves {asset or 'no model'} with {percent}%")
            continue
        live[version or ""] = live.get(version or "", 0) + percent
        place[version or ""] = slot
    slots = {str(d.get("name")) for d in deployments}
    missing = [slot for slot in traffic if traffic[slot] and slot not in slots]
    if foreign or missing:
        detail = "; ".join(
            foreign
            + [
                f"traffic sends {traffic[slot]}% to {slot}, which is not a deployment"
                for slot in missing
            ]
        )
        checks.append(Check("endpoint-serving", where.endpoint, False, detail))
    else:
        passed, detail = serving_verdict(live, expected, place, active)
        checks.append(Check("endpoint-serving", where.endpoint, passed, detail))
    model_names = {v: m.name for v, m in models.items()}
    checks.append(served_versions_approved(spec, model_names, live, active, where.endpoint))
    problems = []
    for deployment in deployments:
        slot = str(deployment.get("name"))
        version = version_of(str((deployment.get("properties") or {}).get("model", "")))
        model = models.get(version or "")
        if model is None:
            continue
        wanted = lineage.sanitise(
            {**lineage.base_tags(spec), **lineage.serving_tags(spec, model)}, "azure"
        )
        tags = deployment.get("tags") or {}
        wrong = sorted(k for k, v in wanted.items() if tags.get(k) != v)
        if wrong:
            shown = ", ".join(f"{k}={tags.get(k, '(none)')!s}" for k in wrong)
            problems.append(f"{slot}: {shown} (want {', '.join(wanted[k] for k in wrong)})")
    checks.append(
        Check(
            "deployment-lineage",
            where.endpoint,
            not problems,
            "; ".join(problems) or f"lineage tags on {len(deployments)} deployments",
        )
    )
    try:
        checks.append(artifact_digest_check(transport, where, spec, deployments))
    except ApiError as exc:
        checks.append(Check("deployment-artifact-digest", where.endpoint, False, str(exc)))
    return checks


def _served_approval(spec: PlatformSpec, model: ModelRef) -> Approval | None:
    """The approval of ``model`` that records digests (the first), else ``None``."""
    return next(
        (
            a
            for a in spec.governance.approvals
            if (a.model, a.version) == (model.name, model.version)
            and (a.artifact_sha256 or a.image_digest)
        ),
        None,
    )


def _image_problem(
    transport: Transport, where: Estate, slot: str, environment: str, wanted: str
) -> tuple[str | None, str]:
    """(problem, what was compared) for a deployment's environment image against the digest
    ``wanted`` its approval signed."""
    if not environment:
        return (
            f"{slot} names no environment, so no image digest to compare with the approved "
            f"{wanted}",
            "",
        )
    url = asset_url(where, environment, "environments")
    if url is None:
        return (
            f"{slot}'s environment {environment} is outside the stack's workspace and registry: "
            f"its image cannot be read to compare with the approved {wanted}",
            "",
        )
    image = str(((transport("GET", url).get("properties") or {}).get("image")) or "")
    digest = evaluation.image_digest(image) if image else None
    if not digest:
        shown = image or "(none: built from a Docker context)"
        return (
            f"{slot}'s environment {environment} image {shown} is not pinned by digest; the "
            f"approval signed {wanted}",
            "",
        )
    if digest != wanted:
        return f"{slot} runs image {image}, not the approved {wanted}", ""
    return None, f"image {digest[:19]}…"


def artifact_digest_check(
    transport: Transport, where: Estate, spec: PlatformSpec, deployments: list[dict[str, Any]]
) -> Check:
    """``deployment-artifact-digest``: each deployment of a served version against the digests
    its approval signed.

    The model: AzureML gives no content digest of a model version's files (Blob Storage keeps an
    MD5, not a SHA-256), so the evidence is the version's ``mlops-artifact-sha256`` property,
    recorded when it was registered (asset properties are kept with the version; tags are
    editable and are not read). It is compared with the approval's ``artifactSha256``; the files
    are not re-hashed. The image: the deployment's environment version's ``image``, when pinned
    by ``@sha256:``, against the approval's ``imageDigest`` (only when the approval signed one).
    An approval without digests fails outside dev; a signed digest with nothing live to compare
    fails in every environment.
    """
    models = _models(spec)
    problems: list[str] = []
    seen: list[str] = []
    for deployment in sorted(deployments, key=lambda d: str(d.get("name"))):
        slot = str(deployment.get("name"))
        properties = deployment.get("properties") or {}
        asset = str(properties.get("model", ""))
        model = models.get(version_of(asset) or "")
        if model is None or model_id(model, where.registry) != asset:
            continue  # endpoint-serving names a deployment of another model
        approval = _served_approval(spec, model)
        if approval is None:
            if spec.environment == "dev":
                seen.append(f"{slot} v{model.version} not bound (dev: no approval digest)")
            else:
                problems.append(
                    f"{slot}: {model.name} v{model.version} has no approval that records its "
                    "digests"
                )
            continue
        compared: list[str] = []
        if approval.artifact_sha256:
            url = asset_url(where, asset, "models")
            if url is None:
                problems.append(
                    f"{slot}'s model {asset} is outside the stack's workspace and registry: its "
                    f"recorded sha256 cannot be compared with the approved "
                    f"{approval.artifact_sha256}"
                )
            else:
                version = transport("GET", url).get("properties") or {}
                recorded = str((version.get("properties") or {}).get(ARTIFACT_PROPERTY) or "")
                if not recorded:
                    problems.append(
                        f"{slot}'s model {asset} records no {ARTIFACT_PROPERTY} property (its "
                        f"files at {version.get('modelUri') or '?'} have no SHA-256 in Azure): "
                        f"nothing to compare with the approved {approval.artifact_sha256}"
                    )
                elif recorded.lower() != approval.artifact_sha256:
                    problems.append(
                        f"{slot}'s model {asset} records sha256 {recorded}, not the approved "
                        f"{approval.artifact_sha256}"
                    )
                else:
                    compared.append(f"recorded sha256 {recorded[:12]}…")
        if approval.image_digest:
            problem, text = _image_problem(
                transport, where, slot, str(properties.get("environmentId") or ""),
                approval.image_digest,
            )  # fmt: skip
            if problem:
                problems.append(problem)
            else:
                compared.append(text)
        if compared:
            seen.append(f"{slot} v{model.version} {', '.join(compared)}")
    if problems:
        return Check("deployment-artifact-digest", where.endpoint, False, "; ".join(problems))
    return Check(
        "deployment-artifact-digest",
        where.endpoint,
        True,
        "serves the approved artifacts: "
        + ("; ".join(seen) or "no deployment of a served version")
        + f" (the model's {ARTIFACT_PROPERTY} property, not a hash of its files)",
    )


def run_checks(outputs: Outputs, spec: PlatformSpec, transport: Transport) -> list[Check]:
    """Every Azure check, in table order (outputs are read before the first request)."""
    where = estate(outputs)
    account = outputs.optional_string("storage_account_name") or need(
        outputs, "artifact_bucket_name", "as the artifact storage account"
    )
    key_uri = outputs.optional_string("kms_key_id")
    if key_uri is not None and not _KEY_URI.match(key_uri):
        raise OpsError(
            f"outputs file {outputs.path}: 'kms_key_id' must be a Key Vault key URI "
            f"(https://<vault>.vault.azure.net/keys/<name>), got {key_uri!r}"
        )
    need(outputs, "active_model_version", "to know which version must serve")
    drift_alarm = outputs.optional_string("drift_alarm_name")
    if key_uri is None:
        # The store exports no key without artifacts.customerManagedKey.
        why = (
            "the stack exports no kms_key_id: no customer-managed key "
            "(artifacts.customerManagedKey)"
        )
        checks = storage_checks(transport, where, account, None)
        checks.append(Check("key-rotation", account, False, why))
    else:
        checks = storage_checks(transport, where, account, key_uri)
        checks += key_checks(transport, where, key_uri)
    checks += alert_checks(transport, where, drift_alarm)
    checks += serving_checks(transport, where, spec, outputs)
    return checks


# --- rollback --now ---------------------------------------------------------------------------


def rollback_now(
    outputs: Outputs, target: ModelRef, transport: Transport, endpoint: str | None = None
) -> str:
    """Send all of the endpoint's traffic to the deployment serving ``target``; what it did.

    One GET of the endpoint and one list of its deployments; then, only when the split is not
    already 100% on that deployment, one PUT of the endpoint with the body it had and the new
    traffic map (the update operation, PATCH, takes only tags and identity).
    https://learn.microsoft.com/rest/api/azureml/online-endpoints/create-or-update
    """
    where = estate(outputs, endpoint)
    wanted = model_id(target, where.registry)
    try:
        current = transport("GET", f"{where.endpoint_url}?api-version={ML_API}")
        deployments = _deployments(transport, where)
    except ApiError as exc:
        raise refused(f"online endpoint {where.endpoint}", exc) from None
    slots = [
        str(d.get("name"))
        for d in deployments
        if str((d.get("properties") or {}).get("model", "")) == wanted
    ]
    if not slots:
        raise OpsError(
            f"no deployment of endpoint {where.endpoint} serves {wanted} "
            f"({target.name} v{target.version}); refusing to move traffic"
        )
    slot = sorted(slots)[0]
    traffic = _traffic(current)
    split = {str(d.get("name")): 0 for d in deployments} | {name: 0 for name in traffic}
    split[slot] = 100
    if traffic.get(slot) == 100 and not any(pct for name, pct in traffic.items() if name != slot):
        return (
            f"endpoint {where.endpoint} already sends 100% to {slot} "
            f"({target.name} v{target.version}); no endpoint update needed"
        )
    body = endpoint_body(current, split)
    try:
        transport("PUT", f"{where.endpoint_url}?api-version={ML_API}", body)
    except ApiError as exc:
        raise refused(f"online endpoint {where.endpoint}: update refused", exc) from None
    shown = ", ".join(f"{name} {pct}%" for name, pct in sorted(split.items()))
    return (
        f"endpoint {where.endpoint} is updating its traffic to {shown} "
        f"({target.name} v{target.version} on {slot})"
    )
