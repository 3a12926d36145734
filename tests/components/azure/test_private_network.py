"""``PrivateNetwork``: the private endpoints' subnet, DNS zones, and the drift function's subnet."""

from __future__ import annotations

import pytest

from mlops_iac.components.azure import (
    ArtifactStore,
    ArtifactStoreArgs,
    PrivateNetwork,
    PrivateNetworkArgs,
)
from mlops_iac.plan.testing import run
from tests.conftest import azure_problems

LOCATION = {"azure-native:location": "eastus"}
SUBNET = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/"
VNET = "azure-native:network:VirtualNetwork"


def _network(**kwargs):
    return run(lambda: PrivateNetwork("net", PrivateNetworkArgs(**kwargs)), config=LOCATION)


def test_a_new_network_has_both_subnets_in_two_ranges():
    recording = _network()
    (vnet,) = recording.of_type(VNET)
    assert vnet.inputs["addressSpace"] == {"addressPrefixes": ["10.90.0.0/24", "10.90.1.0/26"]}
    endpoints, functions = vnet.inputs["subnets"]
    assert endpoints == {
        "name": "private-endpoints",
        "addressPrefix": "10.90.0.0/24",
        "privateEndpointNetworkPolicies": "Enabled",
    }
    assert functions == {
        "name": "functions",
        "addressPrefix": "10.90.1.0/26",
        "delegations": [{"name": "functions", "serviceName": "Microsoft.Web/serverFarms"}],
        "serviceEndpoints": [{"service": "Microsoft.Storage"}],
    }
    network = recording.named("net", "mlops:azure:PrivateNetwork")
    assert network.registered_outputs["functions_subnet_id"] == f"{vnet.id}/subnets/functions"
    assert network.registered_outputs["subnet_id"] == f"{vnet.id}/subnets/private-endpoints"
    assert len(recording.of_type("azure-native:privatedns:PrivateZone")) == 5


def test_without_private_dns_the_network_has_no_zones_or_links():
    recording = _network(private_dns=False)
    assert recording.of_type("azure-native:privatedns:PrivateZone") == []
    assert recording.of_type("azure-native:privatedns:VirtualNetworkLink") == []
    assert len(recording.of_type(VNET)) == 1


def test_existing_subnets_are_used_as_given():
    recording = _network(subnet_id=SUBNET + "pe", functions_subnet_id=SUBNET + "fn")
    assert recording.of_type(VNET) == []
    outputs = recording.named("net", "mlops:azure:PrivateNetwork").registered_outputs
    assert (outputs["subnet_id"], outputs["functions_subnet_id"]) == (SUBNET + "pe", SUBNET + "fn")


def test_an_existing_functions_subnet_leaves_the_new_network_one_subnet():
    recording = _network(functions_subnet_id=SUBNET + "fn")
    (vnet,) = recording.of_type(VNET)
    assert [s["name"] for s in vnet.inputs["subnets"]] == ["private-endpoints"]
    assert vnet.inputs["addressSpace"] == {"addressPrefixes": ["10.90.0.0/24"]}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"subnet_id": SUBNET + "pe"}, "functions_subnet_id must name the subnet"),
        ({"functions_address_prefix": "10.90.0.64/26"}, "overlaps address_space 10.90.0.0/24"),
        ({"functions_address_prefix": "10.90.1.0/29"}, "smaller than /28"),
        ({"functions_address_prefix": "10.90.1.0/33"}, "PrivateNetwork net: "),
    ],
)
def test_a_network_the_drift_function_cannot_join_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PrivateNetwork("net", PrivateNetworkArgs(**kwargs))


def test_the_artifact_firewall_admits_the_given_subnets_only():
    recording = run(
        lambda: ArtifactStore("store", ArtifactStoreArgs(allowed_subnet_ids=(SUBNET + "fn",))),
        config=LOCATION,
    )
    rules = recording.named("store-account").inputs["networkRuleSet"]
    assert rules["defaultAction"] == "Deny"
    assert rules["virtualNetworkRules"] == [
        {"virtualNetworkResourceId": SUBNET + "fn", "action": "Allow"}
    ]
    plain = run(lambda: ArtifactStore("store", ArtifactStoreArgs()), config=LOCATION)
    assert "virtualNetworkRules" not in plain.named("store-account").inputs["networkRuleSet"]


