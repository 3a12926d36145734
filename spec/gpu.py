"""GPU catalogue: neutral GPU names mapped to each cloud's instance/VM/machine type.

Prices are approximate on-demand list prices per node-hour in the cheapest common region
(us-east-1 / eastus / us-central1) at the time of writing, taken from the public price pages:

- AWS: https://aws.amazon.com/ec2/pricing/on-demand/
- Azure: https://azure.microsoft.com/en-us/pricing/details/virtual-machines/linux/
- GCP: https://cloud.google.com/compute/gpus-pricing and https://cloud.google.com/compute/vm-instance-pricing

They feed cost caps (``max_usd_per_hour``) and the GPU budget policy, so they err on the high side
and are not a bill. Spot / low-priority capacity is priced at the on-demand rate for the same
reason: a cap must hold when spot capacity is unavailable and the pool falls back.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlops_iac.spec.clouds import NAMES as CLOUDS
from mlops_iac.spec.clouds import Cloud


@dataclass(frozen=True)
class GpuOffering:
    """One cloud's node type for a GPU model."""

    gpu: str
    cloud: Cloud
    node_type: str
    """EC2 instance type, Azure VM size, or GCE machine type."""
    accelerator: str
    """Accelerator name as the cloud spells it (GKE guest accelerator type, product label)."""
    gpus_per_node: int
    usd_per_node_hour: float
    spot_alternatives: tuple[tuple[str, float], ...] = ()
    """Node types with the same GPU model and GPU count (the next size up: more vCPUs and
    memory) that a spot pool also lists, so one spot pool running dry does not stop scale-up;
    each with its on-demand price per node-hour (the ceiling of its spot price)."""

    @property
    def usd_per_gpu_hour(self) -> float:
        return self.usd_per_node_hour / self.gpus_per_node

    def node_types(self, spot: bool) -> tuple[str, ...]:
        """The pool's node types: this one, and on spot its alternatives."""
        return (self.node_type, *(t for t, _ in self.spot_alternatives if spot))

    def max_usd_per_node_hour(self, spot: bool) -> float:
        """The dearest of the pool's node types (what a cost cap must assume)."""
        return max([self.usd_per_node_hour, *(p for _, p in self.spot_alternatives if spot)])


def _offer(
    gpu: str,
    cloud: Cloud,
    node: str,
    accel: str,
    count: int,
    usd: float,
    spot_alternatives: tuple[tuple[str, float], ...] = (),
) -> GpuOffering:
    return GpuOffering(gpu, cloud, node, accel, count, usd, spot_alternatives)


_OFFERINGS: tuple[GpuOffering, ...] = (
    # AWS EC2. Spot alternatives: several instance types per spot node group
    # (https://docs.aws.amazon.com/eks/latest/userguide/managed-node-groups.html, capacity types),
    # only the same GPU model and count, so the pool's GPU labels hold on every node. p4d, p4de and
    # p5 come in one size: their pools keep one type.
    _offer("t4", "aws", "g4dn.xlarge", "nvidia-t4", 1, 0.526, (("g4dn.2xlarge", 0.752),)),
    _offer("a10g", "aws", "g5.xlarge", "nvidia-a10g", 1, 1.006, (("g5.2xlarge", 1.212),)),
    _offer("l4", "aws", "g6.xlarge", "nvidia-l4", 1, 0.805, (("g6.2xlarge", 0.9776),)),
    _offer("a100-40gb", "aws", "p4d.24xlarge", "nvidia-a100-40gb", 8, 21.96),
    _offer("a100-80gb", "aws", "p4de.24xlarge", "nvidia-a100-80gb", 8, 27.45),
    _offer("h100", "aws", "p5.48xlarge", "nvidia-h100-80gb", 8, 55.04),
    # Azure (no A10G or L4 SKU is offered)
    _offer("t4", "azure", "Standard_NC4as_T4_v3", "nvidia-t4", 1, 0.526),
    _offer("a100-40gb", "azure", "Standard_ND96asr_v4", "nvidia-a100-40gb", 8, 27.20),
    _offer("a100-80gb", "azure", "Standard_NC24ads_A100_v4", "nvidia-a100-80gb", 1, 3.673),
    _offer("h100", "azure", "Standard_NC40ads_H100_v5", "nvidia-h100-94gb", 1, 6.98),
    # GCP (machine price plus attached GPU price; no A10G)
    _offer("t4", "gcp", "n1-standard-4", "nvidia-tesla-t4", 1, 0.54),
    _offer("l4", "gcp", "g2-standard-4", "nvidia-l4", 1, 0.707),
    _offer("a100-40gb", "gcp", "a2-highgpu-1g", "nvidia-tesla-a100", 1, 3.673),
    _offer("a100-80gb", "gcp", "a2-ultragpu-1g", "nvidia-a100-80gb", 1, 5.069),
    _offer("h100", "gcp", "a3-highgpu-8g", "nvidia-h100-80gb", 8, 88.25),
)

