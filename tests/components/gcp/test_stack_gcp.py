from __future__ import annotations

import copy
import subprocess
import sys
import textwrap

import pytest
import yaml

from mlops_iac.components.gcp._common import resource_id
from mlops_iac.components.lineage import base_tags, sanitise
from mlops_iac.plan.testing import ProgramError, run_project
from mlops_iac.spec.parse import parse_spec
from tests.components._contract import REQUIRED_EXPORTS
from tests.components.gcp._helpers import bad_labels, label_maps, unknown_inputs
from tests.conftest import REPO, platform_raw, stack_config

COMPONENTS = {
    "mlops-artifacts": "mlops:gcp:ArtifactStore",
    "mlops-training": "mlops:gcp:TrainingCluster",
    "mlops-registry": "mlops:gcp:ModelRegistry",
    "mlops-serving": "mlops:gcp:ServingEndpoint",
    "mlops-monitoring": "mlops:gcp:Monitoring",
    "mlops-drift": "mlops:gcp:DriftJob",
    # serving.rollout.autoRollback (the default) with a previousModel to roll back to.
    "mlops-rollout": "mlops:gcp:RolloutGuard",
    "mlops-tracking": "mlops:gcp:Tracking",
}
LABELLED = {
    "gcp:storage/bucket:Bucket",
    "gcp:kms/cryptoKey:CryptoKey",
    "gcp:artifactregistry/repository:Repository",
    "gcp:pubsub/topic:Topic",
    "gcp:cloudrunv2/service:Service",
    "gcp:container/cluster:Cluster",
    "gcp:monitoring/alertPolicy:AlertPolicy",
    "gcp:monitoring/notificationChannel:NotificationChannel",
}


@pytest.fixture(scope="module")
def recordings():
    return {stack: run_project(REPO, stack) for stack in ("gcp-dev", "gcp-prod")}


@pytest.mark.parametrize("stack", ["gcp-dev", "gcp-prod"])
def test_root_program_wires_the_five_components_and_exports_every_common_name(recordings, stack):
    recording = recordings[stack]
    assert recording.unmocked_invokes == []
    assert set(recording.exports) >= REQUIRED_EXPORTS
    assert all(recording.exports[name] is not None for name in REQUIRED_EXPORTS)
    root = recording.named("mlops", "mlops:index:MlopsStack")
    children = {r.name: r.type for r in recording.children(root)}
    apis = {n for n, t in children.items() if t == "gcp:projects/service:Service"}
    assert {n: t for n, t in children.items() if n not in apis} == COMPONENTS
    assert not any(r.type.startswith(("aws:", "azure-native:")) for r in recording)


API_SERVICES = {
    "artifactregistry",
    "cloudbuild",
    "cloudfunctions",
    "cloudkms",
    "cloudscheduler",
    "compute",
    "container",
    "eventarc",  # the rollout function's Pub/Sub trigger
    "iam",
    "logging",
    "monitoring",
    "pubsub",
    "run",
    "sqladmin",
    "storage",
}


@pytest.mark.parametrize("stack", ["gcp-dev", "gcp-prod"])
def test_every_api_the_stack_calls_is_enabled_before_the_resources_that_call_it(recordings, stack):
    # A fresh project fails at the first call to each disabled API.
    from mlops_iac.components.gcp.apis import apis_of

    recording = recordings[stack]
    services = {r.inputs["service"]: r for r in recording.of_type("gcp:projects/service:Service")}
    budget = {"billingbudgets"} if stack == "gcp-prod" else set()
    assert {s.split(".")[0] for s in services} == API_SERVICES | budget
    for service in services.values():
        assert service.inputs["disableOnDestroy"] is False
        assert service.inputs["disableDependentServices"] is False
    checked = 0
    for resource in recording:
        if not resource.custom or resource.type == "gcp:projects/service:Service":
            continue
        for api in apis_of(resource.type, resource.name, resource.inputs):
            assert services[api].urn in resource.dependencies, (resource.name, api)
            checked += 1
    assert checked > len(services)
    # The agents Google creates when their API is enabled: the key grants wait for that API.
    gke_grant = recording.named("mlops-training-secrets-key-gke-agent")
    assert services["container.googleapis.com"].urn in gke_grant.dependencies
    run_grant = recording.named("mlops-serving-key-run-agent")
    assert services["run.googleapis.com"].urn in run_grant.dependencies