def test_the_stack_file_names_the_functions_subnet_with_its_own_network():
    assert azure_problems(privateEndpointSubnetId=SUBNET + "pe") == [
        "mlops:platform.azure.functionsSubnetId: required with privateEndpointSubnetId: the "
        "drift function needs a subnet of your network delegated to Microsoft.Web/serverFarms"
    ]
    assert (
        azure_problems(privateEndpointSubnetId=SUBNET + "pe", functionsSubnetId=SUBNET + "f") == []
    )
    # One subnet cannot hold private endpoints and be delegated to the Functions plan.
    assert azure_problems(
        privateEndpointSubnetId=SUBNET + "pe", functionsSubnetId=(SUBNET + "PE").upper()
    ) == [
        "mlops:platform.azure.functionsSubnetId: must differ from privateEndpointSubnetId (a "
        "subnet delegated to Microsoft.Web/serverFarms cannot hold private endpoints)"
    ]
    assert azure_problems(functionsSubnetId=SUBNET + "fn") == []
    (problem,) = azure_problems(functionsSubnetId="/subscriptions/s/subnets/fn")
    assert problem.startswith("mlops:platform.azure.functionsSubnetId: ")


def test_a_stack_with_its_own_subnets_wires_them_through():
    from mlops_iac.plan.testing import run_project
    from tests.conftest import REPO, platform_raw

    platform = platform_raw("azure-prod")
    platform["azure"] = {
        "privateEndpoints": True,
        "privateEndpointSubnetId": SUBNET + "pe",
        "functionsSubnetId": SUBNET + "fn",
    }
    recording = run_project(REPO, "azure-prod", extra_config={"mlops:platform": platform})
    assert recording.of_type(VNET) == []
    assert recording.named("mlops-drift-function").inputs["virtualNetworkSubnetId"] == SUBNET + "fn"
    rules = recording.named("mlops-artifacts-account").inputs["networkRuleSet"]
    assert rules["virtualNetworkRules"] == [
        {"virtualNetworkResourceId": SUBNET + "fn", "action": "Allow"}
    ]
    for endpoint in recording.of_type("azure-native:network:PrivateEndpoint"):
        assert endpoint.inputs["subnet"] == {"id": SUBNET + "pe"}


CI_NETWORK = "/subscriptions/s/resourceGroups/ci/providers/Microsoft.Network/virtualNetworks/ci"


def test_a_peered_network_named_in_the_stack_file_resolves_the_private_endpoints():
    """A peered network resolves privatelink names only through a link of its own (or DNS
    forwarding): https://learn.microsoft.com/azure/dns/private-dns-virtual-network-links"""
    from mlops_iac.plan.testing import run_project
    from tests.conftest import REPO, platform_raw

    platform = platform_raw("azure-prod")
    platform["azure"] = {**platform.get("azure", {}), "dnsLinkVirtualNetworkIds": [CI_NETWORK]}
    recording = run_project(REPO, "azure-prod", extra_config={"mlops:platform": platform})
    zones = recording.of_type("azure-native:privatedns:PrivateZone")
    links = recording.of_type("azure-native:privatedns:VirtualNetworkLink")
    own = recording.named("mlops-network-vnet").id
    by_zone: dict[str, set[str]] = {}
    for link in links:
        by_zone.setdefault(link.inputs["privateZoneName"], set()).add(
            link.inputs["virtualNetwork"]["id"]
        )
        assert link.inputs["registrationEnabled"] is False
    assert len(by_zone) == len(zones) == 5
    assert all(networks == {own, CI_NETWORK} for networks in by_zone.values())
    (problem,) = azure_problems(dnsLinkVirtualNetworkIds=[SUBNET + "pe"])
    assert problem.startswith("mlops:platform.azure.dnsLinkVirtualNetworkIds: ")
