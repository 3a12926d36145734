"""Continuous training: every serving endpoint is captured, drift-checked on a schedule, alarmed
to a channel, and the alarm feeds a retraining trigger.

The rule recognises the toolkit's drift job by what it is on each cloud, not by component type
tokens, so a hand-built equivalent passes too:

- **AWS**: a Lambda function whose environment names ``DRIFT_ENDPOINT`` = the endpoint and
  ``DRIFT_BASELINE_URI``; an EventBridge Scheduler schedule (or an EventBridge rule target) that
  invokes it; a CloudWatch alarm on ``DriftedFeatures`` for the endpoint whose actions reach an
  SNS topic of the stack; an EventBridge rule that matches that alarm and has a target. Capture:
  every endpoint configuration has ``dataCaptureConfig`` enabled.
- **GCP**: a Cloud Functions (2nd gen) function whose environment names ``DRIFT_ENDPOINT`` = the
  Cloud Run service; a Cloud Scheduler job calling its URL; an alert policy on
  ``…/mlops/drift/drifted_features`` for the service notifying a channel of the stack, one of
  them a ``pubsub`` channel (the retraining topic). Capture: the service's containers get
  ``CAPTURE_URI``. A stack with no notification channel at all fails: an alert that notifies
  nobody does not close the loop.
- **Azure**: a Function App (``azure-native:web:WebApp``) whose app settings name
  ``DRIFT_ENDPOINT`` = the online endpoint and ``DRIFT_BASELINE_URI``, with a six-field
  ``DRIFT_SCHEDULE`` (its timer) and neither the app nor a function disabled
  (``AzureWebJobs.<function>.Disabled``); an enabled metric alert on ``DriftedFeatures`` scoped
  to that app, acting on an action group of the stack; ``DRIFT_RETRAINING_QUEUE_URL`` naming a
  storage queue of the stack that the job's identity may send to (Storage Queue Data Message
  Sender on that queue); ``DRIFT_STORAGE_ACCOUNT_URL`` naming a storage account of the stack,
  which, if its firewall denies by default, admits the app's VNet integration subnet
  (``virtualNetworkSubnetId``) by a virtual network rule. Capture: every deployment of
  the endpoint collects ``model_inputs``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource, StackValidationArgs

from mlops_iac.drift import wire

from ._base import (
    Report,
    Rule,
    get,
    identifiers,
    items,
    lineage_tag,
    of_type,
    tags_of,
    truthy_text,
)

AWS_ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
AWS_ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
AWS_FUNCTION = "aws:lambda/function:Function"
AWS_SCHEDULE = "aws:scheduler/schedule:Schedule"
AWS_EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
AWS_EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
AWS_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
AWS_TOPIC = "aws:sns/topic:Topic"
DRIFT_METRIC = wire.METRIC
GCP_SERVICE = "gcp:cloudrunv2/service:Service"
GCP_FUNCTION = "gcp:cloudfunctionsv2/function:Function"
GCP_SCHEDULE = "gcp:cloudscheduler/job:Job"
GCP_ALERT = "gcp:monitoring/alertPolicy:AlertPolicy"
GCP_CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"
GCP_DRIFT_METRIC = f"{wire.NAMESPACE}/{wire.GCP_METRIC_NAME}"
AZURE_ENDPOINT = "azure-native:machinelearningservices:OnlineEndpoint"
AZURE_DEPLOYMENT = "azure-native:machinelearningservices:OnlineDeployment"
AZURE_APP = "azure-native:web:WebApp"
AZURE_ALERT = "azure-native:monitor:MetricAlert"
AZURE_ACTION_GROUP = "azure-native:monitor:ActionGroup"
AZURE_QUEUE = "azure-native:storage:Queue"
AZURE_ROLE = "azure-native:authorization:RoleAssignment"
AZURE_IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
AZURE_ACCOUNT = "azure-native:storage:StorageAccount"
_ACCOUNT_HOST = re.compile(r"^https://([a-z0-9]{3,24})\.blob\.core\.windows\.net/?$")
QUEUE_SENDER_ROLE = "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a"
ENDPOINT_TYPES = (AWS_ENDPOINT, GCP_SERVICE, AZURE_ENDPOINT)


def _plain(value: Any) -> Any:
    """Props (engine proxies included) as plain dicts and lists."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence):
        return [_plain(v) for v in value]
    return value


def _text(value: Any) -> str:
    """Everything a prop says, as text (to look for names and ARNs in nested inputs)."""
    value = _plain(value)
    return value if isinstance(value, str) else json.dumps(value, default=str)


