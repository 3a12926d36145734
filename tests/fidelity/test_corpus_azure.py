"""Issue 15's Azure deploy-failing defects (and more name rules) as minimal programs."""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure
import pytest

from tests.fidelity._programs import as_state, recorded, rules_of

LOCATION = {"azure-native:location": "eastus"}
RG = "team-rg"


def _account(name=None):
    return azure.storage.StorageAccount(
        "team-artifacts",
        account_name=name,
        resource_group_name=RG,
        kind="StorageV2",
        sku={"name": "Standard_LRS"},
    )


def test_auto_named_storage_account_is_refused_and_a_valid_name_passes():
    rule = "azure-rule:azure-native:storage:StorageAccount.accountName"
    # azure-native auto-names "team-artifacts" + 8 hex: dashes and 22 characters.
    assert rule in rules_of(_account, LOCATION)
    assert rule not in rules_of(lambda: _account("teamartifacts7f3a"), LOCATION)


def test_auto_named_key_vault_and_registry_are_refused():
    def program():
        azure.keyvault.Vault(
            "team-secrets-vault",
            resource_group_name=RG,
            properties={
                "tenant_id": "11111111-1111-1111-1111-111111111111",
                "sku": {"family": "A", "name": "standard"},
            },
        )
        azure.containerregistry.Registry(
            "team-images", resource_group_name=RG, sku={"name": "Premium"}
        )

    rules = rules_of(program, LOCATION)
    assert "azure-rule:azure-native:keyvault:Vault.vaultName" in rules
    assert "azure-rule:azure-native:containerregistry:Registry.registryName" in rules


def test_monitor_alert_handler_only_from_key_vault_sources():
    def program(topic_type):
        topic = azure.eventgrid.SystemTopic(
            "events",
            resource_group_name=RG,
            source="/subscriptions/0/resourceGroups/team-rg/providers/X/y/z",
            topic_type=topic_type,
        )
        azure.eventgrid.SystemTopicEventSubscription(
            "alert",
            resource_group_name=RG,
            system_topic_name=topic.name,
            destination={
                "endpoint_type": "MonitorAlert",
                "severity": "Sev2",
                "action_groups": ["/subscriptions/0/ag"],
            },
        )

    rule = "azure-eventgrid-monitor-alert-source"
    assert rule in rules_of(lambda: program("Microsoft.MachineLearningServices.Workspaces"))
    assert rule not in rules_of(lambda: program("Microsoft.KeyVault.vaults"))


def test_content_trust_on_a_new_registry_is_refused_after_the_cut_off():
    def program():
        azure.containerregistry.Registry(
            "images",
            registry_name="teamimages7f3a",
            resource_group_name=RG,
            sku={"name": "Premium"},
            policies={"trust_policy": {"status": "enabled", "type": "Notary"}},
        )

    assert "azure-acr-content-trust-new-registry" in rules_of(program)
    existing = as_state(recorded(program))
    assert "azure-acr-content-trust-new-registry" not in rules_of(program, state=existing)


def _endpoint(with_traffic):
    endpoint = azure.machinelearningservices.OnlineEndpoint(
        "serving",
        endpoint_name="team-serving",
        resource_group_name=RG,
        workspace_name="team-ws",
        properties={
            "auth_mode": "AADToken",
            "traffic": {"blue": 100} if with_traffic else None,
        },
    )
    azure.machinelearningservices.OnlineDeployment(
        "blue",
        deployment_name="blue",
        endpoint_name=endpoint.name,
        resource_group_name=RG,
        workspace_name="team-ws",
        properties={
            "endpoint_compute_type": "Managed",
            "instance_type": "Standard_DS3_v2",
        },
    )


