"""The per-type tables cover Azure and GCP resources too (inline checks and joins)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mlops_iac.policies import packs

from .baseline import Rec, Res, lineage_tags


def res(name: str, type_: str, inputs: dict[str, Any], **kwargs: Any) -> Res:
    return Res(
        urn=f"urn:pulumi:gcp-prod::proj::{type_}::{name}",
        type=type_,
        name=name,
        parent=None,
        inputs=inputs,
        outputs={"id": f"{name}-id", "name": name, **copy.deepcopy(inputs)},
        **kwargs,
    )


def labels(environment: str = "prod") -> dict[str, str]:
    return {k.replace(":", "-"): v.replace("@", "_") for k, v in lineage_tags(environment).items()}


def run(*resources: Res, **config: Any) -> set[tuple[str, str]]:
    document = packs.pack_config(
        "prod", gpu_budget=config.pop("gpu_budget", 10), node_type_prices=config.pop("prices", {})
    )
    result = packs.evaluate(Rec(list(resources), {}, "x-prod", "proj"), document)
    return {(v.policy, v.resource_name) for v in result.violations}


def gcs_bucket(**changes: Any) -> Res:
    inputs = {
        "location": "US",
        "forceDestroy": False,
        "publicAccessPrevention": "enforced",
        "uniformBucketLevelAccess": True,
        "versioning": {"enabled": True},
        "encryption": {"defaultKmsKeyName": "projects/p/locations/us/keyRings/r/cryptoKeys/k"},
        "lifecycleRules": [{"action": {"type": "Delete"}, "condition": {"numNewerVersions": 3}}],
        "labels": labels(),
    }
    inputs.update(changes)
    return res("artifacts", "gcp:storage/bucket:Bucket", inputs, protect=True)


def test_compliant_gcs_bucket() -> None:
    assert run(gcs_bucket()) == set()


@pytest.mark.parametrize(
    "changes, rule",
    [
        ({"publicAccessPrevention": "inherited"}, "mlops-storage-public-access-blocked"),
        ({"uniformBucketLevelAccess": False}, "mlops-storage-public-access-blocked"),
        ({"versioning": {"enabled": False}}, "mlops-storage-versioned"),
        ({"encryption": None}, "mlops-storage-encrypted-cmk"),
        ({"lifecycleRules": []}, "mlops-storage-lifecycle"),
        ({"forceDestroy": True}, "mlops-data-protected"),
        ({"labels": {**labels(), "mlops-git-sha": ""}}, "mlops-lineage-tags"),
    ],
)
def test_gcs_bucket_violations(changes: dict[str, Any], rule: str) -> None:
    assert run(gcs_bucket(**changes)) == {(rule, "artifacts")}


def test_gcs_retention_policy_stands_in_for_versioning() -> None:
    # GCS refuses versioning beside a retention policy; the policy protects the objects instead.
    locked = gcs_bucket(versioning=None, retentionPolicy={"retentionPeriod": 2592000})
    assert run(locked) == set()
    unlocked = gcs_bucket(versioning=None, retentionPolicy={"retentionPeriod": 0})
    assert run(unlocked) == {("mlops-storage-versioned", "artifacts")}


def azure_account(blob_versioning: bool = True) -> list[Res]:
    account = res(
        "artifacts",
        "azure-native:storage:StorageAccount",
        {
            "allowBlobPublicAccess": False,
            "allowSharedKeyAccess": False,
            "networkRuleSet": {"defaultAction": "Deny", "bypass": "AzureServices"},
            "enableHttpsTrafficOnly": True,
            "minimumTlsVersion": "TLS1_2",
            "encryption": {
                "keySource": "Microsoft.Keyvault",
                "keyVaultProperties": {
                    "keyName": "cmk",
                    "keyVaultUri": "https://v.vault.azure.net",
                },
            },
            "tags": lineage_tags("prod"),
        },
        protect=True,
    )
    account.outputs["name"] = "artifactsa1b2c3"
    blob = res(
        "artifacts-blob",
        "azure-native:storage:BlobServiceProperties",
        {"accountName": "artifactsa1b2c3", "isVersioningEnabled": blob_versioning},
    )
    policy = res(
        "artifacts-lifecycle",
        "azure-native:storage:ManagementPolicy",
        {"accountName": "artifactsa1b2c3", "policy": {"rules": [{"name": "noncurrent"}]}},
    )
    return [account, blob, policy]


def test_azure_storage_joins_by_account_name() -> None:
    assert run(*azure_account()) == set()
    assert run(*azure_account(blob_versioning=False)) == {("mlops-storage-versioned", "artifacts")}
    account, _, policy = azure_account()
    assert run(account, policy) == {("mlops-storage-versioned", "artifacts")}


def test_gke_gpu_pool_caps_and_budget() -> None:
    pool = res(
        "training-gpu",
        "gcp:container/nodePool:NodePool",
        {
            "nodeConfig": {
                "machineType": "g2-standard-4",
                "guestAccelerators": [{"type": "nvidia-l4", "count": 1}],
                "labels": labels(),
                "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}],
            },
            "autoscaling": {"minNodeCount": 0, "maxNodeCount": 4},
        },
    )
    assert run(pool, prices={"g2-standard-4": 0.707}) == set()
    assert run(pool, prices={}) == {("mlops-gpu-budget", "training-gpu")}
    assert run(pool, prices={"g2-standard-4": 0.707}, gpu_budget=2) == {("mlops-gpu-budget", "")}
    pool.inputs["autoscaling"]["minNodeCount"] = 1
    assert ("mlops-gpu-pool-caps", "training-gpu") in run(pool, prices={"g2-standard-4": 0.707})


def test_azure_gpu_compute_is_a_pool() -> None:
    compute = res(
        "training-gpu",
        "azure-native:machinelearningservices:Compute",
        {
            "properties": {
                "computeType": "AmlCompute",
                "properties": {
                    "vmSize": "Standard_NC4as_T4_v3",
                    "scaleSettings": {"minNodeCount": 0, "maxNodeCount": 40},
                },
            },
            "tags": lineage_tags("prod"),
        },
    )
    found = run(compute, prices={"Standard_NC4as_T4_v3": 0.526}, gpu_budget=100)
    assert found == {("mlops-gpu-pool-caps", "training-gpu")}


def test_gcp_alert_policy_needs_a_channel_in_the_stack() -> None:
    channel = res(
        "oncall",
        "gcp:monitoring/notificationChannel:NotificationChannel",
        {"type": "email", "userLabels": labels()},
    )
    channel.outputs["name"] = "projects/p/notificationChannels/123"
    policy = res(
        "latency",
        "gcp:monitoring/alertPolicy:AlertPolicy",
        {
            "notificationChannels": ["projects/p/notificationChannels/123"],
            "enabled": True,
            "userLabels": labels(),
        },
    )
    assert run(channel, policy) == set()
    assert run(policy) == {("mlops-alarms-routed", "latency")}


def test_key_rotation_on_gcp_and_azure() -> None:
    gcp_key = res(
        "key",
        "gcp:kms/cryptoKey:CryptoKey",
        {"rotationPeriod": "7776000s", "labels": labels()},
        protect=True,
    )
    assert run(gcp_key) == set()
    gcp_key.inputs["rotationPeriod"] = "63072000s"
    assert run(gcp_key) == {("mlops-kms-rotation", "key")}
    azure_key = res(
        "cmk",
        "azure-native:keyvault:Key",
        {
            "properties": {"rotationPolicy": {"lifetimeActions": [{"action": {"type": "Rotate"}}]}},
            "tags": lineage_tags("prod"),
        },
    )
    assert run(azure_key) == set()
    azure_key.inputs["properties"] = {}
    assert run(azure_key) == {("mlops-kms-rotation", "cmk")}


def test_gke_cluster_resource_labels_and_private_nodes() -> None:
    cluster = res(
        "training",
        "gcp:container/cluster:Cluster",
        {
            "resourceLabels": labels(),
            "privateClusterConfig": {"enablePrivateNodes": True, "enablePrivateEndpoint": True},
        },
    )
    assert run(cluster) == set()
    cluster.inputs["privateClusterConfig"] = {"enablePrivateNodes": True}
    assert run(cluster) == {("mlops-network-private-endpoints", "training")}
    cluster.inputs["privateClusterConfig"] = {}
    assert run(cluster) == {
        ("mlops-network-isolation", "training"),
        ("mlops-network-private-endpoints", "training"),
    }
    cluster.inputs["resourceLabels"] = {}
    assert ("mlops-lineage-tags", "training") in run(cluster)


def test_azure_metric_alert_needs_an_action_group_in_the_stack() -> None:
    group = res("oncall", "azure-native:monitor:ActionGroup", {"tags": lineage_tags("prod")})
    alert = res(
        "latency",
        "azure-native:monitor:MetricAlert",
        {
            "actions": [{"actionGroupId": group.outputs["id"]}],
            "enabled": True,
            "tags": lineage_tags("prod"),
        },
    )
    assert run(group, alert) == set()
    assert run(alert) == {("mlops-alarms-routed", "latency")}


ONLINE_DEPLOYMENT = (
    "/subscriptions/0/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w"
    "/onlineEndpoints/e/deployments/blue"
)
APP_SERVICE_PLAN = "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Web/serverfarms/p"


@pytest.mark.parametrize(
    ("minimum", "maximum", "target", "fires"),
    [
        ("2", "4", ONLINE_DEPLOYMENT, False),
        ("0", "4", ONLINE_DEPLOYMENT, True),  # the endpoint can go dark
        ("2", "40", ONLINE_DEPLOYMENT, True),  # over the ceiling
        ("0", "40", APP_SERVICE_PLAN, False),  # not serving: out of scope
    ],
)
def test_azure_online_deployment_autoscale_bounds(minimum, maximum, target, fires) -> None:
    capacity = {"minimum": minimum, "maximum": maximum, "default": minimum}
    setting = res(
        "scale",
        "azure-native:monitor:AutoscaleSetting",
        {
            "targetResourceUri": target,
            "enabled": True,
            "profiles": [{"name": "cpu", "capacity": capacity}],
            "tags": lineage_tags("prod"),
        },
    )
    assert (("mlops-serving-autoscaling-bounds", "scale") in run(setting)) is fires


def test_azure_log_alert_needs_an_action_group_in_the_stack() -> None:
    group = res("alerts", "azure-native:monitor:ActionGroup", {"tags": lineage_tags("prod")})
    alert = res(
        "errors",
        "azure-native:monitor:ScheduledQueryRule",
        {"enabled": True, "actions": {"actionGroups": ["alerts-id"]}, "tags": lineage_tags("prod")},
    )
    assert run(group, alert) == set()
    alert.inputs["actions"] = {"actionGroups": ["/subscriptions/0/elsewhere"]}
    alert.outputs["actions"] = alert.inputs["actions"]
    assert run(group, alert) == {("mlops-alarms-routed", "errors")}


def cloud_run(traffics: list[dict[str, Any]], model: bool = True) -> Res:
    tags = {**labels(), "mlops-model": "fraud-detector"} if model else labels()
    return res(
        "serving",
        "gcp:cloudrunv2/service:Service",
        {
            "labels": tags,
            "ingress": "INGRESS_TRAFFIC_INTERNAL_ONLY",
            "template": {"scaling": {"minInstanceCount": 1, "maxInstanceCount": 4}},
            "traffics": traffics,
        },
    )


def revision(name: str, percent: int) -> dict[str, Any]:
    return {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision": name, "percent": percent}


@pytest.mark.parametrize(
    ("traffics", "model", "fires"),
    [
        ([revision("svc-v7", 90), revision("svc-v6", 10)], True, False),
        ([revision("svc-v7", 100), revision("svc-v6", 0)], True, False),  # rollback target kept
        ([revision("svc-v7", 100)], True, True),  # nothing to roll back to
        ([revision("svc-v7", 90), revision("svc-v6", 5)], True, True),  # sums to 95
        ([revision("svc-v7", 100)], False, False),  # not a model service
    ],
)
def test_cloud_run_rollback_keeps_a_previous_revision(traffics, model, fires) -> None:
    assert (("mlops-serving-rollback", "serving") in run(cloud_run(traffics, model))) is fires


def _messages(*resources: Res) -> list[str]:
    document = packs.pack_config("prod", gpu_budget=10, node_type_prices={})
    result = packs.evaluate(Rec(list(resources), {}, "x-prod", "proj"), document)
    return [v.message for v in result.violations if v.policy == "mlops-serving-rollback"]


def serving_component(deployed: list[str], known: bool = True, type_: str = "") -> Res:
    """What mlops' ServingEndpoint registers: what the stack's last deployment served."""
    component = res("srv", type_ or "mlops:gcp:ServingEndpoint", {}, custom=False)
    component.outputs.update(deployed_revisions=deployed, deployed_revisions_known=known)
    return component


def first_deploy(deployed: list[str], known: bool = True, type_: str = "", **service_outputs):
    component = serving_component(deployed, known, type_)
    service = cloud_run([revision("svc-v7", 100)])
    service.parent = component.urn
    for props in (service.inputs, service.outputs):
        props["name"] = "svc"
        props["template"]["revision"] = "svc-v7"
    service.outputs.update(service_outputs)
    return component, service


def test_cloud_run_first_deployment_passes_with_one_revision() -> None:
    # The stack's last deployment served nothing (or only this very revision).
    assert _messages(*first_deploy([])) == []
    assert _messages(*first_deploy(["svc-v7"])) == []


@pytest.mark.parametrize(
    ("case", "problem"),
    [
        # The last deployment served v6, and the spec dropped it: rollback is possible, kept none.
        ({"deployed": ["svc-v6"]}, "revisions svc-v6 exist"),
        # Deployed before, outputs do not tell: refused rather than assumed first.
        ({"deployed": [], "known": False}, "exported no serving_revisions"),
        # The provider says the service has v6 (the engine's stack policies see outputs).
        ({"deployed": [], "latestReadyRevision": "svc-v6"}, "revisions svc-v6 exist"),
        ({"deployed": [], "trafficStatuses": [{"revision": "svc-v6"}]}, "revisions svc-v6 exist"),
        # A look-alike component is not the one that read the stack's last deployment.
        ({"deployed": [], "type_": "team:index:Serving"}, "nothing shows this is the service"),
    ],
)
def test_cloud_run_first_deployment_claims_that_do_not_hold(case, problem) -> None:
    case = dict(case)
    messages = _messages(*first_deploy(case.pop("deployed"), **case))
    assert len(messages) == 1 and problem in messages[0], messages


def test_a_label_claiming_a_first_deploy_is_not_evidence() -> None:
    service = cloud_run([revision("svc-v7", 100)])
    for props in (service.inputs, service.outputs):
        props["labels"].update({"mlops-first-deploy": "true", "first-deploy": "true"})
        props["previousRevisionExists"] = False
    [message] = _messages(service)
    assert "nothing shows this is the service's first deployment" in message


def azure_endpoint(traffic: dict[str, int] | None, deployments: tuple[str, ...]) -> list[Res]:
    endpoint = res(
        "endpoint",
        "azure-native:machinelearningservices:OnlineEndpoint",
        {
            "endpointName": "ep",
            "properties": {"publicNetworkAccess": "Disabled", "traffic": traffic or {}},
            "tags": lineage_tags("prod"),
        },
    )
    endpoint.outputs["name"] = "ep"
    found = []
    for deployment in deployments:
        resource = res(
            deployment,
            "azure-native:machinelearningservices:OnlineDeployment",
            {"endpointName": "ep", "deploymentName": deployment, "tags": lineage_tags("prod")},
        )
        resource.outputs["name"] = deployment
        found.append(resource)
    return [endpoint, *found]


@pytest.mark.parametrize(
    ("traffic", "deployments", "problem"),
    [
        ({"blue": 90, "green": 10}, ("blue", "green"), None),
        ({"blue": 100, "green": 0}, ("blue", "green"), None),
        ({"blue": 100}, ("blue",), "fewer than two deployments"),
        ({"blue": 100, "red": 0}, ("blue", "green"), "do not exist: red"),
        ({"blue": 60, "green": 10}, ("blue", "green"), "traffic sums to 70%"),
        (None, ("blue", "green"), "properties.traffic is not set"),
    ],
)
def test_azure_rollback_needs_a_previous_deployment(traffic, deployments, problem) -> None:
    recording = Rec(azure_endpoint(traffic, deployments), {}, "x-prod", "proj")
    result = packs.evaluate(recording, packs.pack_config("prod"))
    messages = [v.message for v in result.violations if v.policy == "mlops-serving-rollback"]
    if problem is None:
        assert messages == []
    else:
        assert len(messages) == 1 and problem in messages[0]


@pytest.mark.parametrize(
    ("changes", "fires"),
    [
        ({}, False),
        ({"adminUserEnabled": True}, True),
        ({"adminUserEnabled": None}, True),  # the admin user must be switched off explicitly
        ({"anonymousPullEnabled": True}, True),
    ],
)
def test_container_registry_hardening(changes, fires) -> None:
    inputs = {
        "adminUserEnabled": False,
        "anonymousPullEnabled": False,
        "tags": lineage_tags("prod"),
    }
    inputs.update(changes)
    inputs = {k: v for k, v in inputs.items() if v is not None}
    registry = res("images", "azure-native:containerregistry:Registry", inputs)
    assert (("mlops-images-immutable-scanned", "images") in run(registry)) is fires


@pytest.mark.parametrize(
    ("changes", "rule", "problem"),
    [
        ({}, None, None),
        ({"allowBlobPublicAccess": True}, "mlops-storage-public-access-blocked", "allowBlob"),
        ({"allowSharedKeyAccess": True}, "mlops-storage-public-access-blocked", "SharedKey"),
        (
            {"networkRuleSet": {"defaultAction": "Allow"}},
            "mlops-storage-public-access-blocked",
            "defaultAction",
        ),
        (
            {"networkRuleSet": {"defaultAction": "Allow"}, "publicNetworkAccess": "Disabled"},
            None,
            None,
        ),
        ({"enableHttpsTrafficOnly": False}, "mlops-storage-tls-only", "enableHttpsTrafficOnly"),
        ({"minimumTlsVersion": "TLS1_0"}, "mlops-storage-tls-only", "minimumTlsVersion"),
        ({"encryption": {"keySource": "Microsoft.Storage"}}, "mlops-storage-encrypted-cmk", "key"),
    ],
)
def test_azure_storage_account_rules(changes, rule, problem) -> None:
    account, *rest = azure_account()
    for props in (account.inputs, account.outputs):
        props.update(copy.deepcopy(changes))
    result = packs.evaluate(Rec([account, *rest], {}, "x-prod", "proj"), packs.pack_config("prod"))
    found = [(v.policy, v.message) for v in result.violations]
    if rule is None:
        assert found == []
    else:
        assert len(found) == 1 and found[0][0] == rule and problem in found[0][1], found


@pytest.mark.parametrize(
    ("traffic", "problem"),
    [
        ({"blue": 90, "green": 10}, None),
        ({"blue": 60, "green": 10}, "traffic sums to 70%"),
    ],
)
def test_azure_traffic_set_by_an_arm_template_deployment(traffic, problem) -> None:
    # The endpoint is created without traffic; a template deployment PUTs the split afterwards.
    template = {
        "resources": [
            {
                "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
                "name": "ws/ep",
                "properties": {"authMode": "AADToken", "traffic": traffic},
            }
        ]
    }
    deployment = res(
        "traffic",
        "azure-native:resources:Deployment",
        {"properties": {"mode": "Incremental", "template": template}},
    )
    recording = Rec([*azure_endpoint(None, ("blue", "green")), deployment], {}, "x-prod", "proj")
    result = packs.evaluate(recording, packs.pack_config("prod"))
    messages = [v.message for v in result.violations if v.policy == "mlops-serving-rollback"]
    if problem is None:
        assert messages == []
    else:
        assert len(messages) == 1 and problem in messages[0]


def _package_store(extra_container: bool = False, public_blobs: bool = False) -> list[Res]:
    """A Function App's package account: Shared Key on (the provider uploads with the account
    key), network open, no customer key, no versioning or lifecycle."""
    account = res(
        "packages",
        "azure-native:storage:StorageAccount",
        {
            "allowBlobPublicAccess": public_blobs,
            "allowSharedKeyAccess": True,
            "networkRuleSet": {"defaultAction": "Allow"},
            "enableHttpsTrafficOnly": True,
            "minimumTlsVersion": "TLS1_2",
            "tags": lineage_tags("prod"),
        },
        protect=True,
    )
    account.outputs["name"] = "stpkg1a2b"
    container = res(
        "packages-container",
        "azure-native:storage:BlobContainer",
        {"accountName": "stpkg1a2b", "containerName": "drift-packages"},
    )
    blob = res(
        "package",
        "azure-native:storage:Blob",
        {"accountName": "stpkg1a2b", "containerName": "drift-packages", "blobName": "job-1.zip"},
    )
    app = res(
        "function",
        "azure-native:web:WebApp",
        {
            "kind": "functionapp,linux",
            "siteConfig": {
                "appSettings": [
                    {
                        "name": "WEBSITE_RUN_FROM_PACKAGE",
                        "value": "https://stpkg1a2b.blob.core.windows.net/drift-packages/job-1.zip",
                    }
                ]
            },
            "tags": lineage_tags("prod"),
        },
    )
    resources = [account, container, blob, app]
    if extra_container:
        resources.append(
            res(
                "data",
                "azure-native:storage:BlobContainer",
                {"accountName": "stpkg1a2b", "containerName": "data"},
            )
        )
    return resources


STORE_RULES = {
    "mlops-storage-encrypted-cmk",
    "mlops-storage-versioned",
    "mlops-storage-lifecycle",
    "mlops-storage-public-access-blocked",
}


def test_an_account_holding_only_function_packages_is_no_object_store() -> None:
    found = {rule for rule, name in run(*_package_store()) if name == "packages"}
    assert found & STORE_RULES == set()
    # Anything else in it makes it an object store again, and so does anonymous blob access.
    found = {rule for rule, name in run(*_package_store(extra_container=True))}
    assert found >= STORE_RULES
    found = {rule for rule, name in run(*_package_store(public_blobs=True))}
    assert found >= STORE_RULES
