"""``verify`` and ``rollback --now`` on Azure and GCP against recorded API answers.

The estate is the reference prod stacks' plan (``tests.ops.recorded``): healthy as recorded, then
one drift at a time. Every request goes through the injected transport, which logs it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from mlops_iac.cli import cloudrest, stackfile
from mlops_iac.cli.cloudrest import ApiError
from tests.conftest import STACKS, reference_recording
from tests.ops.conftest import write_outputs
from tests.ops.keys import install_allowed_signers, key_for
from tests.ops.recorded import ARM, Recorded, azure_values, gcp_values, render


def azure_checks() -> list[str]:
    """What Azure verify checks, in order: one routing check per recorded alert rule."""
    recorded = reference_recording("azure-prod")
    rules = [
        *recorded.of_type("azure-native:monitor:MetricAlert"),
        *recorded.of_type("azure-native:monitor:ScheduledQueryRule"),
    ]
    return [
        "storage-versioning",
        "storage-encryption",
        "key-rotation",
        "alerts-present",
        *["alert-routed"] * len(rules),
        "endpoint-in-service",
        "endpoint-serving",
        "endpoint-approved-version",
        "deployment-lineage",
        "deployment-artifact-digest",
    ]


def gcp_checks() -> list[str]:
    """What GCP verify checks, in order: one alert-policy check per exported alarm name."""
    alarms = reference_recording("gcp-prod").exports["alarm_names"]
    return [
        "bucket-versioning",
        "bucket-encryption",
        "model-bucket-retention",
        "kms-rotation",
        *["alert-policy"] * len(alarms),
        "endpoint-in-service",
        "endpoint-serving",
        "endpoint-approved-version",
        "service-lineage",
    ]


@pytest.fixture
def project(tmp_path) -> Path:
    """A project with copies of the reference Azure and GCP prod stack files."""
    root = tmp_path / "project"
    (root / "stacks").mkdir(parents=True)
    for stack in ("azure-prod", "gcp-prod"):
        shutil.copy(STACKS / f"Pulumi.{stack}.yaml", root / "stacks")
    install_allowed_signers(root)
    return root


def _outputs(tmp_path: Path, stack: str, **changes: Any) -> Path:
    """The stack's exports as `pulumi stack output --json` writes them (``None`` drops a key)."""
    values = {**reference_recording(stack).exports, **changes}
    values = {k: v for k, v in values.items() if v is not None}
    return write_outputs(tmp_path / f"{stack}.json", values)


@pytest.fixture
def azure(monkeypatch) -> Recorded:
    transport = Recorded("azure", azure_values())
    monkeypatch.setattr(cloudrest, "transport_for", lambda cloud: transport)
    return transport


@pytest.fixture
def gcp(monkeypatch) -> Recorded:
    transport = Recorded("gcp", gcp_values())
    monkeypatch.setattr(cloudrest, "transport_for", lambda cloud: transport)
    return transport


def _verify(cli, project, stack, outputs, tmp_path) -> tuple[int, dict[str, Any]]:
    result = tmp_path / "verify.json"
    code = cli("verify", "-s", stack, "--project", project, "--outputs", outputs,
               "--json", result)  # fmt: skip
    return code, json.loads(result.read_text()) if result.exists() else {}


def _failed(document: dict[str, Any]) -> dict[str, str]:
    return {c["check"]: c["detail"] for c in document["checks"] if not c["passed"]}


# --- Azure verify ---------------------------------------------------------------------------


def test_azure_healthy_estate_passes_reading_only(cli, project, azure, tmp_path):
    code, document = _verify(cli, project, "azure-prod", _outputs(tmp_path, "azure-prod"), tmp_path)
    assert code == 0, cli.out + cli.err
    assert [c["check"] for c in document["checks"]] == azure_checks()
    assert _failed(document) == {}
    serving = document["checks"][azure_checks().index("endpoint-serving")]
    assert serving["detail"] == "serves v7 100% (blue) as the stack declares"
    routed = {c["resource"] for c in document["checks"] if c["check"] == "alert-routed"}
    recorded = reference_recording("azure-prod")
    rules = [
        *recorded.of_type("azure-native:monitor:MetricAlert"),
        *recorded.of_type("azure-native:monitor:ScheduledQueryRule"),
    ]
    assert routed == {r.id.rsplit("/", 1)[1] for r in rules}
    assert {method for method, _, _ in azure.sent} == {"GET"}
    assert all(url.startswith(f"{ARM}/subscriptions/") for _, url, _ in azure.sent)


def test_azure_versioning_off_fails(cli, project, azure, tmp_path):
    azure.find("GET", "/blobServices/default")["properties"]["isVersioningEnabled"] = False
    code, document = _verify(cli, project, "azure-prod", _outputs(tmp_path, "azure-prod"), tmp_path)
    assert code == 1
    assert _failed(document) == {"storage-versioning": "blob versioning off (isVersioningEnabled)"}


def test_azure_wrong_key_fails_naming_both(cli, project, azure, tmp_path):
    values = azure_values()
    vault_props = azure.find("GET", f"/storageAccounts/{values['storage_account']}")["properties"][
        "encryption"
    ]["keyvaultproperties"]
    vault_props["keyname"] = "someone-elses-key"
    code, document = _verify(cli, project, "azure-prod", _outputs(tmp_path, "azure-prod"), tmp_path)
    assert code == 1
    assert _failed(document) == {
        "storage-encryption": (
            f"encrypted with key someone-elses-key in {values['vault']}.vault.azure.net, not the "
            f"stack's key {values['key']} in {values['vault']}"
        )
    }


