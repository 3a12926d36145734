"""The toolkit's drift job on Azure: a timer-triggered Azure Function (Python) run from a zip
package of this package's own source, a custom-metric alert routed to the alert channel's action
group, and a message into the platform's retraining queue on drift.

Why this runtime: a Function App runs a Python package straight from a zip at a blob URL
(``WEBSITE_RUN_FROM_PACKAGE=<URL>``) fetched with a user-assigned managed identity
(``WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID``), so Pulumi uploads the zip and nothing is built
(https://learn.microsoft.com/en-us/azure/azure-functions/run-functions-from-deployment-package).
The zip lives in a small account of its own (see ``DriftJob._package_account``): the provider
uploads with the account key, which the artifact account refuses.
Flex Consumption, the successor of Linux Consumption, deploys only through its OneDeploy publish
API (no app setting points it at a package, and the ARM ``onedeploy`` extension documents no
properties: https://learn.microsoft.com/en-us/azure/azure-functions/deployment-zip-push), which an
infrastructure program cannot call. The job is standard-library Python, so the package is this
folder plus ``host.json`` and one timer function (v1 programming model, ``function.json``; the
Python worker puts the app root on ``sys.path``).

Which plan: the artifact account's firewall denies by default (trusted services and private
endpoints only), and the Consumption plan has no virtual network integration, so a Consumption
function cannot reach it. With ``integration_subnet_id`` the function runs on Elastic Premium
(EP1, one instance), joins that subnet (regional VNet integration, all outbound traffic routed
into the network) and the account's firewall admits the subnet by a virtual network rule:
https://learn.microsoft.com/en-us/azure/azure-functions/functions-networking-options#virtual-network-integration-outbound
It needs no Azure Files share (which would need an account key): an Elastic Premium app runs
without one when its package is at a blob URL read with a managed identity and its host storage
is identity-based, as here:
https://learn.microsoft.com/en-us/azure/azure-functions/storage-considerations#create-an-app-without-azure-files
Without a subnet the job runs on Linux Consumption (retiring on 30 September 2028) and reaches
only an account that admits public traffic (a warning says so).

The loop: the timer (NCRONTAB from ``monitoring.drift``, kept in the ``DRIFT_SCHEDULE`` app
setting the trigger reads as ``%DRIFT_SCHEDULE%``) runs the function → it reads the online
endpoint's collected ``model_inputs`` (data collector, workspace blob store
``modelDataCollector/<endpoint>/<deployment>/model_inputs/…``) and the baseline of the dataset
version, writes ``drift/reports/<endpoint>/…`` in the DVC container, publishes the custom metric
``mlops/drift`` ``DriftedFeatures`` about the Function App → a metric alert (``> 0``) acts on the
alert channel's action group; on drift the function also puts a message into the retraining queue
(action groups have no storage-queue action, so the job feeds the trigger itself).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

import pulumi
from pulumi_azure_native import (
    authorization,
    managedidentity,
    monitor,
    operationalinsights,
    storage,
    web,
)

from mlops_iac.components._component import Component, child_opts, component_opts
from mlops_iac.components.azure import _defaults as defaults
from mlops_iac.components.azure._common import (
    client_config,
    function_app,
    new_workspace_log_alert,
    role_definition_id,
    unique_name,
)
from mlops_iac.components.contract_types import DriftJobArgsBase
from mlops_iac.drift import wire

TYPE = "mlops:azure:DriftJob"
METRIC_NAMESPACE = wire.NAMESPACE
METRIC = wire.METRIC
FUNCTION = "drift_timer"
# The Function App resource log category of the host's and the code's logs.
FUNCTION_LOG = "FunctionAppLogs"
# Metric alert windows (allowed: PT1M … P1D) long enough to see one run's point.
_ALERT_WINDOW = {"hourly": ("PT15M", "PT1H"), "daily": ("PT1H", "P1D"), "weekly": ("PT1H", "P1D")}
_BLOB_ATTRIBUTE = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
_BLOB_PATH = f"@Resource[{_BLOB_ATTRIBUTE}:path]"
_BLOB_PREFIX = f"@Request[{_BLOB_ATTRIBUTE}:prefix]"
_BLOB_ACTION = _BLOB_ATTRIBUTE
PACKAGE_CONTAINER = "drift-packages"


def ncrontab(schedule: str) -> str:
    """The Azure Functions timer expression of a ``monitoring.drift`` schedule.

    Functions take NCRONTAB, six fields with seconds first (``{second} {minute} {hour} {day}
    {month} {day-of-week}``), in UTC on Linux:
    https://learn.microsoft.com/en-us/azure/azure-functions/functions-bindings-timer#ncrontab-expressions
    """
    if schedule not in defaults.DRIFT_CRON:
        raise ValueError(
            f"schedule must be one of {', '.join(defaults.DRIFT_CRON)}, got {schedule!r}"
        )
    return f"0 {defaults.DRIFT_CRON[schedule]}"


@functools.cache
def drift_package() -> pulumi.AssetArchive:
    """``host.json``, the timer function and every module of ``mlops_iac.drift``."""
    import mlops_iac.drift as package

    folder = Path(package.__file__).resolve().parent
    assets: dict[str, pulumi.Asset | pulumi.Archive] = {
        f"mlops_iac/drift/{path.name}": pulumi.FileAsset(str(path))
        for path in sorted(folder.glob("*.py"))
    }
    assets["host.json"] = pulumi.StringAsset('{"version": "2.0", "functionTimeout": "00:10:00"}\n')
    assets[f"{FUNCTION}/function.json"] = pulumi.StringAsset(
        '{"scriptFile": "__init__.py", "entryPoint": "main", "bindings": [{"name": "timer", '
        '"type": "timerTrigger", "direction": "in", "schedule": "%DRIFT_SCHEDULE%", '
        '"runOnStartup": false, "useMonitor": true}]}\n'
    )
    assets[f"{FUNCTION}/__init__.py"] = pulumi.StringAsset(
        "from mlops_iac.drift.handlers import azure_handler\n\n\n"
        "def main(timer) -> None:\n    azure_handler(timer)\n"
    )
    return pulumi.AssetArchive(assets)


def package_digest() -> str:
    """A digest of the package's content: the blob name changes (and the app restarts on the new
    package) exactly when the code does."""
    import mlops_iac.drift as package

    digest = hashlib.sha256()
    for path in sorted(Path(package.__file__).resolve().parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


@dataclass(frozen=True, kw_only=True)
class DriftJobArgs(DriftJobArgsBase):
    """Inputs of the Azure ``DriftJob``."""

    FIELD_NOTES: ClassVar[Mapping[str, str]] = {
        "endpoint_name": (
            "Online endpoint whose collected inputs are checked (metric dimension, report folder)."
        ),
        "artifact_bucket_name": (
            "The artifact store's storage account: capture, baselines, reports, the package "
            "and the Functions host's containers. Required."
        ),
        "dataset_version": (
            "Lineage ``datasetVersion`` (DVC hash) of the deployed model's training data."
        ),
        "environment": ("``dev``, ``staging`` or ``prod``. Default ``dev``."),
        "window_hours": ("Hours of capture per run. Default 0: the schedule's period."),
        "ks": ("KS threshold. Default 0.1."),
        "jensen_shannon": ("Jensen-Shannon distance threshold. Default 0.1."),
        "tags": (
            "Extra tags on every child. Default: none (the stack's lineage transform adds lineage)."
        ),
    }

    resource_group_name: pulumi.Input[str]
    """Resource group of the function, its plan, identity and alert. Required."""
    storage_account_id: pulumi.Input[str]
    """ARM id of that account (role assignment scopes). Required."""
    capture_container_name: pulumi.Input[str]
    """Container of the workspace's default blob datastore (``azureml-blobstore-<workspace
    id>``), where the data collector writes. Required."""
    action_group_id: pulumi.Input[str]
    """Action group (the alert channel) the drift alert acts on. Required."""
    retraining_queue_id: pulumi.Input[str] | None = None
    """ARM id of the retraining queue (Monitoring's ``retraining_trigger``). Default: none (the
    job only alerts, with a warning)."""
    retraining_queue_url: pulumi.Input[str | None] | None = None
    """URL of that queue (``https://<account>.queue.core.windows.net/<queue>``)."""
    integration_subnet_id: pulumi.Input[str] | None = None
    """Subnet the function joins (``PrivateNetwork.functions_subnet_id``): delegated to
    ``Microsoft.Web/serverFarms``, with the ``Microsoft.Storage`` service endpoint, and admitted
    by the artifact account's firewall (``ArtifactStoreArgs.allowed_subnet_ids``). With it the
    function runs on Elastic Premium EP1. Default: none: Linux Consumption, which reaches only an
    account that admits public traffic (with a warning)."""
    location: pulumi.Input[str] | None = None
    """Region of the function and its plan. Default: the resource group's."""
    report_container: str = defaults.DVC_CONTAINER
    """Container holding ``drift/baselines/`` and ``drift/reports/``. Default ``dvc`` (the
    artifact store's DVC container)."""


class DriftJob(Component):
    """Scheduled drift check of one online endpoint's collected inputs, alerted and wired to
    retraining.

    Children: ``{name}-identity`` (user-assigned identity of the function);
    ``{name}-hosts`` / ``{name}-secrets`` (the Functions host's ``azure-webjobs-hosts`` and
    ``azure-webjobs-secrets`` containers in the artifact account); ``{name}-package-store`` (a
    small account that holds only the package: Shared Key on, because azure-native uploads with
    the account key, network open so the deployer and the platform reach it, no anonymous
    access; protected in prod) with ``{name}-packages`` (``drift-packages``) and
    ``{name}-package`` (the zip, named by its content digest);
    ``{name}-plan`` (with ``integration_subnet_id``: Linux Elastic Premium EP1, one instance;
    without: Linux Consumption Y1) and ``{name}-function`` (named ``func-<name>-<hash>`` up
    front, so that its settings carry its own ARM id as the metric's subject; Python 3.11,
    HTTPS only, FTPS off,
    identity-based host storage, run from the package URL; with a subnet: VNet integration with
    all outbound traffic routed into the network); role assignments of the
    identity: ``{name}-host-storage`` / ``{name}-host-secrets`` (Storage Blob Data Owner on the
    host's two containers only), ``{name}-read-package`` (Blob Data Reader on the package
    container), ``{name}-read-capture`` (Blob Data Reader on the capture container, condition:
    reads and listings under ``modelDataCollector/`` only), ``{name}-reports`` (Blob Data
    Contributor on the report container, condition: reads and listings under ``drift/``, writes
    and deletes under ``drift/reports/`` only), ``{name}-metrics`` (Monitoring Metrics
    Publisher on the function app only) and, with a retraining queue,
    ``{name}-retraining-sender`` (Queue Data Message Sender on that queue only);
    ``{name}-alert`` (metric alert ``DriftedFeatures > 0`` for the endpoint, acting on the
    action group); ``{name}-logs`` (Log Analytics workspace) with ``{name}-function-logs`` (the
    app's ``FunctionAppLogs``) and ``{name}-failed-runs`` (log alert on a failed run, acting on
    the action group).

    Outputs: ``function_name``, ``function_id``, ``schedule_name`` (the timer function,
    ``<app>/drift_timer``), ``schedule`` (NCRONTAB), ``alarm_name`` and ``alert_id`` (the metric
    alert), ``baseline_uri``, ``report_uri``.
    """

    function_name: pulumi.Output[str]
    function_id: pulumi.Output[str]
    schedule_name: pulumi.Output[str]
    schedule: pulumi.Output[str]
    alarm_name: pulumi.Output[str]
    alert_id: pulumi.Output[str]
    baseline_uri: pulumi.Output[str]
    report_uri: pulumi.Output[str]

    def __init__(
        self, name: str, args: DriftJobArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, component_opts(opts))
        from mlops_iac.drift.store import REPORTS, baseline_key

        if args.schedule not in defaults.DRIFT_CRON:
            raise ValueError(
                f"DriftJob {name}: schedule must be one of {', '.join(defaults.DRIFT_CRON)}"
            )
        config = client_config(self)
        baseline_uri = pulumi.Output.from_input(
            f"az://{args.report_container}/{baseline_key(args.dataset_version)}"
        )
        report_uri = pulumi.Output.concat(
            f"az://{args.report_container}/{REPORTS}/", args.endpoint_name
        )
        identity = managedidentity.UserAssignedIdentity(
            f"{name}-identity",
            resource_group_name=args.resource_group_name,
            location=args.location,
            tags=args.tags,
            opts=child_opts(self),
        )
        grant = functools.partial(_grant, self, config, identity.principal_id)
        package_url, host_ready = self._host_storage(name, args, config, grant)
        self._data_grants(name, args, grant)
        plan = self._plan(name, args)
        self.plan = plan
        schedule = ncrontab(args.schedule)
        # Named up front: the job publishes its metric about the app itself, so its settings
        # carry the app's own ARM id, which an auto-name would reveal only after creation.
        site_name = unique_name(self, config, name, "func", limit=60, dashes=True)
        metric_subject = _MetricSubject(
            resource_id=pulumi.Output.all(
                config.subscription_id, args.resource_group_name, site_name
            ).apply(
                lambda parts: (
                    f"/subscriptions/{parts[0]}/resourceGroups/{parts[1]}"
                    f"/providers/Microsoft.Web/sites/{parts[2]}"
                )
            ),
            # The ingestion endpoint's region: the app's, as ARM spells it (``westeurope``).
            region=plan.location.apply(lambda where: where.replace(" ", "").lower()),
        )
        settings = _app_settings(
            args, identity, package_url, schedule, baseline_uri, report_uri, metric_subject
        )
        function = self._function(name, site_name, args, plan, identity, settings, host_ready)
        self._publisher_grants(name, args, function, grant)
        alert = self._alert(name, args, function)
        self._failed_runs_alert(name, args, function)
        self.register(
            function_name=function.name,
            function_id=function.id,
            # The timer lives in the app as one function: the schedule is named after it.
            schedule_name=pulumi.Output.concat(function.name, "/", FUNCTION),
            schedule=pulumi.Output.from_input(schedule),
            alarm_name=alert.name,
            alert_id=alert.id,
            baseline_uri=baseline_uri,
            report_uri=report_uri,
        )

    def _host_storage(
        self,
        name: str,
        args: DriftJobArgs,
        config: pulumi.Output[authorization.GetClientConfigResult],
        grant: _Grant,
    ) -> tuple[pulumi.Output[str], list[pulumi.Resource]]:
        """The Functions host's containers, the package account and blob, and the host's grants.

        Returns the package's blob URL and what the host needs before it starts.
        """
        rg, account = args.resource_group_name, args.artifact_bucket_name

        def container(
            logical: str, container_name: str, in_account: pulumi.Input[str]
        ) -> storage.BlobContainer:
            return storage.BlobContainer(
                logical,
                resource_group_name=rg,
                account_name=in_account,
                container_name=container_name,
                public_access="None",
                opts=child_opts(self),
            )

        hosts = container(f"{name}-hosts", "azure-webjobs-hosts", account)
        secrets = container(f"{name}-secrets", "azure-webjobs-secrets", account)
        package_store = self._package_account(name, args, config)
        packages = container(f"{name}-packages", PACKAGE_CONTAINER, package_store.name)
        blob_name = f"{name}-{package_digest()}.zip"
        package = storage.Blob(
            f"{name}-package",
            resource_group_name=rg,
            account_name=package_store.name,
            container_name=packages.name,
            blob_name=blob_name,
            type="Block",
            content_type="application/zip",
            source=drift_package(),
            opts=child_opts(self),
        )
        owner = defaults.ROLE_STORAGE_BLOB_DATA_OWNER
        reader = defaults.ROLE_STORAGE_BLOB_DATA_READER
        scope = functools.partial(_container_scope, args.storage_account_id)
        host_grants = [
            grant(f"{name}-host-storage", owner, scope(hosts.name),
                  "Functions host: timer schedule state and locks"),
            grant(f"{name}-host-secrets", owner, scope(secrets.name), "Functions host: host keys"),
            grant(f"{name}-read-package", reader, _container_scope(package_store.id, packages.name),
                  "Functions platform: the drift job's package"),
        ]  # fmt: skip
        url = pulumi.Output.concat(
            _blob_endpoint(package_store.name), "/", packages.name, "/", blob_name
        )
        # Another Function App of the stack (the rollout guard) runs from the same package
        # account and host containers, under its own identity.
        self.package_store, self.package_container = package_store, packages
        self.host_containers = (hosts, secrets)
        return url, [package, *host_grants]

    def _package_account(
        self,
        name: str,
        args: DriftJobArgs,
        config: pulumi.Output[authorization.GetClientConfigResult],
    ) -> storage.StorageAccount:
        """A small account that holds only the function's package (this package's own source).

        Why not the artifact account: azure-native uploads a blob's ``source`` with the account
        key (it lists the keys and signs with Shared Key), which the artifact account refuses
        (shared keys off), and its firewall admits only the function's subnet, not the deployer:
        https://github.com/pulumi/pulumi-azure-native/issues/2015
        This account therefore allows Shared Key and public network access, and nothing else
        is stored in it. Reads stay authenticated: no anonymous blob access, and the function
        fetches its package with its managed identity (Blob Data Reader on the container only).
        The platform fetches ``WEBSITE_RUN_FROM_PACKAGE`` from here without the integration
        subnet, so the app starts whatever route that fetch takes.
        """
        return storage.StorageAccount(
            f"{name}-package-store",
            account_name=unique_name(self, config, f"{name}-package", "st", limit=24),
            resource_group_name=args.resource_group_name,
            location=args.location,
            kind=defaults.STORAGE_KIND,
            sku={"name": defaults.STORAGE_SKU_DEV},
            enable_https_traffic_only=True,
            minimum_tls_version=defaults.MIN_TLS_VERSION,
            allow_blob_public_access=defaults.ALLOW_BLOB_PUBLIC_ACCESS,
            # Needed by the provider's upload, nothing else (see the docstring).
            allow_shared_key_access=True,
            default_to_o_auth_authentication=True,
            allow_cross_tenant_replication=False,
            public_network_access="Enabled",
            network_rule_set={"default_action": "Allow", "bypass": defaults.NETWORK_BYPASS},
            encryption={
                "key_source": "Microsoft.Storage",
                "require_infrastructure_encryption": defaults.INFRASTRUCTURE_ENCRYPTION,
                "services": {"blob": {"enabled": True, "key_type": "Account"}},
            },
            tags=args.tags,
            # Protected in prod like every production store (the package itself is replaced
            # whenever the code changes: its name is the content digest).
            opts=child_opts(self, protect=args.environment == "prod"),
        )

    def _data_grants(self, name: str, args: DriftJobArgs, grant: _Grant) -> None:
        """The job's reads of the collected inputs and baselines, and its writes of reports."""
        from mlops_iac.drift.store import REPORTS

        grant(
            f"{name}-read-capture",
            defaults.ROLE_STORAGE_BLOB_DATA_READER,
            _container_scope(args.storage_account_id, args.capture_container_name),
            "Drift job: read the data collector's files",
            _only_under("modelDataCollector/", ("read",)),
        )
        grant(
            f"{name}-reports",
            defaults.ROLE_STORAGE_BLOB_DATA_CONTRIBUTOR,
            _container_scope(args.storage_account_id, args.report_container),
            "Drift job: read baselines, write reports",
            pulumi.Output.concat(
                _only_under("drift/", ("read",)),
                " AND ",
                _only_under(f"{REPORTS}/", ("write", "add/action", "delete")),
            ),
        )

    def _plan(self, name: str, args: DriftJobArgs) -> web.AppServicePlan:
        """Elastic Premium EP1 with an integration subnet, else Linux Consumption (warned)."""
        elastic = args.integration_subnet_id is not None
        if not elastic:
            pulumi.log.warn(
                f"DriftJob {name}: no integration_subnet_id, so the function runs on Linux "
                "Consumption without VNet integration and reaches only an account whose firewall "
                "admits public traffic (the ArtifactStore's does not)",
                self,
            )
        # Elastic Premium on Linux: kind elastic, reserved, a worker cap.
        # https://learn.microsoft.com/en-us/azure/azure-functions/functions-infrastructure-as-code#deploy-on-premium-plan
        return web.AppServicePlan(
            f"{name}-plan",
            resource_group_name=args.resource_group_name,
            location=args.location,
            kind="elastic" if elastic else "linux",
            reserved=True,  # Linux
            sku=dict(defaults.DRIFT_PLAN_SKU if elastic else defaults.DRIFT_CONSUMPTION_SKU),
            maximum_elastic_worker_count=defaults.DRIFT_PLAN_MAX_WORKERS if elastic else None,
            tags=args.tags,
            opts=child_opts(self),
        )

    def _function(
        self,
        name: str,
        site_name: pulumi.Input[str],
        args: DriftJobArgs,
        plan: web.AppServicePlan,
        identity: managedidentity.UserAssignedIdentity,
        settings: dict[str, pulumi.Input[str | None]],
        host_ready: list[pulumi.Resource],
    ) -> web.WebApp:
        """The Function App, started only once its package and host storage are usable."""
        return function_app(
            self,
            name,
            site_name=site_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            plan_id=plan.id,
            integration_subnet_id=args.integration_subnet_id,
            identity_id=identity.id,
            settings=settings,
            tags=args.tags,
            # The host starts only once it may read its package and use its containers.
            depends_on=host_ready,
        )

    def _publisher_grants(
        self, name: str, args: DriftJobArgs, function: web.WebApp, grant: _Grant
    ) -> None:
        """Metrics about the function itself; messages into the retraining queue (or a warning)."""
        # The metric is about the function app: it may publish metrics about itself only.
        grant(
            f"{name}-metrics",
            defaults.ROLE_MONITORING_METRICS_PUBLISHER,
            function.id,
            "Drift job: publish mlops/drift metrics about itself",
        )
        if args.retraining_queue_id is not None:
            grant(
                f"{name}-retraining-sender",
                defaults.ROLE_STORAGE_QUEUE_DATA_MESSAGE_SENDER,
                args.retraining_queue_id,
                "Drift job: put a message into the retraining queue on drift",
            )
        else:
            pulumi.log.warn(
                f"DriftJob {name}: no retraining queue, so drift alerts but triggers no retraining",
                self,
            )

    def _alert(self, name: str, args: DriftJobArgs, function: web.WebApp) -> monitor.MetricAlert:
        """Metric alert ``DriftedFeatures > 0`` for the endpoint, acting on the action group."""
        frequency, window_size = _ALERT_WINDOW[args.schedule]
        return monitor.MetricAlert(
            f"{name}-alert",
            resource_group_name=args.resource_group_name,
            location="global",
            description="Data drift detected by the drift job; the report is under drift/reports/",
            severity=2,
            enabled=True,
            auto_mitigate=True,
            scopes=[function.id],
            evaluation_frequency=frequency,
            window_size=window_size,
            criteria=monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
                odata_type="Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                all_of=[
                    monitor.MetricCriteriaArgs(
                        criterion_type="StaticThresholdCriterion",
                        name="drifted-features",
                        metric_namespace=METRIC_NAMESPACE,
                        metric_name=METRIC,
                        operator="GreaterThan",
                        threshold=0,
                        time_aggregation="Maximum",
                        dimensions=[
                            monitor.MetricDimensionArgs(
                                name="Endpoint", operator="Include", values=[args.endpoint_name]
                            )
                        ],
                        # A custom metric exists only after the first run publishes it.
                        skip_metric_validation=True,
                    )
                ],
            ),
            actions=[{"action_group_id": args.action_group_id}],
            tags=args.tags,
            opts=child_opts(self),
        )

    def _failed_runs_alert(self, name: str, args: DriftJobArgs, function: web.WebApp) -> None:
        """The Function's host logs in a Log Analytics workspace and a log alert on its failed
        runs: a run that raises publishes no metric, so the drift alert cannot see it."""
        self.logs: pulumi.Output[str] = failed_runs_alert(
            self,
            name,
            function=function,
            functions=[FUNCTION],
            description="A drift run failed: no drift verdict and no metric for this run",
            resource_group_name=args.resource_group_name,
            location=args.location,
            action_group_id=args.action_group_id,
            tags=args.tags,
        )


