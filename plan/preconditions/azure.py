"""Azure preconditions of a plan: resource providers to register, Azure Machine Learning cores
quota for the training cluster and the online deployments."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from mlops_iac.plan.preconditions import Precondition, get, number, of

PROVIDERS = (
    "https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/"
    "resource-providers-and-types"
)
PROVIDER_SERVICES = (
    "https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/"
    "azure-services-resource-providers"
)
AML_QUOTAS = "https://learn.microsoft.com/en-us/azure/machine-learning/how-to-manage-quotas"
ENDPOINT_QUOTAS = (
    "https://learn.microsoft.com/en-us/azure/machine-learning/how-to-manage-quotas"
    "#azure-machine-learning-online-endpoints-and-batch-endpoints"
)
VM_SIZES = "https://learn.microsoft.com/en-us/azure/virtual-machines/sizes/overview"

# azure-native module → the resource provider namespace its types live in (the page above maps
# services to namespaces). Microsoft.Resources and Microsoft.Authorization are registered in
# every subscription and need no step.
NAMESPACES: dict[str, str] = {
    "machinelearningservices": "Microsoft.MachineLearningServices",
    "storage": "Microsoft.Storage",
    "keyvault": "Microsoft.KeyVault",
    "containerregistry": "Microsoft.ContainerRegistry",
    "web": "Microsoft.Web",
    "insights": "Microsoft.Insights",
    "monitor": "Microsoft.Insights",
    "applicationinsights": "Microsoft.Insights",
    "operationalinsights": "Microsoft.OperationalInsights",
    "eventgrid": "Microsoft.EventGrid",
    "network": "Microsoft.Network",
    "privatedns": "Microsoft.Network",
    "managedidentity": "Microsoft.ManagedIdentity",
    "consumption": "Microsoft.Consumption",
    "portal": "Microsoft.Portal",
    "compute": "Microsoft.Compute",
    "containerservice": "Microsoft.ContainerService",
    "eventhub": "Microsoft.EventHub",
    "servicebus": "Microsoft.ServiceBus",
    "dashboard": "Microsoft.Dashboard",
}
ALWAYS_REGISTERED = frozenset({"resources", "authorization"})

# VM size → (vCPUs, the family name Azure Machine Learning's usages list reports) for the sizes
# the GPU catalogue (spec.gpu) and the serving defaults use.
VM_FAMILIES: dict[str, tuple[int, str]] = {
    "Standard_NC4as_T4_v3": (4, "standardNCASv3_T4Family"),
    "Standard_NC24ads_A100_v4": (24, "standardNCADSA100v4Family"),
    "Standard_ND96asr_v4": (96, "standardNDASv4_A100Family"),
    "Standard_NC40ads_H100_v5": (40, "standardNCadsH100v5Family"),
    "Standard_DS3_v2": (4, "standardDSv2Family"),
    "Standard_DS2_v2": (2, "standardDSv2Family"),
    "Standard_D4s_v3": (4, "standardDSv3Family"),
    "Standard_F4s_v2": (4, "standardFSv2Family"),
}
LOW_PRIORITY = "TotalLowPriorityCores"
# Managed online endpoints reserve 20% more cores than the instances use, for upgrades.
ENDPOINT_HEADROOM = 1.2


def providers(resources: list[Any]) -> list[Precondition]:
    """One registration per namespace the plan's resource types live in."""
    needed: dict[str, set[str]] = {}
    unmapped: set[str] = set()
    for resource in resources:
        parts = resource.type.split(":")
        if parts[0] != "azure-native" or len(parts) != 3 or parts[1] in ALWAYS_REGISTERED:
            continue
        namespace = NAMESPACES.get(parts[1])
        if namespace is None:
            unmapped.add(parts[1])
            continue
        needed.setdefault(namespace, set()).add(f"{parts[1]}:{parts[2]}")
    found = [
        Precondition(
            id=f"azure-provider-{namespace}",
            cloud="azure",
            what=f"resource provider {namespace} is registered in the subscription",
            detail=f"For {', '.join(sorted(types))}. A subscription must register a provider "
            "before it creates its resources (Contributor may register; a first deploy with a "
            "narrower role fails with MissingSubscriptionRegistration).",
            source_url=PROVIDERS,
            seen_by="preflight",
            check={"kind": "azure-provider", "namespace": namespace},
        )
        for namespace, types in sorted(needed.items())
    ]
    found += [
        Precondition(
            id=f"azure-provider-module-{module}",
            cloud="azure",
            what=f"the resource provider of azure-native module {module!r} is registered",
            detail="This module's namespace is not in the toolkit's table; find it on the "
            "services-to-providers page and register it.",
            source_url=PROVIDER_SERVICES,
            seen_by="deploy-only",
        )
        for module in sorted(unmapped)
    ]
    return found