def test_azure_microsoft_managed_keys_fail(cli, project, azure, tmp_path):
    values = azure_values()
    encryption = azure.find("GET", f"/storageAccounts/{values['storage_account']}")["properties"][
        "encryption"
    ]
    encryption["keySource"] = "Microsoft.Storage"
    del encryption["keyvaultproperties"]
    code, document = _verify(cli, project, "azure-prod", _outputs(tmp_path, "azure-prod"), tmp_path)
    assert _failed(document) == {
        "storage-encryption": (
            "keySource Microsoft.Storage, not Microsoft.Keyvault (the stack's key)"
        )
    }


def test_azure_key_without_rotation_fails(cli, project, azure, tmp_path):
    policy = azure.find("GET", f"/keys/{azure_values()['key']}")["properties"]["rotationPolicy"]
    policy["lifetimeActions"] = [
        a for a in policy["lifetimeActions"] if a["action"]["type"] != "rotate"
    ]
    code, document = _verify(cli, project, "azure-prod", _outputs(tmp_path, "azure-prod"), tmp_path)
    assert code == 1
    assert _failed(document) == {"key-rotation": "no rotation policy with a rotate action"}


def test_azure_alert_without_action_group_fails_naming_it(cli, project, azure, tmp_path):
    rules = azure.find("GET", "/Microsoft.Insights/scheduledQueryRules")["value"]
    five_xx = next(r for r in rules if r["name"].startswith("mlops-monitoring-5xx"))
    five_xx["properties"]["actions"]["actionGroups"] = []
    code, document = _verify(cli, project, "azure-prod", _outputs(tmp_path, "azure-prod"), tmp_path)
    assert code == 1
    failed = [c for c in document["checks"] if not c["passed"]]
    assert [(c["check"], c["resource"], c["detail"]) for c in failed] == [
        ("alert-routed", five_xx["name"], "no action group: nobody is told")
    ]


def test_azure_action_group_without_receivers_fails(cli, project, azure, tmp_path):
    alerts_group = reference_recording("azure-prod").exports["alert_topic"]
    azure.answer("GET", f"{ARM}{alerts_group}?api-version=2023-01-01")["properties"][
        "emailReceivers"
    ] = []
    code, document = _verify(cli, project, "azure-prod", _outputs(tmp_path, "azure-prod"), tmp_path)
    assert code == 1
    name = alerts_group.rsplit("/", 1)[1]
    routed = [c for c in document["checks"] if c["check"] == "alert-routed" and not c["passed"]]
    assert {c["detail"] for c in routed} == {f"action group {name} has no receivers"}
    # latency, 5xx, drift, failed drift runs and failed rollout runs notify that group; the
    # approvers' is fine, and the rollout function's two alerts still reach the function.
    assert len(routed) == 5


def test_azure_rolled_back_rollout_fails_naming_both_versions(cli, project, azure, tmp_path):
    azure.find("GET", f"/onlineEndpoints/{azure_values()['endpoint']}")["properties"]["traffic"] = {
        "blue": 0,
        "green": 100,
    }
    code, document = _verify(cli, project, "azure-prod", _outputs(tmp_path, "azure-prod"), tmp_path)
    assert code == 1
    assert _failed(document) == {
        "endpoint-serving": (
            "serves v6 100% (green); the stack's exports say v7 100% (active_model_version 7)"
        )
    }


def test_azure_deployment_of_a_foreign_model_fails(cli, project, azure, tmp_path):
    deployments = azure.find("GET", "/deployments")["value"]
    blue = next(d for d in deployments if d["name"] == "blue")
    blue["properties"]["model"] = "azureml://registries/elsewhere/models/fraud-detector/versions/7"
    code, document = _verify(cli, project, "azure-prod", _outputs(tmp_path, "azure-prod"), tmp_path)
    assert _failed(document)["endpoint-serving"] == (
        "blue serves azureml://registries/elsewhere/models/fraud-detector/versions/7 with 100%"
    )


def test_azure_lineage_tag_drift_fails(cli, project, azure, tmp_path):
    deployments = azure.find("GET", "/deployments")["value"]
    next(d for d in deployments if d["name"] == "green")["tags"]["mlops:git-sha"] = "0000000"
    code, document = _verify(cli, project, "azure-prod", _outputs(tmp_path, "azure-prod"), tmp_path)
    assert _failed(document) == {
        "deployment-lineage": "green: mlops:git-sha=0000000 (want 4f2c1e9)"
    }


def test_azure_failed_deployment_is_not_in_service(cli, project, azure, tmp_path):
    deployments = azure.find("GET", "/deployments")["value"]
    next(d for d in deployments if d["name"] == "green")["properties"]["provisioningState"] = (
        "Failed"
    )
    code, document = _verify(cli, project, "azure-prod", _outputs(tmp_path, "azure-prod"), tmp_path)
    assert _failed(document) == {
        "endpoint-in-service": "endpoint Succeeded; deployments: green Failed"
    }


def test_azure_stack_without_a_customer_key_fails_encryption_and_rotation(
    cli, project, azure, tmp_path
):
    values = azure_values()
    encryption = azure.find("GET", f"/storageAccounts/{values['storage_account']}")["properties"][
        "encryption"
    ]
    encryption["keySource"] = "Microsoft.Storage"
    del encryption["keyvaultproperties"]
    outputs = _outputs(tmp_path, "azure-prod", kms_key_id=None)
    code, document = _verify(cli, project, "azure-prod", outputs, tmp_path)
    assert code == 1
    assert _failed(document) == {
        "storage-encryption": (
            "keySource Microsoft.Storage, not Microsoft.Keyvault (the stack's key)"
        ),
        "key-rotation": (
            "the stack exports no kms_key_id: no customer-managed key "
            "(artifacts.customerManagedKey)"
        ),
    }


