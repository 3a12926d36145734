"""Automatic rollback and promotion of an Azure online endpoint's rollout: alerts on the new
deployment, an action group that calls a Function, and a timer in the same Function.

Azure Machine Learning has no alert-driven rollback for online endpoints: its safe-rollout guide
moves the traffic map by hand
(https://learn.microsoft.com/azure/machine-learning/how-to-safely-rollout-online-endpoints). So
the alerts ``{name}-errors`` (5xx share of the new deployment's requests, from the endpoint's
request log), ``{name}-latency`` (its p99 latency) and, with a model metric,
``{name}-model-metric`` act on ``{name}-actions``, whose Azure Function receiver calls the HTTP
function ``rollout_alert`` (function key, common alert schema:
https://learn.microsoft.com/azure/azure-monitor/alerts/action-groups) and the stack's alert
channel. The function (``mlops_iac.drift.rollout_azure``) sends 100% back to the previous
deployment and records it in the endpoint's ``mlops-rollout`` tag. The timer ``rollout_timer``
(every five minutes) promotes after a quiet bake.

The Function App is its own, on the drift job's App Service plan (and integration subnet), with
its own user-assigned identity, so the drift job's code, which reads served traffic, never holds
the right to move traffic. That identity holds one custom role on the one endpoint: read the
endpoint and its deployments, write the endpoint. Its package sits next to the drift job's in the
drift job's package account, and it shares the drift job's host containers (each app keeps its
own host folder in them).
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pulumi
from pulumi_azure_native import authorization, managedidentity, monitor, storage, web

from mlops_iac.components._component import Component, child_opts, component_opts
from mlops_iac.components.azure import _defaults as defaults
from mlops_iac.components.azure._common import (
    client_config,
    error_rate_criteria,
    function_app,
    new_workspace_log_alert,
    role_definition_id,
    unique_name,
)
from mlops_iac.components.azure.drift_job import DriftJob, failed_runs_alert

TYPE = "mlops:azure:RolloutGuard"
ALERT_FUNCTION = "rollout_alert"
TIMER_FUNCTION = "rollout_timer"
PACKAGE_CONTAINER = "rollout-packages"
PROMOTE_SCHEDULE = "0 */5 * * * *"
"""NCRONTAB of the promotion check: a bake ends at most five minutes late."""
ONLINE_ENDPOINTS = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
ENDPOINT_ACTIONS = (
    f"{ONLINE_ENDPOINTS}/read",
    f"{ONLINE_ENDPOINTS}/write",
    f"{ONLINE_ENDPOINTS}/deployments/read",
)
"""The custom role's actions, assignable on the one endpoint only.
https://learn.microsoft.com/azure/role-based-access-control/permissions/ai-machine-learning"""
MIN_REQUESTS = 20
"""Default minimum of the new deployment's requests in the 5xx alert's 5-minute window."""
_OPERATOR = {"above": "GreaterThan", "below": "LessThan"}


def _drift_folder() -> Path:
    import mlops_iac.drift as package

    return Path(package.__file__).resolve().parent


_FILES = {
    "host.json": '{"version": "2.0", "functionTimeout": "00:02:00"}\n',
    f"{ALERT_FUNCTION}/function.json": (
        '{"scriptFile": "__init__.py", "entryPoint": "main", "bindings": ['
        '{"name": "req", "type": "httpTrigger", "direction": "in", "authLevel": "function", '
        '"methods": ["post"]}, {"name": "$return", "type": "http", "direction": "out"}]}\n'
    ),
    f"{ALERT_FUNCTION}/__init__.py": (
        "import azure.functions as func\n\n"
        "from mlops_iac.drift.rollout_azure import azure_rollout_handler\n\n\n"
        "def main(req: func.HttpRequest) -> func.HttpResponse:\n"
        '    return func.HttpResponse(azure_rollout_handler("rollback", req.get_body()))\n'
    ),
    f"{TIMER_FUNCTION}/function.json": (
        '{"scriptFile": "__init__.py", "entryPoint": "main", "bindings": [{"name": "timer", '
        '"type": "timerTrigger", "direction": "in", "schedule": "%ROLLOUT_SCHEDULE%", '
        '"runOnStartup": false, "useMonitor": true}]}\n'
    ),
    f"{TIMER_FUNCTION}/__init__.py": (
        "import logging\n\n"
        "from mlops_iac.drift.rollout_azure import azure_rollout_handler\n\n\n"
        "def main(timer) -> None:\n"
        '    logging.info(azure_rollout_handler("promote"))\n'
    ),
}
"""The two functions (v1 programming model; ``azure.functions`` is the worker's own library)."""


