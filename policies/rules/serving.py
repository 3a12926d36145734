"""Serving rules: deployments roll back on alarms that exist, and replica counts stay in bounds."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from pulumi_policy import (
    PolicyResource,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import UnknownValueError

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


# --- automatic rollback in production ------------------------------------------------------------

AZURE_ENDPOINT = "azure-native:machinelearningservices:OnlineEndpoint"
AZURE_FUNCTION_APP = "azure-native:web:WebApp"
AZURE_ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
AZURE_IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
AZURE_ROLE_DEFINITION = "azure-native:authorization:RoleDefinition"
AZURE_ACTION_GROUP = "azure-native:monitor:ActionGroup"
AZURE_ALERTS = ("azure-native:monitor:ScheduledQueryRule", "azure-native:monitor:MetricAlert")
#: The custom role's write action: what moves an endpoint's traffic.
AZURE_TRAFFIC_WRITE = f"{ARM_ONLINE_ENDPOINT}/write"
CLOUD_RUN_SERVICE = "gcp:cloudrunv2/service:Service"
GCP_FUNCTION = "gcp:cloudfunctionsv2/function:Function"
GCP_SERVICE_MEMBER = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
GCP_CUSTOM_ROLE = "gcp:projects/iAMCustomRole:IAMCustomRole"
GCP_ACCOUNT = "gcp:serviceaccount/account:Account"
GCP_ALERT = "gcp:monitoring/alertPolicy:AlertPolicy"
GCP_CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"
#: Predefined roles that may update a Cloud Run service's traffic.
#: https://cloud.google.com/run/docs/reference/iam/roles
GCP_RUN_UPDATE_ROLES = frozenset({"roles/run.admin", "roles/run.developer"})


class _Unknown:
    """A value the engine does not know yet (a preview of a resource still to be created)."""


UNKNOWN = _Unknown()


def _read(read: Callable[[], Any]) -> Any:
    """``read()``, or ``UNKNOWN`` where it touches a value unknown at preview."""
    try:
        return read()
    except UnknownValueError:
        return UNKNOWN


def _at(resource: PolicyResource, *path: str) -> Any:
    """``resource``'s property at ``path``, or ``UNKNOWN``."""
    return _read(lambda: get(resource.props, *path))


def _in(value: Any, *path: str) -> Any:
    """``value`` at ``path``, or ``UNKNOWN``."""
    return _read(lambda: get(value, *path))


def _refers(
    holder: PolicyResource,
    key: str,
    value: Any,
    target: PolicyResource,
    known: Callable[[str], bool],
) -> bool:
    """Whether ``holder``'s ``key`` (read as ``value``) refers to ``target``.

    A known value must name it (``known``); an unknown one counts only when the engine recorded
    that ``key`` is computed from ``target`` (its property dependencies): a value that depends on
    nothing, or on another endpoint, does not refer to this one. The check of the value itself
    runs again once it is known (``pulumi up``, or a preview of the deployed stack).
    """
    if value is UNKNOWN:
        return any(d is target for d in holder.property_dependencies.get(key, ()))
    return isinstance(value, str) and known(value)


def _linked(
    holder: PolicyResource, key: str, value: Any, values: set[str], sources: list[PolicyResource]
) -> bool:
    """``holder``'s ``key`` (read as ``value``) is one of ``values``, or, unknown at preview,
    computed from one of ``sources`` (the resources those values come from)."""
    if value is UNKNOWN:
        return any(d is s for d in holder.property_dependencies.get(key, ()) for s in sources)
    return isinstance(value, str) and value in values


def _enabled(resource: PolicyResource) -> bool:
    """Enabled: ``enabled`` true or not set (unknown counts as disabled)."""
    return _at(resource, "enabled") in (True, None)


def _azure_names(endpoint: PolicyResource) -> Callable[[str], bool]:
    """Whether a string names the endpoint (its ARM id, or an id below it), case-insensitively.
    With its name or workspace unknown, no string does (only dependencies can tell)."""
    workspace, name = _at(endpoint, "workspaceName"), _at(endpoint, "name")
    suffix = f"/workspaces/{workspace}/onlineendpoints/{name}".lower()

    def names(text: str) -> bool:
        if not (truthy_text(workspace) and truthy_text(name)):
            return False
        return text.lower().endswith(suffix) or f"{suffix}/" in text.lower()

    return names


