"""Issue 15: what the real Azure provider and ARM refuse, or deploy but cannot use."""

from __future__ import annotations

import re

from mlops_iac.components.azure import (
    ArtifactStore,
    ArtifactStoreArgs,
    ModelDeployment,
    ModelRegistry,
    ModelRegistryArgs,
    Monitoring,
    MonitoringArgs,
    ServingEndpoint,
    ServingEndpointArgs,
    TrainingCluster,
    TrainingClusterArgs,
)
from mlops_iac.components.azure._common import global_name
from mlops_iac.plan.mocks import RealisticMocks
from mlops_iac.plan.testing import run
from tests.conftest import azure_problems

LOCATION = {"azure-native:location": "eastus"}
STORAGE_NAME = re.compile(r"^[a-z0-9]{3,24}$")
VAULT_NAME = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")
ACR_NAME = re.compile(r"^[a-zA-Z0-9]{5,50}$")
V7 = ModelDeployment(name="fraud-detector", version="7")
V6 = ModelDeployment(name="fraud-detector", version="6")


def _store(**kwargs):
    return run(lambda: ArtifactStore("fraud-detection-prod-artifacts", ArtifactStoreArgs(**kwargs)))


# 1. Names --------------------------------------------------------------------------------------


def test_storage_account_and_vault_get_explicit_valid_names():
    recording = _store()
    account = recording.named("fraud-detection-prod-artifacts-account").inputs
    vault = recording.named("fraud-detection-prod-artifacts-vault").inputs
    assert STORAGE_NAME.match(account["accountName"]), account.get("accountName")
    assert VAULT_NAME.match(vault["vaultName"]), vault.get("vaultName")


def test_training_vault_gets_an_explicit_valid_name():
    recording = run(
        lambda: TrainingCluster(
            "fraud-detection-prod-training",
            TrainingClusterArgs(resource_group_name="rg", storage_account_id="/sa"),
        ),
        config=LOCATION,
    )
    vault = recording.named("fraud-detection-prod-training-vault").inputs
    assert VAULT_NAME.match(vault["vaultName"])


def test_container_registry_gets_an_explicit_valid_name():
    recording = run(
        lambda: ModelRegistry(
            "fraud-detection-prod-registry",
            ModelRegistryArgs(resource_group_name="rg", environment="prod"),
        ),
        config=LOCATION,
    )
    images = recording.named("fraud-detection-prod-registry-images").inputs
    assert ACR_NAME.match(images["registryName"])


def test_global_names_differ_per_scope_and_role_and_are_stable():
    a = global_name("fraud-detection-prod-artifacts", "st", limit=24, scope="sub-a/p/s")
    assert a == global_name("fraud-detection-prod-artifacts", "st", limit=24, scope="sub-a/p/s")
    assert a != global_name("fraud-detection-prod-artifacts", "st", limit=24, scope="sub-b/p/s")
    assert a != global_name("fraud-detection-prod-artifacts", "kv", limit=24, scope="sub-a/p/s")
    assert STORAGE_NAME.match(a)
    vault = global_name("x--y", "kv", limit=24, scope="s", dashes=True)
    assert VAULT_NAME.match(vault), vault


# 2. Event Grid: Azure Monitor alert handler is for Key Vault sources only -----------------------


def test_drift_events_are_not_delivered_to_a_monitor_alert():
    recording = run(
        lambda: Monitoring(
            "mon",
            MonitoringArgs(
                resource_group_name="rg",
                workspace_name="ws",
                workspace_id="/ws",
                deployment_id="/dep",
                production_data_uri="azureml:x:1",
                retraining_account_name="acct",
                retraining_account_id="/acct",
            ),
        ),
        config=LOCATION,
    )
    for sub in recording.of_type("azure-native:eventgrid:SystemTopicEventSubscription"):
        destination = sub.inputs.get("destination") or {}
        assert destination.get("endpointType") != "MonitorAlert", sub.name


# 3. Docker Content Trust cannot be enabled on new registries ------------------------------------


def test_premium_registry_does_not_enable_content_trust():
    recording = run(
        lambda: ModelRegistry(
            "reg", ModelRegistryArgs(resource_group_name="rg", environment="prod")
        ),
        config=LOCATION,
    )
    policies = recording.named("reg-images").inputs["policies"]
    assert "trustPolicy" not in policies
    assert policies["retentionPolicy"]["status"] == "enabled"