def failed_runs_query(app_id: pulumi.Input[str], functions: Sequence[str]) -> pulumi.Output[str]:
    """KQL over ``FunctionAppLogs``: the error rows of ``functions`` of the app ``app_id``.

    The host writes a row's ``FunctionName`` as ``Functions.<name>`` (its ``Category`` is
    ``Function.<name>``), as a raw ``FunctionAppLogs`` event shows
    (https://github.com/Azure/azure-functions-host/issues/7603); both spellings match, in case
    ingestion ever drops the prefix. A failed execution logs ``Executed 'Functions.<name>'
    (Failed, ...)`` and the exception at ``Error``; ``Critical`` counts too.
    https://learn.microsoft.com/azure/azure-monitor/reference/tables/functionapplogs
    https://learn.microsoft.com/azure/azure-monitor/reference/queries/functionapplogs
    """
    names = " or ".join(
        f"FunctionName =~ '{spelling}'" for f in functions for spelling in (f"Functions.{f}", f)
    )
    return pulumi.Output.concat(
        "FunctionAppLogs | where _ResourceId =~ '",
        app_id,
        f"' | where ({names}) and (Level == 'Error' or Level == 'Critical')",
    )


def failed_runs_alert(
    parent: Component,
    name: str,
    *,
    function: web.WebApp,
    functions: Sequence[str],
    description: str,
    resource_group_name: pulumi.Input[str],
    location: pulumi.Input[str] | None,
    action_group_id: pulumi.Input[str],
    tags: pulumi.Input[Mapping[str, pulumi.Input[str]]] | None,
    workspace_id: pulumi.Input[str] | None = None,
) -> pulumi.Output[str]:
    """``{name}-function-logs`` (the app's ``FunctionAppLogs`` into a Log Analytics workspace:
    ``workspace_id``, default a new ``{name}-logs``) and ``{name}-failed-runs`` (log alert on an
    error row of ``functions``, acting on ``action_group_id``). Returns the workspace id.
    https://learn.microsoft.com/azure/azure-functions/monitor-functions-reference#resource-logs
    """
    if workspace_id is None:
        workspace_id = operationalinsights.Workspace(
            f"{name}-logs",
            resource_group_name=resource_group_name,
            location=location,
            sku={"name": "PerGB2018"},
            retention_in_days=defaults.LOG_RETENTION_DAYS,
            tags=tags,
            opts=child_opts(parent),
        ).id
    setting = monitor.DiagnosticSetting(
        f"{name}-function-logs",
        resource_uri=function.id,
        workspace_id=workspace_id,
        log_analytics_destination_type="Dedicated",
        logs=[{"category": FUNCTION_LOG, "enabled": True}],
        opts=child_opts(parent),
    )
    monitor.ScheduledQueryRule(
        f"{name}-failed-runs",
        resource_group_name=resource_group_name,
        location=location,
        description=description,
        severity=2,
        auto_mitigate=False,
        scopes=[workspace_id],
        **new_workspace_log_alert(),
        criteria=monitor.ScheduledQueryRuleCriteriaArgs(
            all_of=[
                monitor.ConditionArgs(
                    query=failed_runs_query(function.id, functions),
                    time_aggregation="Count",
                    operator="GreaterThan",
                    threshold=0,
                    failing_periods=monitor.ConditionFailingPeriodsArgs(
                        number_of_evaluation_periods=1, min_failing_periods_to_alert=1
                    ),
                )
            ]
        ),
        actions=monitor.ActionsArgs(action_groups=[action_group_id]),
        tags=tags,
        opts=child_opts(parent, depends_on=[setting]),
    )
    return pulumi.Output.from_input(workspace_id)


