"""Serving rules: deployments roll back on alarms that exist, and replica counts stay in bounds."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pulumi_policy import (
    PolicyResource,
    ResourceValidationArgs,
    StackValidationArgs,
)

from ._base import (
    Report,
    Rule,
    fmt,
    get,
    identifiers,
    items,
    lineage_tag,
    number,
    of_type,
    short_type,
    tags_of,
    truthy_text,
)

# --- automatic rollback --------------------------------------------------------------------------

#: Alarm types whose name an endpoint's rollback configuration can refer to.
ALARM_TYPES: tuple[str, ...] = (
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:cloudwatch/compositeAlarm:CompositeAlarm",
)


def _sagemaker_rollback(props: Mapping[str, Any]) -> tuple[str | None, list[str]]:
    """(problem, alarm names) for a SageMaker endpoint's deploymentConfig."""
    deployment = props.get("deploymentConfig")
    if get(deployment, "blueGreenUpdatePolicy", "trafficRoutingConfiguration") is None:
        return "deploymentConfig.blueGreenUpdatePolicy.trafficRoutingConfiguration is not set", []
    alarms = [
        get(a, "alarmName") for a in items(get(deployment, "autoRollbackConfiguration", "alarms"))
    ]
    if not alarms:
        return "deploymentConfig.autoRollbackConfiguration has no alarms", []
    return None, [a for a in alarms if truthy_text(a)]


ROLLBACK_TYPES: Mapping[str, Callable[[Mapping[str, Any]], tuple[str | None, list[str]]]] = {
    "aws:sagemaker/endpoint:Endpoint": _sagemaker_rollback,
}


def _split_total(percents: list[Any]) -> str | None:
    total = sum(number(p) or 0.0 for p in percents)
    return None if abs(total - 100) < 1e-6 else f"traffic sums to {fmt(total)}%, not 100%"


def _cloud_run_split(service: PolicyResource, resources: list[PolicyResource]) -> str | None:
    """A model service pins the previous revision beside the current one; traffic sums to 100.

    One revision passes only on the service's first deployment, which only the stack's own last
    deployment can show: mlops' ServingEndpoint reads it (a reference to its own stack) and
    registers what it served as ``deployed_revisions``. A stack policy sees a component's
    registered outputs, not stack references (read resources are not analysed), and never
    labels or flags, which anyone can set.
    """
    # pulumi-gcp names the list ``traffics`` (the API's ``traffic``).
    traffic = items(service.props.get("traffics", service.props.get("traffic")))
    revisions = {str(get(t, "revision")) for t in traffic if truthy_text(get(t, "revision"))}
    if len(revisions) >= 2:
        return _split_total([get(t, "percent") for t in traffic])
    current = get(service.props, "template", "revision")
    kept = revisions | ({str(current)} if truthy_text(current) else set())
    known, deployed = _deployed_revisions(service)
    if existing := sorted((_provider_revisions(service) | set(deployed or ())) - kept):
        return (
            f"revisions {', '.join(existing)} exist (the stack's last deployment served them) but "
            "traffic keeps none of them: no previous revision to roll back to; keep the "
            "previous model (serving.previousModel) in traffic"
        )
    if not known:
        return (
            "traffic names fewer than two revisions: no previous revision to roll back to, and "
            "nothing shows this is the service's first deployment (mlops' ServingEndpoint "
            "reads the stack's own last deployment for that)"
        )
    if deployed is None:
        return (
            "traffic names one revision and the stack's last deployment is unknown (no saved "
            "state) or exported no serving_revisions: whether a previous revision exists cannot "
            "be told; plan with the stack's saved `pulumi stack export` (a new stack: the export "
            "of the initialised stack) and export ServingEndpoint.serving_revisions as the stack "
            "output serving_revisions"
        )
    return None  # a first deployment: nothing served before, rollback from the next version on


GCP_SERVING_ENDPOINT = "mlops:gcp:ServingEndpoint"


def _deployed_revisions(service: PolicyResource) -> tuple[bool, list[str] | None]:
    """(known, revisions): what the parent ServingEndpoint registered that the stack's last
    deployment served (None: the stack was deployed but its outputs do not tell)."""
    parent = service.parent
    if parent is None or parent.resource_type != GCP_SERVING_ENDPOINT:
        return False, None
    props = parent.props
    if "deployed_revisions" not in props or "deployed_revisions_known" not in props:
        return False, None
    if props.get("deployed_revisions_known") is not True:
        return True, None
    return True, [str(r) for r in items(props.get("deployed_revisions")) if truthy_text(r)]