# 7. Autoscale owns the replica count after creation ---------------------------------------------


def _endpoint(mocks=None, **kwargs):
    args = {
        "resource_group_name": "rg",
        "workspace_name": "ws",
        "active_model": V7,
        "previous_model": V6,
        "rollout_in_progress": True,
        **kwargs,
    }
    return run(
        lambda: ServingEndpoint("srv", ServingEndpointArgs(**args)), config=LOCATION, mocks=mocks
    )


def test_deployment_capacity_is_ignored_after_creation():
    recording = _endpoint()
    for slot in ("blue", "green"):
        deployment = recording.named(f"srv-{slot}")
        assert deployment.inputs["sku"]["capacity"] == 1
        assert "sku.capacity" in deployment.ignore_changes


# 8. systemDatastoresAuthMode takes the SDK enum value -------------------------------------------


def test_workspace_system_datastores_use_identity_enum_value():
    recording = run(
        lambda: TrainingCluster(
            "trn", TrainingClusterArgs(resource_group_name="rg", storage_account_id="/sa")
        ),
        config=LOCATION,
    )
    assert recording.named("trn-workspace").inputs["systemDatastoresAuthMode"] == "Identity"


# 4. A new endpoint comes up with one `pulumi up` --------------------------------------------------


def test_endpoint_is_created_without_traffic_and_ignores_it_afterwards():
    recording = _endpoint()
    endpoint = recording.named("srv-endpoint")
    assert "traffic" not in endpoint.inputs["properties"]
    assert "properties.traffic" in endpoint.ignore_changes


def test_traffic_is_set_after_both_deployments_exist():
    recording = _endpoint()
    traffic = recording.named("srv-traffic")
    assert traffic.type == "azure-native:resources:Deployment"
    for slot in ("blue", "green"):
        assert recording.named(f"srv-{slot}").urn in traffic.dependencies
    props = traffic.inputs["properties"]
    assert props["mode"] == "Incremental"
    [resource] = props["template"]["resources"]
    assert resource["type"] == "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
    assert resource["name"] == "ws/" + recording.named("srv-endpoint").outputs["name"]
    assert resource["properties"]["traffic"] == {"blue": 90, "green": 10}
    # The PUT carries the endpoint's whole body, so it never resets what the endpoint set.
    endpoint = recording.named("srv-endpoint").inputs
    assert resource["properties"]["authMode"] == endpoint["properties"]["authMode"]
    assert (
        resource["properties"]["publicNetworkAccess"]
        == (endpoint["properties"]["publicNetworkAccess"])
    )
    assert resource["identity"] == {"type": "SystemAssigned"}
    assert resource["location"] == "eastus"


class _EndpointReports(RealisticMocks):
    """The endpoint answers with a traffic split (what a PUT or a refresh reports)."""

    def __init__(self, traffic, **kwargs):
        super().__init__(**kwargs)
        self.reported = traffic

    def new_resource(self, args):
        resource_id, outputs = super().new_resource(args)
        if args.typ == "azure-native:machinelearningservices:OnlineEndpoint":
            outputs["properties"] = {**outputs["properties"], "traffic": self.reported}
        return resource_id, outputs


def _template_with_endpoint_reporting(traffic):
    recording = _endpoint(mocks=_EndpointReports(traffic, config=LOCATION))
    return recording.named("srv-traffic").inputs["properties"]["template"]


def test_traffic_is_set_again_after_any_put_that_resets_it():
    # An endpoint PUT without traffic may reset the split (ARM PUT replaces; not documented
    # either way). A PUT this program makes changes the repeated body; one that corrects drift
    # changes what the endpoint reports, which the template carries: its input changes, and
    # the template deployment runs again after the endpoint.
    kept = _template_with_endpoint_reporting({"blue": 90, "green": 10})
    reset = _template_with_endpoint_reporting({})
    assert kept["variables"]["observedTraffic"] == {"blue": 90, "green": 10}
    assert reset["variables"]["observedTraffic"] == {}
    assert kept != reset
    # The split it sets does not depend on what was observed.
    assert kept["resources"] == reset["resources"]


