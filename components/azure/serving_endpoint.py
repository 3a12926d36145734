"""ServingEndpoint on Azure: a managed online endpoint with blue/green deployments and a split."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import pulumi
from pulumi_azure_native import machinelearningservices, monitor, resources

from mlops_iac.components._component import (
    Component,
    child_opts,
    component_opts,
    field_of,
    read_live,
    require_not_prod,
    secure_default,
)
from mlops_iac.components.azure import _defaults as defaults
from mlops_iac.components.contract_types import ServingEndpointArgsBase
from mlops_iac.drift.rollout import RECORD_KEY, read_record, rollout_view
from mlops_iac.drift.rollout_azure import model_key

TYPE = "mlops:azure:ServingEndpoint"
ACTIVE = "blue"
STANDBY = "green"
STRATEGIES = ("canary", "linear", "all-at-once")
# The rollout share stays a minority: the previous version on blue serves the rest until the
# rollout is declared done (rollout_in_progress false).
MAX_ROLLOUT_PERCENT = 50
DEPLOYMENT_METRICS = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments"
ENDPOINT_TYPE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
ENDPOINT_API_VERSION = "2024-04-01"
ARM_TEMPLATE_SCHEMA = (
    "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
)


@dataclass(frozen=True, kw_only=True)
class ModelDeployment:
    """One model version to deploy."""

    name: str
    """Model name in the registry."""
    version: str
    """Model version in the registry."""
    model_id: str | None = None
    """AzureML model asset id. Default: ``azureml://registries/<registry>/models/<name>/versions/
    <version>`` with ``registry_name``, else the workspace asset ``azureml:<name>:<version>``."""
    environment_id: str | None = None
    """AzureML environment asset (inference image). Default: none (MLflow models need none)."""
    tags: Mapping[str, str] | None = None
    """Lineage serving tags of this version (``lineage.serving_tags``, sanitised). Default: none."""


@dataclass(frozen=True, kw_only=True)
class ServingEndpointArgs(ServingEndpointArgsBase):
    """Inputs of ``ServingEndpoint``."""

    FIELD_NOTES: ClassVar[Mapping[str, str]] = {
        "rollout_strategy": (
            "``canary``, ``linear`` or ``all-at-once``: the share ``active_model`` takes "
            "while ``rollout_in_progress`` (``canary_percent``, ``linear_step_percent``, or "
            "100%). Default ``canary``. An endpoint's traffic is a declared map (no timed "
            "shifting as on AWS): each linear step is one ``pulumi up`` with a larger "
            "``linear_step_percent``."
        ),
        "canary_percent": ("Share of ``active_model`` during a canary (1–50). Default 10."),
        "linear_step_percent": (
            "Share of ``active_model`` at the current linear step (1–50). Default 20."
        ),
        "environment": (
            "``dev``, ``staging`` or ``prod``. Default ``dev``. Prod uses Entra ID tokens "
            "(``AADToken``) instead of keys and disables public network access and deployment"
            " egress."
        ),
        "min_replicas": ("Autoscale lower bound per deployment. Default 1."),
        "max_replicas": ("Autoscale upper bound per deployment. Default 2."),
        "public_endpoint": (
            "Reachable from the internet even with ``private_network``. Default: false; "
            "refused in prod."
        ),
        "tags": (
            "Extra tags on every child. Default: none (the stack's lineage transform adds lineage)."
        ),
    }

    resource_group_name: pulumi.Input[str]
    """Resource group of the AzureML workspace. Required."""
    workspace_name: pulumi.Input[str]
    """AzureML workspace that hosts the endpoint. Required."""
    active_model: ModelDeployment
    """The version this apply deploys: on ``blue`` with 100%, or on ``green`` with the rollout
    share while ``rollout_in_progress``, or on ``green`` with 0% on a ``rollback``. Required."""
    previous_model: ModelDeployment | None = None
    """The version it replaces, kept deployed for rollback: on ``green`` with 0%, or on ``blue``
    with the rest while ``rollout_in_progress``. Default: none (no green deployment; rollback
    impossible). Roll back with ``rollback`` (swapping the two versions does the same)."""
    rollout_in_progress: bool = False
    """A rollout of ``active_model`` is baking: ``previous_model`` keeps the majority on
    ``blue``. Default: false (``active_model`` takes 100%, ``previous_model`` is the warm
    standby). Needs a ``previous_model``."""
    location: pulumi.Input[str] | None = None
    """Azure region. Default: the resource group's."""
    registry_name: pulumi.Input[str] | None = None
    """AzureML registry the models come from. Default: the workspace's own models."""
    instance_type: str | None = None
    """VM size of each replica. Default ``Standard_DS3_v2``."""
    private_network: bool | None = None
    """Score only through the workspace's private endpoint (public network access off).
    Default: true in prod, false elsewhere (public, with key or Entra ID auth), so that the
    endpoint is reachable either way."""
    capture: bool = True
    """Collect request and response payloads (data collector: ``model_inputs``/``model_outputs``
    to the workspace's default datastore, the artifact store). Default: true."""
    keep_live_rollout: bool = True
    """Read the rollout function's record from the live endpoint at every apply (one GET) and
    keep the split it left: 0% after an automatic rollback, the share a promotion reached; the
    record tag is kept on the endpoint. Needs the stack output ``endpoint_name`` (the contract's)
    to find the deployed endpoint. Default: true. False declares the stack file's split as
    written."""