def refers(resource: PolicyResource, key: str, targets: Iterable[PolicyResource]) -> bool:
    """Whether ``resource``'s ``key`` input points at one of ``targets`` (dependency or value)."""
    targets = list(targets)
    wanted = {id(t) for t in targets}
    if any(id(d) in wanted for d in resource.property_dependencies.get(key, ())):
        return True
    value = _text(resource.props.get(key))
    return any(ident in value for t in targets for ident in identifiers(t, ("arn", "id", "name")))


def _env(function: PolicyResource) -> Mapping[str, Any]:
    variables = get(function.props, "environment", "variables")
    return variables if isinstance(variables, Mapping) else {}


def _aws(resources: Sequence[PolicyResource], report: Report) -> None:
    endpoints = of_type(resources, [AWS_ENDPOINT])
    for config in of_type(resources, [AWS_ENDPOINT_CONFIG]):
        capture = config.props.get("dataCaptureConfig")
        if not isinstance(capture, Mapping) or capture.get("enableCapture") is False:
            report(
                f"endpoint configuration '{config.name}': data capture is off, so drift "
                "cannot be checked",
                config.urn,
            )
    functions = [f for f in of_type(resources, [AWS_FUNCTION]) if "DRIFT_BASELINE_URI" in _env(f)]
    topics = of_type(resources, [AWS_TOPIC])
    rules = of_type(resources, [AWS_EVENT_RULE])
    targets = of_type(resources, [AWS_EVENT_TARGET])
    schedules = of_type(resources, [AWS_SCHEDULE])
    alarms = [
        a for a in of_type(resources, [AWS_ALARM]) if a.props.get("metricName") == DRIFT_METRIC
    ]
    for endpoint in endpoints:
        names = identifiers(endpoint, ("name", "id"))
        label = f"endpoint '{endpoint.name}'"
        jobs = [f for f in functions if _env(f).get("DRIFT_ENDPOINT") in names]
        if not jobs:
            report(f"{label}: no drift job checks its capture (DRIFT_ENDPOINT)", endpoint.urn)
            continue
        scheduled = any(refers(s, "target", jobs) for s in schedules) or any(
            refers(t, "arn", jobs) for t in targets
        )
        if not scheduled:
            report(
                f"{label}: its drift job is not scheduled (no schedule invokes it)", endpoint.urn
            )
        mine = [a for a in alarms if get(a.props, "dimensions", "Endpoint") in names]
        if not mine:
            report(f"{label}: no alarm on the drift job's {DRIFT_METRIC} metric", endpoint.urn)
            continue
        routed = [
            a
            for a in mine
            if a.props.get("actionsEnabled") is not False
            and any(truthy_text(x) for x in items(a.props.get("alarmActions")))
            and refers(a, "alarmActions", topics)
        ]
        if not routed:
            report(f"{label}: the drift alarm does not notify an alert channel", endpoint.urn)
            continue
        feeding = [r for r in rules if refers(r, "eventPattern", routed)]
        fed = any(refers(t, "rule", feeding) for t in targets)
        if not fed:
            report(
                f"{label}: no retraining trigger is fed by the drift alarm (an EventBridge rule "
                "on its ALARM state with a target)",
                endpoint.urn,
            )


def _gcp(resources: Sequence[PolicyResource], report: Report) -> None:
    functions = [
        f
        for f in of_type(resources, [GCP_FUNCTION])
        if "DRIFT_BASELINE_URI" in _text(get(f.props, "serviceConfig", "environmentVariables"))
    ]
    schedules = of_type(resources, [GCP_SCHEDULE])
    # With no channel at all, every drift alert fails "notifies an alert channel" below.
    channels = of_type(resources, [GCP_CHANNEL])
    retraining = [c for c in channels if c.props.get("type") == "pubsub"]
    alerts = [a for a in of_type(resources, [GCP_ALERT]) if GCP_DRIFT_METRIC in _text(a.props)]
    for service in of_type(resources, [GCP_SERVICE]):
        if lineage_tag(tags_of(service.props), "model") is None:
            continue  # not a model (the MLflow tracking server also runs on Cloud Run)
        name = service.props.get("name")
        label = f"Cloud Run service '{service.name}'"
        if "CAPTURE_URI" not in _text(get(service.props, "template", "containers")):
            report(
                f"{label}: its containers get no CAPTURE_URI, so nothing is captured", service.urn
            )
        jobs = [
            f
            for f in functions
            if truthy_text(name)
            and get(f.props, "serviceConfig", "environmentVariables", "DRIFT_ENDPOINT") == name
        ]
        if not jobs:
            report(f"{label}: no drift job checks its capture (DRIFT_ENDPOINT)", service.urn)
            continue
        if not any(refers(s, "httpTarget", jobs) for s in schedules):
            report(
                f"{label}: its drift job is not scheduled (no scheduler job calls it)", service.urn
            )
        mine = [a for a in alerts if truthy_text(name) and name in _text(a.props.get("conditions"))]
        routed = [
            a
            for a in mine
            if a.props.get("enabled") is not False and refers(a, "notificationChannels", channels)
        ]
        if not routed:
            report(f"{label}: no drift alert notifies an alert channel", service.urn)
        elif not any(refers(a, "notificationChannels", retraining) for a in routed):
            report(
                f"{label}: no retraining trigger is fed by the drift alert (a pubsub channel)",
                service.urn,
            )


