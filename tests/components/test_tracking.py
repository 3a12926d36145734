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
    # GetBucketLocation has no s3:prefix, so that condition would never match it.
    assert listing["Action"] == ["s3:ListBucket"]
    # SageMaker assumes the role at create: the role's rights exist first.
    assert children["mlops-tracking-role-store"].urn in server.dependencies
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
    # Nothing is deleted but a run's tag (mlflow.delete_tag).
    deletes = [a for a in by_sid["TrackRuns"]["Action"] if a.startswith("sagemaker-mlflow:Delete")]
    assert deletes == ["sagemaker-mlflow:DeleteTag"]
    # MLflow 3's log_model: the LoggedModel calls; experiment and run tags.
    for action in (
        "LogModel",
        "LogOutputs",
        "FinalizeLoggedModel",
        "LogLoggedModelParams",
        "SetLoggedModelTags",
        "GetLoggedModel",
        "SearchLoggedModels",
        "SetExperimentTag",
        "DeleteTag",
    ):
        assert f"sagemaker-mlflow:{action}" in by_sid["TrackRuns"]["Action"], action
    # AccessUI has no resource type: scoped to the ARN it is never granted.
    assert "sagemaker-mlflow:AccessUI" not in by_sid["TrackRuns"]["Action"]
    assert by_sid["UseUi"] == {
        "Sid": "UseUi",
        "Effect": "Allow",
        "Action": ["sagemaker-mlflow:AccessUI"],
        "Resource": "*",
    }
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
    assert sorted(children) == ["mlops-tracking-training", "mlops-tracking-training-artifacts"]
    assert {r.type for r in children.values()} == {"azure-native:authorization:RoleAssignment"}
    grant = children["mlops-tracking-training"]
    workspace = recording.named("mlops-training-workspace")
    identity = recording.named("mlops-artifacts-dvc-identity")
    assert grant.inputs["scope"] == workspace.id
    assert grant.inputs["principalId"] == identity.outputs["principalId"]
    assert grant.inputs["roleDefinitionId"].endswith("/f6c7c914-8db3-469d-8ca1-694a8f32e121")
    uri = recording.exports["tracking_uri"]
    assert uri == f"azureml://eastus.api.azureml.ms/mlflow/v1.0{workspace.id}"
    # MLflow artifacts go to the workspace's default container, written as the caller.
    blob = children["mlops-tracking-training-artifacts"]
    account = recording.named("mlops-artifacts-account")
    container = f"azureml-blobstore-{workspace.outputs['workspaceId']}"
    assert blob.inputs["scope"] == f"{account.id}/blobServices/default/containers/{container}"
    assert blob.inputs["principalId"] == identity.outputs["principalId"]
    assert blob.inputs["roleDefinitionId"].endswith("/ba92f5b4-2d11-453d-a403-e96b0029c9fe")


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
    assert proxy["args"][:3] == ["--auto-iam-authn", "--lazy-refresh", "--port=5432"]
    assert exports["tracking_uri"] == service.outputs["uri"]

    [invoker] = [r for r in children.values() if r.name.startswith("mlops-tracking-invoker-")]
    assert invoker.inputs["role"] == "roles/run.invoker"
    assert invoker.inputs["member"] == f"serviceAccount:{exports['dvc_service_account']}"

    database = children["mlops-tracking-db"]
    ip = database.inputs["settings"]["ipConfiguration"]
    assert ip.get("authorizedNetworks", []) == []
    assert ip["sslMode"] == "ENCRYPTED_ONLY"
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


def test_gcp_prod_sql_key_is_its_own_in_the_instance_region_when_the_store_key_is_multi_region():
    recording = reference_recording("gcp-prod")
    children = _children(recording, "mlops-tracking")
    database = children["mlops-tracking-db"]
    assert "/locations/us/" in recording.exports["kms_key_id"]  # the multi-region store's key
    ring, key = children["mlops-tracking-sql-cmk-ring"], children["mlops-tracking-sql-cmk"]
    assert ring.inputs["location"] == database.inputs["region"] == "us-central1"
    assert database.inputs["encryptionKeyName"] == key.id
    assert key.inputs["rotationPeriod"] == "7776000s"
    grant = children["mlops-tracking-sql-cmk-agent"]
    agent = children["mlops-tracking-sql-agent"]
    assert grant.inputs["cryptoKeyId"] == key.id
    assert grant.inputs["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
    assert grant.inputs["member"] == agent.outputs["member"]
    assert grant.urn in database.dependencies
    assert "mlops-tracking-sql-key" not in children
    assert "gcp-sql-key-outside-region" not in {e.rule for e in recording.deploy_errors()}


def test_gcp_dev_sql_uses_the_store_key_in_the_same_region():
    recording = reference_recording("gcp-dev")
    children = _children(recording, "mlops-tracking")
    database = children["mlops-tracking-db"]
    assert database.inputs["encryptionKeyName"] == recording.exports["kms_key_id"]
    assert "/locations/us-central1/" in recording.exports["kms_key_id"]
    assert "mlops-tracking-sql-cmk" not in children
    assert children["mlops-tracking-sql-key"].urn in database.dependencies


def test_gcp_server_may_list_only_under_mlflow_and_starts_after_its_database_and_grants():
    recording = reference_recording("gcp-prod")
    children = _children(recording, "mlops-tracking")
    account = children["mlops-tracking-server-sa"]
    listing = children["mlops-tracking-sa-list"]
    assert listing.inputs["bucket"] == recording.exports["artifact_bucket_name"]
    assert listing.inputs["role"] == "roles/storage.objectViewer"
    assert listing.inputs["member"] == f"serviceAccount:{account.outputs['email']}"
    assert listing.inputs["condition"]["expression"] == (
        'resource.type == "storage.googleapis.com/Bucket" && api.getAttribute('
        '"storage.googleapis.com/objectListPrefix", "").startsWith("mlflow/")'
    )
    service = children["mlops-tracking-server"]
    for needed in (
        "mlops-tracking-db",
        "mlops-tracking-db-mlflow",
        "mlops-tracking-db-user",
        "mlops-tracking-sa-artifacts",
        "mlops-tracking-sa-list",
        "mlops-tracking-sa-sql-client",
        "mlops-tracking-sa-sql-login",
        "mlops-tracking-upstream",
    ):
        assert children[needed].urn in service.dependencies, needed


def test_gcp_server_has_room_for_mlflow_and_a_proxy_that_survives_scale_to_zero():
    recording = reference_recording("gcp-prod")
    service = _children(recording, "mlops-tracking")["mlops-tracking-server"]
    mlflow, proxy = service.inputs["template"]["containers"]
    assert mlflow["resources"]["limits"] == {"cpu": "1", "memory": "2Gi"}
    assert "--workers=2" in mlflow["args"]
    assert proxy["resources"]["limits"] == {"cpu": "1", "memory": "512Mi"}
    assert "--lazy-refresh" in proxy["args"]


@pytest.mark.parametrize("version", ["3.0.0", "3", "latest"])
def test_aws_mlflow_version_with_a_patch_digit_is_refused(version):
    from mlops_iac.components.aws.tracking import _check_version

    with pytest.raises(ValueError, match="major.minor"):
        _check_version(version)
    _check_version("3.0")
    _check_version(None)