@functools.cache
def rollout_package() -> pulumi.AssetArchive:
    """``host.json``, the two functions and every module of ``mlops_iac.drift``."""
    assets: dict[str, pulumi.Asset | pulumi.Archive] = {
        f"mlops_iac/drift/{path.name}": pulumi.FileAsset(str(path))
        for path in sorted(_drift_folder().glob("*.py"))
    }
    assets.update({name: pulumi.StringAsset(text) for name, text in _FILES.items()})
    return pulumi.AssetArchive(assets)


def package_digest() -> str:
    """12 hex digits over the package: the blob name changes exactly when the code does."""
    digest = hashlib.sha256()
    for path in sorted(_drift_folder().glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for name, text in sorted(_FILES.items()):
        digest.update(name.encode() + b"\0" + text.encode())
    return digest.hexdigest()[:12]


def role_name(stack: str, name: str, endpoint_id: str) -> str:
    """``mlops rollout <stack> <endpoint> <8 hex digits>`` (the digits hash the stack, the
    component and the endpoint's ARM id): unique per stack, subscription, resource group and
    endpoint, readable in the portal."""
    seed = f"{stack}/{name}/{endpoint_id.lower()}"
    digest = hashlib.sha256(seed.encode()).hexdigest()[:8]
    short = stack.rsplit("/", 1)[-1]
    return f"mlops rollout {short} {endpoint_id.rstrip('/').rsplit('/', 1)[-1]} {digest}"


@dataclass(frozen=True, kw_only=True)
class ModelMetric:
    """A custom metric about the endpoint that rolls the rollout back."""

    namespace: str
    name: str
    threshold: float
    comparison: str = "above"


@dataclass(frozen=True, kw_only=True)
class RolloutGuardArgs:
    """Inputs of ``RolloutGuard``."""

    FIELD_NOTES: ClassVar[Mapping[str, str]] = {}

    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str] | None = None
    endpoint_id: pulumi.Input[str]
    """ARM id of the online endpoint (``ServingEndpoint.endpoint_id``). Required."""
    new_deployment: str
    """The deployment that serves the new version during the rollout (``green``)."""
    previous_deployment: str
    """The deployment that serves the previous version (``blue``)."""
    in_progress: bool
    """Whether a canary or linear rollout is in progress; the function acts only then."""
    host: DriftJob
    """The drift job whose App Service plan, host containers and package account the function
    shares (its own app, its own identity). Required."""
    artifact_account_name: pulumi.Input[str]
    """The artifact account holding the host containers. Required."""
    storage_account_id: pulumi.Input[str]
    """ARM id of that account. Required."""
    integration_subnet_id: pulumi.Input[str] | None = None
    """The drift job's integration subnet (the host containers' account admits it). Default:
    none."""
    log_analytics_workspace_id: pulumi.Input[str]
    """Workspace holding the endpoint's request log (the 5xx alert queries it). Required."""
    action_group_id: pulumi.Input[str]
    """The stack's alert channel, told about every rollback alert. Required."""
    strategy: str = "canary"
    step_percent: int = 20
    bake_minutes: int = 10
    error_rate_percent: float = 1.0
    min_requests: int = MIN_REQUESTS
    """Requests of the new deployment a 5-minute window needs before its 5xx share can roll back.
    Default: 20."""
    latency_p99_ms: int = 500
    model_metric: ModelMetric | None = None
    environment: str = "dev"
    tags: Mapping[str, str] | None = None


