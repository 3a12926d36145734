"""PrivateNetwork on Azure: the subnet for private endpoints and the private DNS zones they need.

Private DNS zones are named after the service (``privatelink.blob.core.windows.net`` …), so one
zone per name serves every private endpoint of the stack: the zones live here, once, and the other
components only add their private endpoints and DNS zone groups (``_common.private_endpoint``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import network, privatedns, resources

from mlops_iac.components._component import child_opts, component_opts
from mlops_iac.components.azure import _defaults as defaults
from mlops_iac.components.azure._common import Tags, location_or_config

TYPE = "mlops:azure:PrivateNetwork"


def all_zones() -> tuple[str, ...]:
    """Every private DNS zone the components' private endpoints use, once each."""
    zones: list[str] = []
    for group in defaults.PRIVATE_DNS_ZONES.values():
        zones += [zone for zone in group if zone not in zones]
    return tuple(zones)


@dataclass(frozen=True, kw_only=True)
class PrivateNetworkArgs:
    """Inputs of ``PrivateNetwork``. Every field is optional."""

    resource_group_name: pulumi.Input[str] | None = None
    """Resource group of the network, zones and links. Default: a new one, ``{name}-rg``."""
    location: pulumi.Input[str] | None = None
    """Region of the virtual network. Default: the provider's ``azure-native:location``."""
    subnet_id: pulumi.Input[str] | None = None
    """Existing subnet (ARM id) for the private endpoints; its virtual network gets the DNS zone
    links. Default: a new virtual network ``{name}-vnet`` (``10.90.0.0/24``) with a
    ``private-endpoints`` subnet; peer it with your CI/VPN network to reach the platform."""
    address_space: str = defaults.PRIVATE_NETWORK_CIDR
    """Address space of a new virtual network. Default ``10.90.0.0/24``."""
    zones: Sequence[str] = ()
    """Private DNS zones to create. Default: every zone the components use."""
    tags: Tags = None
    """Extra tags. Default: none."""


class PrivateNetwork(pulumi.ComponentResource):
    """Subnet for private endpoints plus one private DNS zone per service, linked to the network.

    Children: ``{name}-rg`` (unless a group is given), ``{name}-vnet`` (unless ``subnet_id`` is
    given), per zone ``{name}-zone-<i>`` (``privatedns.PrivateZone``) and ``{name}-link-<i>``
    (virtual network link, no auto-registration).

    Outputs: ``subnet_id``, ``virtual_network_id``, ``dns_zone_ids`` (zone name -> zone id),
    ``resource_group_name``.
    """

    subnet_id: pulumi.Output[str]
    virtual_network_id: pulumi.Output[str]
    dns_zone_ids: dict[str, pulumi.Output[str]]
    resource_group_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: PrivateNetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, component_opts(opts))
        location = location_or_config(args.location)
        if args.resource_group_name is not None:
            rg = pulumi.Output.from_input(args.resource_group_name)
        else:
            rg = resources.ResourceGroup(
                f"{name}-rg", location=location, tags=args.tags, opts=child_opts(self)
            ).name
        if args.subnet_id is not None:
            subnet_id = pulumi.Output.from_input(args.subnet_id)
            vnet_id = subnet_id.apply(lambda sid: sid.split("/subnets/")[0])
        else:
            vnet = network.VirtualNetwork(
                f"{name}-vnet",
                resource_group_name=rg,
                location=location,
                address_space={"address_prefixes": [args.address_space]},
                subnets=[
                    {
                        "name": defaults.PRIVATE_ENDPOINT_SUBNET,
                        "address_prefix": args.address_space,
                        "private_endpoint_network_policies": "Enabled",
                    }
                ],
                tags=args.tags,
                opts=child_opts(self),
            )
            vnet_id = vnet.id
            subnet_id = pulumi.Output.concat(
                vnet.id, f"/subnets/{defaults.PRIVATE_ENDPOINT_SUBNET}"
            )
        zone_ids: dict[str, pulumi.Output[str]] = {}
        for index, zone_name in enumerate(args.zones or all_zones()):
            zone = privatedns.PrivateZone(
                f"{name}-zone-{index}",
                resource_group_name=rg,
                private_zone_name=zone_name,
                location="global",
                tags=args.tags,
                opts=child_opts(self),
            )
            privatedns.VirtualNetworkLink(
                f"{name}-link-{index}",
                resource_group_name=rg,
                private_zone_name=zone.name,
                location="global",
                registration_enabled=False,
                virtual_network={"id": vnet_id},
                tags=args.tags,
                opts=child_opts(self),
            )
            zone_ids[zone_name] = zone.id

        self.subnet_id = subnet_id
        self.virtual_network_id = vnet_id
        self.dns_zone_ids = zone_ids
        self.resource_group_name = rg
        self.register_outputs(
            {
                "subnet_id": self.subnet_id,
                "virtual_network_id": self.virtual_network_id,
                "dns_zone_ids": self.dns_zone_ids,
                "resource_group_name": self.resource_group_name,
            }
        )