def test_the_template_repeats_every_input_of_the_endpoints_put():
    recording = _endpoint()
    endpoint = recording.named("srv-endpoint")
    [resource] = recording.named("srv-traffic").inputs["properties"]["template"]["resources"]
    sent = {
        k: v for k, v in endpoint.inputs.items() if k not in ("resourceGroupName", "workspaceName")
    }
    assert sent.keys() <= {"location", "identity", "properties", "tags"}
    for key, value in sent.items():
        expected = {**value, "traffic": {"blue": 90, "green": 10}} if key == "properties" else value
        assert resource[key] == expected, key
    assert endpoint.urn in recording.named("srv-traffic").property_dependencies["properties"]


def test_bootstrap_flag_is_gone():
    import dataclasses

    assert "bootstrap" not in {f.name for f in dataclasses.fields(ServingEndpointArgs)}
    from mlops_iac.spec.models import AzureSpec

    assert "endpoint_bootstrap" not in AzureSpec.model_fields


# 5/6. Reachable: dev public with an allow-list, prod through private endpoints -----------------

SUBNET = (
    "/subscriptions/s/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/v/subnets/pe"
)
ZONES = {
    "privatelink.blob.core.windows.net": "/zones/blob",
    "privatelink.vaultcore.azure.net": "/zones/vault",
    "privatelink.api.azureml.ms": "/zones/api",
    "privatelink.notebooks.azure.net": "/zones/notebooks",
    "privatelink.azurecr.io": "/zones/acr",
}


def test_storage_allows_the_listed_cidrs_through_its_firewall():
    recording = run(
        lambda: ArtifactStore(
            "art", ArtifactStoreArgs(allowed_cidrs=("203.0.113.0/24", "198.51.100.7"))
        ),
        config=LOCATION,
    )
    rules = recording.named("art-account").inputs["networkRuleSet"]
    assert rules["defaultAction"] == "Deny"
    assert rules["ipRules"] == [
        {"value": "203.0.113.0/24", "action": "Allow"},
        {"value": "198.51.100.7", "action": "Allow"},
    ]


def _pe(recording, name):
    endpoint = recording.named(name)
    assert endpoint.type == "azure-native:network:PrivateEndpoint"
    [connection] = endpoint.inputs["privateLinkServiceConnections"]
    group = recording.named(f"{name}-dns").inputs
    zones = {c["privateDnsZoneId"] for c in group["privateDnsZoneConfigs"]}
    return endpoint.inputs, connection, zones


def test_store_gets_blob_and_vault_private_endpoints_with_dns_zones():
    recording = run(
        lambda: ArtifactStore(
            "art",
            ArtifactStoreArgs(private_endpoint_subnet_id=SUBNET, private_dns_zone_ids=ZONES),
        ),
        config=LOCATION,
    )
    inputs, connection, zones = _pe(recording, "art-blob-pe")
    assert inputs["subnet"] == {"id": SUBNET}
    assert connection["privateLinkServiceId"] == recording.named("art-account").id
    assert connection["groupIds"] == ["blob"]
    assert zones == {"/zones/blob"}
    _, connection, zones = _pe(recording, "art-vault-pe")
    assert connection["groupIds"] == ["vault"] and zones == {"/zones/vault"}


def test_dev_workspace_and_endpoint_are_public_without_private_endpoints():
    recording = run(
        lambda: TrainingCluster(
            "trn", TrainingClusterArgs(resource_group_name="rg", storage_account_id="/sa")
        ),
        config=LOCATION,
    )
    assert recording.named("trn-workspace").inputs["publicNetworkAccess"] == "Enabled"
    endpoint = _endpoint().named("srv-endpoint").inputs["properties"]
    assert endpoint["publicNetworkAccess"] == "Enabled"