def _provider_revisions(service: PolicyResource) -> set[str]:
    """Revisions the service's provider outputs show (the real engine's stack policies see
    outputs; an existing service reports the revisions it has)."""
    found = {str(get(s, "revision")) for s in items(service.props.get("trafficStatuses"))}
    for key in ("latestReadyRevision", "latestCreatedRevision"):
        if truthy_text(value := service.props.get(key)):
            found.add(str(value).rsplit("/", 1)[-1])
    name = service.props.get("name")
    # Only this service's revisions (Cloud Run names them <service>-<suffix>).
    return {r for r in found if truthy_text(r) and r != "None" and str(r).startswith(f"{name}-")}


def _azure_split(endpoint: PolicyResource, resources: list[PolicyResource]) -> str | None:
    """A previous deployment exists beside the current one; traffic names them and sums to 100."""
    name = endpoint.props.get("name")
    deployments = {
        d.props.get("deploymentName") or d.props.get("name")
        for d in of_type(resources, (AZURE_DEPLOYMENT,))
        if d.props.get("endpointName") == name
    }
    if len(deployments) < 2:
        return "fewer than two deployments: no previous deployment to roll back to"
    traffic = get(endpoint.props, "properties", "traffic") or _template_traffic(name, resources)
    if not isinstance(traffic, Mapping) or not traffic:
        return "properties.traffic is not set"
    if unknown := sorted(str(k) for k in traffic if k not in deployments):
        return f"traffic names deployments that do not exist: {', '.join(unknown)}"
    return _split_total(list(traffic.values()))


AZURE_DEPLOYMENT = "azure-native:machinelearningservices:OnlineDeployment"
ARM_TEMPLATE_DEPLOYMENT = "azure-native:resources:Deployment"
ARM_ONLINE_ENDPOINT = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"


def _template_traffic(endpoint_name: Any, resources: list[PolicyResource]) -> Any:
    """The traffic an ARM template deployment PUTs on the endpoint once its deployments exist
    (mlops' AzureML ServingEndpoint sets traffic that way, so a new stack deploys in one go)."""
    for deployment in of_type(resources, (ARM_TEMPLATE_DEPLOYMENT,)):
        for resource in items(get(deployment.props, "properties", "template", "resources")):
            name = str(get(resource, "name") or "")
            if (
                get(resource, "type") == ARM_ONLINE_ENDPOINT
                and name.rsplit("/", 1)[-1] == endpoint_name
            ):
                return get(resource, "properties", "traffic")
    return None


#: Endpoints that roll back by moving traffic to a previous revision or deployment kept beside
#: the current one (Cloud Run, AzureML online endpoints have no alarm-driven rollback).
SPLIT_TYPES: Mapping[str, Callable[[PolicyResource, list[PolicyResource]], str | None]] = {
    "gcp:cloudrunv2/service:Service": _cloud_run_split,
    "azure-native:machinelearningservices:OnlineEndpoint": _azure_split,
}


def _serves_a_model(resource: PolicyResource) -> bool:
    # Cloud Run also runs things that are not models: only model services are endpoints here.
    if resource.resource_type != "gcp:cloudrunv2/service:Service":
        return True
    return lineage_tag(tags_of(resource.props), "model") is not None


def _validate_rollback(args: StackValidationArgs, report: Report) -> None:
    resources = list(args.resources)
    endpoints = of_type(resources, ROLLBACK_TYPES)
    splits = [r for r in of_type(resources, SPLIT_TYPES) if _serves_a_model(r)]
    if not endpoints and not splits:
        args.not_applicable("no serving endpoints in the stack")
    for endpoint in splits:
        if problem := SPLIT_TYPES[endpoint.resource_type](endpoint, resources):
            report(
                f"{short_type(endpoint.resource_type)} '{endpoint.name}': {problem}", endpoint.urn
            )
    alarm_names: set[str] = set()
    for alarm in of_type(args.resources, ALARM_TYPES):
        alarm_names |= identifiers(alarm, ("alarmName", "name", "id"))
    for endpoint in endpoints:
        problem, names = ROLLBACK_TYPES[endpoint.resource_type](endpoint.props)
        if problem is None and (missing := [n for n in names if n not in alarm_names]):
            problem = f"rollback alarms not defined in this stack: {', '.join(missing)}"
        if problem:
            report(
                f"{short_type(endpoint.resource_type)} '{endpoint.name}': {problem}", endpoint.urn
            )