CATALOGUE: dict[tuple[str, Cloud], GpuOffering] = {(o.gpu, o.cloud): o for o in _OFFERINGS}
GPU_NAMES: tuple[str, ...] = tuple(dict.fromkeys(o.gpu for o in _OFFERINGS))


class UnknownGpuError(ValueError):
    """A GPU name that is not in the catalogue, or not offered on the chosen cloud."""


def gpus_for(cloud: Cloud) -> tuple[str, ...]:
    """The neutral GPU names offered on ``cloud``, in catalogue order."""
    return tuple(o.gpu for o in _OFFERINGS if o.cloud == cloud)


def lookup(gpu: str, cloud: Cloud) -> GpuOffering:
    """Return the offering of ``gpu`` on ``cloud``.

    Raises ``UnknownGpuError`` naming the valid choices when the name is unknown or the cloud
    does not offer that GPU.
    """
    if cloud not in CLOUDS:
        raise UnknownGpuError(f"unknown cloud {cloud!r}; valid choices: {', '.join(CLOUDS)}")
    offering = CATALOGUE.get((gpu, cloud))
    if offering is not None:
        return offering
    valid = ", ".join(gpus_for(cloud))
    if gpu in GPU_NAMES:
        raise UnknownGpuError(f"GPU {gpu!r} is not offered on {cloud}; valid choices: {valid}")
    raise UnknownGpuError(f"unknown GPU {gpu!r}; valid choices on {cloud}: {valid}")


def max_usd_per_hour(gpu: str, cloud: Cloud, max_nodes: int, spot: bool = False) -> float:
    """Worst-case hourly list price of a pool of ``max_nodes`` nodes of ``gpu`` on ``cloud``
    (on spot, of its dearest node type)."""
    return GpuPool(lookup(gpu, cloud), 0, max_nodes, spot).max_usd_per_hour


def node_type_prices() -> dict[str, float]:
    """Every catalogued node type (spot alternatives included) → its on-demand USD per hour."""
    prices = {o.node_type: o.usd_per_node_hour for o in _OFFERINGS}
    for offering in _OFFERINGS:
        prices.update(offering.spot_alternatives)
    return prices


@dataclass(frozen=True)
class GpuPool:
    """A scale-to-zero-capable GPU pool: its node offering and worst-case size and price."""

    offering: GpuOffering
    min_nodes: int
    max_nodes: int
    spot: bool = False

    @property
    def max_gpus(self) -> int:
        return self.max_nodes * self.offering.gpus_per_node

    @property
    def max_usd_per_hour(self) -> float:
        return round(self.offering.max_usd_per_node_hour(self.spot) * self.max_nodes, 2)


def pool(
    gpu: str, cloud: Cloud, min_nodes: int, max_nodes: int, *, label: str, spot: bool = False
) -> GpuPool:
    """Validate a pool's bounds and look its GPU up; errors name ``label`` (the component)."""
    if min_nodes < 0 or max_nodes < min_nodes:
        raise ValueError(f"{label}: need 0 <= min_nodes <= max_nodes")
    return GpuPool(lookup(gpu, cloud), min_nodes, max_nodes, spot)