def test_prod_workspace_is_private_and_reached_through_its_private_endpoint():
    recording = run(
        lambda: TrainingCluster(
            "trn",
            TrainingClusterArgs(
                resource_group_name="rg",
                storage_account_id="/sa",
                environment="prod",
                private_endpoint_subnet_id=SUBNET,
                private_dns_zone_ids=ZONES,
            ),
        ),
        config=LOCATION,
    )
    assert recording.named("trn-workspace").inputs["publicNetworkAccess"] == "Disabled"
    _, connection, zones = _pe(recording, "trn-workspace-pe")
    assert connection["privateLinkServiceId"] == recording.named("trn-workspace").id
    assert connection["groupIds"] == ["amlworkspace"]
    assert zones == {"/zones/api", "/zones/notebooks"}
    endpoint = _endpoint(environment="prod").named("srv-endpoint").inputs["properties"]
    assert endpoint["publicNetworkAccess"] == "Disabled"


def test_prod_registries_get_private_endpoints():
    recording = run(
        lambda: ModelRegistry(
            "reg",
            ModelRegistryArgs(
                resource_group_name="rg",
                environment="prod",
                private_endpoint_subnet_id=SUBNET,
                private_dns_zone_ids=ZONES,
            ),
        ),
        config=LOCATION,
    )
    _, connection, zones = _pe(recording, "reg-images-pe")
    assert connection["groupIds"] == ["registry"] and zones == {"/zones/acr"}
    _, connection, zones = _pe(recording, "reg-registry-pe")
    assert connection["groupIds"] == ["amlregistry"] and zones == {"/zones/api"}


def _stack(stack):
    from mlops_iac.plan.testing import run_project
    from tests.conftest import REPO

    return run_project(REPO, stack)


def test_prod_stack_reaches_everything_through_private_endpoints():
    recording = _stack("azure-prod")
    network = recording.named("mlops-network", "mlops:azure:PrivateNetwork")
    zones = {
        r.inputs["privateZoneName"]
        for r in recording.of_type("azure-native:privatedns:PrivateZone")
    }
    assert zones == {
        "privatelink.blob.core.windows.net",
        "privatelink.vaultcore.azure.net",
        "privatelink.api.azureml.ms",
        "privatelink.notebooks.azure.net",
        "privatelink.azurecr.io",
    }
    assert len(recording.of_type("azure-native:privatedns:VirtualNetworkLink")) == 5
    groups = sorted(
        pe.inputs["privateLinkServiceConnections"][0]["groupIds"][0]
        for pe in recording.of_type("azure-native:network:PrivateEndpoint")
    )
    # blob and registry twice: the artifact account and ACR, and the model registry's own.
    assert groups == [
        "amlregistry",
        "amlworkspace",
        "blob",
        "blob",
        "registry",
        "registry",
        "vault",
    ]
    subnet = recording.named("mlops-network-vnet").id + "/subnets/private-endpoints"
    for pe in recording.of_type("azure-native:network:PrivateEndpoint"):
        assert pe.inputs["subnet"] == {"id": subnet}
    assert recording.named("mlops-training-workspace").inputs["publicNetworkAccess"] == "Disabled"
    endpoint = recording.named("mlops-serving-endpoint").inputs["properties"]
    assert endpoint["publicNetworkAccess"] == "Disabled"
    assert network.parent


def test_dev_stack_is_public_and_allow_lists_dvc_clients():
    recording = _stack("azure-dev")
    assert recording.of_type("azure-native:network:PrivateEndpoint") == []
    assert recording.named("mlops-training-workspace").inputs["publicNetworkAccess"] == "Enabled"
    endpoint = recording.named("mlops-serving-endpoint").inputs["properties"]
    assert endpoint["publicNetworkAccess"] == "Enabled"
    rules = recording.named("mlops-artifacts-account").inputs["networkRuleSet"]
    assert rules["ipRules"] == [{"value": "203.0.113.0/24", "action": "Allow"}]


def test_allowed_cidrs_must_be_public_ipv4_and_slash_32_becomes_an_address():
    from mlops_iac.spec.parse import parse_spec
    from tests.conftest import platform_raw

    assert azure_problems(allowedCidrs=["10.0.0.0/8"]) == [
        "mlops:platform.azure.allowedCidrs: '10.0.0.0/8' is not a public IPv4 range (storage IP "
        "rules need one)"
    ]
    assert azure_problems(allowedCidrs=["nope"]) == [
        "mlops:platform.azure.allowedCidrs: not an IPv4 address or CIDR range: 'nope'"
    ]
    assert "/31" in azure_problems(allowedCidrs=["198.51.100.0/31"])[0]
    raw = platform_raw("azure-dev")
    raw["azure"]["allowedCidrs"] = ["198.51.100.7/32"]
    assert parse_spec(raw).azure.allowed_cidrs == ["198.51.100.7"]