def _app_setting(app: PolicyResource, name: str) -> Any:
    def read() -> Any:
        for setting in items(get(app.props, "siteConfig", "appSettings")):
            if get(setting, "name") == name:
                return get(setting, "value")
        return None

    return _read(read)


def _azure_identities(
    app: PolicyResource, resources: list[PolicyResource]
) -> tuple[set[str], list[PolicyResource]]:
    """(principal ids, identity resources) the app's code runs as: its user-assigned identities,
    as the app reports them and as the identity resources of this stack it names (by id, or,
    unknown at preview, computed from them)."""
    identities = _at(app, "identity", "userAssignedIdentities")
    if identities is UNKNOWN:
        named = [
            i
            for i in of_type(resources, (AZURE_IDENTITY,))
            if any(d is i for d in app.property_dependencies.get("identity", ()))
        ]
        found: set[str] = set()
    elif isinstance(identities, Mapping):
        keys = {str(k).lower() for k in identities}
        named = [
            i
            for i in of_type(resources, (AZURE_IDENTITY,))
            if any(k.endswith(f"/userassignedidentities/{_at(i, 'name')}".lower()) for k in keys)
        ]
        found = {str(p) for v in identities.values() if truthy_text(p := _in(v, "principalId"))}
    else:
        return set(), []
    found |= {str(p) for i in named if truthy_text(p := _at(i, "principalId"))}
    return found, named


def _azure_role_writes(assignment: PolicyResource, resources: list[PolicyResource]) -> bool:
    """The assignment's role is a role definition of this stack allowing the endpoint write."""
    role_id = _read(lambda: assignment.props.get("roleDefinitionId"))
    for role in of_type(resources, (AZURE_ROLE_DEFINITION,)):
        # A role definition's ARM name is its GUID (``roleDefinitionId``).
        guids = {
            f"/roledefinitions/{g}".lower() for g in identifiers(role, ("roleDefinitionId", "name"))
        }
        matches = (
            any(d is role for d in assignment.property_dependencies.get("roleDefinitionId", ()))
            if role_id is UNKNOWN
            else isinstance(role_id, str) and any(role_id.lower().endswith(g) for g in guids)
        )
        if not matches:
            continue
        actions = {
            str(a).lower()
            for p in items(_at(role, "permissions"))
            for a in items(get(p, "actions"))
        }
        if {AZURE_TRAFFIC_WRITE.lower(), "*", "microsoft.machinelearningservices/*"} & actions:
            return True
    return False


def _azure_guard(endpoint: PolicyResource, resources: list[PolicyResource]) -> str | None:
    """The problem with the endpoint's automatic rollback on Azure, or None."""
    names = _azure_names(endpoint)
    apps = [
        app
        for app in of_type(resources, (AZURE_FUNCTION_APP,))
        if _refers(app, "siteConfig", _app_setting(app, "ROLLOUT_ENDPOINT_ID"), endpoint, names)
    ]
    if not apps:
        return (
            "no rollout function names this endpoint (ROLLOUT_ENDPOINT_ID in a function app's "
            "settings): nothing moves traffic back on an alert"
        )
    problems: list[str] = []
    for app in apps:
        granted = [
            a
            for a in of_type(resources, (AZURE_ROLE_ASSIGNMENT,))
            if _refers(a, "scope", _at(a, "scope"), endpoint, names)
            and _linked(a, "principalId", _at(a, "principalId"), *_azure_identities(app, resources))
            and _azure_role_writes(a, resources)
        ]
        if not granted:
            problems.append(
                f"rollout function '{app.name}' holds no role assignment on this endpoint whose "
                "role (defined in this stack) may write it: it cannot move the traffic"
            )
            continue
        site = f"/sites/{_at(app, 'name')}".lower()

        def calls_app(text: str, site: str = site) -> bool:
            return text.lower().endswith(site)

        groups = [
            g
            for g in of_type(resources, (AZURE_ACTION_GROUP,))
            if _enabled(g)
            and any(
                _refers(
                    g,
                    "azureFunctionReceivers",
                    _in(r, "functionAppResourceId"),
                    app,
                    calls_app,
                )
                for r in items(_at(g, "azureFunctionReceivers"))
            )
        ]
        alerts = [
            a
            for a in of_type(resources, AZURE_ALERTS)
            if _enabled(a) and any(_acts_on(a, g) for g in groups) and _watches(a, endpoint, names)
        ]
        if not alerts:
            problems.append(
                f"no enabled alert on this endpoint calls rollout function '{app.name}' "
                "(through an action group's function receiver): nothing triggers a rollback"
            )
            continue
        return None
    return "; ".join(problems)