ROLLBACK = Rule(
    name="mlops-serving-rollback",
    description="Endpoints can roll back: on alarms in the stack, or to a kept previous version.",
    remediation=(
        "SageMaker: a blue/green deploymentConfig whose autoRollbackConfiguration.alarms name "
        "CloudWatch alarms created in the same stack (ServingEndpoint wires its latency and "
        "error alarms). Cloud Run and AzureML: keep serving.previousModel, so a previous "
        "revision or deployment stays beside the current one, with traffic summing to 100. "
        "A Cloud Run service's first deployment passes with one revision when mlops' "
        "ServingEndpoint shows the stack's last deployment served nothing before: its saved "
        "export (stacks/state/<stack>.json, a reviewed file) served no revision of the service; "
        "without a saved export that is unknown, and one revision does not pass."
    ),
    kind="stack",
    validate=_validate_rollback,
)


# --- autoscaling bounds --------------------------------------------------------------------------


Bounds = tuple[Any, Any] | None
"""(min, max) replicas, or None when the resource does not scale a serving endpoint."""


def _app_autoscaling(props: Mapping[str, Any]) -> Bounds:
    # Application Auto Scaling also scales ECS, DynamoDB...: only SageMaker variants are serving.
    if props.get("serviceNamespace") != "sagemaker":
        return None
    return props.get("minCapacity"), props.get("maxCapacity")


def _cloud_run(props: Mapping[str, Any]) -> Bounds:
    # Cloud Run also runs things that are not models (the MLflow tracking server): only a
    # service that carries the lineage model tag is a serving endpoint, as for the split.
    if lineage_tag(tags_of(props), "model") is None:
        return None
    scaling = get(props, "template", "scaling")
    return get(scaling, "minInstanceCount"), get(scaling, "maxInstanceCount")


def _azure_autoscale(props: Mapping[str, Any]) -> Bounds:
    # Autoscale settings also scale VM scale sets, App Service plans...: only online-endpoint
    # deployments are serving. Azure writes capacities as strings.
    if "/onlineendpoints/" not in str(props.get("targetResourceUri", "")).lower():
        return None
    profiles = items(props.get("profiles"))
    if not profiles:
        return None, None
    capacity = get(profiles[0], "capacity")
    return _numeric(get(capacity, "minimum")), _numeric(get(capacity, "maximum"))


def _numeric(value: Any) -> Any:
    """``"4"`` → 4.0; anything else unchanged (and judged by ``number`` as usual)."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


SCALING_TYPES: Mapping[str, Callable[[Mapping[str, Any]], Bounds]] = {
    "aws:appautoscaling/target:Target": _app_autoscaling,
    "gcp:cloudrunv2/service:Service": _cloud_run,
    "azure-native:monitor:AutoscaleSetting": _azure_autoscale,
}


def _validate_bounds(args: ResourceValidationArgs, report: Report) -> None:
    extract = SCALING_TYPES.get(args.resource_type)
    bounds = extract(args.props) if extract else None
    if bounds is None:
        return
    low, high = (number(v) for v in bounds)
    config = args.get_config()
    floor, ceiling = float(config.get("minCapacity", 1)), float(config.get("maxCapacity", 20))
    if low is None or high is None:
        report("minimum and maximum capacity must both be set")
        return
    if low < floor:
        report(f"minimum capacity {fmt(low)} is below {fmt(floor)}: the endpoint can go dark")
    if high > ceiling:
        report(f"maximum capacity {fmt(high)} exceeds the limit of {fmt(ceiling)}")
    if low > high:
        report(f"minimum capacity {fmt(low)} is above maximum capacity {fmt(high)}")


AUTOSCALING_BOUNDS = Rule(
    name="mlops-serving-autoscaling-bounds",
    description="Serving autoscaling keeps at least minCapacity and at most maxCapacity replicas.",
    remediation=(
        "Set serving.replicas.min and serving.replicas.max in the stack file within the limits, "
        "or raise the limits in the policy config (minCapacity, maxCapacity)."
    ),
    kind="resource",
    validate=_validate_bounds,
    config={
        "minCapacity": {"type": "number", "minimum": 0, "default": 1},
        "maxCapacity": {"type": "number", "minimum": 1, "default": 20},
    },
)

RULES: tuple[Rule, ...] = (ROLLBACK, AUTOSCALING_BOUNDS)
