from __future__ import annotations

import pulumi
import pytest

from mlops_iac.components.gcp import ModelVersion, ServingEndpoint, ServingEndpointArgs
from mlops_iac.plan.mocks import PREVIOUS_OUTPUTS_KEY
from mlops_iac.plan.testing import ProgramError
from tests.components.gcp._helpers import KMS_ROLE, agent, children, rid, run_component

COMPONENT = "mlops:gcp:ServingEndpoint"
IMAGE = "us-central1-docker.pkg.dev/p/images/fraud-detector:7"
CORE = {
    "srv-key-ring": "gcp:kms/keyRing:KeyRing",
    "srv-key": "gcp:kms/cryptoKey:CryptoKey",
    "srv-key-run-agent": "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
    "srv-runtime": "gcp:serviceaccount/account:Account",
    "srv-service": "gcp:cloudrunv2/service:Service",
}
SVC = rid("srv", "svc", 40)
V7, V6 = f"{SVC}-v7", f"{SVC}-v6"


ACTIVE = ModelVersion(name="fraud-detector", version="7", image=IMAGE)
PREVIOUS = ModelVersion(name="fraud-detector", version="6")


# The stack's last deployment served v6 (its serving_revisions output, read back by the
# component's reference to its own stack): v6's revision exists.
SERVED_V6 = {PREVIOUS_OUTPUTS_KEY: {"serving_revisions": [V6]}}


def build(served=SERVED_V6, **kwargs):
    fields = {
        "active_model": ACTIVE,
        "previous_model": PREVIOUS,
        **kwargs,
    }

    def program():
        endpoint = ServingEndpoint("srv", ServingEndpointArgs(**fields))
        for output in (
            "endpoint_name",
            "endpoint_url",
            "active_model_version",
            "previous_model_version",
            "traffic",
            "serving_revisions",
        ):
            pulumi.export(output, getattr(endpoint, output))

    return run_component(program, **served)


def traffic(recording):
    return [
        (t["revision"], t["percent"], t["tag"])
        for t in recording.named("srv-service").inputs["traffics"]
    ]


def test_children_are_exact_and_parented():
    recording = build()
    found = children(recording, "srv", COMPONENT)
    assert {name: r.type for name, r in found.items()} == CORE
    assert not any(r.protect for r in recording)


def test_capture_and_invokers_add_scoped_grants():
    recording = build(capture_bucket="artifacts-123", invokers=["group:fraud@example.com"])
    found = children(recording, "srv", COMPONENT)
    assert {name: r.type for name, r in found.items()} == {
        **CORE,
        "srv-runtime-capture": "gcp:storage/bucketIAMMember:BucketIAMMember",
        "srv-invoker-0": "gcp:cloudrunv2/serviceIamMember:ServiceIamMember",
    }
    runtime = recording.named("srv-runtime").outputs["member"]
    # Only under its own capture folder: not the DVC remote or the drift baselines beside it.
    assert recording.named("srv-runtime-capture").inputs == {
        "bucket": "artifacts-123",
        "role": "roles/storage.objectCreator",
        "member": runtime,
        "condition": {
            "title": "capture-only",
            "description": "Objects under capture/srv/",
            "expression": (
                'resource.name.startsWith("projects/_/buckets/artifacts-123/objects/capture/srv/")'
            ),
        },
    }
    invoker = recording.named("srv-invoker-0").inputs
    assert invoker["role"] == "roles/run.invoker"
    assert invoker["member"] == "group:fraud@example.com"
    assert invoker["name"] == SVC
    [container] = recording.named("srv-service").inputs["template"]["containers"]
    envs = {e["name"]: e["value"] for e in container["envs"]}
    assert envs["CAPTURE_URI"] == "gs://artifacts-123/capture/srv/"


def test_canary_splits_between_the_current_and_the_pinned_previous_revision():
    recording = build(canary_percent=15)
    assert traffic(recording) == [
        (V7, 15, "current"),
        (V6, 85, "previous"),
    ]
    service = recording.named("srv-service").inputs
    assert service["name"] == SVC
    assert service["template"]["revision"] == V7
    assert all(t["type"] == "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION" for t in service["traffics"])
    assert recording.exports["traffic"] == {V7: 15, V6: 85}
    # Both exist after this deployment: the next one reads them back.
    assert recording.exports["serving_revisions"] == [V7, V6]


@pytest.mark.parametrize(
    ("kwargs", "current_share"),
    [
        ({"rollout_strategy": "linear", "linear_step_percent": 25}, 25),
        ({"rollout_strategy": "all-at-once"}, 100),
    ],
)
def test_linear_and_all_at_once_keep_the_previous_revision_listed(kwargs, current_share):
    recording = build(**kwargs)
    assert traffic(recording) == [
        (V7, current_share, "current"),
        (V6, 100 - current_share, "previous"),
    ]