class RolloutGuard(Component):
    """Alerts on the new deployment → action group → a Function that rolls back or promotes.

    Children: ``{name}-identity``, ``{name}-role`` (custom role: the three endpoint actions,
    assignable in the resource group, named per stack and endpoint) and ``{name}-endpoint`` (its
    assignment on the endpoint only);
    ``{name}-package`` (in the drift job's package container) and the identity's
    ``{name}-host-storage``, ``{name}-host-secrets`` (Blob Data Owner on the drift job's host
    containers) and ``{name}-read-package``; ``{name}-function`` (on the drift job's plan);
    ``{name}-actions``; ``{name}-errors``,
    ``{name}-latency`` and ``{name}-model-metric`` (with a model metric);
    ``{name}-function-logs`` (the app's ``FunctionAppLogs`` into the drift job's workspace) and
    ``{name}-failed-runs`` (a failed rollback or promotion pages the stack's alert channel).

    The action group's URL holds ``rollout_alert``'s function key, listed once the app exists:
    on a first deploy the host may not have indexed the function yet, and ``pulumi up`` must be
    run again (docs/contract.md).

    Outputs: ``function_name``, ``action_group_id``, ``alarm_names``.
    """

    function_name: pulumi.Output[str]
    action_group_id: pulumi.Output[str]
    alarm_names: pulumi.Output[list[str]]

    def __init__(
        self, name: str, args: RolloutGuardArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, component_opts(opts))
        config = client_config(self)
        identity = managedidentity.UserAssignedIdentity(
            f"{name}-identity",
            resource_group_name=args.resource_group_name,
            location=args.location,
            tags=args.tags,
            opts=child_opts(self),
        )
        # A custom role's name is unique in the Entra tenant and its GUID everywhere: both come
        # from the stack and the endpoint's ARM id (subscription, resource group, endpoint), so
        # two stacks in one tenant never collide.
        # https://learn.microsoft.com/azure/role-based-access-control/custom-roles#custom-role-properties
        stack = f"{pulumi.get_project()}/{pulumi.get_stack()}"
        endpoint_id = pulumi.Output.from_input(args.endpoint_id)
        role_id = endpoint_id.apply(
            lambda endpoint: str(
                uuid.uuid5(uuid.NAMESPACE_URL, f"mlops-iac/{stack}/{name}/{endpoint.lower()}")
            )
        )
        # Assignable scopes are management groups, subscriptions or resource groups: the
        # resource group. The assignment below stays on the one endpoint.
        # https://learn.microsoft.com/azure/role-based-access-control/role-definitions#assignablescopes
        group_id = pulumi.Output.concat(
            "/subscriptions/", config.subscription_id, "/resourceGroups/", args.resource_group_name
        )
        role = authorization.RoleDefinition(
            f"{name}-role",
            role_definition_id=role_id,
            role_name=endpoint_id.apply(lambda endpoint: role_name(stack, name, endpoint)),
            description="Read an online endpoint and its deployments, update its traffic",
            scope=group_id,
            assignable_scopes=[group_id],
            permissions=[{"actions": list(ENDPOINT_ACTIONS), "not_actions": []}],
            opts=child_opts(self),
        )
        update = authorization.RoleAssignment(
            f"{name}-endpoint",
            scope=args.endpoint_id,
            principal_id=identity.principal_id,
            principal_type="ServicePrincipal",
            role_definition_id=role.id,
            description="Rollout function: move this endpoint's traffic",
            opts=child_opts(self),
        )
        package_url, host_ready = self._package(name, args, config, identity)
        settings = {
            "FUNCTIONS_EXTENSION_VERSION": "~4",
            "FUNCTIONS_WORKER_RUNTIME": "python",
            "AzureWebJobsStorage__accountName": args.artifact_account_name,
            "AzureWebJobsStorage__credential": "managedidentity",
            "AzureWebJobsStorage__clientId": identity.client_id,
            "WEBSITE_RUN_FROM_PACKAGE": package_url,
            "WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID": identity.id,
            "AZURE_CLIENT_ID": identity.client_id,
            "ROLLOUT_SCHEDULE": PROMOTE_SCHEDULE,
            "ROLLOUT_ENDPOINT_ID": args.endpoint_id,
            "ROLLOUT_NEW_DEPLOYMENT": args.new_deployment,
            "ROLLOUT_PREVIOUS_DEPLOYMENT": args.previous_deployment,
            "ROLLOUT_IN_PROGRESS": "true" if args.in_progress else "false",
            "ROLLOUT_STRATEGY": args.strategy,
            "ROLLOUT_STEP_PERCENT": str(args.step_percent),
            "ROLLOUT_BAKE_MINUTES": str(args.bake_minutes),
        }
        function = function_app(
            self,
            name,
            site_name=unique_name(self, config, name, "func", limit=60, dashes=True),
            resource_group_name=args.resource_group_name,
            location=args.location,
            plan_id=args.host.plan.id,
            integration_subnet_id=args.integration_subnet_id,
            identity_id=identity.id,
            settings=settings,
            tags=args.tags,
            depends_on=[*host_ready, update],
        )
        group = self._action_group(name, args, function)
        alerts = self._alerts(name, args, group)
        # A rollback that raises returns 500 and the action group does not retry it: page.
        failed_runs_alert(
            self,
            name,
            function=function,
            functions=[ALERT_FUNCTION, TIMER_FUNCTION],
            description="A rollback or promotion failed: the endpoint's traffic did not move",
            resource_group_name=args.resource_group_name,
            location=args.location,
            action_group_id=args.action_group_id,
            tags=args.tags,
            workspace_id=args.host.logs,
        )
        self.register(
            function_name=function.name,
            action_group_id=group.id,
            alarm_names=pulumi.Output.all(*(a.name for a in alerts)),
        )

    def _package(
        self,
        name: str,
        args: RolloutGuardArgs,
        config: Any,
        identity: managedidentity.UserAssignedIdentity,
    ) -> tuple[pulumi.Output[str], list[pulumi.Resource]]:
        """(package URL, what the host needs before it starts): the package next to the drift
        job's in its package account, and the identity's grants on the host containers and the
        package container."""
        host = args.host
        store, packages = host.package_store, host.package_container
        blob_name = f"{name}-{package_digest()}.zip"
        package = storage.Blob(
            f"{name}-package",
            resource_group_name=args.resource_group_name,
            account_name=store.name,
            container_name=packages.name,
            blob_name=blob_name,
            type="Block",
            content_type="application/zip",
            source=rollout_package(),
            opts=child_opts(self),
        )

        def grant(logical: str, role: str, account_id: Any, container: Any, why: str) -> Any:
            return authorization.RoleAssignment(
                logical,
                scope=pulumi.Output.concat(
                    account_id, "/blobServices/default/containers/", container
                ),
                principal_id=identity.principal_id,
                principal_type="ServicePrincipal",
                role_definition_id=role_definition_id(config, role),
                description=why,
                opts=child_opts(self),
            )

        owner = defaults.ROLE_STORAGE_BLOB_DATA_OWNER
        hosts, secrets = host.host_containers
        ready = [
            package,
            grant(f"{name}-host-storage", owner, args.storage_account_id, hosts.name,
                  "Functions host: timer state"),
            grant(f"{name}-host-secrets", owner, args.storage_account_id, secrets.name,
                  "Functions host: host keys"),
            grant(f"{name}-read-package", defaults.ROLE_STORAGE_BLOB_DATA_READER, store.id,
                  packages.name, "Functions platform: the rollout function's package"),
        ]  # fmt: skip
        url = pulumi.Output.concat(
            "https://", store.name, ".blob.core.windows.net/", packages.name, "/", blob_name
        )
        return url, ready

    def _action_group(
        self, name: str, args: RolloutGuardArgs, function: web.WebApp
    ) -> monitor.ActionGroup:
        """``{name}-actions``: calls ``rollout_alert`` with its function key."""
        keys = web.list_web_app_function_keys_output(
            name=function.name,
            function_name=ALERT_FUNCTION,
            resource_group_name=args.resource_group_name,
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        url: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.all(function.default_host_name, keys.properties).apply(
                lambda parts: (
                    f"https://{parts[0]}/api/{ALERT_FUNCTION}?code={(parts[1] or {})['default']}"
                )
            )
        )  # type: ignore[arg-type]
        return monitor.ActionGroup(
            f"{name}-actions",
            resource_group_name=args.resource_group_name,
            location=defaults.ACTION_GROUP_LOCATION,
            group_short_name="mlopsroll",
            enabled=True,
            azure_function_receivers=[
                {
                    "name": "rollout",
                    "function_app_resource_id": function.id,
                    "function_name": ALERT_FUNCTION,
                    "http_trigger_url": url,
                    "use_common_alert_schema": True,
                }
            ],
            tags=args.tags,
            opts=child_opts(self),
        )

    def _alerts(
        self, name: str, args: RolloutGuardArgs, group: monitor.ActionGroup
    ) -> list[monitor.ScheduledQueryRule | monitor.MetricAlert]:
        """The rollback alerts on the new deployment only, acting on both action groups."""
        actions = [{"action_group_id": group.id}, {"action_group_id": args.action_group_id}]
        new = args.new_deployment
        query = pulumi.Output.concat(
            "AmlOnlineEndpointTrafficLog | where _ResourceId =~ '",
            args.endpoint_id,
            f"' and DeploymentName == '{new}'",
            " | summarize Errors = countif(toint(ResponseCode) >= 500), Requests = count()",
            # Below min_requests in the window the share counts as 0: one 5xx among a handful
            # of canary requests is not a failing deployment.
            f" | extend ErrorRatePercent = iff(Requests < {max(args.min_requests, 1)}, 0.0,"
            " 100.0 * Errors / Requests)",
        )
        errors = monitor.ScheduledQueryRule(
            f"{name}-errors",
            resource_group_name=args.resource_group_name,
            location=args.location,
            description=f"5xx share of deployment {new} above {args.error_rate_percent}%: "
            "rolls the rollout back",
            severity=1,
            auto_mitigate=True,
            scopes=[args.log_analytics_workspace_id],
            **new_workspace_log_alert(),
            criteria=error_rate_criteria(query, args.error_rate_percent),
            actions=monitor.ActionsArgs(action_groups=[group.id, args.action_group_id]),
            tags=args.tags,
            opts=child_opts(self),
        )
        criteria = {
            "latency": (
                f"p99 latency of deployment {new} above {args.latency_p99_ms} ms",
                {"name": "latency-p99", "metric_name": "RequestLatency_P99",
                 "operator": "GreaterThan", "threshold": args.latency_p99_ms,
                 "time_aggregation": "Average",
                 # Endpoint traffic metrics split by deployment.
                 "dimensions": [{"name": "deployment", "operator": "Include", "values": [new]}]},
            ),
        }  # fmt: skip
        metric = args.model_metric
        if metric is not None:
            criteria["model-metric"] = (
                f"{metric.namespace}/{metric.name} {metric.comparison} {metric.threshold}",
                {"name": "model-metric", "metric_namespace": metric.namespace,
                 "metric_name": metric.name, "operator": _OPERATOR[metric.comparison],
                 "threshold": metric.threshold, "time_aggregation": "Maximum",
                 # A custom metric exists only once the model publishes it.
                 "skip_metric_validation": True},
            )  # fmt: skip
        alerts: list[monitor.ScheduledQueryRule | monitor.MetricAlert] = [errors]
        for suffix, (description, criterion) in criteria.items():
            alerts.append(
                monitor.MetricAlert(
                    f"{name}-{suffix}",
                    resource_group_name=args.resource_group_name,
                    location="global",
                    description=f"{description}: rolls the rollout back",
                    severity=1,
                    enabled=True,
                    auto_mitigate=True,
                    scopes=[args.endpoint_id],
                    evaluation_frequency="PT1M",
                    window_size="PT5M",
                    criteria=monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
                        odata_type="Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                        all_of=[{"criterion_type": "StaticThresholdCriterion", **criterion}],
                    ),
                    actions=actions,
                    tags=args.tags,
                    opts=child_opts(self),
                )
            )
        return alerts
