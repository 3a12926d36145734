"""AWS's cross-field and lifecycle rules (registered in ``lifecycle.base.RULES``)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from mlops_iac.plan.deploy.base import DeployError, error, physical_name_of
from mlops_iac.plan.deploy.lifecycle.base import get, of, rule
from mlops_iac.plan.deploy.state import StateResource
from mlops_iac.spec.limits import (
    SAGEMAKER_BLUE_GREEN,
    SAGEMAKER_LINEAR_STEP_PERCENT_MIN,
    SAGEMAKER_STEP_PERCENT_MAX,
    step_instances,
    traffic_shifts,
)

SM_AUTOSCALE_UPDATE = "https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html"


@rule("aws-sagemaker-autoscaled-instance-type-change", SM_AUTOSCALE_UPDATE)
def sagemaker_instance_type_change(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    if not state:
        return
    configs_now = {
        physical_name_of(c): c
        for c in of(resources, "aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    }
    configs_then = {
        physical_name_of(s): s
        for s in state
        if s.type == "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
    }
    endpoints_then = {s.urn: s for s in state if s.type == "aws:sagemaker/endpoint:Endpoint"}
    scaled = {
        str(t.inputs.get("resourceId"))
        for t in list(of(resources, "aws:appautoscaling/target:Target"))
        + [s for s in state if s.type == "aws:appautoscaling/target:Target"]
    }
    for endpoint in of(resources, "aws:sagemaker/endpoint:Endpoint"):
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
                yield error(
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
        yield error(
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
        for c in of(resources, "aws:sagemaker/endpointConfiguration:EndpointConfiguration")
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
    for endpoint in of(resources, "aws:sagemaker/endpoint:Endpoint"):
        routing = get(endpoint.inputs, _ROUTING)
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
                yield error(
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
                yield error(
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


_BLUE_GREEN = "deploymentConfig.blueGreenUpdatePolicy"
_STRATEGY = {"CANARY": "canary", "LINEAR": "linear", "ALL_AT_ONCE": "all-at-once"}


def _shifts(routing: Mapping[str, Any], fleet: int | None) -> int | None:
    """How many traffic shifts the routing makes (``spec.limits.traffic_shifts``); None when
    the plan does not say (a linear step without a known fleet in instances)."""
    strategy = _STRATEGY.get(str(routing.get("type")))
    if strategy != "linear":
        return traffic_shifts(strategy, 0, fleet or 1) if strategy else None
    step = routing.get("linearStepSize") or {}
    value = step.get("value")
    if not isinstance(value, int | float) or value <= 0 or not fleet:
        return None
    if step.get("type") == "INSTANCE_COUNT":
        return -(-fleet // int(value)) if value >= 1 else None
    return traffic_shifts("linear", float(value), fleet)


@rule("aws-sagemaker-bluegreen-timeout", SAGEMAKER_BLUE_GREEN)
def sagemaker_blue_green_timeout(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    for endpoint in of(resources, "aws:sagemaker/endpoint:Endpoint"):
        policy = get(endpoint.inputs, _BLUE_GREEN)
        if not isinstance(policy, Mapping):
            continue
        timeout = policy.get("maximumExecutionTimeoutInSeconds")
        routing = policy.get("trafficRoutingConfiguration")
        if not isinstance(timeout, int | float) or not isinstance(routing, Mapping):
            continue
        shifts = _shifts(routing, _fleet(endpoint, resources))
        wait = routing.get("waitIntervalInSeconds") or 0
        termination = policy.get("terminationWaitInSeconds") or 0
        if shifts is None or not isinstance(wait, int | float):
            continue
        waits = shifts * wait + termination
        if timeout <= waits:
            yield error(
                endpoint,
                "aws-sagemaker-bluegreen-timeout",
                f"{_BLUE_GREEN}.maximumExecutionTimeoutInSeconds",
                timeout,
                f"the blue/green execution timeout must be larger than the rollout's waits: "
                f"{shifts} traffic shift(s) x {wait:g} s + {termination:g} s termination wait "
                f"= {waits:g} s; the update times out and rolls back (or is refused)",
                SAGEMAKER_BLUE_GREEN,
            )


LAMBDA_CONCURRENCY = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html"
LAMBDA_CONCURRENCY_CONFIG = "mlops-iac:lambdaConcurrencyLimit"
LAMBDA_UNRESERVED_MINIMUM = 100
"""Concurrency Lambda keeps unreserved on an account whose limit allows it."""


@rule("aws-lambda-reserved-concurrency-new-account", LAMBDA_CONCURRENCY)
def lambda_reserved_concurrency(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    """Reserved concurrency the account cannot give. "You can reserve up to the Unreserved
    account concurrency value minus 100"; a new account's limit is 10, all of which must stay
    unreserved, so any reservation fails there. With the account's limit in config
    (``mlops-iac:lambdaConcurrencyLimit``, e.g. from ``mlops-iac preflight``) the plan's
    reservations are checked against it; without it, only a first deploy (no state) is refused,
    since a stack that deployed before has shown its account is not new."""
    functions = [
        (fn, int(reserved))
        for fn in of(resources, "aws:lambda/function:Function")
        # Numbers arrive as floats from the engine; -1 is the provider's "no reservation".
        if isinstance(reserved := fn.inputs.get("reservedConcurrentExecutions"), int | float)
        and not isinstance(reserved, bool)
        and reserved > 0
    ]
    limit = str(config.get(LAMBDA_CONCURRENCY_CONFIG, "")).strip()
    if limit.isdigit():
        allowed = int(limit) - LAMBDA_UNRESERVED_MINIMUM
        why = f"the account's concurrency limit {limit} minus 100 leaves {max(allowed, 0)}"
        if sum(reserved for _, reserved in functions) <= allowed:
            return
    elif state:
        return
    else:
        why = (
            "a new account's concurrency limit is 10, all of which Lambda keeps unreserved "
            f"(set config {LAMBDA_CONCURRENCY_CONFIG} to the account's limit to check it)"
        )
    for fn, reserved in functions:
        yield error(
            fn,
            "aws-lambda-reserved-concurrency-new-account",
            "reservedConcurrentExecutions",
            reserved,
            f"PutFunctionConcurrency would fail: {why}; drop the reservation or raise the "
            "account's concurrent executions quota (L-B99A9384) first",
            LAMBDA_CONCURRENCY,
        )


_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<repo>[^:@]+)"
)
ECR_SOURCE = "https://docs.aws.amazon.com/AmazonECR/latest/userguide/docker-pull-ecr-image.html"


@rule("aws-image-repository-not-created", ECR_SOURCE)
def aws_image_repository(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    from mlops_iac.plan.mocks.base import ACCOUNT_ID

    repositories = {
        physical_name_of(r)
        for r in list(of(resources, "aws:ecr/repository:Repository"))
        + [s for s in state if s.type == "aws:ecr/repository:Repository"]
    }
    for model in of(resources, "aws:sagemaker/model:Model"):
        containers = [model.inputs.get("primaryContainer")] + list(
            model.inputs.get("containers") or []
        )
        for i, container in enumerate(c for c in containers if isinstance(c, Mapping)):
            image = str(container.get("image") or "")
            match = _ECR_IMAGE.match(image)
            if match and match["account"] == ACCOUNT_ID and match["repo"] not in repositories:
                yield error(
                    model,
                    "aws-image-repository-not-created",
                    "primaryContainer.image" if i == 0 else f"containers[{i - 1}].image",
                    image,
                    f"the image is in ECR repository {match['repo']!r} of this account, which the "
                    "stack does not create and the state does not hold",
                    ECR_SOURCE,
                )


# EKS gives the identity that creates a cluster an admin access entry unless the cluster says
# bootstrapClusterCreatorAdminPermissions false (the API's default is true); an AccessEntry for the
# same principal then fails (ResourceInUseException), e.g. https://github.com/pulumi/pulumi-eks/issues/2373.
EKS_CREATOR_ENTRY = (
    "https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateAccessConfigRequest.html"
)


@rule("aws-eks-access-entry-creator-duplicate", EKS_CREATOR_ENTRY)
def eks_access_entry_creator_duplicate(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    existing = {s.urn for s in state}
    created: dict[str, Any] = {}
    for cluster in of(resources, "aws:eks/cluster:Cluster"):
        if cluster.urn in existing:
            continue
        bootstrap = get(cluster.inputs, "accessConfig.bootstrapClusterCreatorAdminPermissions")
        if bootstrap is False:
            continue
        for name in (
            physical_name_of(cluster),
            (getattr(cluster, "outputs", None) or {}).get("name"),
        ):
            if name:
                created[str(name)] = cluster
    for entry in of(resources, "aws:eks/accessEntry:AccessEntry"):
        cluster = created.get(str(entry.inputs.get("clusterName")))
        if cluster is None:
            continue
        yield error(
            entry,
            "aws-eks-access-entry-creator-duplicate",
            "principalArn",
            entry.inputs.get("principalArn"),
            f"cluster {cluster.name!r} is created with the creator's admin entry "
            "(accessConfig.bootstrapClusterCreatorAdminPermissions is not false), so an access "
            "entry for the deploying principal fails as a duplicate, and offline the deployer is "
            "unknown: set it false on the cluster and list the deploying role among the entries",
            EKS_CREATOR_ENTRY,
        )


# The creator's entry is decided at creation only; the bridged provider marks the field ForceNew
# (https://github.com/hashicorp/terraform-provider-aws/issues/43404), so changing it replaces the
# cluster and everything on it.
EKS_ACCESS_ENTRIES = "https://docs.aws.amazon.com/eks/latest/userguide/access-entries.html"
_BOOTSTRAP = "accessConfig.bootstrapClusterCreatorAdminPermissions"


@rule("aws-eks-creator-admin-change-replaces-cluster", EKS_ACCESS_ENTRIES)
def eks_creator_admin_change(
    resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
) -> Iterator[DeployError]:
    before = {s.urn: s for s in state if s.type == "aws:eks/cluster:Cluster"}
    for cluster in of(resources, "aws:eks/cluster:Cluster"):
        old = before.get(cluster.urn)
        if old is None:
            continue
        was = get(old.inputs, _BOOTSTRAP)
        if was is None:
            was = get(old.outputs, _BOOTSTRAP)
        now = get(cluster.inputs, _BOOTSTRAP)
        if isinstance(was, bool) and isinstance(now, bool) and was != now:
            yield error(
                cluster,
                "aws-eks-creator-admin-change-replaces-cluster",
                _BOOTSTRAP,
                now,
                f"the deployed cluster has {_BOOTSTRAP.rsplit('.', 1)[-1]}={str(was).lower()}; "
                "EKS sets it only at creation, so this change replaces the cluster. Keep the "
                "deployed value (for TrainingCluster: keep training.access.adminRoleArns empty, or "
                "non-empty, as it was) and manage access entries instead",
                EKS_ACCESS_ENTRIES,
            )
