"""Tracking on three clouds, as the reference stacks record it: what is private, what is granted
to whom, where artifacts go and which key encrypts them."""

from __future__ import annotations

import json

import pytest

from mlops_iac.spec.errors import SpecError
from mlops_iac.spec.parse import parse_spec
from tests.conftest import platform_raw, reference_recording


def _children(recording, component: str) -> dict[str, object]:
    return {r.name: r for r in recording.descendants(recording.named(component))}


def test_aws_server_keeps_its_artifacts_under_the_store_prefix_with_the_store_key():
    recording = reference_recording("aws-prod")
    exports = recording.exports
    bucket, key = exports["artifact_bucket_name"], exports["kms_key_id"]
    children = _children(recording, "mlops-tracking")
    assert sorted(r.type for r in children.values()) == [
        "aws:iam/policy:Policy",
        "aws:iam/role:Role",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer",
    ]
    server = children["mlops-tracking-server"]
    assert server.protect is True  # prod
    assert server.inputs["artifactStoreUri"] == f"s3://{bucket}/mlflow/"
    assert server.inputs["trackingServerSize"] == "Small"
    assert server.inputs["automaticModelRegistration"] is False
    assert server.inputs["tags"]["mlops:project"] == "fraud-detection"
    assert exports["tracking_uri"] == server.outputs["arn"]
    assert exports["tracking_artifact_uri"] == f"s3://{bucket}/mlflow/"

    store = json.loads(children["mlops-tracking-role-store"].inputs["policy"])["Statement"]
    resources = {json.dumps(s["Resource"]) for s in store}
    assert resources == {
        json.dumps(f"arn:aws:s3:::{bucket}/mlflow/*"),
        json.dumps(f"arn:aws:s3:::{bucket}"),
        json.dumps(key),
    }
    listing = next(s for s in store if s["Sid"] == "ListTrackedArtifacts")
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["mlflow/*", "mlflow"]}}
    trust = json.loads(children["mlops-tracking-role"].inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "sagemaker.amazonaws.com"}


def test_aws_training_role_may_log_to_this_server_and_open_its_ui_only():
    recording = reference_recording("aws-prod")
    children = _children(recording, "mlops-tracking")
    server_arn = children["mlops-tracking-server"].outputs["arn"]
    access = json.loads(children["mlops-tracking-access"].inputs["policy"])["Statement"]
    by_sid = {s["Sid"]: s for s in access}
    assert by_sid["TrackRuns"]["Resource"] == server_arn
    assert all(a.startswith("sagemaker-mlflow:") for a in by_sid["TrackRuns"]["Action"])
    assert "sagemaker-mlflow:LogBatch" in by_sid["TrackRuns"]["Action"]
    assert not any(a.startswith("sagemaker-mlflow:Delete") for a in by_sid["TrackRuns"]["Action"])
    assert by_sid["OpenUi"] == {
        "Sid": "OpenUi",
        "Effect": "Allow",
        "Action": ["sagemaker:CreatePresignedMlflowTrackingServerUrl"],
        "Resource": server_arn,
    }
    # The client uploads artifacts itself: read/write, never delete, only under mlflow/.
    assert by_sid["TrackedArtifacts"]["Action"] == ["s3:GetObject", "s3:PutObject"]
    [attachment] = [r for r in children.values() if r.name.startswith("mlops-tracking-access-")]
    trainer = recording.named("mlops-training-trainer-role")
    assert attachment.inputs["role"] == trainer.outputs["name"]


def test_azure_uses_the_workspace_endpoint_and_grants_the_training_identity():
    recording = reference_recording("azure-prod")
    children = _children(recording, "mlops-tracking")
    assert [r.type for r in children.values()] == ["azure-native:authorization:RoleAssignment"]
    [grant] = children.values()
    workspace = recording.named("mlops-training-workspace")
    identity = recording.named("mlops-artifacts-dvc-identity")
    assert grant.inputs["scope"] == workspace.id
    assert grant.inputs["principalId"] == identity.outputs["principalId"]
    assert grant.inputs["roleDefinitionId"].endswith("/f6c7c914-8db3-469d-8ca1-694a8f32e121")
    uri = recording.exports["tracking_uri"]
    assert uri == f"azureml://eastus.api.azureml.ms/mlflow/v1.0{workspace.id}"


def test_gcp_server_is_internal_invoked_by_the_trainer_with_private_encrypted_sql():
    recording = reference_recording("gcp-prod")
    exports = recording.exports
    children = _children(recording, "mlops-tracking")
    service = children["mlops-tracking-server"]
    assert service.inputs["ingress"] == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    mlflow, proxy = service.inputs["template"]["containers"]
    assert (
        f"--artifacts-destination=gs://{exports['artifact_bucket_name']}/mlflow" in (mlflow["args"])
    )
    assert "--serve-artifacts" in mlflow["args"]
    assert proxy["args"][0] == "--auto-iam-authn"
    assert exports["tracking_uri"] == service.outputs["uri"]

    [invoker] = [r for r in children.values() if r.name.startswith("mlops-tracking-invoker-")]
    assert invoker.inputs["role"] == "roles/run.invoker"
    assert invoker.inputs["member"] == f"serviceAccount:{exports['dvc_service_account']}"

    database = children["mlops-tracking-db"]
    ip = database.inputs["settings"]["ipConfiguration"]
    assert ip.get("authorizedNetworks", []) == []
    assert ip["sslMode"] == "ENCRYPTED_ONLY"
    assert database.inputs["encryptionKeyName"] == exports["kms_key_id"]
    assert database.inputs["deletionProtection"] is True
    user = children["mlops-tracking-db-user"]
    assert user.inputs["type"] == "CLOUD_IAM_SERVICE_ACCOUNT"
    grant = children["mlops-tracking-sa-artifacts"]
    assert grant.inputs["condition"]["expression"] == (
        f'resource.name.startsWith("projects/_/buckets/{exports["artifact_bucket_name"]}'
        '/objects/mlflow/")'
    )
    apis = {r.inputs["service"] for r in recording.of_type("gcp:projects/service:Service")}
    assert "sqladmin.googleapis.com" in apis


def test_tracking_is_on_by_default_and_off_leaves_no_server():
    raw = platform_raw("gcp-dev")
    assert parse_spec(raw).tracking.enabled is True
    assert parse_spec(raw).tracking.size == "Small"
    with pytest.raises(SpecError, match="tracking.size"):
        parse_spec({**raw, "tracking": {"size": "Huge"}})


@pytest.mark.parametrize("stack", ["aws-dev", "azure-dev", "gcp-dev"])
def test_tracking_off_exports_null_and_creates_nothing(stack):
    from mlops_iac.plan.testing import run_project
    from mlops_iac.spec.keys import ROOT
    from tests.conftest import REPO

    platform = {**platform_raw(stack), "tracking": {"enabled": False}}
    recording = run_project(REPO, stack, extra_config={ROOT: platform})
    cloud = stack.split("-")[0]
    assert recording.of_type(f"mlops:{cloud}:Tracking") == []
    assert recording.exports["tracking_uri"] is None