def _acts_on(alert: PolicyResource, group: PolicyResource) -> bool:
    """The alert notifies the action group: by its id, or (unknown at preview) computed from it."""
    raw = _read(lambda: alert.props.get("actions"))
    if raw is UNKNOWN:
        return any(d is group for d in alert.property_dependencies.get("actions", ()))
    ids = [*items(get(raw, "actionGroups")), *(get(a, "actionGroupId") for a in items(raw))]
    suffix = f"/actiongroups/{_at(group, 'name')}".lower()
    return any(isinstance(i, str) and i.lower().endswith(suffix) for i in ids)


def _watches(alert: PolicyResource, endpoint: PolicyResource, names: Callable[[str], bool]) -> bool:
    """The alert looks at the endpoint: its scopes or its query name it (unknown at preview:
    they are computed from it)."""
    for key in ("scopes", "criteria"):
        value = _at(alert, key)
        if value is UNKNOWN:
            if any(d is endpoint for d in alert.property_dependencies.get(key, ())):
                return True
            continue
        texts = (
            [str(s) for s in items(value)]
            if key == "scopes"
            else [str(get(c, "query")) for c in items(get(value, "allOf"))]
        )
        # A query names the endpoint as a quoted literal (``_ResourceId =~ '<id>'``).
        for text in texts:
            if names(text) or any(names(q) for q in re.findall(r"'([^']*)'", text)):
                return True
    return False


def _env(function: PolicyResource, name: str) -> Any:
    return _read(lambda: get(function.props, "serviceConfig", "environmentVariables", name))


def _gcp_alert_targets(alert: PolicyResource, service: PolicyResource) -> bool:
    """A condition of the alert filters on the service (as RolloutGuard's alerts do), or,
    unknown at preview, is computed from it."""
    conditions = _at(alert, "conditions")
    if conditions is UNKNOWN:
        return any(d is service for d in alert.property_dependencies.get("conditions", ()))
    name = _at(service, "name")
    if not truthy_text(name):
        return any(d is service for d in alert.property_dependencies.get("conditions", ()))
    wanted = (f'resource.labels.service_name = "{name}"', f'metric.labels.endpoint = "{name}"')
    for condition in items(conditions):
        text = _in(condition, "conditionThreshold", "filter")
        if text is UNKNOWN:
            if any(d is service for d in alert.property_dependencies.get("conditions", ())):
                return True
        elif any(w in str(text) for w in wanted):
            return True
    return False


def _gcp_guard(service: PolicyResource, resources: list[PolicyResource]) -> str | None:
    """The problem with the Cloud Run model service's automatic rollback, or None."""
    # With the name unknown, only dependencies can match (no string names the service).
    name = _at(service, "name")

    def names(text: str) -> bool:
        return truthy_text(name) and "/services/" in text and text.rsplit("/", 1)[-1] == name

    functions = [
        f
        for f in of_type(resources, (GCP_FUNCTION,))
        if _refers(f, "serviceConfig", _env(f, "ROLLOUT_SERVICE"), service, names)
    ]
    if not functions:
        return (
            "no rollout function names this service (ROLLOUT_SERVICE in a function's "
            "environment): nothing moves traffic back on an alert"
        )
    problems: list[str] = []
    for function in functions:
        account = _at(function, "serviceConfig", "serviceAccountEmail")
        members = {f"serviceAccount:{account}"} if truthy_text(account) else set()
        accounts = [
            d
            for d in function.property_dependencies.get("serviceConfig", ())
            if d.resource_type == GCP_ACCOUNT
        ]
        granted = [
            m
            for m in of_type(resources, (GCP_SERVICE_MEMBER,))
            if _refers(
                m, "name", _at(m, "name"), service, lambda t: truthy_text(name) and t == name
            )
            and _linked(m, "member", _at(m, "member"), members, accounts)
            and _gcp_role_updates(m, resources)
        ]
        if not granted:
            problems.append(
                f"rollout function '{function.name}' runs as an account holding no role on this "
                "service that may update it (run.services.update): it cannot move the traffic"
            )
            continue
        topic = _at(function, "eventTrigger", "pubsubTopic")
        topics = {topic} if truthy_text(topic) else set()
        trigger = list(function.property_dependencies.get("eventTrigger", ()))
        channels = [
            c
            for c in of_type(resources, (GCP_CHANNEL,))
            if _at(c, "type") == "pubsub"
            and _enabled(c)
            and _linked(c, "labels", _at(c, "labels", "topic"), topics, trigger)
        ]
        alerts = [
            a
            for a in of_type(resources, (GCP_ALERT,))
            if _enabled(a) and _notifies(a, channels) and _gcp_alert_targets(a, service)
        ]
        if not alerts:
            problems.append(
                f"no enabled alert policy on this service notifies rollout function "
                f"'{function.name}' (a Pub/Sub channel on its trigger topic): nothing triggers "
                "a rollback"
            )
            continue
        return None
    return "; ".join(problems)


