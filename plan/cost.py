"""What a stack costs per month for what runs always, from the price table ``data/prices.json``.

Counted: NAT gateways, interface VPC endpoints and private endpoints, KMS keys (AWS), Kubernetes
control planes, node pools at their minimum size, the Azure Functions Elastic Premium plan,
serving instances at their minimum replicas, always-on Cloud Run GPU instances, and storage at an
assumed size (``assumedStorageGb`` per bucket or account). Not
counted: usage (requests, data processed, egress), and GPU training pools, which scale to zero
(their worst case is the GPU $/h beside this). A blue/green rollout runs a second fleet for its
duration: that is ``rollout_usd_per_hour``, not part of the month. A resource of a counted kind
whose size has no price entry is listed as unpriced, never as free.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PRICES_FILE = Path(__file__).with_name("data") / "prices.json"


@dataclass(frozen=True)
class Price:
    id: str
    usd: float
    unit: str
    region: str
    source: str
    checked: str
    note: str = ""


@dataclass(frozen=True)
class PriceTable:
    hours_per_month: float
    assumed_storage_gb: float
    prices: Mapping[str, Price]


@functools.cache
def price_table(path: Path = PRICES_FILE) -> PriceTable:
    """The price table (read once)."""
    raw = json.loads(path.read_text())
    prices = {
        key: Price(
            key,
            float(e["usd"]),
            e["unit"],
            e["region"],
            e["source"],
            e["checked"],
            e.get("note", ""),
        )
        for key, e in raw["prices"].items()
    }
    return PriceTable(float(raw["hoursPerMonth"]), float(raw["assumedStorageGb"]), prices)


@dataclass(frozen=True)
class Item:
    """One always-on cost: ``quantity`` units of a price entry (``None``: no entry)."""

    what: str
    resource: str
    resource_type: str
    quantity: float
    price: Price | None
    priced_as: str
    """The price entry id it needs (the missing one when ``price`` is ``None``)."""
    hours_per_month: float = 730.0

    @property
    def usd_per_month(self) -> float:
        if self.price is None:
            return 0.0
        per_unit = self.price.usd * (self.hours_per_month if self.price.unit == "hour" else 1)
        return round(self.quantity * per_unit, 2)

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "what": self.what,
            "resource": self.resource,
            "resourceType": self.resource_type,
            "quantity": self.quantity,
            "price": self.priced_as,
            "usdPerMonth": self.usd_per_month,
        }
        if self.price is not None:
            found.update(
                unit=self.price.unit,
                usdPerUnit=self.price.usd,
                source=self.price.source,
                checked=self.price.checked,
            )
        else:
            found["unpriced"] = True
        return found


@dataclass(frozen=True)
class Estimate:
    items: tuple[Item, ...] = field(default_factory=tuple)
    rollout_usd_per_hour: float = 0.0
    rollout_note: str = ""
    assumed_storage_gb: float = 100.0

    @property
    def usd_per_month(self) -> float:
        return round(sum(i.usd_per_month for i in self.items), 2)

    @property
    def unpriced(self) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.price is None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "usdPerMonth": self.usd_per_month,
            "items": [i.as_dict() for i in self.items],
            "rolloutUsdPerHour": round(self.rollout_usd_per_hour, 4),
            "rolloutNote": self.rollout_note,
            "assumedStorageGb": self.assumed_storage_gb,
            "priceTable": "plan/data/prices.json",
        }


def _get(value: Any, *keys: str) -> Any:
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _num(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


_ZONE = re.compile(r"^[a-z]+-[a-z]+\d+-[a-z]$")


def estimate(resources: Iterable[Any], table: PriceTable | None = None) -> Estimate:
    """The monthly always-on estimate of recorded ``resources`` (type, name, inputs)."""
    table = table or price_table()
    hours = table.hours_per_month
    items: list[Item] = []
    resources = list(resources)

    def add(what: str, r: Any, quantity: float, price_id: str) -> None:
        if quantity > 0:
            price = table.prices.get(price_id)
            items.append(Item(what, r.name, r.type, quantity, price, price_id, hours))

    configs = {
        _get(r.inputs, "name") or _get(r.outputs, "name"): r
        for r in resources
        if r.type == "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
    }
    targets = [r for r in resources if r.type == "aws:appautoscaling/target:Target"]
    gke_always_on = 0.0
    nats: list[Any] = []
    rollout = 0.0
    rollout_note = ""
    for r in resources:
        props = r.inputs or {}
        t = r.type
        if t == "aws:ec2/natGateway:NatGateway":
            add("NAT gateway", r, 1, "aws-nat-gateway")
        elif t == "aws:ec2/vpcEndpoint:VpcEndpoint":
            if str(props.get("vpcEndpointType") or "Gateway") == "Interface":
                zones = len(props.get("subnetIds") or []) or 1
                add(f"interface VPC endpoint ({zones} AZ)", r, zones, "aws-vpc-interface-endpoint")
        elif t == "aws:kms/key:Key":
            add("KMS key", r, 1, "aws-kms-key")
        elif t == "azure-native:network:PrivateEndpoint":
            add("private endpoint", r, 1, "azure-private-endpoint")
        elif t == "aws:eks/cluster:Cluster":
            add("EKS control plane", r, 1, "aws-eks-control-plane")
        elif t == "aws:eks/nodeGroup:NodeGroup":
            low = _num(_get(props, "scalingConfig", "minSize"))
            types = [str(x) for x in props.get("instanceTypes") or []] or ["<unspecified>"]
            add(f"node group at its minimum ({low:g} × {types[0]})", r, low, f"aws-ec2-{types[0]}")
        elif t == "aws:sagemaker/endpoint:Endpoint":
            name = _get(props, "name") or _get(r.outputs, "name")
            config = configs.get(_get(props, "endpointConfigName"))
            if config is None:
                continue
            variants = config.inputs.get("productionVariants") or []
            for variant in variants:
                kind = str(_get(variant, "instanceType"))
                count = _num(_get(variant, "initialInstanceCount"), 1)
                low = next(
                    (
                        _num(x.inputs.get("minCapacity"), count)
                        for x in targets
                        if f"endpoint/{name}/variant/{_get(variant, 'variantName')}"
                        == x.inputs.get("resourceId")
                    ),
                    count,
                )
                add(
                    f"endpoint instances at minimum replicas ({low:g} × {kind})",
                    r,
                    low,
                    f"aws-sagemaker-{kind}",
                )
                price = table.prices.get(f"aws-sagemaker-{kind}")
                if price is not None:
                    # SageMaker's blue/green update provisions the new fleet beside the old.
                    rollout += count * price.usd
                    rollout_note = (
                        "a SageMaker blue/green update runs the new fleet beside the old one "
                        "until traffic has shifted"
                    )
        elif t == "azure-native:web:AppServicePlan":
            sku = str(_get(props, "sku", "name") or "")
            if sku.upper().startswith("EP"):
                low = max(1.0, _num(_get(props, "sku", "capacity"), 1))
                add(
                    f"Functions Elastic Premium plan ({low:g} × {sku})",
                    r,
                    low,
                    f"azure-functions-{sku.lower()}",
                )
        elif t == "azure-native:machinelearningservices:OnlineDeployment":
            kind = str(_get(props, "properties", "instanceType"))
            count = _num(_get(props, "sku", "capacity"), 1)
            add(f"online deployment instances ({count:g} × {kind})", r, count, f"azure-vm-{kind}")
        elif t == "azure-native:storage:StorageAccount":
            redundancy = str(_get(props, "sku", "name") or "").split("_")[-1].lower()
            add(
                f"blob storage, hot {redundancy.upper()}, assumed {table.assumed_storage_gb:g} GB",
                r,
                table.assumed_storage_gb,
                f"azure-blob-hot-{redundancy}",
            )
        elif t == "gcp:container/cluster:Cluster":
            add("GKE cluster management", r, 1, "gcp-gke-cluster-management")
        elif t == "gcp:container/nodePool:NodePool":
            machine = str(_get(props, "nodeConfig", "machineType") or "<unspecified>")
            auto = props.get("autoscaling")
            if isinstance(auto, Mapping) and auto.get("totalMinNodeCount") is not None:
                low = _num(auto.get("totalMinNodeCount"))
            else:
                per_zone = _num(_get(auto, "minNodeCount"), _num(props.get("nodeCount")))
                locations = props.get("nodeLocations") or []
                location = str(props.get("location") or "")
                # A regional pool's per-zone count applies in each of its zones (three by default).
                low = per_zone * (len(locations) or (1 if _ZONE.match(location) else 3))
            gke_always_on += low
            add(f"node pool at its minimum ({low:g} × {machine})", r, low, f"gcp-{machine}")
        elif t == "gcp:compute/routerNat:RouterNat":
            nats.append(r)
        elif t == "gcp:cloudrunv2/service:Service":
            template = props.get("template") or {}
            low = _num(_get(template, "scaling", "minInstanceCount"))
            low = max(low, _num(_get(props, "scaling", "minInstanceCount")))
            gpu = _get(template, "nodeSelector", "accelerator")
            if gpu:
                add(
                    f"always-on Cloud Run GPU instances ({low:g} × {gpu})",
                    r,
                    low,
                    f"gcp-cloud-run-{str(gpu).removeprefix('nvidia-')}-instance",
                )
        elif t == "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer":
            size = str(props.get("trackingServerSize") or "Small")
            add(
                f"MLflow tracking server ({size})",
                r,
                1,
                f"aws-sagemaker-mlflow-{size.lower()}",
            )
        elif t == "gcp:sql/databaseInstance:DatabaseInstance":
            tier = str(_get(props, "settings", "tier") or "unknown")
            add(f"Cloud SQL instance ({tier})", r, 1, f"gcp-cloudsql-{tier}")
        elif t == "aws:s3/bucket:Bucket":
            add(
                f"S3 Standard, assumed {table.assumed_storage_gb:g} GB",
                r,
                table.assumed_storage_gb,
                "aws-s3-standard",
            )
        elif t == "gcp:storage/bucket:Bucket":
            multi = str(props.get("location") or "").upper() in {"US", "EU", "ASIA"}
            kind = "multiregion" if multi else "region"
            add(
                f"Cloud Storage Standard ({kind}), assumed {table.assumed_storage_gb:g} GB",
                r,
                table.assumed_storage_gb,
                f"gcp-gcs-standard-{kind}",
            )
    for r in nats:
        add(
            f"Cloud NAT for the always-on nodes ({gke_always_on:g} VMs)",
            r,
            gke_always_on,
            "gcp-cloud-nat-vm",
        )
    # The engine registers siblings in whatever order their awaits finish: sort, so that the
    # printed estimate (and its JSON) is the same on every run.
    items.sort(key=lambda i: (i.priced_as, i.resource, i.resource_type))
    return Estimate(tuple(items), rollout, rollout_note, table.assumed_storage_gb)


def summary_lines(result: Estimate) -> list[str]:
    """The console block: the monthly total, then one line per kind of item (``× n`` for
    several of a kind), dearest first."""
    unpriced = len(result.unpriced)
    lines = [
        f"Always-on estimate: ${result.usd_per_month:,.2f}/month at on-demand list prices "
        f"(plan/data/prices.json; storage at an assumed {result.assumed_storage_gb:g} GB each)"
        + (f"; {unpriced} unpriced item(s) not included" if unpriced else "")
    ]
    groups: dict[tuple[str, str], list[Item]] = {}
    for item in result.items:
        groups.setdefault((item.what, item.priced_as), []).append(item)
    rows = []
    for (what, priced_as), items in groups.items():
        total = sum(i.usd_per_month for i in items)
        shown = f"{what}: {items[0].resource}" if len(items) == 1 else f"{what} × {len(items)}"
        cost = f"${total:,.2f}" if items[0].price else "unpriced"
        rows.append((-total, f"  {cost:>11}  {shown} [{priced_as}]"))
    lines += [row for _, row in sorted(rows, key=lambda r: r[0])]
    if result.rollout_usd_per_hour:
        lines.append(
            f"  during a rollout: +${result.rollout_usd_per_hour:,.2f}/h ({result.rollout_note})"
        )
    return lines