def test_first_deploy_traffic_to_deployments_not_yet_created_is_refused():
    rule = "azure-endpoint-traffic-unknown-deployment"
    assert rule in rules_of(lambda: _endpoint(True))
    assert rule not in rules_of(lambda: _endpoint(False))
    # Once the deployment exists (a second update), the same traffic is fine.
    existing = as_state(recorded(lambda: _endpoint(False)))
    assert rule not in rules_of(lambda: _endpoint(True), state=existing)


def test_system_datastores_auth_mode_must_be_the_sdk_enum_value():
    def program(mode):
        azure.machinelearningservices.Workspace(
            "ws",
            workspace_name="team-ws",
            resource_group_name=RG,
            system_datastores_auth_mode=mode,
        )

    rule = "azure-rule:azure-native:machinelearningservices:Workspace.systemDatastoresAuthMode"
    assert rule in rules_of(lambda: program("identity"))
    assert rule not in rules_of(lambda: program("Identity"))


def test_action_group_short_name_over_12_characters_is_refused():
    def program():
        azure.monitor.ActionGroup(
            "alerts",
            action_group_name="team-alerts",
            resource_group_name=RG,
            group_short_name="team-alerts-long",
            enabled=True,
        )

    assert "azure-rule:azure-native:monitor:ActionGroup.groupShortName" in rules_of(program)


def test_mocks_report_the_providers_auto_name_unrepaired():
    recording = recorded(_account, LOCATION)
    [account] = recording.of_type("azure-native:storage:StorageAccount")
    name = account.outputs["name"]
    assert name.startswith("team-artifacts") and len(name) == len("team-artifacts") + 8
    assert "-" in name  # the dash of the logical name stays: nothing is sanitised


def _private_registry_deployment(outbound: bool):
    ml = azure.machinelearningservices
    registry = ml.Registry(
        "models",
        registry_name="teammodels",
        resource_group_name=RG,
        public_network_access="Disabled",
        region_details=[{"location": "eastus"}],
    )
    rules = None
    if outbound:
        rules = {
            "model-registry": ml.PrivateEndpointOutboundRuleArgs(
                type="PrivateEndpoint",
                category="UserDefined",
                destination=ml.PrivateEndpointDestinationArgs(
                    service_resource_id=registry.id, subresource_target="amlregistry"
                ),
            )
        }
    workspace = ml.Workspace(
        "ws",
        workspace_name="teamws",
        resource_group_name=RG,
        managed_network={"isolation_mode": "AllowOnlyApprovedOutbound", "outbound_rules": rules},
    )
    ml.OnlineDeployment(
        "blue",
        deployment_name="blue",
        endpoint_name="ep",
        resource_group_name=RG,
        workspace_name=workspace.name,
        properties=ml.ManagedOnlineDeploymentArgs(
            endpoint_compute_type="Managed",
            model=registry.name.apply(lambda n: f"azureml://registries/{n}/models/m/versions/7"),
        ),
    )


def test_a_private_model_registry_needs_an_outbound_rule_of_the_managed_network():
    rule = "azure-aml-registry-unreachable"
    assert rule in rules_of(lambda: _private_registry_deployment(False), LOCATION)
    assert rule not in rules_of(lambda: _private_registry_deployment(True), LOCATION)


def _drift_job_on(subnet: bool) -> None:
    """The toolkit's ArtifactStore and DriftJob, with or without the Functions subnet."""
    from mlops_iac.components.azure import (
        ArtifactStore,
        ArtifactStoreArgs,
        DriftJob,
        DriftJobArgs,
        PrivateNetwork,
        PrivateNetworkArgs,
    )

    net = PrivateNetwork("team-network", PrivateNetworkArgs(resource_group_name=RG))
    allowed = (net.functions_subnet_id,) if subnet else ()
    store = ArtifactStore(
        "team", ArtifactStoreArgs(resource_group_name=RG, allowed_subnet_ids=allowed)
    )
    DriftJob(
        "team-drift",
        DriftJobArgs(
            endpoint_name="fraud",
            resource_group_name=RG,
            artifact_bucket_name=store.bucket_name,
            storage_account_id=store.storage_account_id,
            capture_container_name="azureml-blobstore-1",
            dataset_version="md5:abc",
            action_group_id="/ag",
            integration_subnet_id=net.functions_subnet_id if subnet else None,
        ),
    )


