"""PrivateNetwork on Azure: the subnet for private endpoints, the private DNS zones they need, and
the subnet the drift job's Function App joins (regional VNet integration).

Private DNS zones are named after the service (``privatelink.blob.core.windows.net`` …), so one
zone per name serves every private endpoint of the stack: the zones live here, once, and the other
components only add their private endpoints and DNS zone groups (``_common.private_endpoint``).

The Functions subnet is delegated to ``Microsoft.Web/serverFarms`` (Elastic Premium's delegation;
/28 at least, /26 recommended on Linux) and carries the ``Microsoft.Storage`` service endpoint, so
the artifact account's firewall can admit it by a virtual network rule; it cannot share the
private endpoints' subnet, which is why it is a second one:
https://learn.microsoft.com/en-us/azure/azure-functions/functions-networking-options#subnets
https://learn.microsoft.com/en-us/azure/storage/common/storage-network-security#grant-access-from-a-virtual-network
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import network, privatedns, resources

from mlops_iac.components._component import Component, child_opts, component_opts
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
    functions_subnet_id: pulumi.Input[str] | None = None
    """Existing subnet (ARM id) for the drift function's VNet integration: same region, /28 or
    larger, delegated to ``Microsoft.Web/serverFarms``, with the ``Microsoft.Storage`` service
    endpoint. Required with ``subnet_id``. Default: a ``functions`` subnet of the new network."""
    functions_address_prefix: str = defaults.FUNCTIONS_SUBNET_CIDR
    """Address range of a new Functions subnet (a second range of the new network). Default
    ``10.90.1.0/26``."""
    private_dns: bool = True
    """Create the private DNS zones and link them. Default: yes; ``False`` for a network that
    only hosts the Functions subnet (a stack without private endpoints)."""
    zones: Sequence[str] = ()
    """Private DNS zones to create. Default: every zone the components use."""
    linked_network_ids: Sequence[pulumi.Input[str]] = ()
    """More virtual networks (ARM ids) each zone is linked to, such as a peered CI network: a
    peered network resolves the private endpoints' names only through a link of its own (or
    DNS forwarding), else it gets the public address, which the firewalls refuse.
    https://learn.microsoft.com/azure/dns/private-dns-virtual-network-links
    Default: none."""
    tags: Tags = None
    """Extra tags. Default: none."""


class PrivateNetwork(Component):
    """Subnet for private endpoints plus one private DNS zone per service, linked to the network.

    Children: ``{name}-rg`` (unless a group is given), ``{name}-vnet`` (unless ``subnet_id`` is
    given; subnets ``private-endpoints`` and, unless ``functions_subnet_id`` is given,
    ``functions``), and with ``private_dns`` per zone ``{name}-zone-<i>``
    (``privatedns.PrivateZone``) and ``{name}-link-<i>`` (virtual network link, no
    auto-registration), plus ``{name}-link-<i>-<j>`` to each of ``linked_network_ids``.

    Outputs: ``subnet_id``, ``functions_subnet_id``, ``virtual_network_id``, ``dns_zone_ids``
    (zone name -> zone id), ``resource_group_name``.
    """

    subnet_id: pulumi.Output[str]
    functions_subnet_id: pulumi.Output[str]
    virtual_network_id: pulumi.Output[str]
    dns_zone_ids: dict[str, pulumi.Output[str]]
    resource_group_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: PrivateNetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        # Refused before anything registers: a network the drift function cannot join.
        if args.subnet_id is not None and args.functions_subnet_id is None:
            raise ValueError(
                f"PrivateNetwork {name}: subnet_id names an existing network, so "
                "functions_subnet_id must name the subnet the drift function joins (delegated to "
                "Microsoft.Web/serverFarms, with the Microsoft.Storage service endpoint)"
            )
        if args.subnet_id is None and args.functions_subnet_id is None:
            _check_ranges(name, args.address_space, args.functions_address_prefix)
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
            vnet_id = self._virtual_network(name, args, rg, location).id
            subnet_id = pulumi.Output.concat(
                vnet_id, f"/subnets/{defaults.PRIVATE_ENDPOINT_SUBNET}"
            )
        if args.functions_subnet_id is not None:
            functions_subnet_id = pulumi.Output.from_input(args.functions_subnet_id)
        else:
            functions_subnet_id = pulumi.Output.concat(
                vnet_id, f"/subnets/{defaults.FUNCTIONS_SUBNET}"
            )
        zones = (args.zones or all_zones()) if args.private_dns else ()
        dns_zone_ids = self._dns_zones(name, args, rg, vnet_id, zones)
        self.register(
            subnet_id=subnet_id,
            functions_subnet_id=functions_subnet_id,
            virtual_network_id=vnet_id,
            dns_zone_ids=dns_zone_ids,
            resource_group_name=rg,
        )

    def _virtual_network(
        self,
        name: str,
        args: PrivateNetworkArgs,
        rg: pulumi.Input[str],
        location: pulumi.Input[str] | None,
    ) -> network.VirtualNetwork:
        """The network: the private endpoints' subnet and, unless one is given, the Functions
        subnet in a second range."""
        prefixes = [args.address_space]
        subnets: list[dict[str, object]] = [
            {
                "name": defaults.PRIVATE_ENDPOINT_SUBNET,
                "address_prefix": args.address_space,
                "private_endpoint_network_policies": "Enabled",
            }
        ]
        if args.functions_subnet_id is None:
            # A second range, so a network deployed before this subnet existed gains it in
            # place (the private endpoints' subnet already fills the first range).
            prefixes.append(args.functions_address_prefix)
            subnets.append(
                {
                    "name": defaults.FUNCTIONS_SUBNET,
                    "address_prefix": args.functions_address_prefix,
                    "delegations": [
                        {
                            "name": "functions",
                            "service_name": defaults.FUNCTIONS_SUBNET_DELEGATION,
                        }
                    ],
                    "service_endpoints": [{"service": defaults.STORAGE_SERVICE_ENDPOINT}],
                }
            )
        return network.VirtualNetwork(
            f"{name}-vnet",
            resource_group_name=rg,
            location=location,
            address_space={"address_prefixes": prefixes},
            subnets=subnets,
            tags=args.tags,
            opts=child_opts(self),
        )

    def _dns_zones(
        self,
        name: str,
        args: PrivateNetworkArgs,
        rg: pulumi.Input[str],
        vnet_id: pulumi.Input[str],
        zones: Sequence[str],
    ) -> dict[str, pulumi.Output[str]]:
        """One private DNS zone per name, each linked to the network; returns name -> zone id."""
        zone_ids: dict[str, pulumi.Output[str]] = {}
        for index, zone_name in enumerate(zones):
            zone = privatedns.PrivateZone(
                f"{name}-zone-{index}",
                resource_group_name=rg,
                private_zone_name=zone_name,
                location="global",
                tags=args.tags,
                opts=child_opts(self),
            )
            networks = [vnet_id, *args.linked_network_ids]
            for number, network_id in enumerate(networks):
                privatedns.VirtualNetworkLink(
                    f"{name}-link-{index}" + (f"-{number}" if number else ""),
                    resource_group_name=rg,
                    private_zone_name=zone.name,
                    location="global",
                    registration_enabled=False,
                    virtual_network={"id": network_id},
                    tags=args.tags,
                    opts=child_opts(self),
                )
            zone_ids[zone_name] = zone.id
        return zone_ids


def _check_ranges(name: str, address_space: str, functions_prefix: str) -> None:
    """Both ranges parse and do not overlap (Azure refuses overlapping address prefixes)."""
    try:
        first = ipaddress.ip_network(address_space)
        second = ipaddress.ip_network(functions_prefix)
    except ValueError as error:
        raise ValueError(f"PrivateNetwork {name}: {error}") from None
    if first.overlaps(second):
        raise ValueError(
            f"PrivateNetwork {name}: functions_address_prefix {functions_prefix} overlaps "
            f"address_space {address_space}"
        )
    if second.prefixlen > defaults.FUNCTIONS_SUBNET_MIN_PREFIX:
        raise ValueError(
            f"PrivateNetwork {name}: functions_address_prefix {functions_prefix} is smaller than "
            "/28, the smallest subnet VNet integration takes"
        )