@dataclass(frozen=True)
class _MetricSubject:
    """The resource the job publishes its custom metrics about, and that resource's region."""

    resource_id: pulumi.Output[str]
    region: pulumi.Output[str]


class _Grant(Protocol):
    """``_grant`` bound to the component, its client config and the identity's principal."""

    def __call__(
        self,
        logical: str,
        role: str,
        on: pulumi.Input[str],
        description: str,
        condition: pulumi.Input[str] | None = None,
    ) -> authorization.RoleAssignment: ...


def _grant(
    parent: pulumi.Resource,
    config: pulumi.Output[authorization.GetClientConfigResult],
    principal: pulumi.Input[str],
    logical: str,
    role: str,
    on: pulumi.Input[str],
    description: str,
    condition: pulumi.Input[str] | None = None,
) -> authorization.RoleAssignment:
    """Role assignment ``logical`` of the built-in ``role`` to the job's identity on ``on``
    (an ABAC ``condition`` narrows it to paths)."""
    return authorization.RoleAssignment(
        logical,
        scope=on,
        principal_id=principal,
        principal_type="ServicePrincipal",
        role_definition_id=role_definition_id(config, role),
        description=description,
        condition=condition,
        condition_version="2.0" if condition is not None else None,
        opts=child_opts(parent),
    )


