"""``DriftJob`` on Azure as azure-prod builds it: package, schedule, identity, alert, retraining."""

from __future__ import annotations

import json

import pytest

from mlops_iac.components.azure.drift_job import ncrontab
from tests.conftest import platform_raw, reference_recording
from tests.drift._package import import_unpacked

STORAGE = "azure-native:storage"
ROLE = "azure-native:authorization:RoleAssignment"
ROLES = {
    "owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "metrics": "3913510d-42f4-4e42-8a64-420c390055eb",
    "queue": "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a",
}


@pytest.fixture(scope="module")
def prod():
    return reference_recording("azure-prod")


def _settings(prod) -> dict[str, str]:
    site = prod.named("mlops-drift-function").inputs["siteConfig"]
    return {item["name"]: item["value"] for item in site["appSettings"]}


@pytest.mark.parametrize(
    ("schedule", "expression"),
    [("hourly", "0 0 * * * *"), ("daily", "0 0 0 * * *"), ("weekly", "0 0 0 * * 1")],
)
def test_schedules_become_six_field_ncrontab(schedule, expression):
    assert ncrontab(schedule) == expression
    assert len(expression.split()) == 6  # seconds first, as the timer trigger reads it


def test_an_unknown_schedule_is_refused():
    with pytest.raises(ValueError, match="schedule must be one of hourly, daily, weekly"):
        ncrontab("monthly")


def test_children(prod):
    job = prod.named("mlops-drift", "mlops:azure:DriftJob")
    assert sorted((r.type, r.name) for r in prod.children(job)) == [
        (ROLE, "mlops-drift-host-secrets"),
        (ROLE, "mlops-drift-host-storage"),
        (ROLE, "mlops-drift-metrics"),
        (ROLE, "mlops-drift-read-capture"),
        (ROLE, "mlops-drift-read-package"),
        (ROLE, "mlops-drift-reports"),
        (ROLE, "mlops-drift-retraining-sender"),
        ("azure-native:managedidentity:UserAssignedIdentity", "mlops-drift-identity"),
        ("azure-native:monitor:DiagnosticSetting", "mlops-drift-function-logs"),
        ("azure-native:monitor:MetricAlert", "mlops-drift-alert"),
        ("azure-native:monitor:ScheduledQueryRule", "mlops-drift-failed-runs"),
        ("azure-native:operationalinsights:Workspace", "mlops-drift-logs"),
        (f"{STORAGE}:Blob", "mlops-drift-package"),
        (f"{STORAGE}:BlobContainer", "mlops-drift-hosts"),
        (f"{STORAGE}:BlobContainer", "mlops-drift-packages"),
        (f"{STORAGE}:BlobContainer", "mlops-drift-secrets"),
        (f"{STORAGE}:StorageAccount", "mlops-drift-package-store"),
        ("azure-native:web:AppServicePlan", "mlops-drift-plan"),
        ("azure-native:web:WebApp", "mlops-drift-function"),
    ]


def test_failed_runs_alert_on_the_functions_own_logs(prod):
    function = prod.named("mlops-drift-function")
    setting = prod.named("mlops-drift-function-logs").inputs
    workspace = prod.named("mlops-drift-logs")
    assert setting["resourceUri"] == function.id and setting["workspaceId"] == workspace.id
    assert setting["logs"] == [{"category": "FunctionAppLogs", "enabled": True}]
    rule = prod.named("mlops-drift-failed-runs").inputs
    assert rule["scopes"] == [workspace.id]
    [condition] = rule["criteria"]["allOf"]
    assert f"_ResourceId =~ '{function.id}'" in condition["query"]
    # The host writes ``Functions.drift_timer``; the bare name matches too.
    assert (
        "(FunctionName =~ 'Functions.drift_timer' or FunctionName =~ 'drift_timer')"
        " and (Level == 'Error' or Level == 'Critical')"
    ) in condition["query"]
    group = prod.named("mlops-drift-alert").inputs["actions"][0]["actionGroupId"]
    assert rule["actions"]["actionGroups"] == [group]