class ServingEndpoint(Component):
    """Managed online endpoint: ``blue`` serves the active model, ``green`` the standby.

    Traffic is the endpoint's ``traffic`` map: ``{"blue": 100, "green": 0}`` (``{"blue": 100}``
    without a standby). While ``rollout_in_progress`` (canary or linear), ``blue`` keeps serving
    ``previous_model`` with ``100 - share`` and ``green`` takes ``active_model`` with ``share``, so
    the new version starts on the deployment that took no traffic; a manual rollback swaps the
    models so that ``blue`` serves the previous version with 100%. Azure has no alarm-driven
    automatic rollback for online endpoints: ``RolloutGuard`` (``rollout_guard``) adds one, and
    by hand the rollback is ``serving.rollback: true``. What that function did is in the
    endpoint's ``mlops-rollout`` tag: every apply reads it from the live endpoint (found through
    the stack output ``endpoint_name`` of the last deployment, read by ``{name}-deployed``, a
    reference to its own stack), keeps the tag and declares the split it left, so a later
    ``pulumi up`` (with or without ``--refresh``) does not silently undo a rollback or a
    promotion.

    Children: ``{name}-endpoint`` (system-assigned identity; ``AADToken`` auth and no public
    network access in prod, ``Key`` in dev), ``{name}-blue`` and ``{name}-green`` (managed
    deployments with Application Insights, request/response data collection and request logging,
    lineage serving tags), and ``{name}-blue-autoscale`` / ``{name}-green-autoscale`` (CPU-based
    autoscale between ``min_replicas`` and ``max_replicas``).

    One ``pulumi up`` from nothing: ARM rejects an endpoint whose ``traffic`` names deployments
    that do not exist, and a deployment needs its endpoint first. So ``{name}-endpoint`` is
    created without traffic (and ignores it afterwards), and ``{name}-traffic`` (an ARM template
    deployment that depends on both deployments) PUTs the endpoint again with the same body plus
    the traffic map. Every later change of the split or of the endpoint changes that template and
    is applied after the deployments it names exist.

    Outputs: ``endpoint_name``, ``endpoint_url`` (scoring URI), ``endpoint_id``,
    ``active_model_version``, ``previous_model_version`` (None without a standby),
    ``blue_deployment_name``, ``blue_deployment_id``, ``green_deployment_name``, ``traffic``,
    ``rollout`` (the rollout function's last record about ``active_model`` on the live endpoint,
    with the share the stack file declares and the one this update keeps; None without a record;
    export it as ``serving_rollout``).
    """

    endpoint_name: pulumi.Output[str]
    endpoint_url: pulumi.Output[str]
    endpoint_id: pulumi.Output[str]
    active_model_version: pulumi.Output[str]
    previous_model_version: pulumi.Output[str | None]
    blue_deployment_name: pulumi.Output[str]
    blue_deployment_id: pulumi.Output[str]
    green_deployment_name: pulumi.Output[str | None]
    traffic: pulumi.Output[dict[str, int]]
    rollout: pulumi.Output[dict[str, Any] | None]

    def __init__(
        self, name: str, args: ServingEndpointArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, component_opts(opts))
        label = f"ServingEndpoint {name}"
        public = secure_default(
            label, "public_endpoint", args.public_endpoint, defaults.PUBLIC_ENDPOINT
        )
        require_not_prod(label, args.environment, "public_endpoint", public)
        if not 1 <= args.min_replicas <= args.max_replicas:
            raise ValueError(f"{label}: need 1 <= min_replicas <= max_replicas")
        blue_model, green_model, share = rollout_slots(label, args)
        prod = args.environment == "prod"
        private = args.private_network if args.private_network is not None else prod
        public = not prod and (public or not private)
        live = self._live_tag(name, label, args)
        tag = live.apply(lambda pair: pair[0])
        new = _model_id(green_model, args.registry_name) if green_model is not None else None
        # The active model's declared share: on green while a rollout is in progress or rolled
        # back by hand, else on blue.
        active_share = share if green_model is args.active_model else 100 - share
        view = pulumi.Output.all(live, _model_id(args.active_model, args.registry_name), new).apply(
            lambda v: _rollout_view(v[0][0], v[1], v[2], share, active_share, v[0][1])
        )
        # Green's share: the one the record keeps while green rolls the active model out.
        green_share = view.apply(
            lambda found: found["share"] if found and green_model is args.active_model else share
        )
        traffic = green_share.apply(
            lambda kept: {ACTIVE: 100 - kept} | ({STANDBY: kept} if green_model is not None else {})
        )
        properties = {
            "auth_mode": "AADToken" if prod else "Key",
            "public_network_access": "Enabled" if public else "Disabled",
            "description": "mlops blue/green endpoint",
        }
        endpoint = self._endpoint(name, args, properties, tag)
        blue = self._deployment(name, ACTIVE, endpoint, blue_model, args, prod)
        green = None
        if green_model is not None:
            green = self._deployment(name, STANDBY, endpoint, green_model, args, prod)
        self._traffic(name, endpoint, properties, traffic, args, [blue, green])
        serving, other = served_and_standby(args)
        self.register(
            endpoint_name=endpoint.name,
            endpoint_url=endpoint.properties.scoring_uri,
            endpoint_id=endpoint.id,
            active_model_version=pulumi.Output.from_input(serving.version),
            previous_model_version=pulumi.Output.from_input(other.version if other else None),
            blue_deployment_name=blue.name,
            blue_deployment_id=blue.id,
            green_deployment_name=(
                green.name if green is not None else pulumi.Output.from_input(None)
            ),
            traffic=traffic,
            rollout=view,
        )

    def _live_tag(
        self, name: str, label: str, args: ServingEndpointArgs
    ) -> pulumi.Output[tuple[str | None, dict[str, int]]]:
        """(the ``mlops-rollout`` tag, the traffic map) of the live endpoint the last deployment
        exported as ``endpoint_name``; (None, {}) on a first deploy, without that output, or
        when the endpoint no longer exists."""
        if not args.keep_live_rollout:
            return pulumi.Output.from_input((None, {}))
        deployed = pulumi.StackReference(
            f"{name}-deployed",
            stack_name=f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}",
            opts=child_opts(self),
        )

        def read(values: list[Any]) -> tuple[str | None, dict[str, int]]:
            outputs, group, workspace = values
            endpoint = (outputs or {}).get("endpoint_name")
            if not isinstance(endpoint, str) or not endpoint:
                return None, {}
            found = read_live(
                label,
                f"online endpoint {endpoint}",
                lambda: machinelearningservices.get_online_endpoint(
                    endpoint_name=endpoint,
                    resource_group_name=group,
                    workspace_name=workspace,
                    opts=pulumi.InvokeOptions(parent=self),
                ),
            )
            if found is None:
                return None, {}
            tags = field_of(found, "tags")
            value = tags.get(RECORD_KEY) if isinstance(tags, Mapping) else None
            traffic = field_of(field_of(found, "properties"), "traffic")
            shares = {
                str(slot): int(pct)
                for slot, pct in (traffic.items() if isinstance(traffic, Mapping) else ())
                if isinstance(pct, int | float)
            }
            return (value if isinstance(value, str) else None), shares

        return pulumi.Output.unsecret(
            pulumi.Output.all(
                deployed.outputs, args.resource_group_name, args.workspace_name
            ).apply(read)
        )

    def _endpoint(
        self,
        name: str,
        args: ServingEndpointArgs,
        properties: dict[str, str],
        tag: pulumi.Output[str | None],
    ) -> machinelearningservices.OnlineEndpoint:
        """The online endpoint, created without traffic (``{name}-traffic`` owns the split),
        keeping the live rollout record ``tag``: the tag map is authoritative, and an update
        without it would erase what the rollout function did."""
        tags = pulumi.Output.all(pulumi.Output.from_input(args.tags or {}), tag).apply(
            lambda both: dict(both[0] or {}) | ({RECORD_KEY: both[1]} if both[1] else {})
        )
        return machinelearningservices.OnlineEndpoint(
            f"{name}-endpoint",
            resource_group_name=args.resource_group_name,
            workspace_name=args.workspace_name,
            location=args.location,
            identity={"type": "SystemAssigned"},
            properties=properties,
            tags=tags,
            opts=child_opts(self, ignore_changes=["properties.traffic"]),
        )

    def _traffic(
        self,
        name: str,
        endpoint: machinelearningservices.OnlineEndpoint,
        properties: dict[str, str],
        traffic: pulumi.Input[dict[str, int]],
        args: ServingEndpointArgs,
        deployments: list[machinelearningservices.OnlineDeployment | None],
    ) -> resources.Deployment:
        """An ARM template deployment that PUTs the endpoint with its traffic map once the
        deployments it names exist. The body repeats the endpoint's own properties, identity,
        location and tags, because the PUT replaces them.
        https://learn.microsoft.com/en-us/azure/machine-learning/how-to-safely-rollout-online-endpoints
        https://learn.microsoft.com/en-us/azure/azure-resource-manager/templates/deploy-rest

        It must run again after every PUT of the endpoint: the endpoint resource sends no
        ``traffic`` (ARM's create-or-update is a PUT, and whether one without ``traffic`` keeps
        the split is not documented: https://learn.microsoft.com/rest/api/azureml/online-endpoints/create-or-update).
        A PUT this program makes changes the repeated body; one that corrects drift (``pulumi up
        --refresh``) and resets the split changes the traffic the endpoint reports, which the
        template carries too (``variables.observedTraffic``, unused by ARM). Either way its
        input changes, so it runs after the endpoint and sets the split again.
        """
        camel = {
            "auth_mode": "authMode",
            "public_network_access": "publicNetworkAccess",
            "description": "description",
        }
        body = {camel[key]: value for key, value in properties.items()}
        template = {
            "$schema": ARM_TEMPLATE_SCHEMA,
            "contentVersion": "1.0.0.0",
            "resources": [
                {
                    "type": ENDPOINT_TYPE,
                    "apiVersion": ENDPOINT_API_VERSION,
                    "name": pulumi.Output.concat(args.workspace_name, "/", endpoint.name),
                    "location": endpoint.location,
                    "identity": {"type": "SystemAssigned"},
                    "tags": endpoint.tags,
                    "properties": {**body, "traffic": traffic},
                }
            ],
            "variables": {
                "observedTraffic": endpoint.properties.apply(
                    lambda current: dict(getattr(current, "traffic", None) or {})
                ),
            },
        }
        return resources.Deployment(
            f"{name}-traffic",
            resource_group_name=args.resource_group_name,
            properties=resources.DeploymentPropertiesArgs(mode="Incremental", template=template),
            opts=child_opts(self, depends_on=[d for d in deployments if d is not None]),
        )

    def _deployment(
        self,
        name: str,
        slot: str,
        endpoint: machinelearningservices.OnlineEndpoint,
        model: ModelDeployment,
        args: ServingEndpointArgs,
        prod: bool,
    ) -> machinelearningservices.OnlineDeployment:
        """Managed deployment ``{name}-{slot}`` of ``model`` and its CPU autoscale setting."""
        tags = {**(model.tags or {}), "mlops:deployment-slot": slot}
        deployment = machinelearningservices.OnlineDeployment(
            f"{name}-{slot}",
            resource_group_name=args.resource_group_name,
            workspace_name=args.workspace_name,
            endpoint_name=endpoint.name,
            deployment_name=slot,
            location=args.location,
            sku={"name": "Default", "capacity": args.min_replicas},
            properties=machinelearningservices.ManagedOnlineDeploymentArgs(
                endpoint_compute_type="Managed",
                model=_model_id(model, args.registry_name),
                environment_id=model.environment_id,
                instance_type=args.instance_type or defaults.SERVING_INSTANCE_TYPE,
                app_insights_enabled=True,
                egress_public_network_access="Disabled" if prod else "Enabled",
                scale_settings=machinelearningservices.DefaultScaleSettingsArgs(
                    scale_type="Default"
                ),
                data_collector=_data_collector() if args.capture else None,
                description=f"{model.name} version {model.version} ({slot})",
            ),
            tags=tags,
            # The autoscale setting below owns the instance count once the deployment exists:
            # re-sending sku.capacity would reset what autoscale chose on every update.
            # https://learn.microsoft.com/en-us/azure/machine-learning/how-to-autoscale-endpoints
            opts=child_opts(self, ignore_changes=["sku.capacity"]),
        )
        self._autoscale(f"{name}-{slot}-autoscale", deployment, args)
        return deployment

    def _autoscale(
        self,
        logical: str,
        deployment: machinelearningservices.OnlineDeployment,
        args: ServingEndpointArgs,
    ) -> None:
        """CPU-based autoscale of ``deployment`` between the minimum and maximum replicas."""
        monitor.AutoscaleSetting(
            logical,
            resource_group_name=args.resource_group_name,
            location=args.location,
            enabled=True,
            target_resource_uri=deployment.id,
            profiles=[
                {
                    "name": "cpu",
                    "capacity": {
                        "minimum": str(args.min_replicas),
                        "maximum": str(args.max_replicas),
                        "default": str(args.min_replicas),
                    },
                    "rules": [
                        _scale_rule(deployment.id, "GreaterThan", defaults.SCALE_OUT_CPU_PERCENT),
                        _scale_rule(deployment.id, "LessThan", defaults.SCALE_IN_CPU_PERCENT),
                    ],
                }
            ],
            tags=args.tags,
            opts=child_opts(self),
        )