def test_rollback_moves_all_traffic_to_the_previous_revision_without_a_new_one():
    recording = build(rollback=True)
    assert traffic(recording) == [(V7, 0, "current"), (V6, 100, "previous")]
    assert recording.named("srv-service").inputs["template"]["revision"] == V7
    assert recording.exports["active_model_version"] == "6"
    assert recording.exports["previous_model_version"] == "7"


def test_first_version_takes_all_traffic():
    recording = build(previous_model=None)
    assert traffic(recording) == [(V7, 100, "current")]
    assert recording.exports["previous_model_version"] is None


def test_service_is_private_cmek_encrypted_and_bounded():
    recording = build(min_replicas=2, max_replicas=5)
    service = recording.named("srv-service")
    inputs = service.inputs
    key = recording.named("srv-key")
    assert inputs["ingress"] == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    assert inputs["invokerIamDisabled"] is False
    assert inputs["deletionProtection"] is False
    template = inputs["template"]
    assert template["encryptionKey"] == key.id
    assert template["serviceAccount"] == recording.named("srv-runtime").outputs["email"]
    assert template["scaling"] == {"minInstanceCount": 2, "maxInstanceCount": 5}
    assert "nodeSelector" not in template
    grant = recording.named("srv-key-run-agent")
    assert grant.inputs == {
        "cryptoKeyId": key.id,
        "role": KMS_ROLE,
        "member": agent("serverless-robot-prod.iam.gserviceaccount.com"),
    }
    assert grant.urn in service.dependencies
    [container] = template["containers"]
    assert container["image"] == IMAGE
    envs = {e["name"]: e["value"] for e in container["envs"]}
    assert envs == {"MODEL_NAME": "fraud-detector", "MODEL_VERSION": "7"}


def test_gpu_serving_gets_an_l4_and_gpu_sized_limits():
    recording = build(accelerator="nvidia-l4")
    template = recording.named("srv-service").inputs["template"]
    assert template["nodeSelector"] == {"accelerator": "nvidia-l4"}
    assert template["gpuZonalRedundancyDisabled"] is True
    [container] = template["containers"]
    assert container["resources"]["limits"] == {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}


def test_serving_labels_go_on_the_service_and_its_revisions():
    labels = {"mlops-model": "fraud-detector", "mlops-model-version": "7"}
    recording = build(tags=labels)
    inputs = recording.named("srv-service").inputs
    assert inputs["labels"] == labels and inputs["template"]["labels"] == labels


def test_prod_is_protected_and_private():
    recording = build(environment="prod")
    assert recording.named("srv-service").inputs["deletionProtection"] is True
    assert {r.name for r in recording if r.protect} == {"srv-key", "srv-key-ring"}
    with pytest.raises(ProgramError, match="public_endpoint is refused in prod"):
        build(environment="prod", public_endpoint=True)


def test_dev_public_endpoint_opens_ingress_but_never_public_invokers():
    recording = build(public_endpoint=True)
    assert recording.named("srv-service").inputs["ingress"] == "INGRESS_TRAFFIC_ALL"
    with pytest.raises(ProgramError, match="public invokers are refused"):
        build(invokers=["allUsers"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rollback": True, "previous_model": None}, "rollback needs"),
        ({"previous_model": ACTIVE}, "must differ"),
        ({"min_replicas": 3, "max_replicas": 2}, "min_replicas <= max_replicas"),
        ({"rollout_strategy": "blue-green"}, "rollout_strategy must be one of"),
        ({"active_model": PREVIOUS}, "needs an image"),
    ],
)
def test_bad_rollouts_are_refused(kwargs, message):
    with pytest.raises(ProgramError, match=message):
        build(**kwargs)


def test_revision_names_longer_than_cloud_run_allows_are_refused():
    def program():
        model = ModelVersion(name="m", version="2026.11.27-" + "x" * 21, image=IMAGE)
        args = ServingEndpointArgs(active_model=model)
        ServingEndpoint("fraud-detection-realtime-serving", args)

    with pytest.raises(ProgramError, match="longer than 63 characters"):
        run_component(program)


def test_outputs():
    recording = build()
    service = recording.named("srv-service")
    assert recording.exports["endpoint_name"] == SVC
    assert recording.exports["endpoint_url"] == service.outputs["uri"]
    assert recording.exports["active_model_version"] == "7"
    assert recording.exports["previous_model_version"] == "6"