def _app_settings(app: PolicyResource) -> dict[str, Any]:
    settings = get(app.props, "siteConfig", "appSettings")
    return {
        str(item.get("name")): item.get("value")
        for item in items(settings)
        if isinstance(item, Mapping)
    }


def _disabled(app: PolicyResource, settings: Mapping[str, Any]) -> bool:
    """The app is stopped, or a function in it is switched off by its documented app setting
    ``AzureWebJobs.<function>.Disabled`` (https://learn.microsoft.com/en-us/azure/azure-functions/disable-function)."""
    if app.props.get("enabled") is False:
        return True
    return any(
        key.startswith("AzureWebJobs.")
        and key.endswith(".Disabled")
        and str(value).strip().lower() in ("true", "1")
        for key, value in settings.items()
    )


def _azure(resources: Sequence[PolicyResource], report: Report) -> None:
    apps = [
        (a, _app_settings(a))
        for a in of_type(resources, [AZURE_APP])
        if "DRIFT_BASELINE_URI" in _app_settings(a)
    ]
    groups = of_type(resources, [AZURE_ACTION_GROUP])
    queues = of_type(resources, [AZURE_QUEUE])
    accounts = of_type(resources, [AZURE_ACCOUNT])
    senders = [
        r
        for r in of_type(resources, [AZURE_ROLE])
        if str(r.props.get("roleDefinitionId", "")).endswith(QUEUE_SENDER_ROLE)
    ]
    alerts = [a for a in of_type(resources, [AZURE_ALERT]) if DRIFT_METRIC in _text(a.props)]
    deployments = of_type(resources, [AZURE_DEPLOYMENT])
    for endpoint in of_type(resources, [AZURE_ENDPOINT]):
        names = identifiers(endpoint, ("name", "endpointName"))
        label = f"online endpoint '{endpoint.name}'"
        for deployment in deployments:
            if deployment.props.get("endpointName") not in names and not refers(
                deployment, "endpointName", [endpoint]
            ):
                continue
            collection = get(
                deployment.props, "properties", "dataCollector", "collections", "model_inputs"
            )
            if not isinstance(collection, Mapping) or collection.get("dataCollectionMode") != (
                "Enabled"
            ):
                report(
                    f"{label}: deployment '{deployment.name}' does not collect model_inputs, so "
                    "drift cannot be checked",
                    endpoint.urn,
                )
        jobs = [(a, s) for a, s in apps if s.get("DRIFT_ENDPOINT") in names]
        if not jobs:
            report(f"{label}: no drift job checks its capture (DRIFT_ENDPOINT)", endpoint.urn)
            continue
        scheduled = [
            (a, s)
            for a, s in jobs
            if len(str(s.get("DRIFT_SCHEDULE") or "").split()) == 6 and not _disabled(a, s)
        ]
        if not scheduled:
            report(
                f"{label}: its drift job is not scheduled (no six-field DRIFT_SCHEDULE, or the "
                "app or its function is disabled)",
                endpoint.urn,
            )
        for app, settings in jobs:
            blocked = _firewall_blocks(app, settings, accounts)
            if blocked:
                report(f"{label}: drift job '{app.name}' cannot reach {blocked}", endpoint.urn)
        job_apps = [a for a, _ in jobs]
        mine = [
            a
            for a in alerts
            if refers(a, "scopes", job_apps)
            and not any(
                values and not (set(map(str, values)) & names)
                for values in _alert_endpoint_filters(a)
            )
        ]
        routed = [
            a
            for a in mine
            if a.props.get("enabled") is not False
            and any(
                isinstance(action, Mapping) and truthy_text(action.get("actionGroupId"))
                for action in items(a.props.get("actions"))
            )
            and refers(a, "actions", groups)
        ]
        if not routed:
            report(
                f"{label}: no enabled drift alert on {DRIFT_METRIC} acts on an action group",
                endpoint.urn,
            )
        fed = False
        for _, settings in jobs:
            url = str(settings.get("DRIFT_RETRAINING_QUEUE_URL") or "")
            targets = [q for q in queues if any(i in url for i in identifiers(q, ("name",)))]
            if url and targets and any(refers(r, "scope", targets) for r in senders):
                fed = True
        if not fed:
            report(
                f"{label}: no retraining trigger is fed by the drift job (DRIFT_RETRAINING_"
                "QUEUE_URL naming a queue of the stack it may send to)",
                endpoint.urn,
            )