def test_a_drift_function_outside_the_firewalled_store_network_is_refused():
    rule = "azure-function-storage-unreachable"
    assert rule in rules_of(lambda: _drift_job_on(subnet=False), LOCATION)
    assert rule not in rules_of(lambda: _drift_job_on(subnet=True), LOCATION)


def _blob_upload(shared_key: bool, default_action: str = "Allow"):
    account = azure.storage.StorageAccount(
        "packages",
        account_name="teampackages7f3a",
        resource_group_name=RG,
        kind="StorageV2",
        sku={"name": "Standard_LRS"},
        allow_shared_key_access=shared_key,
        network_rule_set={"default_action": default_action},
    )
    azure.storage.Blob(
        "package",
        resource_group_name=RG,
        account_name=account.name,
        container_name="packages",
        blob_name="job.zip",
        source=pulumi.StringAsset("print('hello')"),
    )


def test_a_blob_source_into_an_account_without_shared_keys_or_behind_its_firewall_is_refused():
    rule = "azure-blob-source-upload-refused"
    assert rule in rules_of(lambda: _blob_upload(False), LOCATION)
    assert rule in rules_of(lambda: _blob_upload(True, "Deny"), LOCATION)
    assert rule not in rules_of(lambda: _blob_upload(True), LOCATION)


def _managed_network_deployment(provision: bool | None):
    ml = azure.machinelearningservices
    workspace = ml.Workspace(
        "ws",
        workspace_name="teamws",
        resource_group_name=RG,
        managed_network={"isolation_mode": "AllowInternetOutbound"},
        provision_network_now=provision,
    )
    ml.OnlineDeployment(
        "blue",
        deployment_name="blue",
        endpoint_name="ep",
        resource_group_name=RG,
        workspace_name=workspace.name,
        properties=ml.ManagedOnlineDeploymentArgs(endpoint_compute_type="Managed"),
    )


def test_an_online_deployment_in_an_unprovisioned_managed_network_is_refused():
    rule = "azure-aml-online-deployment-network-not-provisioned"
    assert rule in rules_of(lambda: _managed_network_deployment(None), LOCATION)
    assert rule not in rules_of(lambda: _managed_network_deployment(True), LOCATION)
    # A workspace that already exists has had its network built (a later update).
    existing = as_state(recorded(lambda: _managed_network_deployment(True), LOCATION))
    assert rule not in rules_of(lambda: _managed_network_deployment(None), LOCATION, existing)


def _private_acr_deployment(build: str | None, hosts: tuple[str, ...] = (), environment=None):
    ml = azure.machinelearningservices
    registry = azure.containerregistry.Registry(
        "images",
        registry_name="teamimages7f3a",
        resource_group_name=RG,
        sku={"name": "Premium"},
        public_network_access="Disabled",
    )
    rules = {
        f"host-{i}": ml.FqdnOutboundRuleArgs(type="FQDN", category="UserDefined", destination=h)
        for i, h in enumerate(hosts)
    }
    workspace = ml.Workspace(
        "ws",
        workspace_name="teamws",
        resource_group_name=RG,
        container_registry=registry.id,
        image_build_compute=build,
        provision_network_now=True,
        managed_network={
            "isolation_mode": "AllowOnlyApprovedOutbound",
            "outbound_rules": rules or None,
        },
    )
    if build:
        ml.Compute(
            "builder",
            compute_name=build,
            resource_group_name=RG,
            workspace_name=workspace.name,
            properties=ml.AmlComputeArgs(compute_type="AmlCompute"),
        )
    ml.OnlineDeployment(
        "blue",
        deployment_name="blue",
        endpoint_name="ep",
        resource_group_name=RG,
        workspace_name=workspace.name,
        properties=ml.ManagedOnlineDeploymentArgs(
            endpoint_compute_type="Managed", environment_id=environment
        ),
    )