def test_the_rollout_app_logs_to_the_same_workspace_and_pages_on_failures(prod):
    """A rollback that raises returns 500, which the action group does not retry: the rollout
    app's errors page the stack's channel (never the rollout's own action group)."""
    app = prod.named("mlops-rollout-function")
    setting = prod.named("mlops-rollout-function-logs").inputs
    workspace = prod.named("mlops-drift-logs")
    assert setting["resourceUri"] == app.id and setting["workspaceId"] == workspace.id
    rule = prod.named("mlops-rollout-failed-runs").inputs
    [condition] = rule["criteria"]["allOf"]
    assert f"_ResourceId =~ '{app.id}'" in condition["query"]
    for function in ("rollout_alert", "rollout_timer"):
        assert f"FunctionName =~ 'Functions.{function}'" in condition["query"]
    group = prod.named("mlops-drift-alert").inputs["actions"][0]["actionGroupId"]
    assert rule["actions"]["actionGroups"] == [group]


def test_function_runs_the_package_on_elastic_premium(prod):
    plan = prod.named("mlops-drift-plan").inputs
    assert (plan["kind"], plan["reserved"], plan["sku"], plan["maximumElasticWorkerCount"]) == (
        "elastic",
        True,
        {"name": "EP1", "tier": "ElasticPremium"},
        1,
    )
    function = prod.named("mlops-drift-function")
    inputs = function.inputs
    assert inputs["kind"] == "functionapp,linux" and inputs["httpsOnly"] is True
    assert inputs["serverFarmId"] == prod.named("mlops-drift-plan").id
    assert inputs["siteConfig"]["linuxFxVersion"] == "Python|3.11"
    assert inputs["siteConfig"]["ftpsState"] == "Disabled"
    identity = prod.named("mlops-drift-identity").outputs
    identity_id = prod.named("mlops-drift-identity").id
    assert inputs["identity"] == {
        "type": "UserAssigned",
        "userAssignedIdentities": [identity_id],
    }
    settings = _settings(prod)
    package = prod.named("mlops-drift-package")
    account = prod.named("mlops-artifacts-account").outputs["name"]
    package_account = prod.named("mlops-drift-package-store").outputs["name"]
    assert package.inputs["accountName"] == package_account != account
    assert settings["WEBSITE_RUN_FROM_PACKAGE"] == (
        f"https://{package_account}.blob.core.windows.net/drift-packages/"
        f"{package.inputs['blobName']}"
    )
    assert settings["WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID"] == identity_id
    # Identity-based host storage: no connection string, no account key.
    assert "AzureWebJobsStorage" not in settings
    assert settings["AzureWebJobsStorage__accountName"] == account
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert settings["AzureWebJobsStorage__clientId"] == identity["clientId"]
    assert not any("AccountKey" in str(value) for value in settings.values())
    assert {d for d in function.dependencies} >= {
        prod.named("mlops-drift-package").urn,
        prod.named("mlops-drift-host-storage").urn,
    }


def _functions_subnet(recording) -> tuple[dict, str]:
    vnet = recording.named("mlops-network-vnet")
    (subnet,) = [s for s in vnet.inputs["subnets"] if s["name"] == "functions"]
    return subnet, f"{vnet.id}/subnets/functions"