@pytest.mark.parametrize("stack", ["gcp-dev", "gcp-prod"])
def test_every_label_map_satisfies_gcp_rules_and_carries_lineage(recordings, stack):
    recording = recordings[stack]
    assert bad_labels(recording) == []
    spec = parse_spec(platform_raw(stack))
    lineage = sanitise(base_tags(spec), "gcp")
    labelled = [r for r in recording if r.type in LABELLED]
    assert {r.type for r in labelled} == LABELLED
    for resource in labelled:
        [labels, *_] = label_maps(resource)
        assert lineage.items() <= labels.items(), resource.name


@pytest.mark.parametrize("stack", ["gcp-dev", "gcp-prod"])
def test_every_input_key_exists_in_the_provider_sdk(recordings, stack):
    assert unknown_inputs(recordings[stack]) == []


def test_the_sdk_check_catches_a_misspelt_nested_key(recordings):
    recording = copy.deepcopy(recordings["gcp-dev"])
    cluster = recording.named("mlops-training-cluster")
    cluster.inputs["privateClusterConfig"]["enablePrivateNode"] = True
    assert unknown_inputs(recording) == [
        "mlops-training-cluster.privateClusterConfig.enablePrivateNode"
    ]


def test_prod_serving_carries_the_approval_labels(recordings):
    service = recordings["gcp-prod"].named("mlops-serving-service")
    labels = service.inputs["labels"]
    assert labels["mlops-model"] == "fraud-detector"
    assert labels["mlops-model-version"] == "7"
    assert labels["mlops-approved-by"] == "jane_example_com"
    assert labels["mlops-approval-ticket"] == "chg-1234"
    assert service.inputs["template"]["labels"]["mlops-approved-by"] == "jane_example_com"


def test_prod_wiring_and_security(recordings):
    recording = recordings["gcp-prod"]
    exports = recording.exports
    service = recording.named("mlops-serving-service").inputs
    assert service["ingress"] == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    assert service["deletionProtection"] is True
    assert service["template"]["nodeSelector"] == {"accelerator": "nvidia-l4"}
    name = resource_id("mlops-serving", "svc", limit=40, scope="mlops-platform/gcp-prod")
    assert service["name"] == exports["endpoint_name"] == name
    # The prod reference stack already serves v6 (its saved export says so): v7 is a canary.
    assert [(t["revision"], t["percent"]) for t in service["traffics"]] == [
        (f"{name}-v7", 10),
        (f"{name}-v6", 90),
    ]
    # The image and the model come from what the stack creates; the image by the digest the
    # stack file pins (serving.model.imageDigest), never by a tag that can be re-pushed.
    [container] = service["template"]["containers"]
    assert container["image"] == (
        f"{exports['image_repository_url']}/fraud-detector@sha256:"
        "d3dc96edbd03068cd66d8e67924c1ee5f5d84ea94a1ab8538d4fbff74a566be9"
    )
    envs = {e["name"]: e["value"] for e in container["envs"]}
    models = exports["model_bucket_name"]
    assert envs["MODEL_URI"] == f"gs://{models}/fraud-detector/7/"
    reader = recording.named("mlops-serving-runtime-model-reader").inputs
    assert reader["bucket"] == models
    assert "fraud-detector/7/" in reader["condition"]["expression"]
    capture = recording.named("mlops-serving-runtime-capture").inputs
    assert capture["bucket"] == exports["artifact_bucket_name"]
    bucket = recording.named("mlops-artifacts-bucket").inputs
    assert bucket["customPlacementConfig"] == {"dataLocations": ["US-CENTRAL1", "US-EAST1"]}
    cluster = recording.named("mlops-training-cluster").inputs
    assert cluster["privateClusterConfig"]["enablePrivateEndpoint"] is True
    assert cluster["deletionProtection"] is True
    assert cluster["workloadIdentityConfig"] == {"workloadPool": "fraud-detection-prod.svc.id.goog"}
    gpu = recording.named("mlops-training-gpu").inputs["nodeConfig"]
    assert gpu["machineType"] == "a2-highgpu-1g"
    assert recording.named("mlops-training-gpu").inputs["nodeLocations"] == [
        "us-central1-a",
        "us-central1-b",
    ]
    assert exports["max_gpus"] == 4 and exports["max_usd_per_hour"] == 14.69
    budget = recording.named("mlops-monitoring-budget").inputs
    assert budget["amount"]["specifiedAmount"]["units"] == "36500"
    for policy in recording.of_type("gcp:monitoring/alertPolicy:AlertPolicy"):
        channels = policy.inputs["notificationChannels"]
        stack_channels = {
            c.outputs["name"]
            for c in recording.of_type("gcp:monitoring/notificationChannel:NotificationChannel")
        }
        assert channels and set(channels) <= stack_channels, policy.name
    protected = {r.name for r in recording if r.protect}
    assert {"mlops-artifacts-bucket", "mlops-registry-models", "mlops-registry-repository"} <= (
        protected
    )
    assert all(r.protect for r in recording.of_type("gcp:kms/cryptoKey:CryptoKey")), (
        "prod keys are protected"
    )
    assert recordings["gcp-prod"].warnings == []