def test_prod_refuses_turning_private_endpoints_off():
    assert azure_problems(privateEndpoints=False) == [
        "mlops:platform.azure.privateEndpoints: refused in prod: a prod workspace is only "
        "reachable through private endpoints"
    ]


# 9. Prod deployments pull from the private model registry through the managed network ----------
# Approved-outbound isolation creates private endpoint rules only for the workspace and its own
# key vault, storage and container registry (the images' ACR is the workspace's: covered); the
# AzureML registry needs a user-defined private endpoint outbound rule.
# https://learn.microsoft.com/en-us/azure/machine-learning/how-to-managed-network#list-of-required-rules


def test_prod_managed_network_reaches_the_model_registry_through_a_private_endpoint():
    recording = _stack("azure-prod")
    workspace = recording.named("mlops-training-workspace")
    registry = recording.named("mlops-registry-registry")
    images = recording.named("mlops-registry-images")
    assert registry.inputs["publicNetworkAccess"] == "Disabled"
    network = workspace.inputs["managedNetwork"]
    assert network["isolationMode"] == "AllowOnlyApprovedOutbound"
    fqdn = {"type": "FQDN", "category": "UserDefined"}
    assert network["outboundRules"] == {
        # Image builds behind the private registry install the environment's packages.
        "conda": {**fqdn, "destination": "anaconda.com"},
        "conda-any": {**fqdn, "destination": "*.anaconda.com"},
        "conda-repodata": {**fqdn, "destination": "*.anaconda.org"},
        "pypi": {**fqdn, "destination": "pypi.org"},
        "pypi-files": {**fqdn, "destination": "*.pythonhosted.org"},
        "model-registry": {
            "type": "PrivateEndpoint",
            "category": "UserDefined",
            "destination": {
                "serviceResourceId": registry.id,
                "subresourceTarget": "amlregistry",
                "sparkEnabled": False,
            },
        },
    }
    # Images come from the workspace's own container registry, which the managed network
    # reaches through a required (automatic) private endpoint rule.
    assert workspace.inputs["containerRegistry"] == images.id


def test_dev_managed_network_allows_internet_outbound_without_rules():
    recording = _stack("azure-dev")
    network = recording.named("mlops-training-workspace").inputs["managedNetwork"]
    assert network == {"isolationMode": "AllowInternetOutbound"}
    assert recording.named("mlops-registry-registry").inputs["publicNetworkAccess"] == "Enabled"


def test_prod_registry_is_reachable_for_registration_through_its_storage_and_acr():
    """Registering into a private registry uploads to its system-created storage and ACR: "Create
    a private endpoint to the registry, storage, and ACR in the same subnet".
    https://learn.microsoft.com/en-us/azure/machine-learning/how-to-registry-network-isolation"""
    recording = _stack("azure-prod")
    regions = recording.named("mlops-registry-registry").outputs["regionDetails"]
    storage = regions[0]["storageAccountDetails"][0]["systemCreatedStorageAccount"]
    acr = regions[0]["acrDetails"][0]["systemCreatedAcrAccount"]
    subnet = recording.named("mlops-registry-registry-pe").inputs["subnet"]
    zones = recording.of_type("azure-native:privatedns:PrivateZone")
    zone_ids = {z.inputs["privateZoneName"]: z.id for z in zones}
    for logical, target, group, zone in (
        (
            "mlops-registry-registry-storage-pe",
            storage,
            "blob",
            "privatelink.blob.core.windows.net",
        ),
        ("mlops-registry-registry-acr-pe", acr, "registry", "privatelink.azurecr.io"),
    ):
        endpoint = recording.named(logical).inputs
        assert endpoint["subnet"] == subnet
        (connection,) = endpoint["privateLinkServiceConnections"]
        assert connection["privateLinkServiceId"] == target["armResourceId"]["resourceId"]
        assert connection["groupIds"] == [group]
        (config,) = recording.named(f"{logical}-dns").inputs["privateDnsZoneConfigs"]
        assert config["privateDnsZoneId"] == zone_ids[zone]