def _data_collector() -> dict[str, object]:
    """Request/response data collection and request logging of a deployment (``capture``)."""
    return {
        "collections": {
            "model_inputs": {"data_collection_mode": "Enabled", "sampling_rate": 1.0},
            "model_outputs": {"data_collection_mode": "Enabled", "sampling_rate": 1.0},
        },
        "request_logging": {"capture_headers": ["x-request-id", "x-ms-client-request-id"]},
        "rolling_rate": "Hour",
    }


def served_and_standby(args: ServingEndpointArgs) -> tuple[ModelDeployment, ModelDeployment | None]:
    """(the version that takes traffic after this apply, the other one): ``previous_model``
    first on a ``rollback`` (the contract's one meaning), else ``active_model`` first."""
    if args.rollback and args.previous_model is not None:
        return args.previous_model, args.active_model
    return args.active_model, args.previous_model


def rollout_slots(
    label: str, args: ServingEndpointArgs
) -> tuple[ModelDeployment, ModelDeployment | None, int]:
    """(``blue``'s model, ``green``'s model, ``green``'s traffic percent) for ``args``.

    Azure online endpoints split traffic by a per-deployment percentage map that the safe-rollout
    guide updates step by step (we found no scheduled shifting), so a rollout is a declared
    share that each ``pulumi up`` sets:
    https://learn.microsoft.com/en-us/azure/machine-learning/how-to-safely-rollout-online-endpoints
    """
    if args.rollout_strategy not in STRATEGIES:
        raise ValueError(
            f"{label}: rollout_strategy {args.rollout_strategy!r} is not one of "
            f"{', '.join(STRATEGIES)}"
        )
    for key in ("canary_percent", "linear_step_percent"):
        if not 1 <= getattr(args, key) <= MAX_ROLLOUT_PERCENT:
            raise ValueError(f"{label}: {key} must be between 1 and {MAX_ROLLOUT_PERCENT}")
    if args.rollout_in_progress and args.previous_model is None:
        raise ValueError(f"{label}: rollout_in_progress needs a previous_model")
    if args.rollback:
        # The contract's rollback: previous_model serves everything, active_model stays warm.
        if args.previous_model is None:
            raise ValueError(f"{label}: rollback needs a previous_model")
        return args.previous_model, args.active_model, 0
    share = {"canary": args.canary_percent, "linear": args.linear_step_percent}.get(
        args.rollout_strategy, 100
    )
    if args.rollout_in_progress and args.previous_model is not None and share < 100:
        return args.previous_model, args.active_model, share
    return args.active_model, args.previous_model, 0


