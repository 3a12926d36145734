"""GPU cost rules: pools scale to zero under a node cap, and the stack's max $/h fits the budget.

Prices come from the rule config (``nodeTypePrices``, filled by ``mlops-iac plan`` from the
components' GPU catalogue): this package imports no provider SDK and no ``components`` module. A
GPU node type without a price is a violation, so an unknown SKU cannot slip past the budget.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import ResourceValidationArgs, StackValidationArgs

from ._base import Report, Rule, fmt, get, items, number, short_type

# EC2 GPU families: g4dn, g5, g5g, g6, g6e, gr6, p3, p4d, p4de, p5, p5e...
_AWS_GPU = re.compile(r"^(g|gr|p)\d+[a-z]*\.")
_GCP_GPU = re.compile(r"^(a2|a3|a4|g2)-")


@dataclass(frozen=True)
class GpuPool:
    """What the cost rules need to know about one GPU node pool."""

    node_types: tuple[str, ...]
    min_nodes: float | None
    max_nodes: float | None


def _eks_node_group(props: Mapping[str, Any]) -> GpuPool | None:
    types = tuple(str(t) for t in items(props.get("instanceTypes")))
    tainted = any(get(t, "key") == "nvidia.com/gpu" for t in items(props.get("taints")))
    gpu_ami = any(k in str(props.get("amiType") or "") for k in ("GPU", "NVIDIA"))
    if not (tainted or gpu_ami or any(_AWS_GPU.match(t) for t in types)):
        return None
    scaling = props.get("scalingConfig")
    return GpuPool(types, number(get(scaling, "minSize")), number(get(scaling, "maxSize")))


def _aml_compute(props: Mapping[str, Any]) -> GpuPool | None:
    inner = get(props, "properties", "properties")
    size = get(inner, "vmSize")
    if not isinstance(size, str) or not size.lower().startswith("standard_n"):
        return None
    scale = get(inner, "scaleSettings")
    return GpuPool((size,), number(get(scale, "minNodeCount")), number(get(scale, "maxNodeCount")))


def _gke_node_pool(props: Mapping[str, Any]) -> GpuPool | None:
    node = props.get("nodeConfig")
    machine = str(get(node, "machineType") or "")
    if not items(get(node, "guestAccelerators")) and not _GCP_GPU.match(machine):
        return None
    auto = props.get("autoscaling")
    if auto is None:
        fixed = number(props.get("nodeCount"))
        return GpuPool((machine,), fixed, fixed)
    low = get(auto, "minNodeCount")
    high = get(auto, "maxNodeCount")
    if high is None:
        low, high = get(auto, "totalMinNodeCount"), get(auto, "totalMaxNodeCount")
    return GpuPool((machine,), number(low), number(high))


POOL_TYPES: Mapping[str, Callable[[Mapping[str, Any]], GpuPool | None]] = {
    "aws:eks/nodeGroup:NodeGroup": _eks_node_group,
    "azure-native:machinelearningservices:Compute": _aml_compute,
    "gcp:container/nodePool:NodePool": _gke_node_pool,
}


def gpu_pool(resource_type: str, props: Mapping[str, Any]) -> GpuPool | None:
    """The GPU pool a resource defines, or None for anything that is not a GPU pool."""
    extract = POOL_TYPES.get(resource_type)
    return extract(props) if extract else None


@dataclass(frozen=True)
class PoolSpend:
    """One pool at its max size. ``name`` is whatever label the caller passed in."""

    name: str
    node_type: str
    max_nodes: float
    usd_per_node_hour: float | None

    @property
    def usd_per_hour(self) -> float | None:
        if self.usd_per_node_hour is None:
            return None
        return self.max_nodes * self.usd_per_node_hour


@dataclass(frozen=True)
class GpuSpend:
    """The worst-case GPU spend of a stack: every pool at its max size, at on-demand prices."""

    pools: tuple[PoolSpend, ...]

    @property
    def usd_per_hour(self) -> float:
        return sum(p.usd_per_hour or 0.0 for p in self.pools)

    @property
    def unpriced(self) -> tuple[PoolSpend, ...]:
        return tuple(p for p in self.pools if p.usd_per_node_hour is None)


def gpu_spend(
    resources: Iterable[tuple[str, str, Mapping[str, Any]]], prices: Mapping[str, float]
) -> GpuSpend:
    """Max GPU $/h of ``(type, name, props)`` triples; a pool's priciest node type counts."""
    pools = []
    for resource_type, name, props in resources:
        pool = gpu_pool(resource_type, props)
        if pool is None:
            continue
        unknown = [t for t in pool.node_types if t not in prices] or (
            [] if pool.node_types else ["<unspecified>"]
        )
        if unknown:
            price, node_type = None, unknown[0]
        else:
            price, node_type = max((float(prices[t]), t) for t in pool.node_types)
        pools.append(PoolSpend(name, node_type, pool.max_nodes or 0.0, price))
    return GpuSpend(tuple(pools))