@pytest.mark.parametrize("stack", ["azure-prod", "azure-dev"])
def test_function_joins_a_subnet_the_artifact_firewall_admits(prod, stack):
    recording = prod if stack == "azure-prod" else reference_recording(stack)
    subnet, subnet_id = _functions_subnet(recording)
    # Elastic Premium's delegation, and the service endpoint a virtual network rule needs.
    assert subnet["delegations"] == [
        {"name": "functions", "serviceName": "Microsoft.Web/serverFarms"}
    ]
    assert subnet["serviceEndpoints"] == [{"service": "Microsoft.Storage"}]
    assert subnet["addressPrefix"] == "10.90.1.0/26"
    vnet = recording.named("mlops-network-vnet").inputs
    assert vnet["addressSpace"]["addressPrefixes"] == ["10.90.0.0/24", "10.90.1.0/26"]
    function = recording.named("mlops-drift-function").inputs
    assert function["virtualNetworkSubnetId"] == subnet_id
    assert function["outboundVnetRouting"] == {"allTraffic": True}
    rules = recording.named("mlops-artifacts-account").inputs["networkRuleSet"]
    assert rules["defaultAction"] == "Deny"  # the firewall stays closed to everyone else
    assert rules["virtualNetworkRules"] == [
        {"virtualNetworkResourceId": subnet_id, "action": "Allow"}
    ]
    assert recording.named("mlops-drift-plan").inputs["sku"]["tier"] == "ElasticPremium"
    # Private DNS zones only where there are private endpoints.
    zones = recording.of_type("azure-native:privatedns:PrivateZone")
    assert bool(zones) is (stack == "azure-prod")
    assert not [w for w in recording.warnings if "integration_subnet_id" in w]


def test_package_holds_the_timer_function_and_the_library(prod):
    assets = prod.named("mlops-drift-package").inputs["source"]["assets"]
    assert {"host.json", "drift_timer/function.json", "drift_timer/__init__.py"} <= set(assets)
    assert "mlops_iac/drift/handlers.py" in assets
    binding = json.loads(assets["drift_timer/function.json"]["text"])["bindings"][0]
    assert binding["type"] == "timerTrigger"
    assert binding["schedule"] == "%DRIFT_SCHEDULE%"  # the app setting below
    assert _settings(prod)["DRIFT_SCHEDULE"] == "0 0 0 * * *"  # azure-prod: drift daily


def test_the_package_runs_on_the_standard_library_alone(prod, tmp_path):
    """Unpack the package as the Functions host does and import the function with ``-S``."""
    assets = prod.named("mlops-drift-package").inputs["source"]["assets"]
    sdks = ("azure", "pulumi", "mlops_iac.c")
    assert import_unpacked(assets, tmp_path, "drift_timer", "main", sdks) == "[]"


def test_job_settings_point_at_the_collected_inputs_and_the_dataset_version(prod):
    settings = _settings(prod)
    endpoint = prod.named("mlops-serving-endpoint").outputs["name"]
    workspace = prod.named("mlops-training-workspace").outputs["workspaceId"]
    assert settings["DRIFT_CAPTURE_URI"] == (
        f"az://azureml-blobstore-{workspace}/modelDataCollector/{endpoint}/"
    )
    assert settings["DRIFT_CAPTURE_COLLECTION"] == "model_inputs"
    assert settings["DRIFT_FORMAT"] == "azure-capture"
    version = platform_raw("azure-prod")["lineage"]["datasetVersion"].replace(":", "_")
    assert settings["DRIFT_BASELINE_URI"] == f"az://dvc/drift/baselines/{version}/baseline.json"
    assert settings["DRIFT_REPORT_URI"] == f"az://dvc/drift/reports/{endpoint}"
    assert settings["DRIFT_ENDPOINT"] == endpoint
    account = prod.named("mlops-artifacts-account").outputs["name"]
    queue = prod.named("mlops-monitoring-retraining").outputs["name"]
    assert settings["DRIFT_RETRAINING_QUEUE_URL"] == (
        f"https://{account}.queue.core.windows.net/{queue}"
    )
    # The serving deployment really collects model inputs (the data collector).
    blue = prod.named("mlops-serving-blue").inputs["properties"]["dataCollector"]
    assert blue["collections"]["model_inputs"]["dataCollectionMode"] == "Enabled"