def _gcp_role_updates(member: PolicyResource, resources: list[PolicyResource]) -> bool:
    """The member's role is a predefined role that updates services, or a custom role of this
    stack holding ``run.services.update`` (by name, or, unknown at preview, computed from it)."""
    roles = [
        r
        for r in of_type(resources, (GCP_CUSTOM_ROLE,))
        if "run.services.update" in {str(p) for p in items(_at(r, "permissions"))}
    ]
    names = {str(n) for r in roles if truthy_text(n := _at(r, "name"))}
    return _linked(member, "role", _at(member, "role"), names | GCP_RUN_UPDATE_ROLES, roles)


def _notifies(alert: PolicyResource, channels: list[PolicyResource]) -> bool:
    """The alert policy notifies one of the channels (by name, or computed from it)."""
    listed = _at(alert, "notificationChannels")
    if listed is UNKNOWN:
        deps = alert.property_dependencies.get("notificationChannels", ())
        return any(d is c for d in deps for c in channels)
    names = {str(n) for c in channels if truthy_text(n := _at(c, "name"))}
    return any(str(n) in names for n in items(listed))


GUARD_TYPES: Mapping[str, Callable[[PolicyResource, list[PolicyResource]], str | None]] = {
    AZURE_ENDPOINT: _azure_guard,
    CLOUD_RUN_SERVICE: _gcp_guard,
}


def _validate_auto_rollback(args: StackValidationArgs, report: Report) -> None:
    resources = list(args.resources)
    endpoints = [r for r in of_type(resources, GUARD_TYPES) if _serves_a_model(r)]
    if not endpoints:
        args.not_applicable("no Azure online endpoint or Cloud Run model service in the stack")
    for endpoint in endpoints:
        if problem := GUARD_TYPES[endpoint.resource_type](endpoint, resources):
            report(
                f"{short_type(endpoint.resource_type)} '{endpoint.name}': {problem}", endpoint.urn
            )


AUTO_ROLLBACK = Rule(
    name="mlops-serving-auto-rollback",
    description="Azure and GCP model endpoints roll back automatically on their alerts.",
    remediation=(
        "Keep serving.rollout.autoRollback: true (mlops' RolloutGuard), or compose its parts: "
        "Azure, a function app whose ROLLOUT_ENDPOINT_ID setting names the online endpoint, a "
        "role assignment on the endpoint for the app's identity whose role (defined in the "
        "stack) allows onlineEndpoints/write, and an enabled alert on the endpoint whose action "
        "group calls the app; GCP, a function whose ROLLOUT_SERVICE names the Cloud Run service, "
        "a service IAM member on it for the function's account with run.services.update, and "
        "an enabled alert policy on the service notifying the Pub/Sub channel of the function's "
        "trigger topic. SageMaker endpoints: mlops-serving-rollback checks their "
        "autoRollbackConfiguration."
    ),
    kind="stack",
    validate=_validate_auto_rollback,
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

RULES: tuple[Rule, ...] = (ROLLBACK, AUTO_ROLLBACK, AUTOSCALING_BOUNDS)