def test_azure_missing_export_is_one_line_naming_it(cli, project, azure, tmp_path):
    outputs = _outputs(tmp_path, "azure-prod", cluster_name=None)
    assert cli("verify", "-s", "azure-prod", "--project", project, "--outputs", outputs) == 2
    assert "has no 'cluster_name': verify needs it as the AzureML workspace of the endpoint" in (
        cli.one_error_line()
    )
    assert azure.sent == []


def test_azure_without_credentials_is_one_line(cli, project, tmp_path, monkeypatch):
    import azure.identity
    from azure.identity import CredentialUnavailableError

    class NoCredential:
        def get_token(self, *scopes: str) -> Any:
            raise CredentialUnavailableError("DefaultAzureCredential failed to retrieve a token")

    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", NoCredential)
    outputs = _outputs(tmp_path, "azure-prod")
    assert cli("verify", "-s", "azure-prod", "--project", project, "--outputs", outputs) == 2
    line = cli.one_error_line()
    assert line.startswith("mlops-iac verify: error: no Azure credentials")
    assert "az login" in line


# --- Azure rollback --now -------------------------------------------------------------------


def test_azure_rollback_now_puts_only_the_traffic_then_is_harmless(cli, project, azure, tmp_path):
    values = azure_values()
    outputs = _outputs(tmp_path, "azure-prod")
    argv = ("rollback", "-s", "azure-prod", "--project", project, "--now", "--outputs", outputs)
    before = json.loads(json.dumps(azure.find("GET", f"/onlineEndpoints/{values['endpoint']}")))
    assert cli(*argv) == 0, cli.err
    url = f"{ARM}{values['endpoint_id']}?api-version=2024-04-01"
    assert len(azure.writes) == 1
    method, sent_url, body = azure.writes[0]
    assert (method, sent_url) == ("PUT", url)
    # The endpoint as read, only the traffic moved to the deployment of v6 (green).
    assert body == {
        "location": before["location"],
        "kind": before["kind"],
        "tags": before["tags"],
        "identity": {"type": "SystemAssigned"},
        "properties": {
            "authMode": "AADToken",
            "description": before["properties"]["description"],
            "mirrorTraffic": {},
            "properties": {},
            "publicNetworkAccess": "Disabled",
            "traffic": {"blue": 0, "green": 100},
        },
    }
    assert f"endpoint {values['endpoint']} is updating its traffic to blue 0%, green 100%" in (
        cli.out
    )
    assert stackfile.load(project, "azure-prod").spec.serving.rollback is True
    # Verify now sees the rolled-back endpoint against the unapplied stack.
    code, document = _verify(cli, project, "azure-prod", outputs, tmp_path)
    assert code == 1 and "serves v6 100% (green)" in _failed(document)["endpoint-serving"]
    azure.sent.clear()
    assert cli(*argv) == 0, cli.err
    assert azure.writes == []
    assert "already sends 100% to green (fraud-detector v6); no endpoint update needed" in cli.out


def test_azure_rollback_now_refuses_without_a_deployment_of_the_previous_model(
    cli, project, azure, tmp_path
):
    deployments = azure.find("GET", "/deployments")["value"]
    deployments[:] = [d for d in deployments if d["name"] == "blue"]
    outputs = _outputs(tmp_path, "azure-prod")
    code = cli("rollback", "-s", "azure-prod", "--project", project, "--now", "--outputs", outputs)
    assert code == 2
    assert "serves azureml://registries/" in cli.one_error_line()
    assert "refusing to move traffic" in cli.err
    assert azure.writes == []
    assert stackfile.load(project, "azure-prod").spec.serving.rollback is False


def test_azure_rollback_now_refused_by_the_cloud_is_one_line_exit_1(cli, project, azure, tmp_path):
    # ARM's error body: {"error": {"code", "message"}}.
    # https://learn.microsoft.com/azure/azure-resource-manager/management/common-deployment-errors
    url = f"{ARM}{azure_values()['endpoint_id']}?api-version=2024-04-01"
    azure.answers[("PUT", url)] = ApiError(
        403, "AuthorizationFailed", "The client does not have authorization to perform action"
    )
    outputs = _outputs(tmp_path, "azure-prod")
    code = cli("rollback", "-s", "azure-prod", "--project", project, "--now", "--outputs", outputs)
    assert code == 1
    assert cli.one_error_line().endswith(
        "update refused: 403 AuthorizationFailed: The client does not have authorization to "
        "perform action"
    )
    assert stackfile.load(project, "azure-prod").spec.serving.rollback is False


def test_cloud_rollback_now_needs_outputs(cli, project, azure):
    assert cli("rollback", "-s", "azure-prod", "--project", project, "--now") == 2
    assert "--now on azure needs --outputs F" in cli.one_error_line()
    assert azure.sent == []


# --- GCP verify -----------------------------------------------------------------------------


def test_gcp_healthy_estate_passes_reading_only(cli, project, gcp, tmp_path):
    code, document = _verify(cli, project, "gcp-prod", _outputs(tmp_path, "gcp-prod"), tmp_path)
    assert code == 0, cli.out + cli.err
    assert [c["check"] for c in document["checks"]] == gcp_checks()
    assert _failed(document) == {}
    service = reference_recording("gcp-prod").exports["endpoint_name"]
    serving = document["checks"][gcp_checks().index("endpoint-serving")]
    assert serving["detail"] == (
        f"serves v6 90% ({service}-v6), v7 10% ({service}-v7) as the stack declares"
    )
    assert {method for method, _, _ in gcp.sent} == {"GET"}


def test_gcp_versioning_off_fails(cli, project, gcp, tmp_path):
    bucket = reference_recording("gcp-prod").exports["artifact_bucket_name"]
    gcp.find("GET", f"/b/{bucket}")["versioning"]["enabled"] = False
    code, document = _verify(cli, project, "gcp-prod", _outputs(tmp_path, "gcp-prod"), tmp_path)
    assert code == 1
    assert _failed(document) == {"bucket-versioning": "object versioning off"}