def _container_scope(
    account_id: pulumi.Input[str], container_name: pulumi.Input[str]
) -> pulumi.Output[str]:
    """ARM id of a blob container in the account (a role assignment scope)."""
    return pulumi.Output.concat(account_id, "/blobServices/default/containers/", container_name)


def _blob_endpoint(account: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.concat("https://", account, ".blob.core.windows.net")


def _app_settings(
    args: DriftJobArgs,
    identity: managedidentity.UserAssignedIdentity,
    package_url: pulumi.Output[str],
    schedule: str,
    baseline_uri: pulumi.Output[str],
    report_uri: pulumi.Output[str],
    metric_subject: _MetricSubject,
) -> dict[str, pulumi.Input[str | None]]:
    """The Function App's settings: identity-based host storage, the package, the job's config."""
    from mlops_iac.drift.handlers import job_environment

    account = args.artifact_bucket_name
    settings: dict[str, pulumi.Input[str | None]] = {
        "FUNCTIONS_EXTENSION_VERSION": "~4",
        "FUNCTIONS_WORKER_RUNTIME": "python",
        # Identity-based host storage: no account key anywhere.
        "AzureWebJobsStorage__accountName": account,
        "AzureWebJobsStorage__credential": "managedidentity",
        "AzureWebJobsStorage__clientId": identity.client_id,
        "WEBSITE_RUN_FROM_PACKAGE": package_url,
        "WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID": identity.id,
        "AZURE_CLIENT_ID": identity.client_id,
        "DRIFT_SCHEDULE": schedule,
        "DRIFT_STORAGE_ACCOUNT_URL": _blob_endpoint(account),
        "DRIFT_CAPTURE_COLLECTION": "model_inputs",
        # The custom metric's subject: the app itself (its Monitoring Metrics Publisher grant
        # and the metric alert are scoped to it).
        "DRIFT_METRIC_RESOURCE_ID": metric_subject.resource_id,
        "DRIFT_METRIC_REGION": metric_subject.region,
        **job_environment(
            capture_uri=pulumi.Output.concat(
                "az://",
                args.capture_container_name,
                "/modelDataCollector/",
                args.endpoint_name,
                "/",
            ),  # fmt: skip
            baseline_uri=baseline_uri,
            report_uri=report_uri,
            endpoint=args.endpoint_name,
            fmt="azure-capture",
            window_hours=args.window_hours or defaults.DRIFT_WINDOW_HOURS[args.schedule],
            namespace=METRIC_NAMESPACE,
            thresholds=args.drift_thresholds(),
        ),
    }
    if args.retraining_queue_url is not None:
        settings["DRIFT_RETRAINING_QUEUE_URL"] = args.retraining_queue_url
    return settings


def _only_under(prefix: str, actions: Sequence[str]) -> str:
    """An ABAC condition: the blob ``actions`` are allowed only on paths under ``prefix``.

    ``read`` covers two operations. Get Blob carries the blob's path; List Blobs (the ``Blob.List``
    suboperation of the same action) has no path attribute, only the request's ``prefix``, so a
    path condition alone denies every listing. Reads are therefore narrowed by path and listings
    by prefix (a listing without a prefix is denied):
    https://learn.microsoft.com/azure/storage/blobs/storage-auth-abac-attributes#list-blobs
    https://learn.microsoft.com/en-us/azure/role-based-access-control/conditions-format
    """
    clauses = []
    others = [a for a in actions if a != "read"]
    if others:
        denied = " AND ".join(f"!(ActionMatches{{'{_BLOB_ACTION}/{a}'}})" for a in others)
        clauses.append(f"(({denied}) OR ({_BLOB_PATH} StringStartsWith '{prefix}'))")
    if "read" in actions:
        read = f"ActionMatches{{'{_BLOB_ACTION}/read'}}"
        listing = "SubOperationMatches{'Blob.List'}"
        clauses.append(
            f"((!({read} AND NOT {listing})) OR ({_BLOB_PATH} StringStartsWith '{prefix}'))"
        )
        clauses.append(
            f"((!({read} AND {listing})) OR ({_BLOB_PREFIX} StringStartsWith '{prefix}'))"
        )
    return " AND ".join(clauses)