def test_dev_warns_that_the_budget_is_skipped(recordings):
    recording = recordings["gcp-dev"]
    assert any("GPU spend budget is skipped" in w for w in recording.warnings)
    assert not recording.of_type("gcp:billing/budget:Budget")
    assert not any(r.protect for r in recording)


def test_every_encryptable_resource_uses_a_rotating_key_of_the_stack(recordings):
    recording = recordings["gcp-prod"]
    keys = {k.id for k in recording.of_type("gcp:kms/cryptoKey:CryptoKey")}
    assert all(
        k.inputs["rotationPeriod"] == "7776000s"
        for k in recording.of_type("gcp:kms/cryptoKey:CryptoKey")
    )
    for bucket in recording.of_type("gcp:storage/bucket:Bucket"):
        assert bucket.inputs["encryption"]["defaultKmsKeyName"] in keys
    for topic in recording.of_type("gcp:pubsub/topic:Topic"):
        assert topic.inputs["kmsKeyName"] in keys
    # The tracking server's remote repository only caches MLflow's public image.
    [repo] = [
        r
        for r in recording.of_type("gcp:artifactregistry/repository:Repository")
        if r.inputs.get("mode") != "REMOTE_REPOSITORY"
    ]
    assert recording.named("mlops-tracking-db").inputs["encryptionKeyName"] in keys
    assert repo.inputs["kmsKeyName"] in keys
    service = recording.named("mlops-serving-service").inputs
    assert service["template"]["encryptionKey"] in keys
    cluster = recording.named("mlops-training-cluster").inputs
    assert cluster["databaseEncryption"]["keyName"] in keys


def test_vertex_backend_is_refused_with_a_reason(tmp_path):
    config = copy.deepcopy(stack_config("gcp-dev"))
    config["mlops:platform"]["gcp"] = {"servingBackend": "vertex"}
    stack_file = tmp_path / "Pulumi.gcp-vertex.yaml"
    stack_file.write_text(yaml.safe_dump({"config": config}))
    with pytest.raises(
        ProgramError,
        match=r"mlops:platform\.gcp\.servingBackend: vertex is not supported: pulumi-gcp cannot",
    ):
        run_project(REPO, "gcp-vertex", config_file=stack_file)


def test_importing_components_gcp_loads_no_other_cloud_sdk():
    code = textwrap.dedent(
        """
        import sys
        import mlops_iac.components.gcp
        loaded = sorted(m for m in sys.modules if m.startswith(("pulumi_aws", "pulumi_azure")))
        assert not loaded, loaded
        """
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=120)
