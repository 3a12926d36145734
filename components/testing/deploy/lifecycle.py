"""Cross-field and lifecycle rules: combinations the clouds refuse, and what a first deploy lacks.

Each rule is a function over all resources of the plan (plus the prior state and the stack config)
with a stable id and the URL of the page it comes from. A plan is of a stack created from nothing
unless ``state`` lists what exists: then references to things only a previous update could have
created (a previous revision, a deployment the endpoint's traffic names) must be in it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from mlops_iac.components.testing.deploy.catalogue import (
    DeployError,
    Report,
    StateResource,
    _error,
    physical_name_of,
)
from mlops_iac.spec.keys import ROOT
from mlops_iac.spec.limits import (
    SAGEMAKER_LINEAR_STEP_PERCENT_MIN,
    SAGEMAKER_STEP_PERCENT_MAX,
    step_instances,
)

Rule = Callable[[list[Any], list[StateResource], Mapping[str, Any]], Iterable[DeployError]]
RULES: dict[str, tuple[str, Rule]] = {}
"""Rule id → (source URL, check)."""


def rule(rule_id: str, source: str) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        RULES[rule_id] = (source, fn)
        return fn

    return register


class _Indexed(list):
    """The plan's resources, indexed by type once (every rule looks resources up by type)."""

    def __init__(self, resources: Iterable[Any]) -> None:
        super().__init__(resources)
        self.by_type: dict[str, list[Any]] = {}
        for resource in self:
            self.by_type.setdefault(resource.type, []).append(resource)


def check(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any], report: Report
) -> None:
    indexed = _Indexed(resources)
    for _, fn in RULES.values():
        report.errors.extend(fn(indexed, state, config))


def _of(resources: Iterable[Any], type_token: str) -> list[Any]:
    if isinstance(resources, _Indexed):
        return resources.by_type.get(type_token, [])
    return [r for r in resources if r.type == type_token]


def _get(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, Mapping):
            return None
        data = data.get(part)
    return data


def _today(config: Mapping[str, Any]) -> dt.date:
    """Planning date (``mlops-iac:today`` in config pins it in tests)."""
    pinned = config.get("mlops-iac:today")
    return dt.date.fromisoformat(str(pinned)) if pinned else dt.date.today()


# ---------------------------------------------------------------------------------- GCP

GCS_LOCK = "https://cloud.google.com/storage/docs/bucket-lock"