def _autoscale_max(resources: list[Any]) -> dict[str, int]:
    """Deployment name → the autoscale profile's maximum instance count."""
    found: dict[str, int] = {}
    for setting in of(resources, "azure-native:monitor:AutoscaleSetting"):
        target = str(setting.inputs.get("targetResourceUri") or "")
        if "/deployments/" not in target:
            continue
        name = target.rsplit("/deployments/", 1)[1]
        maxima = [number(get(p, "capacity.maximum")) for p in setting.inputs.get("profiles") or []]
        found[name] = max((m for m in maxima if m is not None), default=0)
    return found


def cores(resources: list[Any], config: Mapping[str, Any]) -> list[Precondition]:
    """Cores quota per (quota name): training clusters at max nodes, deployments at max × 1.2."""
    location = str(config.get("azure-native:location") or "") or None
    # quota name → [(what uses it, vCPUs needed or None when the size is unknown)]
    uses: dict[str, list[tuple[str, int | None]]] = {}
    unknown: list[str] = []
    for compute in of(resources, "azure-native:machinelearningservices:Compute"):
        props = get(compute.inputs, "properties.properties") or {}
        size = str(props.get("vmSize") or "")
        nodes = number(get(props, "scaleSettings.maxNodeCount")) or 0
        if not size:
            continue
        known = VM_FAMILIES.get(size)
        low = str(props.get("vmPriority") or "Dedicated") == "LowPriority"
        if known is None and not low:
            unknown.append(f"{compute.name} ({size})")
            continue
        quota = LOW_PRIORITY if low else known[1]  # type: ignore[index]
        need = nodes * known[0] if known else None
        uses.setdefault(quota, []).append((f"{compute.name}: {nodes} × {size}", need))
    maxima = _autoscale_max(resources)
    for deployment in of(resources, "azure-native:machinelearningservices:OnlineDeployment"):
        props = deployment.inputs.get("properties") or {}
        if props.get("endpointComputeType") != "Managed":
            continue
        size = str(props.get("instanceType") or "")
        name = str(deployment.inputs.get("deploymentName") or deployment.name)
        count = maxima.get(name) or number(get(deployment.inputs, "sku.capacity")) or 0
        known = VM_FAMILIES.get(size)
        if known is None:
            unknown.append(f"{deployment.name} ({size})")
            continue
        need = math.ceil(count * known[0] * ENDPOINT_HEADROOM)
        uses.setdefault(known[1], []).append((f"{deployment.name}: {count} × {size} + 20%", need))
    found = []
    for quota, users in sorted(uses.items()):
        total = None if any(n is None for _, n in users) else sum(n or 0 for _, n in users)
        endpoint = any("+ 20%" in u for u, _ in users)
        found.append(
            Precondition(
                id=f"azure-aml-quota-{quota}",
                cloud="azure",
                what=f"Azure Machine Learning quota {quota} in {location or 'the stack region'}: "
                + (f"at least {total} free cores" if total is not None else "enough free cores"),
                detail="; ".join(u for u, _ in users)
                + ". Training clusters and managed online endpoints draw on the subscription's "
                "Azure Machine Learning quota (low-priority nodes on one regional total); both "
                "deployments run at once during a rollout.",
                source_url=ENDPOINT_QUOTAS if endpoint else AML_QUOTAS,
                seen_by="preflight",
                check={
                    "kind": "azure-aml-usage",
                    "location": location,
                    "quota": quota,
                    "need": total,
                },
            )
        )
    found += [
        Precondition(
            id=f"azure-aml-quota-unknown-{item.split(' ', 1)[0]}",
            cloud="azure",
            what=f"Azure Machine Learning cores quota for {item}",
            detail="The VM size is not in the toolkit's table of families; check its family's "
            "quota under Azure Machine Learning → Quota.",
            source_url=VM_SIZES,
            seen_by="deploy-only",
        )
        for item in sorted(unknown)
    ]
    return found


def derive(resources: list[Any], config: Mapping[str, Any]) -> list[Precondition]:
    """Every Azure precondition of the recorded resources."""
    return [*providers(resources), *cores(resources, config)]