def _rollout_view(
    tag: str | None,
    active: str,
    green: str | None,
    declared: int,
    active_share: int,
    live: Mapping[str, int],
) -> dict[str, Any] | None:
    """What this update does with the live record ``tag`` when it is about the active model (on
    either deployment: a rollout declared over moves it to ``blue``). While the rollout is in
    progress the active model is on ``green`` (``declared``: green's share), and only then does
    the record keep its split; otherwise the active model gets ``active_share`` as declared.
    ``live``: the endpoint's traffic map, which a promotion's record must agree with."""
    record = read_record(tag)
    if record is None:
        return None
    slot, _, model = str(record.get("new", "")).partition(":")
    if model != model_key(str(active)):
        return None
    new = f"{STANDBY}:{model_key(str(green))}" if green is not None else ""
    view = rollout_view(record, new, declared, live.get(STANDBY))
    if view is None:  # about the active model, now on the other deployment: as declared
        return {"record": dict(record), "declaredShare": active_share, "share": active_share}
    return view


def _model_id(model: ModelDeployment, registry: pulumi.Input[str] | None) -> pulumi.Input[str]:
    if model.model_id:
        return model.model_id
    if registry is not None:
        return pulumi.Output.concat(
            "azureml://registries/", registry, f"/models/{model.name}/versions/{model.version}"
        )
    return f"azureml:{model.name}:{model.version}"


def _scale_rule(target: pulumi.Input[str], operator: str, threshold: int) -> dict[str, object]:
    return {
        "metric_trigger": {
            "metric_name": "CpuUtilizationPercentage",
            "metric_namespace": DEPLOYMENT_METRICS,
            "metric_resource_uri": target,
            "operator": operator,
            "statistic": "Average",
            "threshold": threshold,
            "time_aggregation": "Average",
            "time_grain": "PT1M",
            "time_window": "PT5M",
        },
        "scale_action": {
            "direction": "Increase" if operator == "GreaterThan" else "Decrease",
            "type": "ChangeCount",
            "value": "1",
            "cooldown": defaults.SCALE_COOLDOWN,
        },
    }