def _role(prod, name: str) -> dict:
    inputs = prod.named(name).inputs
    assert inputs["principalId"] == prod.named("mlops-drift-identity").outputs["principalId"]
    assert inputs["principalType"] == "ServicePrincipal"
    return inputs


def test_identity_is_scoped_to_what_the_job_touches(prod):
    account_id = prod.named("mlops-artifacts-account").id
    containers = f"{account_id}/blobServices/default/containers/"
    package_account_id = prod.named("mlops-drift-package-store").id
    expected = {
        "mlops-drift-host-storage": ("owner", f"{containers}azure-webjobs-hosts"),
        "mlops-drift-host-secrets": ("owner", f"{containers}azure-webjobs-secrets"),
        "mlops-drift-read-package": (
            "reader",
            f"{package_account_id}/blobServices/default/containers/drift-packages",
        ),
        "mlops-drift-reports": ("contributor", f"{containers}dvc"),
        "mlops-drift-metrics": ("metrics", prod.named("mlops-drift-function").id),
        "mlops-drift-retraining-sender": ("queue", prod.exports["retraining_trigger"]),
    }
    for name, (role, scope) in expected.items():
        inputs = _role(prod, name)
        assert inputs["roleDefinitionId"].endswith(f"/roleDefinitions/{ROLES[role]}"), name
        assert inputs["scope"] == scope, name
    capture = _role(prod, "mlops-drift-read-capture")
    assert capture["roleDefinitionId"].endswith(ROLES["reader"])
    assert capture["scope"].startswith(f"{containers}azureml-blobstore-")
    assert "StringStartsWith 'modelDataCollector/'" in capture["condition"]
    assert capture["conditionVersion"] == "2.0"
    reports = _role(prod, "mlops-drift-reports")
    condition = reports["condition"]
    assert "blobs/write'" in condition and "blobs/delete'" in condition
    assert "StringStartsWith 'drift/reports/'" in condition
    assert "StringStartsWith 'drift/'" in condition  # reads: baselines and reports only
    # Nothing is granted on the whole account, the resource group or the subscription.
    for role in prod.of_type(ROLE):
        if role.name.startswith("mlops-drift-"):
            assert role.inputs["scope"] != account_id


def test_alert_fires_on_drifted_features_and_acts_on_the_action_group(prod):
    alert = prod.named("mlops-drift-alert").inputs
    assert alert["scopes"] == [prod.named("mlops-drift-function").id]
    assert alert["enabled"] is True
    (criterion,) = alert["criteria"]["allOf"]
    assert (criterion["metricNamespace"], criterion["metricName"]) == (
        "mlops/drift",
        "DriftedFeatures",
    )
    assert (criterion["operator"], criterion["threshold"]) == ("GreaterThan", 0)
    assert criterion["skipMetricValidation"] is True
    endpoint = prod.named("mlops-serving-endpoint").outputs["name"]
    assert criterion["dimensions"] == [
        {"name": "Endpoint", "operator": "Include", "values": [endpoint]}
    ]
    assert (alert["evaluationFrequency"], alert["windowSize"]) == ("PT1H", "P1D")
    assert alert["actions"] == [{"actionGroupId": prod.exports["alert_topic"]}]


def test_stack_exports_the_job(prod):
    assert prod.exports["drift_job_function"] == prod.named("mlops-drift-function").outputs["name"]
    assert prod.exports["drift_alarm_name"] == prod.named("mlops-drift-alert").outputs["name"]
    assert prod.exports["drift_baseline_uri"].startswith("az://dvc/drift/baselines/")


def _deploy_errors(type_token: str, **inputs) -> list[str]:
    from types import SimpleNamespace

    from mlops_iac.plan import deploy

    resource = SimpleNamespace(
        urn=f"urn:pulumi:s::p::{type_token}::x", type=type_token, name="x", inputs=inputs
    )
    return [e.rule for e in deploy.check([resource])]