def test_gcp_wrong_key_fails_naming_both(cli, project, gcp, tmp_path):
    exports = reference_recording("gcp-prod").exports
    other = "projects/fraud-detection-prod/locations/us/keyRings/other/cryptoKeys/other"
    gcp.find("GET", f"/b/{exports['artifact_bucket_name']}")["encryption"]["defaultKmsKeyName"] = (
        other
    )
    code, document = _verify(cli, project, "gcp-prod", _outputs(tmp_path, "gcp-prod"), tmp_path)
    assert _failed(document) == {
        "bucket-encryption": f"default key {other}, not the stack's key {exports['kms_key_id']}"
    }


def test_gcp_model_bucket_without_retention_fails(cli, project, gcp, tmp_path):
    bucket = reference_recording("gcp-prod").exports["model_bucket_name"]
    del gcp.find("GET", f"/b/{bucket}")["retentionPolicy"]
    code, document = _verify(cli, project, "gcp-prod", _outputs(tmp_path, "gcp-prod"), tmp_path)
    assert _failed(document) == {
        "model-bucket-retention": "no retention policy: registered versions can be overwritten"
    }


def test_gcp_key_without_rotation_fails(cli, project, gcp, tmp_path):
    key = reference_recording("gcp-prod").exports["kms_key_id"]
    del gcp.find("GET", key)["rotationPeriod"]
    code, document = _verify(cli, project, "gcp-prod", _outputs(tmp_path, "gcp-prod"), tmp_path)
    assert _failed(document) == {"kms-rotation": "no rotationPeriod: the key never rotates"}


def test_gcp_alert_policy_without_channel_fails_naming_it(cli, project, gcp, tmp_path):
    exports = reference_recording("gcp-prod").exports
    drift = exports["drift_alarm_name"]
    policy = gcp.find("GET", drift)
    policy["notificationChannels"] = []
    code, document = _verify(cli, project, "gcp-prod", _outputs(tmp_path, "gcp-prod"), tmp_path)
    failed = [c for c in document["checks"] if not c["passed"]]
    assert [(c["check"], c["resource"], c["detail"]) for c in failed] == [
        (
            "alert-policy",
            drift,
            f"{policy['displayName']}: no notification channel: nobody is told",
        )
    ]


def test_gcp_disabled_alert_policy_fails(cli, project, gcp, tmp_path):
    name = reference_recording("gcp-prod").exports["alarm_names"][0]
    gcp.find("GET", name)["enabled"] = False
    code, document = _verify(cli, project, "gcp-prod", _outputs(tmp_path, "gcp-prod"), tmp_path)
    assert list(_failed(document)) == ["alert-policy"]
    assert _failed(document)["alert-policy"].endswith(": disabled")


def test_gcp_rolled_back_rollout_fails_naming_both(cli, project, gcp, tmp_path):
    service = gcp.find("GET", reference_recording("gcp-prod").exports["endpoint_name"])
    for entries in (service["traffic"], service["trafficStatuses"]):
        for entry in entries:
            entry["percent"] = 100 if entry["revision"].endswith("-v6") else 0
    code, document = _verify(cli, project, "gcp-prod", _outputs(tmp_path, "gcp-prod"), tmp_path)
    name = service["name"].rsplit("/", 1)[1]
    assert _failed(document) == {
        "endpoint-serving": (
            f"serves v6 100% ({name}-v6); the stack's exports say v6 90%, v7 10% "
            "(active_model_version 7)"
        )
    }


def test_gcp_applied_rollback_passes(cli, project, gcp, tmp_path):
    # After `rollback` and `pulumi up`, the stack exports the previous version as the active one
    # and declares all traffic on its revision: that is what the stack says, so verify passes.
    assert cli("rollback", "-s", "gcp-prod", "--project", project) == 0, cli.err
    service = gcp.find("GET", reference_recording("gcp-prod").exports["endpoint_name"])
    for entries in (service["traffic"], service["trafficStatuses"]):
        for entry in entries:
            entry["percent"] = 100 if entry["revision"].endswith("-v6") else 0
    service["labels"].update(
        {"mlops-model-version": "6", "mlops-approved-by": "raj_example_com",
         "mlops-approval-ticket": "chg-1101"}
    )  # fmt: skip
    outputs = _outputs(tmp_path, "gcp-prod", active_model_version="6", previous_model_version="7")
    code, document = _verify(cli, project, "gcp-prod", outputs, tmp_path)
    assert code == 0, _failed(document)
    serving = document["checks"][gcp_checks().index("endpoint-serving")]
    assert serving["detail"].startswith("serves v6 100% (")


def test_gcp_revision_with_another_image_fails(cli, project, gcp, tmp_path):
    exports = reference_recording("gcp-prod").exports
    revision = f"{exports['endpoint_name']}-v7"
    described = gcp.find("GET", f"/revisions/{revision}")
    expected = described["containers"][0]["image"]
    described["containers"][0]["image"] = "docker.io/someone/fraud-detector:7"
    code, document = _verify(cli, project, "gcp-prod", _outputs(tmp_path, "gcp-prod"), tmp_path)
    detail = _failed(document)["endpoint-serving"]
    assert detail.startswith(f"{revision} (10%) runs docker.io/someone/fraud-detector:7 with")
    assert detail.endswith(
        f"the stack's v7 is {expected} with gs://{exports['model_bucket_name']}/fraud-detector/7/"
    )


def test_gcp_lineage_label_drift_fails(cli, project, gcp, tmp_path):
    service = gcp.find("GET", reference_recording("gcp-prod").exports["endpoint_name"])
    service["labels"]["mlops-model-version"] = "9"
    code, document = _verify(cli, project, "gcp-prod", _outputs(tmp_path, "gcp-prod"), tmp_path)
    assert _failed(document) == {"service-lineage": "mlops-model-version=9 (want 7)"}