def test_an_image_built_behind_a_private_registry_needs_a_build_compute_that_reaches_packages():
    rule = "azure-aml-image-build-private-acr"
    hosts = ("pypi.org", "*.pythonhosted.org", "anaconda.com", "*.anaconda.com", "*.anaconda.org")
    assert rule in rules_of(lambda: _private_acr_deployment(None), LOCATION)
    assert rule in rules_of(lambda: _private_acr_deployment("builder"), LOCATION)  # no hosts
    assert rule not in rules_of(lambda: _private_acr_deployment("builder", hosts), LOCATION)
    # A prebuilt environment needs no build.
    prebuilt = "azureml://registries/azureml/environments/sklearn-1.5/versions/1"
    assert rule not in rules_of(lambda: _private_acr_deployment(None, (), prebuilt), LOCATION)


def _log_alert(skip: bool | None):
    logs = azure.operationalinsights.Workspace(
        "logs", resource_group_name=RG, sku={"name": "PerGB2018"}
    )
    azure.monitor.ScheduledQueryRule(
        "errors",
        resource_group_name=RG,
        kind="LogAlert",
        severity=2,
        enabled=True,
        scopes=[logs.id],
        evaluation_frequency="PT5M",
        window_size="PT5M",
        skip_query_validation=skip,
        criteria={
            "all_of": [
                {
                    "query": "AmlOnlineEndpointTrafficLog | where toint(ResponseCode) >= 500",
                    "time_aggregation": "Count",
                    "operator": "GreaterThan",
                    "threshold": 0,
                }
            ]
        },
    )


def test_a_log_alert_on_a_workspace_created_in_the_same_update_must_skip_validation():
    rule = "azure-log-alert-new-table"
    assert rule in rules_of(lambda: _log_alert(None), LOCATION)
    assert rule not in rules_of(lambda: _log_alert(True), LOCATION)
    existing = as_state(recorded(lambda: _log_alert(True), LOCATION))
    assert rule not in rules_of(lambda: _log_alert(None), LOCATION, existing)


@pytest.mark.parametrize("stack", ["azure-dev", "azure-prod"])
def test_the_reference_plans_upload_provision_build_and_alert_as_azure_requires(stack):
    from tests.conftest import reference_recording, reference_state

    recording = reference_recording(stack)
    # As `plan` judges it: the second up, after the bring-up step the saved state records.
    assert recording.deploy_errors(reference_state(stack)) == []
    workspace = recording.named("mlops-training-workspace").inputs
    assert workspace["provisionNetworkNow"] is True
    for alert in recording.of_type("azure-native:monitor:ScheduledQueryRule"):
        assert alert.inputs["skipQueryValidation"] is True, alert.name
    package_store = recording.named("mlops-drift-package-store").inputs
    assert package_store["allowSharedKeyAccess"] is True
    assert package_store["allowBlobPublicAccess"] is False
    assert package_store["networkRuleSet"]["defaultAction"] == "Allow"
    if stack == "azure-prod":
        assert workspace["imageBuildCompute"] == "image-build"
        builder = recording.named("mlops-training-image-build").inputs
        assert builder["computeName"] == "image-build"
        props = builder["properties"]["properties"]
        assert props["enableNodePublicIp"] is False
        assert props["scaleSettings"]["minNodeCount"] == 0
        hosts = {
            rule["destination"]
            for rule in workspace["managedNetwork"]["outboundRules"].values()
            if rule["type"] == "FQDN"
        }
        assert hosts == {
            "anaconda.com", "*.anaconda.com", "*.anaconda.org", "pypi.org", "*.pythonhosted.org"
        }  # fmt: skip
    else:
        assert "imageBuildCompute" not in workspace