def test_the_catalogue_refuses_what_azure_refuses_for_the_job():
    assert _deploy_errors("azure-native:monitor:MetricAlert", ruleName="a", windowSize="P7D")
    assert _deploy_errors(
        "azure-native:monitor:MetricAlert", ruleName="a", evaluationFrequency="P1D"
    )
    assert not _deploy_errors(
        "azure-native:monitor:MetricAlert", ruleName="a", windowSize="P1D",
        evaluationFrequency="PT1H",
    )  # fmt: skip
    assert _deploy_errors("azure-native:web:WebApp", name="-bad-")
    assert _deploy_errors("azure-native:web:WebApp", name="x" * 61)
    assert not _deploy_errors("azure-native:web:WebApp", name="mlops-drift-function1a2b3c4d")
    assert _deploy_errors("azure-native:authorization:RoleAssignment", conditionVersion="1.0")
    assert _deploy_errors("azure-native:storage:Blob", blobName="b" * 1025)


def test_the_prod_plan_has_no_deploy_errors(prod):
    from tests.conftest import reference_state

    # As `plan` judges it: the second up, after the bring-up step the saved state records.
    assert prod.deploy_errors(reference_state("azure-prod")) == []


def test_without_a_subnet_the_job_runs_on_consumption_and_says_what_it_cannot_reach():
    from mlops_iac.components.azure import DriftJob, DriftJobArgs
    from mlops_iac.plan.testing import run

    args = DriftJobArgs(
        endpoint_name="fraud",
        resource_group_name="rg",
        artifact_bucket_name="stfraud",
        storage_account_id="/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/x",
        capture_container_name="azureml-blobstore-1",
        dataset_version="md5:abc",
        action_group_id="/ag",
        retraining_queue_id="/q",
        retraining_queue_url="https://stfraud.queue.core.windows.net/retraining",
    )
    recording = run(lambda: DriftJob("job", args), config={"azure-native:location": "eastus"})
    plan = recording.named("job-plan").inputs
    assert (plan["kind"], plan["sku"]) == ("linux", {"name": "Y1", "tier": "Dynamic"})
    assert "maximumElasticWorkerCount" not in plan
    function = recording.named("job-function").inputs
    assert "virtualNetworkSubnetId" not in function and "outboundVnetRouting" not in function
    assert [w for w in recording.warnings if "no integration_subnet_id" in w]


def _function_plan(*, tier="ElasticPremium", subnet=True, delegation="Microsoft.Web/serverFarms",
                   endpoint="Microsoft.Storage", admitted=True, default_action="Deny"):  # fmt: skip
    """A Function App, its plan, its network and the firewalled account it reads, as resources."""
    from types import SimpleNamespace

    def resource(type_token, name, rid="", **inputs):
        urn = f"urn:pulumi:s::p::{type_token}::{name}"
        return SimpleNamespace(urn=urn, type=type_token, name=name, id=rid, inputs=inputs)

    vnet_id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v"
    subnet_id = f"{vnet_id}/subnets/functions"
    subnet_spec = {"name": "functions", "addressPrefix": "10.90.1.0/26"}
    if delegation:
        subnet_spec["delegations"] = [{"name": "f", "serviceName": delegation}]
    if endpoint:
        subnet_spec["serviceEndpoints"] = [{"service": endpoint}]
    rules = {"defaultAction": default_action, "bypass": "AzureServices"}
    if admitted:
        rules["virtualNetworkRules"] = [{"virtualNetworkResourceId": subnet_id.upper()}]
    settings = [
        {"name": "AzureWebJobsStorage__accountName", "value": "stfraud"},
        {"name": "DRIFT_RETRAINING_QUEUE_URL", "value": "https://stother.queue.core.windows.net/q"},
    ]
    app = {"kind": "functionapp,linux", "serverFarmId": "/plan", "siteConfig": {
        "appSettings": settings}}  # fmt: skip
    if subnet:
        app["virtualNetworkSubnetId"] = subnet_id
    return [
        resource("azure-native:network:VirtualNetwork", "vnet", vnet_id, subnets=[subnet_spec]),
        resource(
            "azure-native:storage:StorageAccount",
            "acct",
            accountName="stfraud",
            networkRuleSet=rules,
        ),  # fmt: skip
        resource(
            "azure-native:storage:StorageAccount",
            "other",
            accountName="stother",
            networkRuleSet=dict(rules),
        ),  # fmt: skip
        resource("azure-native:web:AppServicePlan", "plan", "/plan", sku={"tier": tier}),
        resource("azure-native:web:WebApp", "fn", **app),
    ]