def test_gcp_service_not_ready_fails(cli, project, gcp, tmp_path):
    service = gcp.find("GET", reference_recording("gcp-prod").exports["endpoint_name"])
    service["terminalCondition"].update(
        {"state": "CONDITION_FAILED", "message": "Revision is not ready"}
    )
    code, document = _verify(cli, project, "gcp-prod", _outputs(tmp_path, "gcp-prod"), tmp_path)
    assert _failed(document) == {
        "endpoint-in-service": "Ready CONDITION_FAILED: Revision is not ready"
    }


def test_gcp_missing_alarm_names_is_one_line_naming_it(cli, project, gcp, tmp_path):
    outputs = _outputs(tmp_path, "gcp-prod", alarm_names=None)
    assert cli("verify", "-s", "gcp-prod", "--project", project, "--outputs", outputs) == 2
    assert "has no 'alarm_names': verify needs the alert policy names" in cli.one_error_line()
    assert gcp.sent == []


def test_gcp_without_credentials_is_one_line(cli, project, tmp_path, monkeypatch):
    # No key file, no gcloud config and no metadata-server probe: google.auth finds nothing
    # without touching the network.
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    outputs = _outputs(tmp_path, "gcp-prod")
    assert cli("verify", "-s", "gcp-prod", "--project", project, "--outputs", outputs) == 2
    line = cli.one_error_line()
    assert line.startswith("mlops-iac verify: error: no Google Cloud credentials")
    assert "gcloud auth application-default login" in line


# --- GCP rollback --now ---------------------------------------------------------------------


def test_gcp_rollback_now_patches_only_the_traffic_then_is_harmless(cli, project, gcp, tmp_path):
    values = gcp_values()
    exports = reference_recording("gcp-prod").exports
    service = exports["endpoint_name"]
    outputs = _outputs(tmp_path, "gcp-prod")
    argv = ("rollback", "-s", "gcp-prod", "--project", project, "--now", "--outputs", outputs)
    assert cli(*argv) == 0, cli.err
    assert gcp.writes == [
        (
            "PATCH",
            f"https://run.googleapis.com/v2/{values['service_name']}?updateMask=traffic",
            {
                "traffic": [
                    {
                        "type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION",
                        "revision": f"{service}-v7",
                        "percent": 0,
                        "tag": "current",
                    },
                    {
                        "type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION",
                        "revision": f"{service}-v6",
                        "percent": 100,
                        "tag": "previous",
                    },
                ]
            },
        )
    ]
    # The revision was read before traffic moved to it.
    reads = [url for method, url, _ in gcp.sent if method == "GET"]
    assert f"https://run.googleapis.com/v2/{values['service_name']}/revisions/{service}-v6" in reads
    assert f"service {service} is moving 100% of traffic to {service}-v6" in cli.out
    assert stackfile.load(project, "gcp-prod").spec.serving.rollback is True
    gcp.sent.clear()
    assert cli(*argv) == 0, cli.err
    assert gcp.writes == []
    assert f"already sends 100% to {service}-v6 (fraud-detector v6)" in cli.out


def test_gcp_rollback_now_refuses_a_revision_of_another_version(cli, project, gcp, tmp_path):
    service = reference_recording("gcp-prod").exports["endpoint_name"]
    env = gcp.find("GET", f"/revisions/{service}-v6")["containers"][0]["env"]
    next(e for e in env if e["name"] == "MODEL_VERSION")["value"] = "5"
    outputs = _outputs(tmp_path, "gcp-prod")
    code = cli("rollback", "-s", "gcp-prod", "--project", project, "--now", "--outputs", outputs)
    assert code == 2
    assert f"revision {service}-v6 serves MODEL_VERSION=5, not 6" in cli.one_error_line()
    assert gcp.writes == []


def test_gcp_rollback_now_refuses_a_missing_revision(cli, project, gcp, tmp_path):
    service = reference_recording("gcp-prod").exports["endpoint_name"]
    outputs = _outputs(tmp_path, "gcp-prod")
    code = cli("rollback", "-s", "gcp-prod", "--project", project, "--now", "--outputs", outputs,
               "--endpoint", "other-service")  # fmt: skip
    assert code == 2
    assert "revision other-service-v6 of other-service: 404 NotFound" in cli.one_error_line()
    assert gcp.writes == []
    assert service != "other-service"


def test_revision_names_match_the_component(gcp):
    from mlops_iac.cli.gcp_ops import revision_name
    from mlops_iac.components.gcp.serving_endpoint import revision_name as component_name

    for version in ("7", "1.2", "RC_3"):
        assert revision_name("svc", version) == component_name("svc", version)


# --- the real transport, against a loopback server ------------------------------------------