# --- pool caps -----------------------------------------------------------------------------------


def _validate_caps(args: ResourceValidationArgs, report: Report) -> None:
    pool = gpu_pool(args.resource_type, args.props)
    if pool is None:
        return
    config = args.get_config()
    cap = float(config.get("maxNodes", 16))
    if config.get("requireScaleToZero", True) and pool.min_nodes != 0:
        shown = "unset" if pool.min_nodes is None else fmt(pool.min_nodes)
        report(f"minimum size is {shown}: a GPU pool must scale to zero when idle")
    if pool.max_nodes is None:
        report("maximum size is not set: the pool has no upper bound")
    elif pool.max_nodes > cap:
        report(f"maximum size {fmt(pool.max_nodes)} exceeds the cap of {fmt(cap)} nodes")


POOL_CAPS = Rule(
    name="mlops-gpu-pool-caps",
    description="GPU node pools scale to zero and stay under a maximum node count.",
    remediation=(
        "Keep training.minNodes at 0 and training.maxNodes at or below the cap (policy config "
        "maxNodes); GPU pools are defined by TrainingCluster."
    ),
    kind="resource",
    validate=_validate_caps,
    config={
        "maxNodes": {"type": "number", "minimum": 0, "default": 16},
        "requireScaleToZero": {"type": "boolean", "default": True},
    },
)


# --- budget --------------------------------------------------------------------------------------


def _validate_budget(args: StackValidationArgs, report: Report) -> None:
    config = args.get_config()
    pools = [r for r in args.resources if gpu_pool(r.resource_type, r.props) is not None]
    if not pools:
        args.not_applicable("no GPU pools in the stack")
    budget = config.get("gpuBudgetUsdPerHour")
    if budget is None:
        args.not_applicable("no gpuBudgetUsdPerHour configured")
        return  # not reached: not_applicable raises (the SDK types it as returning None)
    spend = gpu_spend(
        ((r.resource_type, r.urn, r.props) for r in pools), config.get("nodeTypePrices", {})
    )
    by_urn = {r.urn: r for r in pools}
    for pool in spend.unpriced:
        resource = by_urn[pool.name]
        report(
            f"{short_type(resource.resource_type)} '{resource.name}': no price for node type "
            f"{pool.node_type!r}, so its cost cannot be bounded",
            resource.urn,
        )
    total = spend.usd_per_hour
    if total > float(budget):
        parts = ", ".join(
            f"'{by_urn[p.name].name}' {fmt(p.max_nodes)} x {p.node_type} at "
            f"{fmt(p.usd_per_node_hour)} $/h"
            for p in spend.pools
            if p.usd_per_node_hour is not None
        )
        report(
            f"max GPU spend {total:.2f} $/h exceeds the budget of {fmt(float(budget))} $/h "
            f"({parts})"
        )


BUDGET = Rule(
    name="mlops-gpu-budget",
    description="The stack's maximum GPU spend per hour stays within gpuBudgetUsdPerHour.",
    remediation=(
        "Lower training.maxNodes, pick a cheaper training.gpu, or raise "
        "governance.gpuBudgetUsdPerHour in the stack file; add a price for any new node type "
        "to the policy config (nodeTypePrices)."
    ),
    kind="stack",
    validate=_validate_budget,
    config={
        "gpuBudgetUsdPerHour": {"type": "number", "exclusiveMinimum": 0},
        "nodeTypePrices": {
            "type": "object",
            "additionalProperties": {"type": "number", "minimum": 0},
            "default": {},
            "description": "On-demand USD per node-hour by instance / VM / machine type.",
        },
    },
)

RULES: tuple[Rule, ...] = (POOL_CAPS, BUDGET)