def _function_errors(**kwargs) -> list[str]:
    from mlops_iac.plan import deploy

    return [
        e.message
        for e in deploy.check(_function_plan(**kwargs))
        if e.rule == "azure-function-storage-unreachable"
    ]


def test_a_function_in_an_admitted_delegated_subnet_reaches_the_firewalled_accounts():
    assert _function_errors() == []
    assert _function_errors(default_action="Allow", admitted=False, subnet=False) == []


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"subnet": False}, ["'stfraud' denies by default and the app has no VNet integration"]),
        ({"admitted": False}, ["'stfraud' denies by default and the app joins a subnet its"]),
        ({"tier": "Dynamic"}, ["the Consumption plan has no virtual network integration"]),
        ({"delegation": "Microsoft.App/environments"}, ["not delegated to Microsoft.Web/server"]),
        ({"delegation": None}, ["not delegated to Microsoft.Web/serverFarms"]),
        ({"tier": "FlexConsumption"}, ["not delegated to Microsoft.App/environments"]),
        ({"endpoint": None}, ["'stfraud' admits the subnet by a virtual network rule, which"]),
        ({"endpoint": "Microsoft.Sql"}, ["needs the subnet's Microsoft.Storage service endpoint"]),
    ],
)
def test_the_catalogue_refuses_a_function_that_cannot_reach_its_storage(kwargs, expected):
    errors = _function_errors(**kwargs)
    # Each account named by a setting (host storage, the queue URL) is checked.
    assert len(errors) == (2 if "subnet" in kwargs or "admitted" in kwargs
                           or "endpoint" in kwargs else 1)  # fmt: skip
    for fragment in expected:
        assert any(fragment in error for error in errors), errors


_BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"


def test_read_conditions_narrow_listings_by_prefix_and_reads_by_path(prod):
    """List Blobs is the ``Blob.List`` suboperation of ``blobs/read`` and has no blob path
    attribute, only the request's prefix: a path clause alone would deny every listing.
    https://learn.microsoft.com/azure/storage/blobs/storage-auth-abac-attributes#list-blobs"""
    read = f"ActionMatches{{'{_BLOBS}/read'}}"
    listing = "SubOperationMatches{'Blob.List'}"
    path, prefix = f"@Resource[{_BLOBS}:path]", f"@Request[{_BLOBS}:prefix]"

    def reads_under(where: str) -> str:
        return (
            f"((!({read} AND NOT {listing})) OR ({path} StringStartsWith '{where}'))"
            f" AND ((!({read} AND {listing})) OR ({prefix} StringStartsWith '{where}'))"
        )

    capture = _role(prod, "mlops-drift-read-capture")["condition"]
    assert capture == reads_under("modelDataCollector/")
    writes = " AND ".join(
        f"!(ActionMatches{{'{_BLOBS}/{action}'}})" for action in ("write", "add/action", "delete")
    )
    reports = _role(prod, "mlops-drift-reports")["condition"]
    assert reports == (
        f"{reads_under('drift/')} AND (({writes}) OR ({path} StringStartsWith 'drift/reports/'))"
    )
    # The job lists capture with a prefix the condition admits.
    settings = _settings(prod)
    listed = settings["DRIFT_CAPTURE_URI"].split("/", 3)[3]
    assert listed.startswith("modelDataCollector/")