def test_bearer_transport_sends_the_token_once_and_parses_errors():
    import http.server
    import threading

    seen: list[tuple[str, str, str | None, bytes]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            seen.append((self.command, self.path, self.headers["Authorization"],
                         self.rfile.read(length)))  # fmt: skip
            if self.path.startswith("/denied"):
                # Google's error body: https://cloud.google.com/apis/design/errors
                body = {"error": {"code": 403, "message": "Permission denied",
                                  "status": "PERMISSION_DENIED"}}  # fmt: skip
                status = 403
            else:
                body, status = {"ok": True}, 200
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PATCH = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    tokens: list[str] = []

    def token() -> str:
        tokens.append("t0k3n")
        return "t0k3n"

    try:
        send = cloudrest.bearer_transport(token)
        base = f"http://127.0.0.1:{server.server_address[1]}"
        assert send("GET", f"{base}/fine") == {"ok": True}
        with pytest.raises(ApiError) as denied:
            send("PATCH", f"{base}/denied?updateMask=traffic", {"traffic": []})
    finally:
        server.shutdown()
        server.server_close()
    assert tokens == ["t0k3n"]
    assert (denied.value.status, denied.value.code) == (403, "PERMISSION_DENIED")
    assert str(denied.value) == "403 PERMISSION_DENIED: Permission denied"
    assert seen == [
        ("GET", "/fine", "Bearer t0k3n", b""),
        ("PATCH", "/denied?updateMask=traffic", "Bearer t0k3n", b'{"traffic": []}'),
    ]


# --- Endpoint overrides ---------------------------------------------------------------------


class _Sent:
    """``requests.request`` on no network: logs (method, url, Authorization), answers ``{}``."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def __call__(self, method: str, url: str, **kwargs: Any) -> Any:
        self.sent.append((method, url, kwargs["headers"]["Authorization"]))

        class Response:
            status_code, content = 200, b""

        return Response()


@pytest.fixture
def sent(monkeypatch) -> _Sent:
    import requests

    log = _Sent()
    monkeypatch.setattr(requests, "request", log)
    return log


def test_azure_sovereign_endpoint_gets_the_requests_and_scopes_the_token(monkeypatch, sent):
    import azure.identity

    scopes: list[str] = []

    class Credential:
        def get_token(self, *asked: str) -> Any:
            scopes.extend(asked)
            return type("Token", (), {"token": "chain-token"})()

    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", Credential)
    gov = "https://management.usgovcloudapi.net"
    transport = cloudrest.transport_for("azure", {"AZURE_RESOURCE_MANAGER_ENDPOINT": gov + "/"})
    transport("GET", f"{ARM}/subscriptions/s?api-version=1")
    assert sent.sent == [("GET", f"{gov}/subscriptions/s?api-version=1", "Bearer chain-token")]
    assert scopes == [f"{gov}/.default"]


def test_gcp_endpoint_override_moves_only_its_api(monkeypatch, sent):
    monkeypatch.setattr(cloudrest, "_gcp_token", lambda: "chain-token")
    env = {"CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN": "https://us-central1-run.googleapis.com/"}
    transport = cloudrest.transport_for("gcp", env)
    transport("GET", "https://run.googleapis.com/v2/projects/p/locations/r/services/s")
    transport("GET", "https://storage.googleapis.com/storage/v1/b/bucket")
    assert [url for _, url, _ in sent.sent] == [
        "https://us-central1-run.googleapis.com/v2/projects/p/locations/r/services/s",
        "https://storage.googleapis.com/storage/v1/b/bucket",
    ]


@pytest.mark.parametrize(
    ("stack", "env", "says"),
    [
        # Plain http to a remote host would carry the bearer token in the clear.
        ("azure-prod", {"AZURE_RESOURCE_MANAGER_ENDPOINT": "http://arm.example.com"},
         "AZURE_RESOURCE_MANAGER_ENDPOINT='http://arm.example.com' is plain http to a remote"),
        ("gcp-prod", {"CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN": "http://10.0.0.7/"},
         "CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN='http://10.0.0.7/' is plain http to a remote"),
        ("gcp-prod", {"CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN": "https://run.example.com/v2"},
         "must be scheme://host[:port] without a path"),
        # The static token never leaves the machine ...
        ("azure-prod", {"MLOPS_IAC_TEST_TOKEN": "t"},
         "MLOPS_IAC_TEST_TOKEN is only sent to loopback endpoints, not to https://management"),
        ("gcp-prod", {"MLOPS_IAC_TEST_TOKEN": "t",
                      "CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN": "http://127.0.0.1:9/"},
         "not to https://cloudkms.googleapis.com"),
        # ... and the credential chain's token only goes over https, even to loopback.
        ("azure-prod", {"AZURE_RESOURCE_MANAGER_ENDPOINT": "http://localhost:8080"},
         "endpoint http://localhost:8080 is plain http: the credential chain's token is only"),
    ],
)  # fmt: skip
def test_unsafe_endpoint_settings_are_one_line_before_any_request(
    cli, project, tmp_path, monkeypatch, sent, stack, env, says
):
    import azure.identity

    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", None)  # never asked
    monkeypatch.setattr(cloudrest, "_gcp_token", None)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    outputs = _outputs(tmp_path, stack)
    assert cli("verify", "-s", stack, "--project", project, "--outputs", outputs) == 2
    assert says in cli.one_error_line()
    assert sent.sent == []


# --- Azure: the served artifact against the approval's digests -------------------------------


def _model_version(azure: Recorded, version: str) -> dict[str, Any]:
    return azure.find("GET", f"/models/fraud-detector/versions/{version}")


def test_azure_digest_check_compares_the_recorded_sha256(cli, project, azure, tmp_path):
    code, document = _verify(cli, project, "azure-prod", _outputs(tmp_path, "azure-prod"), tmp_path)
    assert code == 0, _failed(document)
    check = next(c for c in document["checks"] if c["check"] == "deployment-artifact-digest")
    assert check["passed"] is True
    assert "blue v7 recorded sha256 332a3a094c11…" in check["detail"]
    assert "green v6 recorded sha256 de744bb4d73c…" in check["detail"]
    assert "mlops-artifact-sha256 property, not a hash of its files" in check["detail"]
    # https://learn.microsoft.com/rest/api/azureml/registry-model-versions/get
    registry_id = reference_recording("azure-prod").exports["registry_id"]
    assert (
        "GET",
        f"{ARM}{registry_id}/models/fraud-detector/versions/7?api-version=2024-04-01",
        None,
    ) in azure.sent


def test_azure_replaced_artifact_fails_naming_both_digests(cli, project, azure, tmp_path):
    replaced = "f" * 64
    _model_version(azure, "7")["properties"]["properties"]["mlops-artifact-sha256"] = replaced
    code, document = _verify(cli, project, "azure-prod", _outputs(tmp_path, "azure-prod"), tmp_path)
    assert code == 1
    registry = reference_recording("azure-prod").exports["registry_name"]
    assert _failed(document) == {
        "deployment-artifact-digest": (
            f"blue's model azureml://registries/{registry}/models/fraud-detector/versions/7 "
            f"records sha256 {replaced}, not the approved "
            "332a3a094c11761ead9e73a446fb095581c3486744eea59618ba3341857bda92"
        )
    }


def test_azure_model_without_recorded_digest_fails_closed_in_prod(cli, project, azure, tmp_path):
    del _model_version(azure, "6")["properties"]["properties"]["mlops-artifact-sha256"]
    # A tag is editable after registration: it is not evidence.
    _model_version(azure, "6")["properties"]["tags"]["mlops-artifact-sha256"] = (
        "de744bb4d73c6c6f37c70d371742935dda6c03c67ae0ce672c89935f6ee5ca09"
    )
    code, document = _verify(cli, project, "azure-prod", _outputs(tmp_path, "azure-prod"), tmp_path)
    assert code == 1
    detail = _failed(document)["deployment-artifact-digest"]
    assert detail.startswith("green's model azureml://registries/")
    assert "records no mlops-artifact-sha256 property" in detail
    assert "nothing to compare with the approved de744bb4d73c6c6f" in detail


def test_azure_replaced_environment_image_fails_naming_both_digests(cli, project, azure, tmp_path):
    approved, served = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    stack = project / "stacks" / "Pulumi.azure-prod.yaml"
    signed = 'artifactSha256: "332a3a09'
    text = stack.read_text().replace(signed, f'imageDigest: "{approved}"\n          {signed}')
    stack.write_text(text)
    registry = reference_recording("azure-prod").exports["registry_name"]
    environment = f"azureml://registries/{registry}/environments/serving/versions/3"
    blue = next(d for d in azure.find("GET", "/deployments")["value"] if d["name"] == "blue")
    blue["properties"]["environmentId"] = environment
    registry_id = reference_recording("azure-prod").exports["registry_id"]
    # https://learn.microsoft.com/rest/api/azureml/registry-environment-versions/get
    image = f"mlopsacr.azurecr.io/serving@{served}"
    azure.answers[
        ("GET", f"{ARM}{registry_id}/environments/serving/versions/3?api-version=2024-04-01")
    ] = render(
        "azure",
        "environment_version.json",
        {"registry_id": registry_id, "environment_name": "serving",
         "environment_version": "3", "image": image},
    )  # fmt: skip
    code, document = _verify(cli, project, "azure-prod", _outputs(tmp_path, "azure-prod"), tmp_path)
    assert code == 1
    assert _failed(document)["deployment-artifact-digest"] == (
        f"blue runs image {image}, not the approved {approved}"
    )


# --- approve --registry-entry: the model card on the Azure/GCP registry entry ---


def _approve_entry(cli, project, stack, outputs, *extra, version="7"):
    metrics = project.parent / "metrics.json"
    metrics.write_text('{"auc": 0.95, "p95_latency_ms": 61}')
    served = stackfile.load(project, stack).spec.serving
    ref = next(r for r in (served.model, served.previous_model) if r and r.version == version)
    sha = ref.artifact_sha256 or "ab" * 32
    return cli(
        "approve", "--stack", stack, "--project", project, "--model", "fraud-detector",
        "--version", version, "--approver", "raj@example.com", "--ticket", "CHG-3001",
        "--key", key_for("raj@example.com"), "--metrics", metrics, "--artifact-sha256", sha,
        "--registry-entry", "--outputs", outputs, *extra,
    )  # fmt: skip


def _card(project: Path, stack: str, version: str = "7") -> tuple[str, str]:
    path = f"governance/model-cards/{stack}/fraud-detector-{version}.md"
    return path, hashlib.sha256((project / path).read_bytes()).hexdigest()


def test_azure_approve_puts_the_card_on_the_registry_model_version(cli, project, azure, tmp_path):
    outputs = _outputs(tmp_path, "azure-prod")
    before = json.loads(json.dumps(azure.find("GET", "/models/fraud-detector/versions/7")))
    assert _approve_entry(cli, project, "azure-prod", outputs) == 0, cli.err
    path, digest = _card(project, "azure-prod")
    [(method, url, body)] = azure.writes
    assert method == "PUT"
    assert url.endswith("/models/fraud-detector/versions/7?api-version=2024-04-01")
    assert url.startswith(f"{ARM}{reference_recording('azure-prod').exports['registry_id']}/")
    tags = body["properties"]["tags"]
    assert tags == {
        "mlops-model": "fraud-detector",  # kept
        "mlops-model-card-sha256": digest,
        "mlops-model-card": path,
        "mlops-owner": "ml-platform@example.com",
        "mlops-intended-use": "serving fraud-detector in "
        + stackfile.load(project, "azure-prod").spec.project,
        "mlops-dataset-version": str(
            stackfile.load(project, "azure-prod").spec.lineage.dataset_version
        ),
        "mlops-metrics": "auc=0.95;p95_latency_ms=61.0",
    }
    # The immutable properties (the training pipeline's evidence) go back exactly as read.
    assert body["properties"]["properties"] == before["properties"]["properties"]
    assert azure.sent[0][0] == "GET"  # read before anything is written
    assert f"model card {path} put on fraud-detector version 7" in cli.out


def test_azure_card_tags_stay_within_azure_limits(cli, project, azure, tmp_path):
    outputs = _outputs(tmp_path, "azure-prod")
    long_use = "scoring card payments " * 40
    assert _approve_entry(cli, project, "azure-prod", outputs, "--intended-use", long_use) == 0
    tags = azure.writes[0][2]["properties"]["tags"]
    assert tags["mlops-intended-use"] == long_use[:256]
    assert all(len(k) <= 512 and len(v) <= 256 for k, v in tags.items())


def test_azure_missing_registry_entry_refuses_before_signing(cli, project, azure, tmp_path):
    outputs = _outputs(tmp_path, "azure-prod")
    path = project / "stacks/Pulumi.azure-prod.yaml"
    before = path.read_bytes()
    # Version 9 is not registered: the GET answers 404.
    code = cli(
        "approve", "--stack", "azure-prod", "--project", project, "--model", "fraud-detector",
        "--version", "9", "--approver", "raj@example.com", "--ticket", "CHG-3002",
        "--registry-entry", "--outputs", outputs,
    )  # fmt: skip
    assert code == 2
    assert "registry entry fraud-detector version 9 in registry" in cli.err
    assert "cannot be read: 404" in cli.err
    assert len(cli.err.strip().splitlines()) == 1
    assert path.read_bytes() == before
    assert not (project / "governance/model-cards/azure-prod/fraud-detector-9.md").exists()
    assert azure.writes == []


def test_azure_registry_entry_of_another_version_refuses(cli, project, azure, tmp_path):
    outputs = _outputs(tmp_path, "azure-prod")
    recorded = azure.find("GET", "/models/fraud-detector/versions/7")
    recorded["name"] = "6"
    recorded["id"] = recorded["id"].replace("/versions/7", "/versions/6")
    path = project / "stacks/Pulumi.azure-prod.yaml"
    before = path.read_bytes()
    assert _approve_entry(cli, project, "azure-prod", outputs) == 2
    assert "not that version" in cli.err
    assert path.read_bytes() == before
    assert azure.writes == []


def test_azure_failed_registry_write_keeps_the_approval(cli, project, azure, tmp_path):
    outputs = _outputs(tmp_path, "azure-prod")
    key = next(k for k in azure.answers if k[0] == "PUT" and "/versions/7?" in k[1])
    azure.answers[key] = ApiError(403, "AuthorizationFailed", "no write on the registry")
    assert _approve_entry(cli, project, "azure-prod", outputs) == 1
    assert "approval recorded, but the model card did not reach" in cli.err
    assert "re-run the same approve command" in cli.err
    approvals = stackfile.load(project, "azure-prod").spec.governance.approvals
    assert approvals[-1].ticket == "CHG-3001"
    # Re-run: the approval is already recorded, the card goes on the entry.
    azure.answers[key] = render("azure", "model_version.json", azure_values()["model_versions"][0])
    assert _approve_entry(cli, project, "azure-prod", outputs) == 0, cli.err
    assert "already in" in cli.out


def test_gcp_approve_puts_the_card_on_the_model_objects(cli, project, gcp, tmp_path):
    outputs = _outputs(tmp_path, "gcp-prod")
    assert _approve_entry(cli, project, "gcp-prod", outputs) == 0, cli.err
    path, digest = _card(project, "gcp-prod")
    bucket = reference_recording("gcp-prod").exports["model_bucket_name"]
    writes = gcp.writes
    assert [(m, u) for m, u, _ in writes] == [
        (
            "PATCH",
            f"https://storage.googleapis.com/storage/v1/b/{bucket}/o/fraud-detector%2F7%2F{n}",
        )
        for n in ("model.pkl", "MLmodel")
    ]
    for _, _, body in writes:
        assert list(body) == ["metadata"]  # metadata only
        assert body["metadata"]["mlops-model"] == "fraud-detector"
        assert body["metadata"]["mlops-model-card"] == path
        assert body["metadata"]["mlops-model-card-sha256"] == digest
        assert body["metadata"]["mlops-metrics"] == "auc=0.95;p95_latency_ms=61.0"


def test_gcp_missing_model_objects_refuse(cli, project, gcp, tmp_path):
    outputs = _outputs(tmp_path, "gcp-prod")
    for key, answer in gcp.answers.items():
        if "prefix=fraud-detector%2F7%2F" in key[1]:
            answer["items"] = []
    path = project / "stacks/Pulumi.gcp-prod.yaml"
    before = path.read_bytes()
    assert _approve_entry(cli, project, "gcp-prod", outputs) == 2
    assert "does not exist (no objects under it)" in cli.err
    assert path.read_bytes() == before
    assert gcp.writes == []


def test_registry_entry_is_not_for_aws(cli, project, tmp_path):
    shutil.copy(STACKS / "Pulumi.aws-prod.yaml", project / "stacks")
    code = cli(
        "approve", "--stack", "aws-prod", "--project", project, "--model", "fraud-detector",
        "--version", "8", "--approver", "raj@example.com", "--ticket", "CHG-1",
        "--registry-entry", "--outputs", tmp_path / "x.json",
    )  # fmt: skip
    assert code == 2
    assert "--registry-entry is for Azure and GCP stacks" in cli.err


def test_gcp_metadata_over_the_limit_writes_no_object(cli, project, gcp, tmp_path):
    outputs = _outputs(tmp_path, "gcp-prod")
    # The second object already carries 8 KiB of metadata: the card does not fit there.
    objects = next(a for k, a in gcp.answers.items() if "prefix=fraud-detector%2F7%2F" in k[1])
    objects["items"][1]["metadata"] = {"notes": "x" * 8192}
    assert _approve_entry(cli, project, "gcp-prod", outputs) == 1
    assert "custom metadata would exceed 8192 bytes" in cli.err
    assert "re-run the same approve command" in cli.err
    assert gcp.writes == []
    assert stackfile.load(project, "gcp-prod").spec.governance.approvals[-1].ticket == "CHG-3001"