@rule("gcp-gcs-versioning-with-retention", GCS_LOCK)
def gcs_versioning_retention(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    for bucket in _of(resources, "gcp:storage/bucket:Bucket"):
        versioned = _get(bucket.inputs, "versioning.enabled") is True
        retention = bucket.inputs.get("retentionPolicy")
        if versioned and retention:
            yield _error(
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
                revision = _get(source, "template.revision")
                if revision:
                    names.add(str(revision))
                for status in source.get("trafficStatuses") or []:
                    if isinstance(status, Mapping) and status.get("revision"):
                        names.add(str(status["revision"]))
                latest = source.get("latestReadyRevision")
                if latest:
                    names.add(str(latest).rsplit("/", 1)[-1])
    for service in _of(resources, "gcp:cloudrunv2/service:Service"):
        created = _get(service.inputs, "template.revision")
        known = previous.get(service.urn, set()) | ({str(created)} if created else set())
        for i, target in enumerate(service.inputs.get("traffics") or []):
            revision = target.get("revision") if isinstance(target, Mapping) else None
            if revision and str(revision) not in known:
                where = "a first deploy" if service.urn not in previous else "the given state"
                yield _error(
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
    for bucket in _of(resources, "gcp:storage/bucket:Bucket"):
        location = str(bucket.inputs.get("location") or "").upper()
        prefixes = _MULTI_REGION_PREFIX.get(location)
        if not prefixes:
            continue
        for i, data_location in enumerate(
            _get(bucket.inputs, "customPlacementConfig.dataLocations") or []
        ):
            if not str(data_location).upper().startswith(prefixes):
                yield _error(
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
            yield _error(
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
        for r in list(_of(resources, "gcp:artifactregistry/repository:Repository"))
        + [s for s in state if s.type == "gcp:artifactregistry/repository:Repository"]
    }
    for service in _of(resources, "gcp:cloudrunv2/service:Service"):
        for i, container in enumerate(_get(service.inputs, "template.containers") or []):
            image = str(container.get("image") or "") if isinstance(container, Mapping) else ""
            match = _AR_IMAGE.match(image)
            if not match or (project and match["project"] != project):
                continue  # another project's image: bring-your-own, nothing to check offline
            if (match["loc"], match["repo"]) not in repositories:
                yield _error(
                    service,
                    "gcp-image-repository-not-created",
                    f"template.containers[{i}].image",
                    image,
                    f"the image is in repository {match['repo']!r} ({match['loc']}) of the stack's "
                    "project, which this stack does not create and the state does not hold; "
                    "use the registry's repository output",
                    AR_SOURCE,
                )


# ---------------------------------------------------------------------------------- Azure

AML_ROLLOUT = "https://learn.microsoft.com/en-us/azure/machine-learning/how-to-safely-rollout-online-endpoints"


@rule("azure-endpoint-traffic-unknown-deployment", AML_ROLLOUT)
def azure_endpoint_traffic(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    existing = {
        (str(s.inputs.get("endpointName") or ""), str(s.inputs.get("deploymentName") or s.name))
        for s in state
        if s.type == "azure-native:machinelearningservices:OnlineDeployment"
    }
    for endpoint in _of(resources, "azure-native:machinelearningservices:OnlineEndpoint"):
        name = physical_name_of(endpoint)
        for deployment, weight in (_get(endpoint.inputs, "properties.traffic") or {}).items():
            if (name, str(deployment)) in existing:
                continue
            yield _error(
                endpoint,
                "azure-endpoint-traffic-unknown-deployment",
                f"properties.traffic.{deployment}",
                weight,
                f"traffic names deployment {deployment!r}, which does not exist when the endpoint "
                "is created or updated (deployments are created after their endpoint in the same "
                "update); create the endpoint without traffic first",
                AML_ROLLOUT,
            )


AML_MANAGED_NETWORK = (
    "https://learn.microsoft.com/en-us/azure/machine-learning/how-to-managed-network"
    "#list-of-required-rules"
)


@rule("azure-aml-registry-unreachable", AML_MANAGED_NETWORK)
def azure_registry_outbound(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    """A deployment whose model is in an AzureML registry with public access off can only pull it
    through a private endpoint outbound rule of its workspace's managed network: the required
    (automatic) rules cover the workspace's own key vault, storage and container registry only."""
    private = {
        str(r.inputs.get("registryName") or physical_name_of(r)): r
        for r in _of(resources, "azure-native:machinelearningservices:Registry")
        if r.inputs.get("publicNetworkAccess") == "Disabled"
    }
    workspaces = {
        str(w.inputs.get("workspaceName") or physical_name_of(w)): w
        for w in _of(resources, "azure-native:machinelearningservices:Workspace")
    }
    for deployment in _of(resources, "azure-native:machinelearningservices:OnlineDeployment"):
        model = str(_get(deployment.inputs, "properties.model") or "")
        match = re.match(r"azureml://registries/([^/]+)/", model)
        registry_name = match.group(1) if match else None
        registry = private.get(registry_name) if registry_name else None
        workspace = workspaces.get(str(deployment.inputs.get("workspaceName") or ""))
        if registry is None or workspace is None:
            continue
        rules = (_get(workspace.inputs, "managedNetwork.outboundRules") or {}).values()
        registry_id = str(getattr(registry, "id", "") or "")
        reached = any(
            isinstance(r, Mapping)
            and _get(r, "destination.subresourceTarget") == "amlregistry"
            and str(_get(r, "destination.serviceResourceId")) == registry_id
            for r in rules
        )
        if not reached:
            yield _error(
                deployment,
                "azure-aml-registry-unreachable",
                "properties.model",
                model,
                f"the model is in registry {registry_name!r} (public network "
                "access disabled), "
                "and the workspace's managed network has no private endpoint outbound rule to it "
                "(amlregistry): the deployment cannot download the model",
                AML_MANAGED_NETWORK,
            )


FUNCTIONS_NETWORK = (
    "https://learn.microsoft.com/en-us/azure/azure-functions/functions-networking-options"
    "#virtual-network-integration-outbound"
)
STORAGE_VNET_RULES = (
    "https://learn.microsoft.com/en-us/azure/storage/common/storage-network-security"
    "#grant-access-from-a-virtual-network"
)
_ACCOUNT_URL = re.compile(r"https://([a-z0-9]{3,24})\.(?:blob|queue|table|dfs)\.core\.windows\.net")
_SUBNET_DELEGATION = {"FlexConsumption": "Microsoft.App/environments"}
_DEFAULT_DELEGATION = "Microsoft.Web/serverFarms"


def _function_accounts(app: Any) -> set[str]:
    """Storage accounts a Function App's settings name: its host storage and any account URL."""
    settings = _get(app.inputs, "siteConfig.appSettings") or []
    names: set[str] = set()
    for item in settings if isinstance(settings, list) else []:
        if not isinstance(item, Mapping):
            continue
        key, value = str(item.get("name") or ""), str(item.get("value") or "")
        if key.endswith("__accountName") and value:
            names.add(value)
        names.update(_ACCOUNT_URL.findall(value))
    return names


def _declared_subnets(resources: list[Any]) -> dict[str, Mapping[str, Any]]:
    """Subnets declared inline in the plan's virtual networks, by ARM id (lower case)."""
    subnets: dict[str, Mapping[str, Any]] = {}
    for vnet in _of(resources, "azure-native:network:VirtualNetwork"):
        for subnet in vnet.inputs.get("subnets") or []:
            if isinstance(subnet, Mapping) and subnet.get("name"):
                subnet_id = f"{getattr(vnet, 'id', '')}/subnets/{subnet['name']}"
                subnets[subnet_id.lower()] = subnet
    return subnets


@rule("azure-function-storage-unreachable", FUNCTIONS_NETWORK)
def azure_function_storage(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    """A Function App reaches a storage account whose firewall denies by default only from a
    subnet the firewall admits: the Consumption plan has no VNet integration, an integrated app
    needs a subnet delegated to its plan's service, and a virtual network rule needs the subnet's
    ``Microsoft.Storage`` service endpoint (Azure refuses the rule otherwise)."""
    accounts = {}
    for account in _of(resources, "azure-native:storage:StorageAccount"):
        accounts[str(account.inputs.get("accountName") or physical_name_of(account))] = account
    plans = {
        str(getattr(p, "id", "")): p for p in _of(resources, "azure-native:web:AppServicePlan")
    }
    subnets = _declared_subnets(resources)
    for app in _of(resources, "azure-native:web:WebApp"):
        if "functionapp" not in str(app.inputs.get("kind") or ""):
            continue
        subnet_id = str(app.inputs.get("virtualNetworkSubnetId") or "")
        plan = plans.get(str(app.inputs.get("serverFarmId") or ""))
        tier = str(_get(plan.inputs, "sku.tier") or "") if plan is not None else ""
        subnet = subnets.get(subnet_id.lower())
        if subnet_id and tier == "Dynamic":
            yield _error(
                app, "azure-function-storage-unreachable", "virtualNetworkSubnetId", subnet_id,
                "the Consumption plan has no virtual network integration", FUNCTIONS_NETWORK,
            )  # fmt: skip
        if subnet is not None:
            wanted = _SUBNET_DELEGATION.get(tier, _DEFAULT_DELEGATION)
            services = [str(d.get("serviceName")) for d in subnet.get("delegations") or []]
            if wanted not in services:
                yield _error(
                    app, "azure-function-storage-unreachable", "virtualNetworkSubnetId",
                    subnet_id, f"the integration subnet is not delegated to {wanted}",
                    FUNCTIONS_NETWORK,
                )  # fmt: skip
        for name in sorted(_function_accounts(app)):
            account = accounts.get(name)
            rules = account.inputs.get("networkRuleSet") if account is not None else None
            if not isinstance(rules, Mapping) or rules.get("defaultAction") != "Deny":
                continue
            admitted = {
                str(r.get("virtualNetworkResourceId") or "").lower()
                for r in rules.get("virtualNetworkRules") or []
                if isinstance(r, Mapping)
            }
            if not subnet_id or subnet_id.lower() not in admitted:
                how = (
                    "joins a subnet its firewall does not admit (no virtual network rule)"
                    if subnet_id
                    else "has no VNet integration"
                )
                yield _error(
                    app, "azure-function-storage-unreachable", "virtualNetworkSubnetId",
                    subnet_id or None,
                    f"storage account {name!r} denies by default and the app {how}: the host "
                    "and the job cannot reach it", FUNCTIONS_NETWORK,
                )  # fmt: skip
            elif subnet is not None and not any(
                isinstance(e, Mapping) and str(e.get("service", "")).startswith("Microsoft.Storage")
                for e in subnet.get("serviceEndpoints") or []
            ):
                yield _error(
                    app, "azure-function-storage-unreachable", "virtualNetworkSubnetId",
                    subnet_id, f"storage account {name!r} admits the subnet by a virtual network "
                    "rule, which needs the subnet's Microsoft.Storage service endpoint",
                    STORAGE_VNET_RULES,
                )  # fmt: skip


EG_MONITOR = "https://learn.microsoft.com/en-us/azure/event-grid/event-handlers"


@rule("azure-eventgrid-monitor-alert-source", EG_MONITOR)
def eventgrid_monitor_alert(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    topics = {
        physical_name_of(t): str(t.inputs.get("topicType") or "")
        for t in _of(resources, "azure-native:eventgrid:SystemTopic")
    }
    by_logical = {
        t.name: str(t.inputs.get("topicType") or "")
        for t in _of(resources, "azure-native:eventgrid:SystemTopic")
    }
    for sub in _of(resources, "azure-native:eventgrid:SystemTopicEventSubscription"):
        for path in ("destination", "deliveryWithResourceIdentity.destination"):
            destination = _get(sub.inputs, path)
            if not isinstance(destination, Mapping):
                continue
            if destination.get("endpointType") != "MonitorAlert":
                continue
            topic = str(sub.inputs.get("systemTopicName"))
            topic_type = topics.get(topic) or next(
                (kind for logical, kind in by_logical.items() if topic.startswith(logical)), ""
            )
            if topic_type.lower() != "microsoft.keyvault.vaults":
                yield _error(
                    sub,
                    "azure-eventgrid-monitor-alert-source",
                    f"{path}.endpointType",
                    "MonitorAlert",
                    "Azure Monitor alerts as an Event Grid handler take events from Azure Key "
                    f"Vault sources only; this system topic's source is {topic_type or 'unknown'}",
                    EG_MONITOR,
                )


ACR_DCT = (
    "https://learn.microsoft.com/en-us/azure/container-registry/container-registry-content-trust"
)
DCT_CUTOFF = dt.date(2026, 5, 31)


@rule("azure-acr-content-trust-new-registry", ACR_DCT)
def acr_content_trust(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    if _today(config) < DCT_CUTOFF:
        return
    existing = {s.urn for s in state}
    for registry in _of(resources, "azure-native:containerregistry:Registry"):
        trust = _get(registry.inputs, "policies.trustPolicy") or {}
        if str(trust.get("status", "")).lower() == "enabled" and registry.urn not in existing:
            yield _error(
                registry,
                "azure-acr-content-trust-new-registry",
                "policies.trustPolicy.status",
                trust.get("status"),
                "starting May 31, 2026, Docker Content Trust cannot be enabled on new container "
                "registries; sign images with Notation instead",
                ACR_DCT,
            )


# ---------------------------------------------------------------------------------- AWS

SM_AUTOSCALE_UPDATE = "https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html"


@rule("aws-sagemaker-autoscaled-instance-type-change", SM_AUTOSCALE_UPDATE)
def sagemaker_instance_type_change(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    if not state:
        return
    configs_now = {
        physical_name_of(c): c
        for c in _of(resources, "aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    }
    configs_then = {
        physical_name_of(s): s
        for s in state
        if s.type == "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
    }
    endpoints_then = {s.urn: s for s in state if s.type == "aws:sagemaker/endpoint:Endpoint"}
    scaled = {
        str(t.inputs.get("resourceId"))
        for t in list(_of(resources, "aws:appautoscaling/target:Target"))
        + [s for s in state if s.type == "aws:appautoscaling/target:Target"]
    }
    for endpoint in _of(resources, "aws:sagemaker/endpoint:Endpoint"):
        before = endpoints_then.get(endpoint.urn)
        if before is None:
            continue
        new = configs_now.get(str(endpoint.inputs.get("endpointConfigName")))
        old = configs_then.get(str(before.inputs.get("endpointConfigName")))
        if new is None or old is None:
            continue
        old_types = {
            v.get("variantName"): v.get("instanceType")
            for v in old.inputs.get("productionVariants") or []
        }
        name = physical_name_of(before)
        for variant in new.inputs.get("productionVariants") or []:
            was = old_types.get(variant.get("variantName"))
            target = f"endpoint/{name}/variant/{variant.get('variantName')}"
            if was and was != variant.get("instanceType") and target in scaled:
                yield _error(
                    endpoint,
                    "aws-sagemaker-autoscaled-instance-type-change",
                    "endpointConfigName",
                    endpoint.inputs.get("endpointConfigName"),
                    f"variant {variant.get('variantName')!r} changes instance type {was} → "
                    f"{variant.get('instanceType')} while it is an auto scaling target: SageMaker "
                    "fails the update; deregister the scalable target, update, register again",
                    SM_AUTOSCALE_UPDATE,
                )


SM_MONITOR = "https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor.html"
MONITOR_TYPES = (
    "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition",
    "aws:sagemaker/monitoringSchedule:MonitoringSchedule",
    "aws:sagemaker/modelQualityJobDefinition:ModelQualityJobDefinition",
    "aws:sagemaker/modelBiasJobDefinition:ModelBiasJobDefinition",
    "aws:sagemaker/modelExplainabilityJobDefinition:ModelExplainabilityJobDefinition",
)
MONITOR_OPT_IN_TAG = "mlops:model-monitor"
MONITOR_OPT_IN_CONFIG = "mlops-iac:modelMonitorOptIn"


@rule("aws-sagemaker-model-monitor-closed", SM_MONITOR)
def sagemaker_model_monitor(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    if str(config.get(MONITOR_OPT_IN_CONFIG, "")).lower() == "true":
        return
    existing = {s.urn for s in state}
    for resource in resources:
        if resource.type not in MONITOR_TYPES or resource.urn in existing:
            continue
        tags = resource.inputs.get("tags") or {}
        if str(tags.get(MONITOR_OPT_IN_TAG, "")).lower() == "opt-in":
            continue
        yield _error(
            resource,
            "aws-sagemaker-model-monitor-closed",
            "",
            resource.type.rsplit(":", 1)[-1],
            "Amazon SageMaker Model Monitor is no longer open to new customers: a new account "
            f"cannot create this; opt in explicitly (tag {MONITOR_OPT_IN_TAG}=opt-in or config "
            f"{MONITOR_OPT_IN_CONFIG}: true) only for an account that has it",
            SM_MONITOR,
        )


SM_LINEAR = (
    "https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green-linear.html"
)
SM_CANARY = (
    "https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green-canary.html"
)
_ROUTING = "deploymentConfig.blueGreenUpdatePolicy.trafficRoutingConfiguration"


def _fleet(endpoint: Any, resources: list[Any]) -> int | None:
    configs = {
        physical_name_of(c): c
        for c in _of(resources, "aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    }
    config = configs.get(str(endpoint.inputs.get("endpointConfigName")))
    if config is None:
        return None
    counts = [
        int(v.get("initialInstanceCount") or 0)
        for v in config.inputs.get("productionVariants") or []
    ]
    return max(counts) if counts else None


@rule("aws-sagemaker-traffic-step-size", SM_LINEAR)
def sagemaker_step_size(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    for endpoint in _of(resources, "aws:sagemaker/endpoint:Endpoint"):
        routing = _get(endpoint.inputs, _ROUTING)
        if not isinstance(routing, Mapping):
            continue
        fleet = _fleet(endpoint, resources)
        kind = routing.get("type")
        if kind == "LINEAR":
            step = routing.get("linearStepSize") or {}
            stated, share = _stated(step, fleet), _share(step, fleet)
            if stated is not None and (
                not SAGEMAKER_LINEAR_STEP_PERCENT_MIN <= stated <= SAGEMAKER_STEP_PERCENT_MAX
                or (share or 0) > SAGEMAKER_STEP_PERCENT_MAX
            ):
                yield _error(
                    endpoint,
                    "aws-sagemaker-traffic-step-size",
                    f"{_ROUTING}.linearStepSize.value",
                    step.get("value"),
                    f"a linear step must be 10–50% of the variant's instance count; this is "
                    f"{share if share is not None else stated:g}%{_fleet_note(step, fleet)}",
                    SM_LINEAR,
                )
        if kind == "CANARY":
            size = routing.get("canarySize") or {}
            stated, share = _stated(size, fleet), _share(size, fleet)
            if stated is not None and max(stated, share or 0) > SAGEMAKER_STEP_PERCENT_MAX:
                yield _error(
                    endpoint,
                    "aws-sagemaker-traffic-step-size",
                    f"{_ROUTING}.canarySize.value",
                    size.get("value"),
                    f"the canary must be at most 50% of the variant's instance count; this is "
                    f"{share if share is not None else stated:g}%{_fleet_note(size, fleet)}",
                    SM_CANARY,
                )


def _stated(size: Mapping[str, Any], fleet: int | None) -> float | None:
    """The step as the program states it, in percent of the fleet."""
    value = size.get("value")
    if not isinstance(value, int | float):
        return None
    if size.get("type") == "INSTANCE_COUNT":
        return 100 * value / fleet if fleet else None
    return float(value)


def _share(size: Mapping[str, Any], fleet: int | None) -> float | None:
    """The step as a share of the fleet, counted in whole instances (a step is ≥ 1 instance)."""
    value = size.get("value")
    if not isinstance(value, int | float):
        return None
    if size.get("type") == "INSTANCE_COUNT":
        return 100 * value / fleet if fleet else None
    if fleet:
        return 100 * step_instances(float(value), fleet) / fleet
    return float(value)


def _fleet_note(size: Mapping[str, Any], fleet: int | None) -> str:
    if not fleet:
        return ""
    if size.get("type") == "INSTANCE_COUNT":
        return f" ({size.get('value'):g} of {fleet} instance(s))"
    n = step_instances(float(size.get("value") or 0), fleet)
    return f" ({size.get('value'):g}% of {fleet} instance(s) rounds up to {n})"


_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<repo>[^:@]+)"
)
ECR_SOURCE = "https://docs.aws.amazon.com/AmazonECR/latest/userguide/docker-pull-ecr-image.html"


@rule("aws-image-repository-not-created", ECR_SOURCE)
def aws_image_repository(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    from mlops_iac.components.testing.mocks import ACCOUNT_ID

    repositories = {
        physical_name_of(r)
        for r in list(_of(resources, "aws:ecr/repository:Repository"))
        + [s for s in state if s.type == "aws:ecr/repository:Repository"]
    }
    for model in _of(resources, "aws:sagemaker/model:Model"):
        containers = [model.inputs.get("primaryContainer")] + list(
            model.inputs.get("containers") or []
        )
        for i, container in enumerate(c for c in containers if isinstance(c, Mapping)):
            image = str(container.get("image") or "")
            match = _ECR_IMAGE.match(image)
            if match and match["account"] == ACCOUNT_ID and match["repo"] not in repositories:
                yield _error(
                    model,
                    "aws-image-repository-not-created",
                    "primaryContainer.image" if i == 0 else f"containers[{i - 1}].image",
                    image,
                    f"the image is in ECR repository {match['repo']!r} of this account, which the "
                    "stack does not create and the state does not hold",
                    ECR_SOURCE,
                )