def _firewall_blocks(
    app: PolicyResource, settings: Mapping[str, Any], accounts: Sequence[PolicyResource]
) -> str | None:
    """Why the job cannot reach the stack's account it reads: it names none (or one outside the
    stack), or the account's firewall keeps it out. A default-deny account admits a Function App
    only from its integration subnet, by a virtual network rule
    (https://learn.microsoft.com/en-us/azure/azure-functions/functions-networking-options)."""
    url = str(settings.get("DRIFT_STORAGE_ACCOUNT_URL") or "")
    # Host names are case-insensitive: an upper-case URL reaches the same account.
    match = _ACCOUNT_HOST.match(url.lower())
    if match is None:
        return f"DRIFT_STORAGE_ACCOUNT_URL {url[:80]!r} is not a blob endpoint"
    named = [
        account
        for account in accounts
        if match.group(1) in {i.lower() for i in identifiers(account, ("accountName", "name"))}
    ]
    if not named:
        return f"storage account {match.group(1)!r}: not in the stack"
    account = named[0]
    # With public access disabled only private endpoints remain, which the app also reaches
    # from its integration subnet only.
    closed = account.props.get("publicNetworkAccess") == "Disabled" or (
        get(account.props, "networkRuleSet", "defaultAction") == "Deny"
    )
    if not closed:
        return None
    subnet = str(app.props.get("virtualNetworkSubnetId") or "").lower()
    admitted = {
        str(rule.get("virtualNetworkResourceId") or "").lower()
        for rule in items(get(account.props, "networkRuleSet", "virtualNetworkRules"))
        if isinstance(rule, Mapping) and rule.get("action", "Allow") == "Allow"
    }
    what = f"storage account '{account.name}'"
    if not subnet:
        return f"{what}: firewalled, and the app has no VNet integration"
    if subnet not in admitted and account.props.get("publicNetworkAccess") != "Disabled":
        return f"{what}: its firewall does not admit the app's subnet"
    return None


def _alert_endpoint_filters(alert: PolicyResource) -> list[list[Any]]:
    """The ``Endpoint`` dimension values each drift criterion of a metric alert filters on."""
    out = []
    for criterion in items(get(alert.props, "criteria", "allOf")):
        if not isinstance(criterion, Mapping) or criterion.get("metricName") != DRIFT_METRIC:
            continue
        for dimension in items(criterion.get("dimensions")):
            if isinstance(dimension, Mapping) and dimension.get("name") == "Endpoint":
                out.append(list(items(dimension.get("values"))))
    return out


def _validate(args: StackValidationArgs, report: Report) -> None:
    resources = list(args.resources)
    if not of_type(resources, ENDPOINT_TYPES):
        args.not_applicable("no serving endpoint in the stack")
        return
    _aws(resources, report)
    _gcp(resources, report)
    _azure(resources, report)


DRIFT_LOOP = Rule(
    name="mlops-drift-loop-closed",
    description=(
        "Every serving endpoint captures traffic and has a scheduled drift job whose alarm "
        "notifies an alert channel and feeds a retraining trigger."
    ),
    remediation=(
        "Keep data capture on the endpoint and deploy the toolkit's DriftJob for it (the platform "
        "does from monitoring.drift): a scheduled function, an alarm on DriftedFeatures routed to "
        "the alert topic, and a rule from that alarm to the retraining topic (Azure: a timer "
        "Function, a metric alert acting on the action group, and the retraining queue)."
    ),
    kind="stack",
    validate=_validate,
)

RULES: tuple[Rule, ...] = (DRIFT_LOOP,)
